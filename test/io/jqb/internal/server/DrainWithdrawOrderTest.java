package io.jqb.internal.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.Service;
import io.jqb.TransportType;
import io.jqb.internal.wire.ConnectionRequestDescriptor;
import io.jqb.testutil.NativeServer;
import io.jqb.testutil.NonBlockingEchoHandler;
import io.jqb.testutil.RawShmPeer;
import io.jqb.testutil.ShmAssert;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The blocking loop's withdrawal is a Dekker handshake with a jqb client: the loop stores flag 0, then reads the
 * semaphore; the client posts, then reads the flag (and rings only when it reads 0). A client that read flag 1 just
 * before the store rings no doorbell, so the loop's read must come after its store to see that post. Here the post
 * is made deterministically between the two (a test hook on the loop thread), as such a client's would land: the
 * loop must keep the connection listed and answer the request though no doorbell ever comes. Reading the semaphore
 * before the store (the reordering a stress test caught once) misses it and the request waits for good.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class DrainWithdrawOrderTest {

    @AfterEach
    void tearDown() {
        ShmServerChannel.withdrawHook = null;
        ShmAssert.assertNoneLeft();
    }

    private static byte[] req(int id, int n) {
        ByteBuffer b = ByteBuffer.allocate(16 + n).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(0, id).putInt(8, 16 + n);
        for (int i = 0; i < n; i++) {
            b.put(16 + i, (byte) (i * 31 + id));
        }
        return b.array();
    }

    /** Waits (bounded: a time-out here is a lost request, not a slow machine) for the next response chunk. */
    private static byte[] response(RawShmPeer p, String what) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        byte[] got;
        while ((got = p.response.readChunk()) == null) {
            assertTrue(System.nanoTime() < deadline, "no response to " + what);
            LockSupport.parkNanos(100_000);
        }
        return got;
    }

    @Test
    void aPostBetweenTheFlagStoreAndTheSemaphoreReadIsServedWithoutADoorbell() throws Exception {
        String name = NativeServer.uniqueName("drain-dekker");
        Service s = Service.create(name, 0, TransportType.SHM, new NonBlockingEchoHandler());
        s.run();
        try (RawShmPeer p = RawShmPeer.connect(name, 16384, ConnectionRequestDescriptor.JQB_WRITEPT_CAPABILITY)) {
            AtomicInteger posted = new AtomicInteger();
            byte[] second = req(1, 40);
            ShmServerChannel.withdrawHook = () -> {
                // The loop has just stored flag 0; a client that read 1 before that store posts without ringing.
                if (posted.getAndIncrement() == 0) {
                    assertTrue(p.request.writeChunk(second.length, second, second.length,
                            RawShmPeer.MAGIC_COMMITTED), "no room");
                }
            };
            byte[] first = req(1, 8);
            assertTrue(p.request.writeChunk(first.length, first, first.length, RawShmPeer.MAGIC_COMMITTED));
            assertTrue(p.doorbell(), "doorbell"); // the only one: the loop raises the flag and serves the batch
            byte[] r1 = response(p, "the first request");
            assertEquals(24 + 8, r1.length);
            byte[] r2 = response(p, "the request posted between the flag store and the semaphore read");
            assertEquals(24 + 40, r2.length);
            ByteBuffer g = ByteBuffer.wrap(r2).order(ByteOrder.LITTLE_ENDIAN);
            assertEquals(1, g.getInt(0));
            for (int i = 0; i < 40; i++) {
                assertEquals((byte) (i * 31 + 1), r2[24 + i], "echo byte " + i);
            }
            assertTrue(posted.get() >= 1, "the hook never ran: the loop did not withdraw");
        } finally {
            ShmServerChannel.withdrawHook = null;
            s.close();
        }
    }
}
