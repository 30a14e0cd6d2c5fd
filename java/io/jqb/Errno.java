package io.jqb;

/**
 * The Linux errno values jqb reports, and their symbolic names.
 *
 * <p>Hot-path calls ({@code send}, {@code recv}, {@code sendResponse}, ...) return a non-negative byte count on
 * success and a negative errno for the outcomes a caller handles routinely: {@link #WOULD_BLOCK} and
 * {@link #TIMED_OUT}. Everything else is thrown as an {@link IpcException} that carries the errno and its name.</p>
 */
public final class Errno {
    /** Operation not permitted. */
    public static final int EPERM = 1;
    /** No such file or directory. */
    public static final int ENOENT = 2;
    /** No such process. */
    public static final int ESRCH = 3;
    /** Interrupted system call. */
    public static final int EINTR = 4;
    /** I/O error. */
    public static final int EIO = 5;
    /** Bad file descriptor. */
    public static final int EBADF = 9;
    /** Resource temporarily unavailable (would block). */
    public static final int EAGAIN = 11;
    /** Out of memory. */
    public static final int ENOMEM = 12;
    /** Permission denied. */
    public static final int EACCES = 13;
    /** File exists. */
    public static final int EEXIST = 17;
    /** Invalid argument. */
    public static final int EINVAL = 22;
    /** File name too long. */
    public static final int ENAMETOOLONG = 36;
    /** Broken pipe. */
    public static final int EPIPE = 32;
    /** No message of desired type. */
    public static final int ENOMSG = 42;
    /** Bad message (corrupt shared state). */
    public static final int EBADMSG = 74;
    /** Message too long. */
    public static final int EMSGSIZE = 90;
    /** Operation not supported. */
    public static final int ENOTSUP = 95;
    /** Address already in use. */
    public static final int EADDRINUSE = 98;
    /** Connection reset by peer. */
    public static final int ECONNRESET = 104;
    /** No buffer space available. */
    public static final int ENOBUFS = 105;
    /** Not connected. */
    public static final int ENOTCONN = 107;
    /** Timed out. */
    public static final int ETIMEDOUT = 110;
    /** Connection refused. */
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
