package io.jqb.internal.client;

import java.util.Arrays;
import java.util.concurrent.locks.LockSupport;

/**
 * The bound on how long a request held back by an SHM client ({@link ShmClientChannel}, "held requests") stays
 * invisible to the server when the application stops calling: one JVM-wide daemon thread, {@value #THREAD_NAME},
 * started lazily by the first client that holds, releases requests held longer than {@link #FLUSH_AFTER_NANOS}
 * (taking the client's send lock only with {@code tryLock}: a sender inside it releases them itself). It looks every
 * {@link #PERIOD_NANOS}, so a held request reaches the server within about {@link #FLUSH_AFTER_NANOS} +
 * {@link #PERIOD_NANOS} of its send (plus scheduling). A client that has not held for {@link #LINGER_NANOS} is
 * dropped from its list, and the thread ends when the list is empty: no thread while nobody holds.
 *
 * <p>Registration is per holding episode after an idle spell, not per request: a client that holds again while
 * watched pays one volatile read. Dropping a client and a client starting to hold race as a Dekker pair: the
 * flusher clears {@link ShmClientChannel#watched} and then reads the client's held count (both volatile); the
 * client stores its held count and then reads {@code watched}. One of them sees the other, so a client never holds
 * unwatched.</p>
 */
final class DoorbellFlusher implements Runnable {
    /** The thread's name. */
    static final String THREAD_NAME = "jqb-doorbell-flusher";
    /** Requests held longer than this are released by the flusher. */
    static final long FLUSH_AFTER_NANOS = 250_000L;
    /** How often the flusher looks while any client is watched. */
    static final long PERIOD_NANOS = 250_000L;
    /** A client that has held nothing for this long is no longer watched. */
    static final long LINGER_NANOS = 100_000_000L;

    private static final Object LOCK = new Object();
    /** The watched clients, [0, count); under LOCK. */
    private static ShmClientChannel[] watched = new ShmClientChannel[8];
    private static int count;
    /** The running flusher, or null; under LOCK. */
    private static Thread thread;

    private DoorbellFlusher() {
    }

    /** Watches {@code ch} (it has just started holding requests); starts the thread if none runs. */
    static void watch(ShmClientChannel ch) {
        synchronized (LOCK) {
            if (ch.watched) {
                return;
            }
            ch.watched = true;
            ch.lastPendingNanos = System.nanoTime();
            if (count == watched.length) {
                watched = Arrays.copyOf(watched, count * 2);
            }
            watched[count++] = ch;
            if (thread == null) {
                Thread t = new Thread(new DoorbellFlusher(), THREAD_NAME);
                t.setDaemon(true);
                thread = t;
                t.start();
            }
        }
    }

    /** Stops watching {@code ch} (it is closing). */
    static void unwatch(ShmClientChannel ch) {
        synchronized (LOCK) {
            if (ch.watched) {
                ch.watched = false;
                remove(ch);
            }
        }
    }

    /** @return whether the flusher thread runs now (tests) */
    static boolean running() {
        synchronized (LOCK) {
            return thread != null;
        }
    }

    private static void remove(ShmClientChannel ch) {
        for (int i = 0; i < count; i++) {
            if (watched[i] == ch) {
                watched[i] = watched[--count];
                watched[count] = null;
                return;
            }
        }
    }

    @Override
    public void run() {
        ShmClientChannel[] snapshot = new ShmClientChannel[8];
        try {
            for (;;) {
                int n;
                synchronized (LOCK) {
                    final long now = System.nanoTime();
                    for (int i = count - 1; i >= 0; i--) {
                        ShmClientChannel ch = watched[i];
                        if (ch.pending()) {
                            ch.lastPendingNanos = now;
                        } else if (now - ch.lastPendingNanos > LINGER_NANOS) {
                            ch.watched = false;
                            if (ch.pending()) { // it started holding meanwhile (Dekker, see the class comment)
                                ch.watched = true;
                                ch.lastPendingNanos = now;
                            } else {
                                watched[i] = watched[--count];
                                watched[count] = null;
                            }
                        }
                    }
                    if (count == 0) {
                        thread = null;
                        return;
                    }
                    if (snapshot.length < count) {
                        snapshot = new ShmClientChannel[watched.length];
                    }
                    System.arraycopy(watched, 0, snapshot, 0, count);
                    n = count;
                }
                final long now = System.nanoTime();
                for (int i = 0; i < n; i++) {
                    try {
                        snapshot[i].flushIfOverdue(now);
                    } catch (RuntimeException | InternalError e) {
                        // The ring's memory is gone (a peer truncated it) or worse: that connection is finished, and
                        // no longer pending, so this is logged once per connection, not every period.
                        snapshot[i].flushFailed(e);
                    }
                    snapshot[i] = null;
                }
                LockSupport.parkNanos(PERIOD_NANOS);
            }
        } finally {
            synchronized (LOCK) {
                if (thread == Thread.currentThread()) {
                    // Ended by something unexpected while clients are still watched: hand over to a new thread.
                    thread = null;
                    if (count > 0) {
                        Thread t = new Thread(new DoorbellFlusher(), THREAD_NAME);
                        t.setDaemon(true);
                        thread = t;
                        t.start();
                    }
                }
            }
        }
    }
}
