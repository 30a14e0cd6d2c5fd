package io.jqb.notify.internal;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * Retries the broker's queued events. A full event ring gives the sender no signal when the client reads, so while
 * any outbox has a backlog this thread retries every millisecond; otherwise it sleeps until woken.
 */
final class Flusher implements Runnable {
    private final Set<Outbox> pending = ConcurrentHashMap.newKeySet();
    private final Thread thread;
    private volatile boolean stopped;

    Flusher(String name) {
        thread = new Thread(this, "jqb-notify-flush-" + name);
        thread.setDaemon(true);
        thread.start();
    }

    void wake(Outbox o) {
        pending.add(o);
        LockSupport.unpark(thread);
    }

    @Override
    public void run() {
        while (!stopped) {
            pending.removeIf(Outbox::flush);
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
