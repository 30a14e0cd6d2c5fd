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
}
