package io.jqb.internal.wire;

/**
 * The headers every message starts with.
 *
 * <pre>
 *  request  (qb_ipc_request_header, 16 bytes):   | id i32 @0 | pad @4 | size i32 @8 | pad @12 |
 *  response (qb_ipc_response_header, 24 bytes):  | id i32 @0 | pad @4 | size i32 @8 | pad @12 | error i32 @16 | pad @20 |
 * </pre>
 *
 * {@code size} is the whole message length including the header.
 */
public final class MessageHeaderDescriptor {
    public static final int ID_OFFSET = 0;
    public static final int SIZE_OFFSET = 8;
    public static final int ERROR_OFFSET = 16;
    public static final int REQUEST_HEADER_LENGTH = 16;
    public static final int RESPONSE_HEADER_LENGTH = 24;

    /** {@code QB_IPC_MSG_DISCONNECT}: a request with this id asks the server to drop the connection. */
    public static final int MSG_DISCONNECT = -3;

    private MessageHeaderDescriptor() {
    }

    /**
     * The one validation of a request a peer wrote (both server transports): the request header's size field must
     * cover at least the header and at most the {@code available} bytes the transport delivered (chunk or datagram).
     *
     * @param b the buffer holding the request (its byte order must be little-endian)
     * @param off where the request starts
     * @param available bytes the transport delivered
     * @return the size field, or -1 when the request is invalid
     */
    public static int requestSize(java.nio.ByteBuffer b, int off, int available) {
        if (available < REQUEST_HEADER_LENGTH) {
            return -1;
        }
        int size = b.getInt(off + SIZE_OFFSET);
        return size >= REQUEST_HEADER_LENGTH && size <= available ? size : -1;
    }
}
