package io.jqb.cli;

import java.io.PrintStream;
import java.util.Locale;
import org.HdrHistogram.Histogram;

/**
 * Latency percentiles for the bench commands, recorded in an HdrHistogram (3 significant digits: a reported
 * percentile is within 0.1 % of the exact one), and the output line they share with {@code qbn-client}:
 * <pre>
 * size=64 count=20000 p50_ns=.. p99_ns=.. p999_ns=.. msgs_per_s=.. MB_per_s=..
 * </pre>
 * {@link #record(long)} allocates nothing: the histogram covers 1 ns to {@link #HIGHEST_NS} up front, and a longer
 * value counts as {@code HIGHEST_NS}. Not thread-safe: one recorder per measuring thread.
 */
final class LatencyStats {
    /** The largest value recorded as itself (60 s); longer values are recorded as this. */
    static final long HIGHEST_NS = 60_000_000_000L;
    private static final int SIGNIFICANT_DIGITS = 3;

    private final Histogram histogram = new Histogram(1, HIGHEST_NS, SIGNIFICANT_DIGITS);

    /** Records one latency in nanoseconds (clamped to [0, {@link #HIGHEST_NS}]). */
    void record(long ns) {
        histogram.recordValue(ns < 0 ? 0 : Math.min(ns, HIGHEST_NS));
    }

    /** How many values were recorded. */
    long count() {
        return histogram.getTotalCount();
    }

    /**
     * The value at a percentile, in nanoseconds (the largest value equivalent to the recorded one at that rank, as
     * HdrHistogram reports it); 0 when nothing was recorded.
     *
     * @param percentile 0 to 100, e.g. 99.9
     */
    long percentile(double percentile) {
        return count() == 0 ? 0 : histogram.getValueAtPercentile(percentile);
    }

    /** The largest recorded value (same precision as {@link #percentile}); 0 when nothing was recorded. */
    long max() {
        return count() == 0 ? 0 : histogram.getMaxValue();
    }

    /** Forgets every recorded value (for a recorder reused after a warm-up). */
    void reset() {
        histogram.reset();
    }

    /**
     * The {@code size=} line of this recorder's p50/p99/p99.9, with {@code count} round trips in
     * {@code elapsedNs}.
     */
    String line(int size, long count, long elapsedNs) {
        return line(size, count, percentile(50), percentile(99), percentile(99.9), elapsedNs);
    }

    /**
     * The bench output line, formatted exactly as {@code qbn-client bench} prints it: msgs/s = {@code count} per
     * second of {@code elapsedNs}, MB/s = msgs/s × {@code size} / 10<sup>6</sup>.
     */
    static String line(int size, long count, long p50, long p99, long p999, long elapsedNs) {
        double perSec = elapsedNs <= 0 ? 0 : count / (elapsedNs / 1e9);
        return String.format(Locale.ROOT,
                "size=%d count=%d p50_ns=%d p99_ns=%d p999_ns=%d msgs_per_s=%.0f MB_per_s=%.2f", size, count, p50,
                p99, p999, perSec, perSec * size / 1e6);
    }

    /** Prints {@link #line(int, long, long)} to {@code out}. */
    void print(PrintStream out, int size, long count, long elapsedNs) {
        out.println(line(size, count, elapsedNs));
    }
}
