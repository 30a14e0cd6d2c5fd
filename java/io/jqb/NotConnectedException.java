package io.jqb;

/** The connection is gone (peer closed, died, or disconnected us): {@code ENOTCONN}. */
public class NotConnectedException extends IpcException {
    private static final long serialVersionUID = 1L;

    /**
     * @param operation what was being done
     * @param detail context, or null
     */
    public NotConnectedException(String operation, String detail) {
        super(operation, Errno.ENOTCONN, detail);
    }
}
