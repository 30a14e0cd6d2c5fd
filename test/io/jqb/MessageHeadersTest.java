package io.jqb;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.jqb.internal.posix.Posix;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.ReadOnlyBufferException;
import org.junit.jupiter.api.Test;

/** The public header flyweights: libqb's layout, little-endian whatever the buffer's order, no copy. */
class MessageHeadersTest {

    @Test
    void requestHeaderIsLittleEndianIdAt0SizeAt8() {
        for (ByteBuffer b : new ByteBuffer[] {ByteBuffer.allocate(40), ByteBuffer.allocateDirect(40),
                ByteBuffer.allocate(40).order(ByteOrder.LITTLE_ENDIAN)}) {
            b.put(0, new byte[40]);
            new RequestHeader().wrap(b, 8).set(0x01020304, 0x0a0b0c0d);
            ByteBuffer le = b.duplicate().order(ByteOrder.LITTLE_ENDIAN);
            assertEquals(0x01020304, le.getInt(8));
            assertEquals(0x0a0b0c0d, le.getInt(16));
            assertEquals(0x04, b.get(8), "lowest byte first");
            assertEquals(0, b.position());
            RequestHeader h = new RequestHeader().wrap(b, 8);
            assertEquals(0x01020304, h.id());
            assertEquals(0x0a0b0c0d, h.size());
            h.id(-3).size(16);
            assertEquals(-3, le.getInt(8));
            assertEquals(16, le.getInt(16));
        }
    }

    @Test
    void responseHeaderIsIdAt0SizeAt8ErrorAt16AndSetZeroesThePadding() {
        ByteBuffer b = ByteBuffer.allocate(24);
        for (int i = 0; i < 24; i++) {
            b.put(i, (byte) 0xff);
        }
        ResponseHeader h = new ResponseHeader().wrap(b, 0).set(7, 31, -Errno.EINVAL);
        ByteBuffer le = b.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(7, le.getInt(0));
        assertEquals(0, le.getInt(4));
        assertEquals(31, le.getInt(8));
        assertEquals(0, le.getInt(12));
        assertEquals(-22, le.getInt(16));
        assertEquals(0, le.getInt(20));
        assertEquals(-22, h.error());
        assertEquals("ResponseHeader{id=7, size=31, error=-22}", h.toString());
    }

    @Test
    void addressesWork() {
        long a = Posix.allocate(24);
        try {
            new ResponseHeader().wrap(a).set(2, 24, -Errno.EAGAIN);
            assertEquals(2, Posix.MEM.readInt(a));
            assertEquals(24, Posix.MEM.readInt(a + 8));
            assertEquals(-11, Posix.MEM.readInt(a + 16));
            assertEquals(24, new RequestHeader().wrap(a).size());
        } finally {
            Posix.free(a, 24);
        }
    }

    @Test
    void boundsAndReadOnlyAreEnforced() {
        ByteBuffer b = ByteBuffer.allocate(23);
        assertThrows(IndexOutOfBoundsException.class, () -> new ResponseHeader().wrap(b, 0));
        assertThrows(IndexOutOfBoundsException.class, () -> new RequestHeader().wrap(b, 8));
        assertThrows(IndexOutOfBoundsException.class, () -> new RequestHeader().wrap(b, -1));
        ByteBuffer ro = ByteBuffer.allocate(16).asReadOnlyBuffer();
        RequestHeader h = new RequestHeader().wrap(ro, 0);
        assertEquals(0, h.id());
        assertThrows(ReadOnlyBufferException.class, () -> h.id(1));
        assertThrows(IllegalStateException.class, () -> new RequestHeader().id());
    }
}
