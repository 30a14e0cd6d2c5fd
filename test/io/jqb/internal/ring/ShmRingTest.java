package io.jqb.internal.ring;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.Errno;
import io.jqb.internal.wire.ChunkDescriptor;
import io.jqb.internal.wire.RingHeaderDescriptor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * In-process tests of one {@link ShmRing}: the writer and the reader in this JVM, the ring's two files in a fresh
 * directory under {@code /dev/shm}. The "peer" that corrupts the ring is a plain {@link FileChannel} mapping of the
 * same files, as a hostile process would see them: it writes the shared words at the offsets the descriptors name.
 */
class ShmRingTest {
    /** Agreed size: a data area of one page (W = 1024 words). */
    private static final int MAX_MSG = 4096 - ChunkDescriptor.DATA_SLACK;
    private static final AtomicInteger SEQ = new AtomicInteger();

    private Path dir;
    private ShmRing ring;
    private MappedByteBuffer peerHeader;
    private MappedByteBuffer peerData;
    private final Capture capture = new Capture();

    /** Copies each chunk it is given; a handler as the channels write them (no lambda). */
    private static final class Capture implements ShmRing.ChunkHandler {
        byte[] last;
        int offset = -1;
        int calls;
        /** What to return: ≥ 0 consumes, negative refuses; {@code throwIt} throws instead. */
        int answer = Integer.MAX_VALUE;
        RuntimeException throwIt;

        @Override
        public int onChunk(ShmRing r, int off, int length) {
            calls++;
            offset = off;
            ByteBuffer into = ByteBuffer.allocate(length);
            r.copyTo(off, into, length);
            last = into.array();
            if (throwIt != null) {
                throw throwIt;
            }
            return answer == Integer.MAX_VALUE ? length : answer;
        }
    }

    @BeforeEach
    void setUp() throws IOException {
        dir = Files.createTempDirectory(Path.of("/dev/shm"),
                "jqbt-ring-" + ProcessHandle.current().pid() + "-" + SEQ.incrementAndGet() + "-");
        ring = ShmRing.create(dir + "/qb-request-test", MAX_MSG, -1, -1, 0600);
        peerHeader = map(ring.headerPath(), RingHeaderDescriptor.FILE_LENGTH);
        peerData = map(ring.dataPath(), ring.dataBytes());
    }

