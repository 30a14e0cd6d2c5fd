package io.jqb.internal.wire;

/**
 * The 24-byte connection request a client sends on the setup socket ({@code struct qb_ipc_connection_request}).
 *
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +---------------------------------------------------------------+
 *  |                 hdr.id  (-1 = AUTHENTICATE)                   |  0
 *  |                 padding                                       |  4
 *  |                 hdr.size (24)                                 |  8
 *  |                 padding                                       | 12
 *  |                 max_msg_size (u32)                            | 16
 *  |                 tail padding (jqb: capability "JQB1")         | 20
 *  +---------------------------------------------------------------+
 * </pre>
 */
public final class ConnectionRequestDescriptor {
    public static final int ID_OFFSET = 0;
    public static final int SIZE_OFFSET = 8;
    public static final int MAX_MSG_SIZE_OFFSET = 16;
    /**
     * jqb extension in the tail padding, which libqb never reads: {@link #JQB_CAPABILITY} says the client is jqb and
     * honours the request ring's consumer-awake flag ({@link RingHeaderDescriptor#CONSUMER_AWAKE_OFFSET}).
     */
    public static final int CAPABILITY_OFFSET = 20;
    public static final int LENGTH = 24;

    /** "JQB1", little-endian. */
    public static final int JQB_CAPABILITY = 0x3142514A;

    /** {@code QB_IPC_MSG_AUTHENTICATE}. */
    public static final int MSG_AUTHENTICATE = -1;

    private ConnectionRequestDescriptor() {
    }
}
