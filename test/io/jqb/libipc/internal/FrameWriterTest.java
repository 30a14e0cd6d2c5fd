package io.jqb.libipc.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;
import org.junit.jupiter.api.Test;

/** The send side: one write call per flush, and frames queued behind a partial write keep their order. */
class FrameWriterTest {
    /** Takes at most {@code room} bytes per write call; counts the calls. */
    private static final class Trickle implements WritableByteChannel {
        final ByteArrayOutputStream got = new ByteArrayOutputStream();
        int room;
        int calls;

        @Override
        public int write(ByteBuffer src) {
            calls++;
            int n = Math.min(room, src.remaining());
            byte[] b = new byte[n];
            src.get(b);
            got.writeBytes(b);
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

    @Test
    void aWholeFrameGoesOutInOneWriteCall() throws Exception {
        FrameWriter w = new FrameWriter();
        Trickle ch = new Trickle();
        ch.room = Integer.MAX_VALUE;
        w.encode((byte) 2, ByteBuffer.wrap(new byte[40_000]));
        assertTrue(w.flush(ch));
        assertEquals(1, ch.calls);
        assertEquals(40_005, ch.got.size());
    }

    @Test
    void framesAppendedBehindAPartialWriteKeepTheirOrder() throws Exception {
        FrameWriter w = new FrameWriter();
        Trickle ch = new Trickle();
        ch.room = 3;
        ByteArrayOutputStream expect = new ByteArrayOutputStream();
        w.encode((byte) 2, ByteBuffer.wrap(new byte[] {1, 2, 3, 4}));
        expect.writeBytes(new byte[] {2, 4, 0, 0, 0, 1, 2, 3, 4});
        assertFalse(w.flush(ch));
        for (int i = 0; i < 3000; i++) { // grows the buffer past its initial size
            byte[] p = new byte[i % 50];
            java.util.Arrays.fill(p, (byte) i);
            w.append((byte) i, ByteBuffer.wrap(p));
            ByteBuffer f = ByteBuffer.allocate(5 + p.length);
            FrameCodec.encode(f, (byte) i, ByteBuffer.wrap(p));
            expect.writeBytes(f.array());
            if (i % 7 == 0) {
                w.flush(ch);
            }
        }
        ch.room = 1000;
        while (!w.flush(ch)) {
            assertTrue(w.pending() > 0);
        }
        assertEquals(0, w.pending());
        assertArrayEquals(expect.toByteArray(), ch.got.toByteArray());
    }
}
