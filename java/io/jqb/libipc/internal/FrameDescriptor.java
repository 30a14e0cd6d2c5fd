package io.jqb.libipc.internal;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The libipc frame (KaneRoot/libipc 33cd215), the same in both directions. Every offset of it is here.
 *
 * <pre>
 *  0        1                               5                         5+length
 *  +--------+-------------------------------+-------------------------+
 *  | type   | length (uint32, LITTLE-endian)| payload (length bytes)  |
 *  +--------+-------------------------------+-------------------------+
 * </pre>
 *
 * <p>The length is the payload's byte count, written by C as the native uint32, which is little-endian on every
 * platform libipc runs on (x86-64, aarch64); jqb always writes and reads it little-endian, whatever the buffer's
 * own byte order. The type byte is opaque (0 SERVER_CLOSE, 1 ERR, 2 DATA by convention). No padding, trailer or
 * checksum: a frame is 5 + length bytes.
 */
public final class FrameDescriptor {
    /** Offset of the type byte. */
    public static final int TYPE_OFFSET = 0;
    /** Offset of the little-endian uint32 payload length. */
    public static final int LENGTH_OFFSET = 1;
    /** Header size ({@code IPC_HEADER_SIZE}); the payload starts here. */
    public static final int HEADER_SIZE = 5;
    /** Largest payload a C 33cd215 reader accepts (its asserts: 5 + length &le; 7,999,995). */
    public static final int C_MAX_PAYLOAD = 7_999_990;

    private FrameDescriptor() {
    }

    /** @return the type byte of the frame at {@code frame} */
    public static byte type(ByteBuffer b, int frame) {
        return b.get(frame + TYPE_OFFSET);
    }

    /** @return the payload length of the frame at {@code frame}, as an unsigned value */
    public static long length(ByteBuffer b, int frame) {
        int raw = b.get(frame + LENGTH_OFFSET) & 0xff
                | (b.get(frame + LENGTH_OFFSET + 1) & 0xff) << 8
                | (b.get(frame + LENGTH_OFFSET + 2) & 0xff) << 16
                | (b.get(frame + LENGTH_OFFSET + 3) & 0xff) << 24;
        return Integer.toUnsignedLong(raw);
    }

    /** @return the offset of the payload of the frame at {@code frame} */
    public static int payloadOffset(int frame) {
        return frame + HEADER_SIZE;
    }

    /** Writes a header at {@code frame}: type and little-endian length. */
    public static void putHeader(ByteBuffer b, int frame, byte type, int length) {
        b.put(frame + TYPE_OFFSET, type);
        ByteOrder o = b.order();
        b.order(ByteOrder.LITTLE_ENDIAN).putInt(frame + LENGTH_OFFSET, length).order(o);
    }
}
