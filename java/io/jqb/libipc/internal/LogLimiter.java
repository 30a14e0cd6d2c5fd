package io.jqb.libipc.internal;

import org.slf4j.Logger;

/**
 * At most one log line per interval for a condition peers can trigger at will (bad frames, rejected credentials),
 * with the number of lines suppressed since the last one.
 */
public final class LogLimiter {
    private final long intervalNanos;
    private long last;
    private boolean logged;
    private long suppressed;

    /** @param intervalMs least time between two lines */
    public LogLimiter(long intervalMs) {
        this.intervalNanos = intervalMs * 1_000_000L;
    }

    /** Logs {@code message} at WARN unless a line went out less than the interval ago. */
    public synchronized void warn(Logger log, String message) {
        long now = System.nanoTime();
        if (logged && now - last < intervalNanos) {
            suppressed++;
            return;
        }
        if (suppressed > 0) {
            log.warn("{} ({} similar lines suppressed)", message, suppressed);
        } else {
            log.warn(message);
        }
        logged = true;
        last = now;
        suppressed = 0;
    }
}
