package io.jqb.libipc.internal;

/**
 * The native scratch memory of one {@link RawSocket}: the kernel structures its system calls take, host byte order
 * (little-endian on x86-64 and aarch64), each in its own slot so calls from different threads never share bytes.
 *
 * <pre>
 *  0               8               16      20  22  24      28      32      36      40      44  48
 *  +---------------+---------------+-------+---+---+-------+-------+-------+-------+-------+---+
 *  | tv_sec (i64)  | tv_usec (i64) | fd    |ev |rev| pid   | uid   | gid   | (pad) | len   |   |
 *  +---------------+---------------+-------+---+---+-------+-------+-------+-------+-------+---+
 *  struct timeval (SO_RCVTIMEO)     struct pollfd   struct ucred (SO_PEERCRED)      socklen_t
 *  receiving thread                 writing thread  peer(), serialised
 * </pre>
 */
public final class RawSocketDescriptor {
    /** struct timeval for SO_RCVTIMEO. */
    public static final int TIMEVAL = 0;
    /** tv_sec within the timeval. */
    public static final int TV_SEC = 0;
    /** tv_usec within the timeval. */
    public static final int TV_USEC = 8;
    /** Size of struct timeval. */
    public static final int TIMEVAL_LENGTH = 16;
    /** struct pollfd for waiting until the socket takes more bytes. */
    public static final int POLLFD = 16;
    /** struct ucred for SO_PEERCRED. */
    public static final int UCRED = 24;
    /** pid within the ucred. */
    public static final int UCRED_PID = 0;
    /** uid within the ucred. */
    public static final int UCRED_UID = 4;
    /** gid within the ucred. */
    public static final int UCRED_GID = 8;
    /** Size of struct ucred. */
    public static final int UCRED_LENGTH = 12;
    /** The socklen_t getsockopt fills in. */
    public static final int OPTLEN = 40;
    /** Size of the whole scratch area. */
    public static final int LENGTH = 48;

    private RawSocketDescriptor() {
    }
}
