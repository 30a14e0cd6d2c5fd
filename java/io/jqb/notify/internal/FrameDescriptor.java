package io.jqb.notify.internal;

/**
 * The framed TCP link between brokers ({@link TcpPeerNetwork}).
 *
 * <pre>
 * on connect, each side first sends:  | magic "JQN1" (4 bytes) |
 * then frames:                        | length u32 big-endian @0 | NOTE body (little-endian, see
 *                                       NotifyMessageDescriptor), length bytes @4 |
 * </pre>
 * A frame longer than {@link NotifyMessageDescriptor#MAX_NOTE} or a wrong magic closes the link.
 */
public final class FrameDescriptor {
    /** Sent first by both ends. */
    public static final byte[] MAGIC = {'J', 'Q', 'N', '1'};
    /** Offset of the body after the length. */
    public static final int LENGTH_BYTES = 4;

    private FrameDescriptor() {
    }
}
