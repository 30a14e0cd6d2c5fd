package io.jqb.stream;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Frame bytes built independently of the library (straight from docs/STREAM-PROTOCOL.md: three big-endian u32s,
 * then the payload), so interop tests check the wire, not the code against itself.
 */
final class Frames {
    static final int PREFIX = 0x4A514253;

    private Frames() {
    }

    static byte[] frame(int prefix, int id, byte[] payload) {
        return ByteBuffer.allocate(12 + payload.length).order(ByteOrder.BIG_ENDIAN).putInt(prefix).putInt(id)
                .putInt(payload.length).put(payload).array();
    }

    static byte[] header(int prefix, int id, long length) {
        return ByteBuffer.allocate(12).order(ByteOrder.BIG_ENDIAN).putInt(prefix).putInt(id).putInt((int) length)
                .array();
    }
}
