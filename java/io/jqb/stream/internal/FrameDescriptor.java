package io.jqb.stream.internal;

import java.nio.ByteBuffer;

/**
 * The stream layer's frame: a fixed 12-byte header, then the payload. All three header words are unsigned 32-bit
 * integers in network byte order (big-endian), whatever the host's byte order.
 *
 * <pre>
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                    prefix (u32, big-endian)                   |  0
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                    msgId  (u32, big-endian)                   |  4
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                    length (u32, big-endian)                   |  8   payload bytes that follow
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                    payload (length bytes) ...                    12
 * </pre>
 *
 * The prefix is an application-chosen constant both ends agree on (it catches a peer speaking another protocol or a
 * stream that lost its framing); {@link #DEFAULT_PREFIX} is {@code "JQBS"} in ASCII.
 */
public final class FrameDescriptor {
    /** Offset of the prefix word. */
    public static final int PREFIX_OFFSET = 0;
    /** Offset of the message id word. */
    public static final int MSG_ID_OFFSET = 4;
    /** Offset of the payload length word. */
    public static final int LENGTH_OFFSET = 8;
    /** Header size; the payload starts here. */
    public static final int HEADER_LENGTH = 12;
    /** {@code 'J' 'Q' 'B' 'S'}: the prefix jqb's CLI, examples and benchmarks use. */
    public static final int DEFAULT_PREFIX = 0x4A514253;

    private FrameDescriptor() {
    }

    /** Writes a header at {@code at} of {@code buf} (absolute, big-endian whatever the buffer's order). */
    public static void writeHeader(ByteBuffer buf, int at, int prefix, int msgId, int length) {
        buf.putInt(at + PREFIX_OFFSET, bigEndian(buf, prefix));
        buf.putInt(at + MSG_ID_OFFSET, bigEndian(buf, msgId));
        buf.putInt(at + LENGTH_OFFSET, bigEndian(buf, length));
    }

    /** @return the prefix of the header at {@code at} */
    public static int prefix(ByteBuffer buf, int at) {
        return bigEndian(buf, buf.getInt(at + PREFIX_OFFSET));
    }

    /** @return the (unsigned) message id of the header at {@code at}, as the raw 32 bits */
    public static int msgId(ByteBuffer buf, int at) {
        return bigEndian(buf, buf.getInt(at + MSG_ID_OFFSET));
    }

    /** @return the payload length of the header at {@code at}, unsigned (0 .. 2^32-1) */
    public static long length(ByteBuffer buf, int at) {
        return Integer.toUnsignedLong(bigEndian(buf, buf.getInt(at + LENGTH_OFFSET)));
    }

    /** Converts between the buffer's order and big-endian (an involution). */
    private static int bigEndian(ByteBuffer buf, int v) {
        return buf.order() == java.nio.ByteOrder.BIG_ENDIAN ? v : Integer.reverseBytes(v);
    }
}
