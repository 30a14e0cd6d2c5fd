package io.jqb;

/** A message is larger than the connection's agreed buffer size: {@code EMSGSIZE}. Nothing was sent. */
public class MessageTooLargeException extends IpcException {
    private static final long serialVersionUID = 1L;

    /**
     * @param operation what was being done
     * @param detail context, or null
     */
    public MessageTooLargeException(String operation, String detail) {
        super(operation, Errno.EMSGSIZE, detail);
    }
}
