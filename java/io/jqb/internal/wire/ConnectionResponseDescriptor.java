package io.jqb.internal.wire;

/**
 * The 12328-byte connection response a server sends on the setup socket
 * ({@code struct qb_ipc_connection_response}). Zeroed, then filled.
 *
 * <pre>
 *  +----------------------------+
 *  | hdr.id (-1)          i32   |     0
 *  | hdr.size (12328)     i32   |     8
 *  | hdr.error (0|-errno) i32   |    16
 *  | pad (jqb: capability) i32  |    20
 *  | connection_type      i32   |    24   1 = SHM, 0 = SOCKET
 *  | max_msg_size         u32   |    28   agreed buffer size
 *  | connection           u64   |    32   server's opaque pointer
 *  | request[4096]        char  |    40   SHM: request ring base path; SOCKET: control file path
 *  | response[4096]       char  |  4136   SHM: response ring base path; SOCKET: datagram base name
 *  | event[4096]          char  |  8232   SHM: event ring base path; SOCKET: empty
 *  +----------------------------+ 12328
 * </pre>
 */
public final class ConnectionResponseDescriptor {
    public static final int ID_OFFSET = 0;
    public static final int SIZE_OFFSET = 8;
    public static final int ERROR_OFFSET = 16;
    /**
     * jqb extension in padding libqb zeroes and never reads: a jqb server echoes
     * {@link ConnectionRequestDescriptor#JQB_CAPABILITY} here when the client sent a jqb capability, or
     * {@link ConnectionRequestDescriptor#JQB_WRITEPT_CAPABILITY} when both ends do write_pt detection.
     */
    public static final int CAPABILITY_OFFSET = 20;
    public static final int CONNECTION_TYPE_OFFSET = 24;
    public static final int MAX_MSG_SIZE_OFFSET = 28;
    public static final int CONNECTION_OFFSET = 32;
    public static final int REQUEST_PATH_OFFSET = 40;
    public static final int RESPONSE_PATH_OFFSET = 4136;
    public static final int EVENT_PATH_OFFSET = 8232;
    public static final int PATH_LENGTH = 4096;
    public static final int LENGTH = 12328;

    /** {@code enum qb_ipc_type} values on the wire. */
    public static final int TYPE_SOCKET = 0;
    public static final int TYPE_SHM = 1;
    public static final int TYPE_POSIX_MQ = 2;
    public static final int TYPE_SYSV_MQ = 3;
    public static final int TYPE_NATIVE = 4;

    private ConnectionResponseDescriptor() {
    }
}
