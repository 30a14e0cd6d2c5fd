package io.jqb.libipc.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.BufferOverflowException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The pure codec: exact bytes (the protocol document's observed frames) and scan results on partial input. */
class FrameCodecTest {
    private static byte[] encode(byte type, byte[] payload) {
        ByteBuffer b = ByteBuffer.allocate(5 + payload.length);
        FrameCodec.encode(b, type, ByteBuffer.wrap(payload));
        assertEquals(b.capacity(), b.position());
        return b.array();
    }

    @Test
    void encodesTheBytesCLibipcSends() {
        assertArrayEquals(new byte[] {2, 5, 0, 0, 0, 'h', 'e', 'l', 'l', 'o'},
                encode((byte) 2, "hello".getBytes(StandardCharsets.US_ASCII)));
        assertArrayEquals(new byte[] {2, 0, 0, 0, 0}, encode((byte) 2, new byte[0]));
        assertArrayEquals(new byte[] {0, 0, 0, 0, 0}, encode((byte) 0, new byte[0]));
        byte[] big = encode((byte) -1, new byte[0x010203]);
        assertArrayEquals(new byte[] {(byte) 0xff, 3, 2, 1, 0}, java.util.Arrays.copyOf(big, 5));
    }

    @Test
    void lengthIsLittleEndianWhateverTheBufferOrder() {
        ByteBuffer b = ByteBuffer.allocate(16).order(ByteOrder.BIG_ENDIAN);
        FrameDescriptor.putHeader(b, 3, (byte) 7, 0x11223344);
        assertEquals(0x44, b.get(4));
        assertEquals(0x11, b.get(7));
        assertEquals(0x11223344L, FrameDescriptor.length(b, 3));
        assertEquals(ByteOrder.BIG_ENDIAN, b.order());
        b.put(4, (byte) 0xff).put(5, (byte) 0xff).put(6, (byte) 0xff).put(7, (byte) 0xff);
        assertEquals(0xffffffffL, FrameDescriptor.length(b, 3), "unsigned");
    }

    @Test
    void encodeDoesNotMovePayloadAndRefusesShortDestination() {
        ByteBuffer p = ByteBuffer.wrap(new byte[] {1, 2, 3});
        p.position(1);
        ByteBuffer dst = ByteBuffer.allocate(7);
        FrameCodec.encode(dst, (byte) 2, p);
        assertEquals(1, p.position());
        assertArrayEquals(new byte[] {2, 2, 0, 0, 0, 2, 3}, dst.array());
        assertThrows(BufferOverflowException.class, () -> FrameCodec.encode(ByteBuffer.allocate(6), (byte) 2,
                ByteBuffer.wrap(new byte[] {1, 2})));
    }

    @Test
    void scanNeedsTheWholeHeaderThenTheWholePayload() {
        ByteBuffer b = ByteBuffer.wrap(encode((byte) 2, new byte[] {9, 8, 7}));
        for (int avail = 0; avail < 8; avail++) {
            assertEquals(FrameCodec.NEED_MORE, FrameCodec.scan(b, 0, avail, 100), "avail " + avail);
        }
        assertEquals(8, FrameCodec.scan(b, 0, 8, 100));
        assertEquals(5, FrameCodec.needed(b, 0, 4));
        assertEquals(8, FrameCodec.needed(b, 0, 5));
    }

    @Test
    void scanRejectsALengthOverTheMaximumFromTheHeaderAlone() {
        ByteBuffer b = ByteBuffer.wrap(new byte[] {2, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff});
        assertEquals(FrameCodec.TOO_LARGE, FrameCodec.scan(b, 0, 5, 1000));
        ByteBuffer exact = ByteBuffer.allocate(5 + 1000);
        FrameDescriptor.putHeader(exact, 0, (byte) 2, 1000);
        assertEquals(1005, FrameCodec.scan(exact, 0, 1005, 1000));
        FrameDescriptor.putHeader(exact, 0, (byte) 2, 1001);
        assertEquals(FrameCodec.TOO_LARGE, FrameCodec.scan(exact, 0, 5, 1000));
    }

    @Test
    void scanFindsBackToBackFrames() {
        ByteBuffer b = ByteBuffer.allocate(64);
        FrameCodec.encode(b, (byte) 2, ByteBuffer.wrap(new byte[] {1}));
        FrameCodec.encode(b, (byte) 1, null);
        FrameCodec.encode(b, (byte) 9, ByteBuffer.wrap(new byte[] {4, 5}));
        int end = b.position();
        int at = 0;
        int[] sizes = new int[3];
        for (int i = 0; i < 3; i++) {
            sizes[i] = FrameCodec.scan(b, at, end, 10);
            at += sizes[i];
        }
        assertArrayEquals(new int[] {6, 5, 7}, sizes);
        assertEquals(end, at);
        assertEquals(FrameCodec.NEED_MORE, FrameCodec.scan(b, at, end, 10));
    }
}
