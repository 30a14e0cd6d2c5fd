package io.jqb.internal.wire;

/**
 * {@code struct timespec} on x86-64 Linux (the relative timeout of FUTEX_WAIT), host byte order.
 *
 * <pre>
 *  0                               8                               16
 *  +-------------------------------+-------------------------------+
 *  |         tv_sec (i64)          |         tv_nsec (i64)         |
 *  +-------------------------------+-------------------------------+
 * </pre>
 */
public final class TimespecDescriptor {
    public static final int SEC_OFFSET = 0;
    public static final int NSEC_OFFSET = 8;
    public static final int LENGTH = 16;

    private TimespecDescriptor() {
    }
}
