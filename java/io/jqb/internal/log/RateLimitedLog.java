package io.jqb.internal.log;

import org.slf4j.Logger;

/**
 * A log line a peer can trigger, limited to {@code burst} lines per {@code intervalMs}: the lines past that are
 * counted, and the next line logged says how many were suppressed ({@code "... (suppressed N similar lines)"}).
 * One instance per kind of line (a static field next to the Logger). Thread-safe; the slow path only. The system
 * property {@value #BURST_PROPERTY}, when set, overrides every instance's burst (read on each line: tests that assert
 * one line per event set it).
 */
public final class RateLimitedLog {
    /** Default: at most this many lines per second. */
    public static final int DEFAULT_BURST = 5;
    /** Overrides the burst of every instance. */
    public static final String BURST_PROPERTY = "jqb.log.burst";

    private final Logger log;
    private final int burst;
    private final long intervalNanos;
    private long windowStart;
    private int inWindow;
    private long suppressed;

    /**
     * At most {@value #DEFAULT_BURST} lines a second.
     *
     * @param log where the lines go
     */
    public RateLimitedLog(Logger log) {
        this(log, DEFAULT_BURST, 1_000);
    }

    /**
     * @param log where the lines go
     * @param burst lines logged per interval
     * @param intervalMs the interval
     */
    public RateLimitedLog(Logger log, int burst, long intervalMs) {
        this.log = log;
        this.burst = burst;
        this.intervalNanos = intervalMs * 1_000_000L;
        this.windowStart = System.nanoTime() - intervalNanos;
    }

    /**
     * Logs at WARN unless over the limit.
     *
     * @param format an SLF4J format
     * @param args its arguments
     */
    public void warn(String format, Object... args) {
        long s = admit();
        if (s >= 0) {
            log.warn(s == 0 ? format : format + " (suppressed " + s + " similar lines)", args);
        }
    }

    /**
     * Logs at ERROR unless over the limit.
     *
     * @param format an SLF4J format
     * @param args its arguments
     */
    public void error(String format, Object... args) {
        long s = admit();
        if (s >= 0) {
            log.error(s == 0 ? format : format + " (suppressed " + s + " similar lines)", args);
        }
    }

    /**
     * Logs at INFO unless over the limit.
     *
     * @param format an SLF4J format
     * @param args its arguments
     */
    public void info(String format, Object... args) {
        long s = admit();
        if (s >= 0) {
            log.info(s == 0 ? format : format + " (suppressed " + s + " similar lines)", args);
        }
    }

    /**
     * Asks to log one line, for a caller whose arguments cost something to build (a path string a peer can make it
     * build for every datagram): build them only when this admits the line, then log it with {@link #warn(long,
     * String, Object...)}. A refused line is counted as suppressed.
     *
     * @return -1 when the line is over the limit (do not log it), else what to pass to {@code warn(long, ...)}
     */
    public long admitLine() {
        return admit();
    }

    /**
     * Logs at WARN a line {@link #admitLine()} admitted.
     *
     * @param admitted what {@code admitLine()} returned (not negative)
     * @param format an SLF4J format
     * @param args its arguments
     */
    public void warn(long admitted, String format, Object... args) {
        log.warn(admitted == 0 ? format : format + " (suppressed " + admitted + " similar lines)", args);
    }

    /** @return lines suppressed so far and not yet reported */
    public synchronized long suppressed() {
        return suppressed;
    }

    /** @return -1 to suppress, else the number suppressed before this line (then reset) */
    private synchronized long admit() {
        long now = System.nanoTime();
        if (now - windowStart >= intervalNanos) {
            windowStart = now;
            inWindow = 0;
        }
        if (inWindow >= Integer.getInteger(BURST_PROPERTY, burst)) {
            suppressed++;
            return -1;
        }
        inWindow++;
        long s = suppressed;
        suppressed = 0;
        return s;
    }
}
