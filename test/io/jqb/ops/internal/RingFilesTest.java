package io.jqb.ops.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.internal.wire.RingHeaderDescriptor;
import io.jqb.internal.wire.SemaphoreDescriptor;
import io.jqb.ops.RingInfo;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;

/** Decoding copied ring headers: fill, the full-ring rule, truncation and garbage. */
class RingFilesTest {
    private static ByteBuffer header(int w, int r, int words, int sem, int fc) {
        ByteBuffer b = ByteBuffer.allocate(RingHeaderDescriptor.STRUCT_LENGTH).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(RingHeaderDescriptor.WRITE_PT_OFFSET, w).putInt(RingHeaderDescriptor.READ_PT_OFFSET, r)
                .putInt(RingHeaderDescriptor.WORD_SIZE_OFFSET, words).putInt(RingHeaderDescriptor.REF_COUNT_OFFSET, 2)
                .putInt(RingHeaderDescriptor.SEMAPHORE_OFFSET + SemaphoreDescriptor.DATA_OFFSET, sem)
                .putInt(RingHeaderDescriptor.SEMAPHORE_OFFSET + SemaphoreDescriptor.PRIVATE_OFFSET,
                        SemaphoreDescriptor.SHARED)
                .putInt(RingHeaderDescriptor.USER_DATA_OFFSET, fc);
        return b;
    }

    @Test
    void fillWrapsAroundTheEnd() {
        RingInfo i = RingFiles.decode("response", header(10, 4000, 4096, 3, 0), 16384, false);
        assertNull(i.error());
        assertEquals(4 * (10 + 4096 - 4000), i.usedBytes());
        assertEquals(3, i.queued());
        assertEquals(2, i.refCount());
        assertEquals(0, i.flowControl(), "only the request ring has the flag");
    }

    @Test
    void equalPointersAreEmptyWithoutMessagesAndFullWithThem() {
        assertEquals(0, RingFiles.decode("request", header(77, 77, 4096, 0, 1), 16384, true).usedBytes());
        RingInfo full = RingFiles.decode("request", header(77, 77, 4096, 200, 1), 16384, true);
        assertEquals(16384, full.usedBytes());
        assertEquals(100.0, full.fillPercent());
        assertEquals(1, full.flowControl());
    }

    /**
     * A ring whose jqb reader spins on write_pt (flag 2 at offset 8244): its writer skips the posts, so the semaphore
     * counts nothing. A leftover token with write_pt == read_pt is an empty ring, not a full one; chunks with the
     * semaphore at 0 are queued. With the flag at 0 or 1 libqb's rule still holds.
     */
    @Test
    void aRingReadByWritePtIsCountedFromThePointers() {
        ByteBuffer stale = header(77, 77, 4096, 1, 0).putInt(RingHeaderDescriptor.CONSUMER_AWAKE_OFFSET,
                RingHeaderDescriptor.READER_SPINNING);
        RingInfo empty = RingFiles.decode("response", stale, 16384, false);
        assertNull(empty.error());
        assertEquals(0, empty.usedBytes(), "a stale token on an empty ring read by write_pt is not \"full\"");
        assertEquals(0, empty.queued());
        ByteBuffer unposted = header(120, 77, 4096, 0, 0).putInt(RingHeaderDescriptor.CONSUMER_AWAKE_OFFSET,
                RingHeaderDescriptor.READER_SPINNING);
        RingInfo waiting = RingFiles.decode("request", unposted, 16384, true);
        assertEquals(4 * 43, waiting.usedBytes());
        assertEquals(1, waiting.queued(), "chunks whose posts were skipped are queued");
        ByteBuffer polling = header(77, 77, 4096, 1, 0).putInt(RingHeaderDescriptor.CONSUMER_AWAKE_OFFSET,
                RingHeaderDescriptor.READER_POLLING);
        assertEquals(16384, RingFiles.decode("request", polling, 16384, true).usedBytes(), "flag 1: libqb's rule");
    }

    @Test
    void truncatedAndGarbageHeaders() {
        ByteBuffer shortOne = header(1, 0, 4096, 0, 0).limit(10);
        assertTrue(RingFiles.decode("event", shortOne, 16384, false).error().startsWith("truncated: header 10"));
        RingInfo half = RingFiles.decode("event", header(8, 0, 4096, 0, 0).limit(100), 16384, false);
        assertTrue(half.error().startsWith("truncated"), half.toString());
        assertEquals(-1, half.queued(), "the semaphore was not in the copy");
        assertTrue(RingFiles.decode("event", header(0, 0, 0, 0, 0), 16384, false).error().contains("word_size=0"));
        assertTrue(RingFiles.decode("event", header(0, 0, 4096, 0, 0), 9999, false).error()
                .contains("data file has 9999"));
        assertTrue(RingFiles.decode("event", header(0, 5000, 4096, 0, 0), 16384, false).error()
                .contains("read_pt=5000"));
    }
}
