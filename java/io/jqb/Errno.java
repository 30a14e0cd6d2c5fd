package io.jqb;

/**
 * The Linux errno values jqb reports, and their symbolic names.
 *
 * <p>Hot-path calls ({@code send}, {@code recv}, {@code sendResponse}, ...) return a non-negative byte count on
 * success and a negative errno for the outcomes a caller handles routinely: {@link #WOULD_BLOCK} and
 * {@link #TIMED_OUT}. Everything else is thrown as an {@link IpcException} that carries the errno and its name.</p>
 */
public final class Errno {
    public static final int EPERM = 1;
    public static final int ENOENT = 2;
    public static final int ESRCH = 3;
    public static final int EINTR = 4;
    public static final int EIO = 5;
    public static final int EBADF = 9;
    public static final int EAGAIN = 11;
    public static final int ENOMEM = 12;
    public static final int EACCES = 13;
    public static final int EEXIST = 17;
    public static final int EINVAL = 22;
    public static final int ENAMETOOLONG = 36;
    public static final int EPIPE = 32;
    public static final int ENOMSG = 42;
    public static final int EBADMSG = 74;
    public static final int EMSGSIZE = 90;
    public static final int ENOTSUP = 95;
    public static final int EADDRINUSE = 98;
    public static final int ECONNRESET = 104;
    public static final int ENOBUFS = 105;
    public static final int ENOTCONN = 107;
    public static final int ETIMEDOUT = 110;
    public static final int ECONNREFUSED = 111;

    /** Returned (negated errno) when the ring is full or flow control is on: retry later. */
    public static final int WOULD_BLOCK = -EAGAIN;
    /** Returned (negated errno) when nothing arrived within the timeout. */
    public static final int TIMED_OUT = -ETIMEDOUT;

    private Errno() {
    }

    /**
     * The symbolic name of an errno value, such as {@code "EAGAIN"}; the sign is ignored.
     *
     * @param errno an errno value, positive or negated
     * @return its name, or {@code "E<number>"} when unknown
     */
    public static String name(int errno) {
        int e = Math.abs(errno);
        jnr.constants.platform.Errno c = jnr.constants.platform.Errno.valueOf(e);
        if (c == null || c == jnr.constants.platform.Errno.__UNKNOWN_CONSTANT__) {
            return "E" + e;
        }
        return c.name();
    }

    /**
     * The system's description of an errno value, such as {@code "Resource temporarily unavailable"}.
     *
     * @param errno an errno value, positive or negated
     * @return its description, or its name when unknown
     */
    public static String describe(int errno) {
        jnr.constants.platform.Errno c = jnr.constants.platform.Errno.valueOf(Math.abs(errno));
        if (c == null || c == jnr.constants.platform.Errno.__UNKNOWN_CONSTANT__) {
            return name(errno);
        }
        return c.description();
    }
}
