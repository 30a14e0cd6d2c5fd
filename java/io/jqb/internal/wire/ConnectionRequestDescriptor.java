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
 *  |          tail padding (jqb: capability "JQB1" or "JQB2")      | 20
 *  +---------------------------------------------------------------+
 * </pre>
 */
public final class ConnectionRequestDescriptor {
    public static final int ID_OFFSET = 0;
    public static final int SIZE_OFFSET = 8;
    public static final int MAX_MSG_SIZE_OFFSET = 16;
    /**
     * jqb extension in the tail padding, which libqb never reads: {@link #JQB_CAPABILITY} says the client is jqb and
     * honours the request ring's consumer-awake flag ({@link RingHeaderDescriptor#CONSUMER_AWAKE_OFFSET}) with the
     * values 0 and 1 (it skips the doorbell byte, and posts every chunk); {@link #JQB_WRITEPT_CAPABILITY} says that
     * and also that it does write_pt detection (flag value 2, posts skipped, chunks taken by write_pt, w == r never
     * "full"). One value, little-endian; the server echoes what it agrees to (JQB2 only when it detects too).
     */
    public static final int CAPABILITY_OFFSET = 20;
    public static final int LENGTH = 24;

    /** "JQB1", little-endian: a jqb end, doorbell elision only (every chunk posted, libqb's free-space rule). */
    public static final int JQB_CAPABILITY = 0x3142514A;
    /**
     * "JQB2", little-endian: a jqb end with write_pt detection ({@code jqb.spin.writeptDetect} on). Detection runs on
     * a connection only when both ends said JQB2: an end that says JQB1 (an older jqb, or detection off) posts every
     * chunk and reads w == r with a token as a full ring, which a reader by write_pt would leave behind.
     */
    public static final int JQB_WRITEPT_CAPABILITY = 0x3242514A;

    /**
     * @return 0 for a capability value that is no jqb one (a libqb peer), 1 for {@link #JQB_CAPABILITY}, 2 for
     *         {@link #JQB_WRITEPT_CAPABILITY}
     */
    public static int capabilityLevel(int value) {
        return value == JQB_WRITEPT_CAPABILITY ? 2 : value == JQB_CAPABILITY ? 1 : 0;
    }

    /** {@code QB_IPC_MSG_AUTHENTICATE}. */
    public static final int MSG_AUTHENTICATE = -1;

    private ConnectionRequestDescriptor() {
    }
}
