package io.jqb.internal.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.Errno;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@link SendBacklog}: the shared {@link SendBacklog#NONE} a connection holds until it first queues stays empty and
 * refuses messages; a real backlog keeps order and its byte bound.
 */
class SendBacklogTest {
    @Test
    void noneIsEmptyAndTakesNothing() {
        SendBacklog none = SendBacklog.NONE;
        assertTrue(none.isEmpty());
        assertEquals(0, none.bytes());
        assertEquals(0, none.size());
        assertEquals(0, none.flush(m -> {
            throw new AssertionError("nothing to send");
        }));
        none.clear();
        assertThrows(IllegalStateException.class, () -> none.offer(1024, ByteBuffer.allocate(8)));
        assertTrue(none.isEmpty(), "still empty after the refused offer");
    }

    /**
     * NONE is one object for every connection of every service: its no-ops take no lock (another thread holding its
     * monitor must not stall a connection's backlogBytes, flush or teardown).
     */
    @Test
    void noneTakesNoLock() throws Exception {
        SendBacklog none = SendBacklog.NONE;
        java.util.concurrent.CompletableFuture<Long> done = new java.util.concurrent.CompletableFuture<>();
        synchronized (none) { // held for the whole check: a synchronized method on NONE would wait here
            Thread t = new Thread(() -> {
                long sum = none.bytes() + none.size() + none.flush(m -> Errno.WOULD_BLOCK);
                none.clear();
                done.complete(sum);
            }, "backlog-none-check");
            t.setDaemon(true); // if the check blocks, it must not outlive the failed test's JVM
            t.start();
            try {
                assertEquals(0L, done.get(30, java.util.concurrent.TimeUnit.SECONDS));
            } catch (java.util.concurrent.TimeoutException e) {
                throw new AssertionError("SendBacklog.NONE's bytes/size/flush/clear waited for its monitor", e);
            }
        }
        assertTrue(none.isEmpty());
    }

    @Test
    void aBacklogKeepsOrderAndItsBound() {
        SendBacklog b = new SendBacklog();
        assertTrue(b.offer(16, ByteBuffer.wrap(new byte[] {1, 2, 3})));
        assertTrue(b.offer(16, ByteBuffer.wrap(new byte[] {4}), ByteBuffer.wrap(new byte[] {5, 6})));
        assertFalse(b.offer(16, ByteBuffer.allocate(12)), "over the limit");
        assertEquals(6, b.bytes());
        List<Integer> firsts = new ArrayList<>();
        assertEquals(Errno.WOULD_BLOCK, b.flush(m -> {
            if (!firsts.isEmpty()) {
                return Errno.WOULD_BLOCK;
            }
            firsts.add((int) m.get(m.position()));
            return m.remaining();
        }));
        assertFalse(b.isEmpty());
        assertEquals(0, b.flush(m -> {
            firsts.add((int) m.get(m.position()));
            return m.remaining();
        }));
        assertEquals(List.of(1, 4), firsts);
        assertTrue(b.isEmpty());
        assertEquals(0, b.bytes());
    }
}
