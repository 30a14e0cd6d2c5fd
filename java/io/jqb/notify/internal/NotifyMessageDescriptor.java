package io.jqb.notify.internal;

import java.nio.ByteBuffer;

/**
 * Every message of the notification protocol (docs/NOTIFY-PROTOCOL.md), over libqb IPC. All integers are
 * little-endian (libqb's headers are host order; jqb and the broker run on x86-64/aarch64 little-endian hosts);
 * strings are UTF-8 without a terminating NUL, their lengths given in the fixed part.
 *
 * <pre>
 * request  = qb_ipc_request_header (16 bytes: id i32 @0, size i32 @8) + body @16
 * response = qb_ipc_response_header (24 bytes: id i32 @0, size i32 @8, error i32 @16) + body @24
 * event    = qb_ipc_response_header (24 bytes, error 0) + body @24
 *
 * HELLO request (id 1) body:          | appLen u16 @0 | reserved u16 @2 | app @4 |
 * REGISTER request (id 2) body:       | regId i64 @0 | priority i32 @8 | kind u16 @12 | idLen u16 @14 |
 *                                     | toLen u16 @16 | reserved u16 @18 | id @20 | to |
 * UNREGISTER request (id 3) body:     | regId i64 @0 |
 * NOTIFY request (id 4) body:         NOTE (regId 0)
 * DELIVER / OBSERVED / UNICAST_ERROR
 *   events (ids 101, 102, 103) body:  NOTE
 * every response body:                | result i32 @0 | receivers i32 @4 |
 *
 * NOTE: | regId i64 @0 | flags i32 @8 | paramsLen i32 @12 | fromLen u16 @16 | toLen u16 @18 | idLen u16 @20 |
 *       | reserved u16 @22 | from @24 | to | id | params |
 * </pre>
 *
 * The response header's {@code error} is 0 or a negated errno ({@code -EINVAL}: malformed request, e.g. bad JSON;
 * {@code -EPROTO}: HELLO missing); {@code result} is a {@link io.jqb.notify.NotifyResult} ordinal.
 */
public final class NotifyMessageDescriptor {
    /** Request: set the connection's application ID. */
    public static final int MSG_HELLO = 1;
    /** Request: add or replace a registration. */
    public static final int MSG_REGISTER = 2;
    /** Request: remove a registration. */
    public static final int MSG_UNREGISTER = 3;
    /** Request: send a notification. */
    public static final int MSG_NOTIFY = 4;
    /** Event: a notification for one of the connection's registrations. */
    public static final int EVT_DELIVER = 101;
    /** Event: a delivered notification, for an observer registration. */
    public static final int EVT_OBSERVED = 102;
    /** Event: one of the connection's unicasts found no receiver. */
    public static final int EVT_UNICAST_ERROR = 103;

    /** Registration kinds. */
    public static final int KIND_NOTIFICATION = 0;
    /** Sees every delivered notification. */
    public static final int KIND_OBSERVER = 1;
    /** Told when the connection's unicasts find no receiver. */
    public static final int KIND_UNICAST_ERROR = 2;

    /** Offset of a request's body (after qb_ipc_request_header). */
    public static final int REQUEST_BODY = 16;
    /** Offset of a response's or event's body (after qb_ipc_response_header). */
    public static final int RESPONSE_BODY = 24;

    /** HELLO: length of the application ID. */
    public static final int HELLO_APP_LEN = 0;
    /** HELLO: size of the fixed part; the application ID follows. */
    public static final int HELLO_FIXED = 4;

    /** REGISTER: the registration id chosen by the client. */
    public static final int REG_ID = 0;
    /** REGISTER: priority for "1" notifications. */
    public static final int REG_PRIORITY = 8;
    /** REGISTER: one of the KIND_* values. */
    public static final int REG_KIND = 12;
    /** REGISTER: length of the notification ID. */
    public static final int REG_ID_LEN = 14;
    /** REGISTER: length of the address listened on. */
    public static final int REG_TO_LEN = 16;
    /** REGISTER: size of the fixed part; the ID and the address follow. */
    public static final int REG_FIXED = 20;

    /** UNREGISTER: the registration id. */
    public static final int UNREG_ID = 0;
    /** UNREGISTER: size of the body. */
    public static final int UNREG_FIXED = 8;

    /** NOTE: the registration it is delivered to (0 in NOTIFY). */
    public static final int NOTE_REG_ID = 0;
    /** NOTE: the sender's flags. */
    public static final int NOTE_FLAGS = 8;
    /** NOTE: length of the params JSON. */
    public static final int NOTE_PARAMS_LEN = 12;
    /** NOTE: length of the sender's application ID. */
    public static final int NOTE_FROM_LEN = 16;
    /** NOTE: length of the address. */
    public static final int NOTE_TO_LEN = 18;
    /** NOTE: length of the notification ID. */
    public static final int NOTE_ID_LEN = 20;
    /** NOTE: size of the fixed part; from, to, id and params follow. */
    public static final int NOTE_FIXED = 24;

    /** Response: the NotifyResult ordinal. */
    public static final int RESULT_CODE = 0;
    /** Response: registrations a NOTIFY reached on this host. */
    public static final int RESULT_RECEIVERS = 4;
    /** Response: size of the body. */
    public static final int RESULT_FIXED = 8;

    /** Longest application or notification ID, in UTF-8 bytes. */
    public static final int MAX_NAME = 255;
    /** Largest params JSON, in UTF-8 bytes. */
    public static final int MAX_PARAMS = 32 * 1024;
    /** Largest NOTE body: the fixed part, three names and the params. */
    public static final int MAX_NOTE = NOTE_FIXED + 3 * MAX_NAME + MAX_PARAMS;
    /**
     * Most registrations of one connection (of every kind) the broker holds; a REGISTER with a new regId past that is
     * answered {@link io.jqb.notify.NotifyResult#LIMIT} and not kept, so a client cannot grow the broker's table
     * without bound.
     */
    public static final int MAX_REGISTRATIONS = 4096;
    /** The IPC buffer size clients ask for: the largest event plus its header, with room to spare. */
    public static final int BUFFER_SIZE = 64 * 1024;

    private NotifyMessageDescriptor() {
    }

    /**
     * @param body offset of the NOTE body
     * @return the offset of its first string
     */
    public static int noteStrings(int body) {
        return body + NOTE_FIXED;
    }

    /**
     * @param b the message (little-endian)
     * @param offset absolute offset
     * @return the unsigned 16-bit value there
     */
    public static int u16(ByteBuffer b, int offset) {
        return b.getShort(offset) & 0xffff;
    }
}
