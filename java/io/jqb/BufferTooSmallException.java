package io.jqb;

/**
 * The caller's buffer cannot hold the next message: {@code ENOBUFS}. Unlike libqb, the connection stays usable
 * and the message stays queued; read it again with a larger buffer.
 */
public class BufferTooSmallException extends IpcException {
    private static final long serialVersionUID = 1L;

    /**
     * @param operation what was being done
     * @param detail the sizes involved, or null
     */
    public BufferTooSmallException(String operation, String detail) {
        super(operation, Errno.ENOBUFS, detail);
    }
}
