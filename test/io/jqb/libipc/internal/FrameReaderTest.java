package io.jqb.libipc.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Reassembly on split and coalesced input, fed through a channel that hands out chosen chunk sizes. */
class FrameReaderTest {
    /** Delivers a byte stream in the given chunk sizes, then EOF. */
    private static final class Chunks implements ReadableByteChannel {
        private final byte[] data;
        private final int[] sizes;
        private int at;
        private int chunk;
        private int leftInChunk = -1;

        Chunks(byte[] data, int... sizes) {
            this.data = data;
            this.sizes = sizes;
        }

        @Override
        public int read(ByteBuffer dst) {
            if (at >= data.length) {
                return -1;
            }
            if (leftInChunk <= 0) {
                leftInChunk = chunk < sizes.length ? sizes[chunk++] : data.length - at;
            }
            int n = Math.min(Math.min(leftInChunk, dst.remaining()), data.length - at);
            dst.put(data, at, n);
            at += n;
            leftInChunk -= n;
            return n;
        }

        @Override
        public boolean isOpen() {
            return true;
        }

        @Override
        public void close() {
        }
    }

    private static byte[] frames(byte[][] payloads) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int i = 0; i < payloads.length; i++) {
            ByteBuffer b = ByteBuffer.allocate(5 + payloads[i].length);
            FrameCodec.encode(b, (byte) i, ByteBuffer.wrap(payloads[i]));
            out.writeBytes(b.array());
        }
        return out.toByteArray();
    }

    private static List<byte[]> readAll(FrameReader r, ReadableByteChannel ch, List<Byte> types) throws Exception {
        List<byte[]> got = new ArrayList<>();
        for (;;) {
            while (r.next()) {
                ByteBuffer p = r.payload();
                assertEquals(r.payloadLength(), p.remaining());
                byte[] b = new byte[p.remaining()];
                p.get(b);
                got.add(b);
                types.add(r.type());
            }
            if (r.fill(ch) < 0) {
                return got;
            }
        }
    }

    private static byte[][] payloads(Random rnd, int n, int maxLen) {
        byte[][] p = new byte[n][];
        for (int i = 0; i < n; i++) {
            p[i] = new byte[rnd.nextInt(maxLen + 1)];
            rnd.nextBytes(p[i]);
        }
        return p;
    }

    @Test
    void splitAtEveryPositionOfTwoFrames() throws Exception {
        byte[][] p = {{1, 2, 3}, {}, {4}};
        byte[] wire = frames(p);
        for (int cut = 1; cut < wire.length; cut++) {
            for (int cut2 = 1; cut2 < wire.length - cut; cut2++) {
                List<Byte> types = new ArrayList<>();
                List<byte[]> got = readAll(new FrameReader(100), new Chunks(wire, cut, cut2), types);
                assertEquals(3, got.size(), "cut at " + cut + "+" + cut2);
                for (int i = 0; i < 3; i++) {
                    assertArrayEquals(p[i], got.get(i));
                    assertEquals((byte) i, (byte) types.get(i));
                }
            }
        }
    }

    @Test
    void byteByByte() throws Exception {
        byte[][] p = payloads(new Random(1), 20, 300);
        byte[] wire = frames(p);
        int[] ones = new int[wire.length];
        java.util.Arrays.fill(ones, 1);
        List<byte[]> got = readAll(new FrameReader(1000), new Chunks(wire, ones), new ArrayList<>());
        assertEquals(p.length, got.size());
        for (int i = 0; i < p.length; i++) {
            assertArrayEquals(p[i], got.get(i));
        }
    }

    @Test
    void manyFramesCoalescedInOneReadAreAllDelivered() throws Exception {
        byte[][] p = payloads(new Random(2), 500, 40);
        byte[] wire = frames(p);
        FrameReader r = new FrameReader(100);
        Chunks ch = new Chunks(wire, wire.length);
        List<byte[]> got = readAll(r, ch, new ArrayList<>());
        assertEquals(500, got.size());
        for (int i = 0; i < p.length; i++) {
            assertArrayEquals(p[i], got.get(i));
        }
    }

    @Test
    void randomSplitsOfLargeAndSmallFrames() throws Exception {
        Random rnd = new Random(3);
        for (int round = 0; round < 50; round++) {
            byte[][] p = payloads(rnd, 30, round % 5 == 0 ? 100_000 : 3000);
            byte[] wire = frames(p);
            int[] sizes = new int[200];
            for (int i = 0; i < sizes.length; i++) {
                sizes[i] = 1 + rnd.nextInt(rnd.nextBoolean() ? 7 : 70_000);
            }
            List<byte[]> got = readAll(new FrameReader(100_000), new Chunks(wire, sizes), new ArrayList<>());
            assertEquals(p.length, got.size());
            for (int i = 0; i < p.length; i++) {
                assertArrayEquals(p[i], got.get(i), "round " + round + " frame " + i);
            }
        }
    }

    @Test
    void aHugeLengthIsRefusedBeforeAnythingIsAllocatedForIt() throws Exception {
        byte[] wire = {2, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0x7f, 1, 2, 3};
        FrameReader r = new FrameReader(FrameDescriptor.C_MAX_PAYLOAD);
        r.fill(new Chunks(wire));
        FrameReader.TooLargeException e = assertThrows(FrameReader.TooLargeException.class, r::next);
        assertEquals(0x7fffffffL, e.length());
        assertEquals(FrameReader.INITIAL_CAPACITY, r.capacity(), "no buffer grown for the announced length");
    }

    @Test
    void anAnnouncedLengthGrowsTheBufferOnlyAsBytesArrive() throws Exception {
        // 1 MB announced, only 20 KB sent: the buffer grows by doubling, not to 1 MB.
        byte[] wire = new byte[5 + 20_000];
        ByteBuffer.wrap(wire).put(0, (byte) 2).order(java.nio.ByteOrder.LITTLE_ENDIAN).putInt(1, 1_000_000);
        FrameReader r = new FrameReader(2_000_000);
        Chunks ch = new Chunks(wire, 4000, 4000, 4000, 4000, 4000, 4000);
        while (r.fill(ch) >= 0) {
            assertFalse(r.next());
        }
        assertTrue(r.capacity() < 2 * 25_000 + FrameReader.INITIAL_CAPACITY, "capacity " + r.capacity());
    }

    @Test
    void bufferReturnsToItsInitialSizeAfterALargeFrame() throws Exception {
        byte[][] p = {new byte[200_000], {1}};
        byte[] wire = frames(p);
        FrameReader r = new FrameReader(300_000);
        Chunks ch = new Chunks(wire, 200_005, 6);
        List<byte[]> got = new ArrayList<>();
        while (got.size() < 2) {
            r.fill(ch);
            while (r.next()) {
                got.add(new byte[r.payloadLength()]);
            }
        }
        assertEquals(2, got.size());
        r.fill(ch);
        assertEquals(FrameReader.INITIAL_CAPACITY, r.capacity());
    }
}