    private static MappedByteBuffer map(String path, int length) throws IOException {
        try (FileChannel ch = FileChannel.open(Path.of(path), StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            MappedByteBuffer b = ch.map(FileChannel.MapMode.READ_WRITE, 0, length);
            b.order(ByteOrder.LITTLE_ENDIAN);
            return b;
        }
    }

    @AfterEach
    void tearDown() throws IOException {
        if (ring != null) {
            ring.close(true);
        }
        Files.deleteIfExists(dir);
    }

    private static byte[] message(int length, int seed) {
        byte[] b = new byte[length];
        for (int i = 0; i < length; i++) {
            b[i] = (byte) (seed * 31 + i);
        }
        return b;
    }

    private int words() {
        return ring.dataBytes() / ChunkDescriptor.WORD_BYTES;
    }

    private int readPt() {
        return peerHeader.getInt(RingHeaderDescriptor.READ_PT_OFFSET);
    }

    private int writePt() {
        return peerHeader.getInt(RingHeaderDescriptor.WRITE_PT_OFFSET);
    }

    @Test
    void shouldReadChunksInOrderAndReclaimThem() {
        for (int i = 0; i < 3; i++) {
            assertEquals(10 + i, ring.write(message(10 + i, i), 0, 10 + i));
        }
        assertEquals(3, ring.semaphore().value());
        for (int i = 0; i < 3; i++) {
            assertEquals(10 + i, ring.read(capture));
            assertArrayEquals(message(10 + i, i), capture.last);
        }
        assertEquals(0, ring.semaphore().value());
        assertEquals(writePt(), readPt(), "every chunk reclaimed");
        // What the writer and the reader leave, in libqb's words: length 0 and DEAD magic on the reclaimed chunk.
        assertEquals(ChunkDescriptor.MAGIC_DEAD, peerData.getInt((int) ChunkDescriptor.magicOffset(0, words())));
        assertEquals(0, peerData.getInt((int) ChunkDescriptor.lengthOffset(0)));
        assertEquals(Errno.WOULD_BLOCK, ring.read(capture));
        assertEquals(3, capture.calls, "no handler call without a chunk");
    }

    @Test
    void shouldWriteWithTheLayoutLibqbReads() {
        byte[] m = message(5, 7);
        ring.write(ByteBuffer.wrap(m));
        assertEquals(5, peerData.getInt((int) ChunkDescriptor.lengthOffset(0)));
        assertEquals(ChunkDescriptor.MAGIC_COMMITTED, peerData.getInt((int) ChunkDescriptor.magicOffset(0, words())));
        byte[] payload = new byte[5];
        peerData.get(ChunkDescriptor.payloadOffset(0, words()), payload);
        assertArrayEquals(m, payload);
        assertEquals(ChunkDescriptor.chunkWords(5), writePt(), "2 header words + 2 payload words");
    }

    @Test
    void shouldDeliverAWrappingChunkContiguously() {
        // Move both pointers near the end with chunks that are written and consumed, then write one that wraps.
        byte[] filler = message(400, 1);
        while (words() - writePt() > 200) {
            assertEquals(400, ring.write(filler, 0, filler.length));
            assertEquals(400, ring.read(capture));
        }
        int start = writePt();
        byte[] m = message(2000, 9);
        assertEquals(2000, ring.write(ByteBuffer.wrap(m)));
        assertTrue(start + ChunkDescriptor.chunkWords(2000) > words(), "the chunk wraps");
        assertEquals(2000, ring.read(capture));
        assertArrayEquals(m, capture.last);
        assertTrue(capture.offset + 2000 > ring.dataBytes(), "the payload runs into the second mapping");
        assertEquals((start + ChunkDescriptor.chunkWords(2000)) % words(), readPt());
    }

    @Test
    void shouldReportFullAndAcceptAgainAfterARead() {
        byte[] m = message(100, 3);
        int written = 0;
        int rc;
        while ((rc = ring.write(m, 0, m.length)) == 100) {
            written++;
        }
        assertEquals(Errno.WOULD_BLOCK, rc);
        assertEquals(written, ring.semaphore().value());
        // libqb's rule: a write needs length + 12 bytes free, and one word always stays free between the pointers.
        int chunkBytes = ChunkDescriptor.chunkWords(100) * ChunkDescriptor.WORD_BYTES;
        int fit = ((words() - 1) * ChunkDescriptor.WORD_BYTES - (100 + ChunkDescriptor.MARGIN_BYTES)) / chunkBytes + 1;
        assertEquals(fit, written);
        assertEquals(100, ring.read(capture));
        assertEquals(100, ring.write(m, 0, m.length));
        for (int i = 0; i < written; i++) {
            assertEquals(100, ring.read(capture));
        }
        assertEquals(Errno.WOULD_BLOCK, ring.read(capture));
    }

    @Test
    void shouldRejectAMessageLargerThanTheRingWithoutTouchingIt() {
        byte[] big = new byte[ring.dataBytes()];
        assertEquals(Errno.WOULD_BLOCK, ring.write(big, 0, big.length));
        assertEquals(0, writePt());
        assertEquals(0, ring.semaphore().value());
    }

    /** The checks every corrupt case shares: -EBADMSG, the handler never called, the token back, nothing moved. */
    private void assertRefusedAsCorrupt(int tokens, int readPtBefore) {
        int calls = capture.calls;
        assertEquals(-Errno.EBADMSG, ring.read(capture));
        assertEquals(calls, capture.calls, "the handler never sees a corrupt chunk");
        assertEquals(tokens, ring.semaphore().value(), "the token is given back");
        assertEquals(readPtBefore, readPt(), "nothing reclaimed");
    }

    @Test
    void shouldRefuseOutOfRangePointers() {
        ring.write(message(8, 1), 0, 8);
        peerHeader.putInt(RingHeaderDescriptor.READ_PT_OFFSET, words());
        assertRefusedAsCorrupt(1, words());
        peerHeader.putInt(RingHeaderDescriptor.READ_PT_OFFSET, -1);
        assertRefusedAsCorrupt(1, -1);
        peerHeader.putInt(RingHeaderDescriptor.READ_PT_OFFSET, 0);
        int w = writePt();
        peerHeader.putInt(RingHeaderDescriptor.WRITE_PT_OFFSET, Integer.MAX_VALUE);
        assertRefusedAsCorrupt(1, 0);
        assertEquals(-Errno.EBADMSG, ring.write(message(8, 2), 0, 8), "the writer checks the pointers too");
        peerHeader.putInt(RingHeaderDescriptor.WRITE_PT_OFFSET, w);
        assertEquals(8, ring.read(capture), "the repaired ring reads again");
        assertArrayEquals(message(8, 1), capture.last);
    }

    @Test
    void shouldRefuseABadMagicAndKeepTheChunk() {
        ring.write(message(8, 1), 0, 8);
        int magic = (int) ChunkDescriptor.magicOffset(0, words());
        peerData.putInt(magic, ChunkDescriptor.MAGIC_ALLOCATED);
        assertRefusedAsCorrupt(1, 0);
        peerData.putInt(magic, 0x12345678);
        assertRefusedAsCorrupt(1, 0);
        peerData.putInt(magic, ChunkDescriptor.MAGIC_COMMITTED);
        assertEquals(8, ring.read(capture));
        assertArrayEquals(message(8, 1), capture.last);
    }

    @Test
    void shouldRefuseLengthsThatDoNotFit() {
        ring.write(message(8, 1), 0, 8);
        int len = (int) ChunkDescriptor.lengthOffset(0);
        peerData.putInt(len, -1);
        assertRefusedAsCorrupt(1, 0);
        peerData.putInt(len, ring.maxPayload() + 1);
        assertRefusedAsCorrupt(1, 0);
        // Within the ring, but running past write_pt: into memory the writer has not published.
        peerData.putInt(len, 100);
        assertRefusedAsCorrupt(1, 0);
        peerData.putInt(len, 8);
        assertEquals(8, ring.read(capture));
    }

    @Test
    void shouldGiveTheTokenBackWhenTheHandlerRefuses() {
        ring.write(message(30, 4), 0, 30);
        capture.answer = -Errno.ENOBUFS;
        assertEquals(-Errno.ENOBUFS, ring.read(capture));
        assertEquals(1, ring.semaphore().value());
        assertEquals(0, readPt(), "the refused chunk stays");
        capture.answer = Integer.MAX_VALUE;
        assertEquals(30, ring.read(capture));
        assertArrayEquals(message(30, 4), capture.last, "the same chunk is delivered again");
        assertEquals(0, ring.semaphore().value());
    }

    @Test
    void shouldConsumeTheChunkWhenTheHandlerThrows() {
        ring.write(message(12, 5), 0, 12);
        ring.write(message(13, 6), 0, 13);
        IllegalStateException boom = new IllegalStateException("handler failed");
        capture.throwIt = boom;
        assertSame(boom, assertThrows(IllegalStateException.class, () -> ring.read(capture)));
        assertEquals(1, ring.semaphore().value());
        assertEquals(ChunkDescriptor.chunkWords(12), readPt(), "the failed chunk was reclaimed");
        capture.throwIt = null;
        assertEquals(13, ring.read(capture));
        assertArrayEquals(message(13, 6), capture.last);
    }

    @Test
    void shouldReadAfterATokenTakenByWaiting() {
        ring.write(message(20, 8), 0, 20);
        assertEquals(0, ring.semaphore().await(1_000_000_000L));
        assertEquals(0, ring.semaphore().value());
        assertEquals(20, ring.readTaken(capture));
        assertArrayEquals(message(20, 8), capture.last);
        assertEquals(writePt(), readPt());
    }

    @Test
    void shouldGiveBackAWaitedTokenOnCorruption() {
        ring.write(message(20, 8), 0, 20);
        assertEquals(0, ring.semaphore().await(0));
        peerData.putInt((int) ChunkDescriptor.magicOffset(0, words()), ChunkDescriptor.MAGIC_DEAD);
        assertEquals(-Errno.EBADMSG, ring.readTaken(capture));
        assertEquals(1, ring.semaphore().value());
    }

    @Test
    void shouldWriteGatheredBuffersAsOneChunk() {
        ByteBuffer a = ByteBuffer.wrap(message(16, 1));
        ByteBuffer b = ByteBuffer.allocateDirect(7).put(message(7, 2)).flip();
        assertEquals(23, ring.write(new ByteBuffer[] {a, b}));
        assertEquals(0, a.position(), "sources keep their position");
        assertEquals(0, b.position());
        assertEquals(23, ring.read(capture));
        byte[] want = new byte[23];
        System.arraycopy(message(16, 1), 0, want, 0, 16);
        System.arraycopy(message(7, 2), 0, want, 16, 7);
        assertArrayEquals(want, capture.last);
    }

    @Test
    void shouldCountReferencesAndUnlinkOnClose() throws IOException {
        ShmRing peer = ShmRing.open(dir + "/qb-request-test", MAX_MSG);
        try {
            assertEquals(2, ring.refCount());
            assertEquals(3, peer.write(new byte[] {1, 2, 3}, 0, 3), "an opened ring writes into the same memory");
            assertEquals(3, ring.read(capture));
            assertArrayEquals(new byte[] {1, 2, 3}, capture.last);
            peer.decrementRefCount();
        } finally {
            peer.close(false);
        }
        assertEquals(1, ring.refCount());
        String header = ring.headerPath();
        String data = ring.dataPath();
        ring.close(true);
        assertTrue(ring.isClosed());
        ring = null;
        assertFalse(Files.exists(Path.of(header)));
        assertFalse(Files.exists(Path.of(data)));
    }

    @Test
    void shouldRefuseToOpenAGeometryThatDoesNotMatch() {
        assertNotEquals(0, assertThrows(io.jqb.IpcException.class,
                () -> ShmRing.open(dir + "/qb-request-test", MAX_MSG + 8192)).errno());
    }

    /** Writes {@code bytes} into the header's data_path field (the rest of the field zeroed). */
    private void writeDataPathField(byte[] bytes) {
        for (int i = 0; i < RingHeaderDescriptor.PATH_LENGTH; i++) {
            peerHeader.put(RingHeaderDescriptor.DATA_PATH_OFFSET + i, i < bytes.length ? bytes[i] : 0);
        }
    }

    @Test
    void shouldReadTheDataPathWhereverItsNulFallsInAWord() throws IOException {
        // The data_path field is scanned a word at a time: a path of each length mod 4 (the NUL in each byte of the
        // word) must come back whole. Hard links give the same data file under longer names (O_NOFOLLOW allows them).
        String data = ring.dataPath();
        for (String suffix : new String[] {"", "1", "12", "123", "1234"}) {
            String link = data + suffix;
            if (!suffix.isEmpty()) {
                Files.createLink(Path.of(link), Path.of(data));
            }
            try {
                writeDataPathField(link.getBytes(java.nio.charset.StandardCharsets.UTF_8));
                ShmRing peer = ShmRing.open(dir + "/qb-request-test", MAX_MSG);
                try {
                    assertEquals(link, peer.dataPath(), "data_path of length " + link.length());
                    assertEquals(3, peer.write(new byte[] {4, 5, 6}, 0, 3), "the same memory through the link");
                    assertEquals(3, ring.read(capture));
                    peer.decrementRefCount();
                } finally {
                    peer.close(false);
                }
            } finally {
                if (!suffix.isEmpty()) {
                    Files.delete(Path.of(link));
                }
            }
        }
    }

    @Test
    void shouldRefuseADataPathFieldWithoutANulOrARelativePath() {
        byte[] noNul = new byte[RingHeaderDescriptor.PATH_LENGTH];
        java.util.Arrays.fill(noNul, (byte) '/');
        writeDataPathField(noNul);
        assertEquals(io.jqb.Errno.EBADMSG, assertThrows(io.jqb.IpcException.class,
                () -> ShmRing.open(dir + "/qb-request-test", MAX_MSG)).errno(), "no NUL in the whole field");
        writeDataPathField(new byte[0]);
        assertEquals(io.jqb.Errno.EBADMSG, assertThrows(io.jqb.IpcException.class,
                () -> ShmRing.open(dir + "/qb-request-test", MAX_MSG)).errno(), "a NUL at offset 0");
        writeDataPathField("relative/path".getBytes(java.nio.charset.StandardCharsets.UTF_8));
        assertEquals(io.jqb.Errno.EBADMSG, assertThrows(io.jqb.IpcException.class,
                () -> ShmRing.open(dir + "/qb-request-test", MAX_MSG)).errno(), "a relative path");
        byte[] longest = new byte[RingHeaderDescriptor.PATH_LENGTH - 1];
        java.util.Arrays.fill(longest, (byte) 'a');
        longest[0] = '/';
        writeDataPathField(longest); // its NUL is the field's last byte: read, then refused by the file system
        io.jqb.IpcException e = assertThrows(io.jqb.IpcException.class,
                () -> ShmRing.open(dir + "/qb-request-test", MAX_MSG));
        assertNotEquals(io.jqb.Errno.EBADMSG, e.errno(), "a 4095-byte path is read whole: " + e.getMessage());
        assertEquals(1, ring.refCount(), "no failed open took a reference");
    }
}
