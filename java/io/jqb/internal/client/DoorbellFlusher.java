package io.jqb.internal.client;

import io.jqb.internal.LazyLogger;
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
 *
 * <p>When the thread cannot be started (the JVM's or the system's thread limit), {@link #watch} says so and the
 * client stops holding (it releases what it holds at once and sends as before). If the thread ever ends by
 * something unexpected, it is not restarted: every watched client is dropped and released once, and holding stays
 * off for the rest of the JVM (no churn of dying threads, no request held without a bound).</p>
 *
 * <p>Test-only system property {@value #MODE_PROPERTY}, read at each {@link #watch}: {@code off} watches without a
 * thread (held requests are then released only by the client's own calls: tests of the client's Dekker pairs),
 * {@code fail} makes the thread's start fail as at a thread limit.</p>
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

    /** Test-only: {@code off} (no flusher thread) or {@code fail} (its start fails); see the class comment. */
    static final String MODE_PROPERTY = "jqb.client.doorbellFlusher";

    private static final LazyLogger LOG = new LazyLogger(DoorbellFlusher.class);
    private static final Object LOCK = new Object();
    /** The watched clients, [0, count); under LOCK. */
    private static ShmClientChannel[] watched = new ShmClientChannel[8];
    private static int count;
    /** The running flusher, or null; under LOCK. */
    private static Thread thread;
    /** The thread ended unexpectedly once: no client holds any more (under LOCK). */
    private static boolean disabled;
    /** A failed start was logged (under LOCK): once per JVM, not per holding episode. */
    private static boolean startFailureLogged;

    private DoorbellFlusher() {
    }

    /**
     * Watches {@code ch} (it has just started holding requests); starts the thread if none runs.
     *
     * @return false when no flusher can run (its thread could not be started, or it died once): {@code ch} is then
     *         not watched and must not hold
     */
    static boolean watch(ShmClientChannel ch) {
        synchronized (LOCK) {
            if (ch.watched) {
                return true;
            }
            if (disabled) {
                return false;
            }
            final String mode = System.getProperty(MODE_PROPERTY, "");
            if (mode.equals("off")) {
                ch.watched = true; // test-only: watched by nobody
                return true;
            }
            if (thread == null && !start(mode.equals("fail"))) {
                return false;
            }
            ch.watched = true;
            ch.lastPendingNanos = System.nanoTime();
            if (count == watched.length) {
                watched = Arrays.copyOf(watched, count * 2);
            }
            watched[count++] = ch;
            return true;
        }
    }

    /**
     * Starts the thread (under LOCK; it waits for LOCK before it looks at the list, so it sees the caller's client).
     * {@code thread} is set only once it runs.
     *
     * @return false when it could not be started
     */
    private static boolean start(boolean fail) {
        try {
            if (fail) {
                throw new OutOfMemoryError("unable to create native thread (test: " + MODE_PROPERTY + "=fail)");
            }
            Thread t = new Thread(new DoorbellFlusher(), THREAD_NAME);
            t.setDaemon(true);
            t.start();
            thread = t;
            return true;
        } catch (OutOfMemoryError | RuntimeException e) {
            // Thread.start at a thread limit throws OutOfMemoryError: the clients stop holding instead.
            if (!startFailureLogged) {
                startFailureLogged = true;
                LOG.get().warn("{} not started, SHM clients send every doorbell at once: {}", THREAD_NAME, e.toString());
            } else {
                LOG.get().debug("{} not started: {}", THREAD_NAME, e.toString());
            }
            return false;
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
            ShmClientChannel[] dropped = null;
            synchronized (LOCK) {
                if (thread == Thread.currentThread()) {
                    // Ended by something unexpected: no restart (a repeating Error would make each new thread die
                    // and start the next). Holding ends for this JVM; the watched clients are dropped (a client's
                    // next held send then sees `watched` false, watch() says no and it releases everything) and
                    // released once here.
                    thread = null;
                    disabled = true;
                    dropped = Arrays.copyOf(watched, count);
                    for (int i = 0; i < count; i++) {
                        watched[i].watched = false;
                        watched[i] = null;
                    }
                    count = 0;
                    LOG.get().warn("{} ended unexpectedly: SHM clients no longer hold requests", THREAD_NAME);
                }
            }
            if (dropped != null) {
                for (ShmClientChannel ch : dropped) {
                    try {
                        ch.flushNow();
                    } catch (RuntimeException | InternalError e) {
                        ch.flushFailed(e);
                    }
                }
            }
        }
    }
}
