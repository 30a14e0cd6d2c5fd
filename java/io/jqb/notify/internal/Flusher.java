package io.jqb.notify.internal;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * Retries the broker's queued events. A full event ring gives the sender no signal when the client reads, so while
 * any outbox has a backlog this thread retries every millisecond; otherwise it sleeps until woken.
 */
final class Flusher implements Runnable {
    /** What the flusher retries: an {@link Outbox}. */
    interface Flushable {
        /** @return true when nothing is left to send */
        boolean flush();
    }

    private final Set<Flushable> pending = ConcurrentHashMap.newKeySet();
    /** The outboxes a pass left unfinished, put back after it (the flusher thread's own). */
    private final List<Flushable> left = new ArrayList<>();
    private final Thread thread;
    private volatile boolean stopped;

    Flusher(String name) {
        thread = new Thread(this, "jqb-notify-flush-" + name);
        thread.setDaemon(true);
        thread.start();
    }

    void wake(Flushable o) {
        pending.add(o);
        LockSupport.unpark(thread);
    }

    @Override
    public void run() {
        while (!stopped) {
            // Out of the set before the flush, back in when something is left: a wake() for an outbox whose
            // backlog refilled right after its flush found it empty then adds it again. (removeIf(flush) removed it
            // after that wake() had found it still present: the outbox was never retried again, and every later
            // event for that client was queued, then dropped.)
            // Put back only after the pass: re-adding during it can place an outbox behind the iterator in the same
            // hash bin, so two outboxes that stay full would be visited in turn forever and the rest never.
            for (Iterator<Flushable> it = pending.iterator(); it.hasNext();) {
                Flushable o = it.next();
                it.remove();
                if (!o.flush()) {
                    left.add(o);
                }
            }
            if (!left.isEmpty()) {
                pending.addAll(left);
                left.clear();
            }
            if (pending.isEmpty()) {
                LockSupport.park(this);
            } else {
                LockSupport.parkNanos(this, TimeUnit.MILLISECONDS.toNanos(1));
            }
        }
    }

    void stop() {
        stopped = true;
        LockSupport.unpark(thread);
        try {
            thread.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
