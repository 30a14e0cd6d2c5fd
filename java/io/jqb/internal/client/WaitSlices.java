package io.jqb.internal.client;

/**
 * The one rule for the client's receive loops: wait in slices of at most {@link #SLICE_NANOS} (100 ms) and check
 * between slices that the server is still there, so a dead server is noticed within the caller's timeout even with
 * "wait forever" (libqb #27/#37/#481 block for good) and a close from another thread ({@code abort}) ends the wait.
 */
public final class WaitSlices {
    /** The longest single wait between liveness checks. */
    public static final long SLICE_NANOS = 100_000_000L;

    private WaitSlices() {
    }

    /**
     * @param timeoutNanos the caller's timeout: positive, or negative for "forever" (0 is handled by callers)
     * @return the deadline {@link #sliceNanos} measures against
     */
    public static long deadline(long timeoutNanos) {
        return timeoutNanos < 0 ? 0 : System.nanoTime() + timeoutNanos;
    }

    /** @return the next wait in nanoseconds (at most {@link #SLICE_NANOS}), or -1 once the deadline has passed */
    public static long sliceNanos(long timeoutNanos, long deadline) {
        if (timeoutNanos < 0) {
            return SLICE_NANOS;
        }
        long left = deadline - System.nanoTime();
        return left <= 0 ? -1 : Math.min(left, SLICE_NANOS);
    }

    /** @return the next wait in milliseconds, rounded up (at most 100), or -1 once the deadline has passed */
    public static int sliceMillis(long timeoutNanos, long deadline) {
        long ns = sliceNanos(timeoutNanos, deadline);
        return ns < 0 ? -1 : (int) ((ns + 999_999) / 1_000_000);
    }
}
