package io.jqb;

/**
 * The caller's buffer cannot hold the next message: {@code ENOBUFS}. Unlike libqb, the connection stays usable
 * and the message stays queued: receive it again into a buffer with at least {@link #neededSize()} bytes remaining.
 */
public class BufferTooSmallException extends IpcException {
    private static final long serialVersionUID = 1L;
    /** Bytes the message needs, or -1. */
    private final int neededSize;
    /** Bytes the buffer had, or -1. */
    private final int availableSize;

    /**
     * @param operation what was being done
     * @param neededSize the length of the message that did not fit, or -1 when unknown
     * @param availableSize the bytes the caller's buffer had remaining, or -1 when unknown
     */
    public BufferTooSmallException(String operation, int neededSize, int availableSize) {
        super(operation, Errno.ENOBUFS, neededSize < 0 ? null
                : "message of " + neededSize + " bytes, buffer has " + availableSize + " remaining");
        this.neededSize = neededSize;
        this.availableSize = availableSize;
    }

    /**
     * @param operation what was being done
     * @param detail extra context, or null; the sizes are unknown
     */
    public BufferTooSmallException(String operation, String detail) {
        super(operation, Errno.ENOBUFS, detail);
        this.neededSize = -1;
        this.availableSize = -1;
    }

    /**
     * @return the length in bytes of the message that did not fit (the buffer's remaining bytes must be at least
     *         this), or -1 when unknown
     */
    public int neededSize() {
        return neededSize;
    }

    /** @return the bytes the caller's buffer had remaining, or -1 when unknown */
    public int availableSize() {
        return availableSize;
    }
}
