package io.jqb.internal.wire;

/**
 * {@code struct flock} on x86-64 Linux (the argument of {@code fcntl(F_OFD_SETLK)}), host byte order.
 *
 * <pre>
 *  0       2       4               8               16              24      28      32
 *  +-------+-------+---------------+---------------+---------------+-------+-------+
 *  |l_type |l_whnce| pad           | l_start (i64) | l_len (i64)   | l_pid | pad   |
 *  +-------+-------+---------------+---------------+---------------+-------+-------+
 * </pre>
 */
public final class FlockDescriptor {
    public static final int TYPE_OFFSET = 0;
    public static final int WHENCE_OFFSET = 2;
    public static final int START_OFFSET = 8;
    public static final int LEN_OFFSET = 16;
    public static final int PID_OFFSET = 24;
    public static final int LENGTH = 32;
    /** {@code l_type}: an exclusive (write) lock. */
    public static final short F_WRLCK = 1;
    /** {@code l_whence}: from the start of the file. */
    public static final short SEEK_SET = 0;

    private FlockDescriptor() {
    }
}
