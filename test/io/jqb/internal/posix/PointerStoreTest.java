package io.jqb.internal.posix;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.ByteBuffer;
import java.nio.ReadOnlyBufferException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The copies between native memory and ByteBuffers the ring's payloads go through (one memory API: issue 9). */
class PointerStoreTest {
    private static final int LENGTH = 64;
    private long address;
    private PointerStore store;

    @BeforeEach
    void setUp() {
        address = Posix.allocate(LENGTH);
        store = new PointerStore(address, LENGTH);
    }

    @AfterEach
    void tearDown() {
        Posix.free(address, LENGTH);
    }

    private static byte[] bytes(int n, int seed) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (seed + i);
        }
        return b;
    }

    private byte[] stored(int offset, int n) {
        byte[] b = new byte[n];
        store.read(offset, b, 0, n);
        return b;
    }

    @Test
    void shouldCopyFromEveryKindOfBufferAtItsAbsoluteIndex() {
        byte[] want = bytes(10, 1);
        ByteBuffer heap = ByteBuffer.wrap(bytes(20, -4), 0, 20);
        ByteBuffer direct = ByteBuffer.allocateDirect(20).put(bytes(20, -4)).clear();
        ByteBuffer sliced = ByteBuffer.wrap(bytes(30, -14)).position(10).slice(); // arrayOffset 10
        for (ByteBuffer src : new ByteBuffer[] {heap, direct, heap.asReadOnlyBuffer(), direct.asReadOnlyBuffer(),
            sliced}) {
            Posix.MEM.setMemory(address, LENGTH, (byte) 0);
            src.position(3).limit(18);
            store.write(8, src, 5, 10);
            assertArrayEquals(want, stored(8, 10), src.toString());
            assertEquals(3, src.position(), "position unchanged");
            assertEquals(18, src.limit(), "limit unchanged");
            assertEquals(0, stored(18, 1)[0], "nothing past the copy");
        }
    }

    @Test
    void shouldCopyIntoHeapAndDirectBuffersAtTheirAbsoluteIndex() {
        store.write(4, bytes(12, 7), 0, 12);
        for (ByteBuffer dst : new ByteBuffer[] {ByteBuffer.allocate(16), ByteBuffer.allocateDirect(16),
            ByteBuffer.allocate(20).position(4).slice()}) {
            dst.position(1);
            store.read(4, dst, 2, 12);
            byte[] got = new byte[12];
            dst.get(2, got);
            assertArrayEquals(bytes(12, 7), got);
            assertEquals(0, dst.get(0));
            assertEquals(0, dst.get(14));
            assertEquals(1, dst.position());
        }
    }

    @Test
    void shouldRefuseCopiesOutsideEitherSide() {
        ByteBuffer b = ByteBuffer.allocateDirect(16);
        assertThrows(IndexOutOfBoundsException.class, () -> store.write(LENGTH - 4, b, 0, 8));
        assertThrows(IndexOutOfBoundsException.class, () -> store.read(-1, b, 0, 8));
        b.limit(8);
        assertThrows(IndexOutOfBoundsException.class, () -> store.write(0, b, 4, 8), "past the source's limit");
        assertThrows(IndexOutOfBoundsException.class, () -> store.read(0, b, 4, 8), "past the target's limit");
        assertThrows(IndexOutOfBoundsException.class, () -> store.read(0, new byte[4], 0, 8));
    }

    @Test
    void shouldRefuseToWriteIntoAReadOnlyBuffer() {
        assertThrows(ReadOnlyBufferException.class,
                () -> store.read(0, ByteBuffer.allocateDirect(8).asReadOnlyBuffer(), 0, 8));
        assertThrows(ReadOnlyBufferException.class,
                () -> store.read(0, ByteBuffer.allocate(8).asReadOnlyBuffer(), 0, 8));
    }

    @Test
    void shouldFindADirectBuffersAddress() {
        ByteBuffer view = Posix.directBuffer(address, LENGTH);
        assertEquals(address, Posix.bufferAddress(view));
        assertEquals(address + 8, Posix.bufferAddress(view.position(8).slice()));
        view.putInt(0, 0x01020304);
        assertEquals(0x04, Posix.MEM.readByte(address), "views are little-endian");
    }
}
