package io.jqb;

/**
 * An IPC operation failed. Carries the errno and the operation, and its message names both, for example
 * {@code "connect(qb-echo): ECONNREFUSED (111, Connection refused)"}.
 *
 * <p>Unchecked: a callback such as {@link ServiceHandler#message} can send without a try/catch. Transient
 * conditions are not exceptions: sends return {@link Errno#WOULD_BLOCK} when a ring is full and receives return
 * {@link Errno#TIMED_OUT}; an exception means the operation cannot succeed as asked (the peer is gone, the message
 * is too large, the set-up was refused).
 */
public class IpcException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    /** The positive errno value. */
    private final int errno;
    /** What was being done. */
    private final String operation;

    /**
     * @param operation what was being done, e.g. {@code "connect(echo)"}
     * @param errno the positive errno value
     * @param detail extra context, or {@code null}
     */
    public IpcException(String operation, int errno, String detail) {
        super(operation + ": " + Errno.name(errno) + " (" + Math.abs(errno) + ", " + Errno.describe(errno) + ")"
                + (detail == null ? "" : ": " + detail));
        this.errno = Math.abs(errno);
        this.operation = operation;
    }

    /**
     * @param operation what was being done
     * @param errno the positive errno value
     */
    public IpcException(String operation, int errno) {
        this(operation, errno, null);
    }

    /** @return the positive errno value */
    public int errno() {
        return errno;
    }

    /** @return the errno's symbolic name, e.g. {@code "EACCES"} */
    public String errnoName() {
        return Errno.name(errno);
    }

    /** @return the operation that failed */
    public String operation() {
        return operation;
    }

    /**
     * Builds the most specific exception type for an errno.
     *
     * @param operation what was being done
     * @param errno errno value, positive or negated
     * @param detail extra context, or {@code null}
     * @return a typed exception
     */
    public static IpcException of(String operation, int errno, String detail) {
        switch (Math.abs(errno)) {
            case Errno.ENOTCONN:
                return new NotConnectedException(operation, detail);
            case Errno.EMSGSIZE:
                return new MessageTooLargeException(operation, detail);
            case Errno.ENOBUFS:
                return new BufferTooSmallException(operation, detail);
            default:
                return new IpcException(operation, errno, detail);
        }
    }
}
