package io.jqb.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.Service;
import io.jqb.TransportType;
import io.jqb.WaitStrategy;
import io.jqb.internal.posix.Guard;
import io.jqb.testutil.EchoPinger;
import io.jqb.testutil.InteropTestBase;
import io.jqb.testutil.NativeClient;
import io.jqb.testutil.NonBlockingEchoHandler;
import io.jqb.testutil.RawShmPeer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A client truncating its ring files under a BUSY-SPINNING server loop, whose every spin reads each ring's semaphore
 * with a plain Unsafe load (no probe, no JNI call per spin): libjqbguard repairs the fault where it happens (a zero
 * page, the ring's fault flag), so the loop notices the truncation by itself, drops exactly that connection, and
 * HotSpot has no InternalError left to throw later in another connection's code. Many rounds, so that the loop runs
 * JIT-compiled code; run with {@code -DargLine=-Xint} for the interpreted case.
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES)
class TruncationRepairTest extends InteropTestBase {
    /** Generous: a loaded 2-vCPU CI machine. */
    private static final int DROP_WAIT_MS = 10_000;
    /** Slots a connection's three server rings hold in libjqbguard's registry (two mappings each). */
    private static final int SLOTS_PER_CONNECTION = 6;
    private static final int ROUNDS = 12;

    private Service spinningService(NonBlockingEchoHandler h) throws Exception {
        assertTrue(Guard.REPAIR, "libjqbguard not loaded (make native) or repair turned off: this tests the repair");
        Service s = track(Service.create(serviceName(), 7, TransportType.SHM, h));
        s.setWaitStrategy(WaitStrategy.busySpin());
        s.run();
        return s;
    }

    private static void truncate(RawShmPeer.Ring ring, String part) throws Exception {
        try (FileChannel fc = FileChannel.open(Path.of(ring.base + "-" + part), StandardOpenOption.WRITE)) {
            fc.truncate(0);
        }
    }

    /** No doorbell, no post: only the spinning loop's own per-spin read of the semaphore meets the vanished page. */
    @Test
    void spinningLoopNoticesATruncatedRequestHeaderByItself() throws Exception {
        NonBlockingEchoHandler h = new NonBlockingEchoHandler();
        Service s = spinningService(h);
        EchoPinger good = track(EchoPinger.start(s.name()));
        final int base = Guard.slotsInUse();
        for (int i = 0; i < ROUNDS; i++) {
            try (RawShmPeer p = RawShmPeer.connect(s.name(), 16384, 0)) {
                echo(p, 40 + i);
                assertRegistered(base);
                truncate(p.request, "header");
                assertTrue(p.closedByServer(DROP_WAIT_MS), "round " + i + ": not dropped");
            }
            good.awaitProgress(20);
        }
        waitUntil("truncating clients destroyed", () -> h.destroyed.get() == ROUNDS);
        waitUntil("registry slots given back", () -> Guard.slotsInUse() == base);
        good.assertHealthy();
        assertEquals(1, s.connections().size(), "only the pinger is left: " + s.connections().size());
    }

    /** The server's writes meet the vanished pages (response header, response data), its reads (request data). */
    @Test
    void truncatedResponseAndDataFilesDropOnlyThatConnection() throws Exception {
        NonBlockingEchoHandler h = new NonBlockingEchoHandler();
        Service s = spinningService(h);
        EchoPinger good = track(EchoPinger.start(s.name()));
        String[][] targets = {{"response", "header"}, {"response", "data"}, {"request", "data"}};
        final int base = Guard.slotsInUse();
        int n = 0;
        for (int i = 0; i < ROUNDS; i++) {
            String[] t = targets[i % targets.length];
            try (RawShmPeer p = RawShmPeer.connect(s.name(), 16384, 0)) {
                echo(p, 10 + i);
                assertRegistered(base);
                RawShmPeer.Ring ring = t[0].equals("response") ? p.response : p.request;
                if (t[0].equals("response")) {
                    assertTrue(p.request.writeChunkUnposted(56, HostileRingTest.req(1, 40), 56,
                            RawShmPeer.MAGIC_COMMITTED));
                    truncate(ring, t[1]);
                    p.request.post();
                } else {
                    // the request's chunk lies in the vanished data pages: the server reads zeros there
                    truncate(ring, t[1]);
                    p.request.sem(1);
                }
                p.doorbell();
                assertTrue(p.closedByServer(DROP_WAIT_MS), t[0] + "-" + t[1] + ": not dropped");
            }
            n++;
            good.awaitProgress(20);
        }
        final int dropped = n;
        waitUntil("truncating clients destroyed", () -> h.destroyed.get() == dropped);
        waitUntil("registry slots given back", () -> Guard.slotsInUse() == base);
        good.assertHealthy();
        assertEquals("", h.notExactlyOnce());
    }

    /**
     * The repair path, not the fallback: the connection's rings registered their mappings, so a SIGBUS in them is
     * repaired in place (the fault flag) before anything else could see it; {@code base} counts what was registered
     * before the raw peer connected (and earlier rounds' slots must have been given back).
     */
    private static void assertRegistered(int base) {
        assertEquals(base + SLOTS_PER_CONNECTION, Guard.slotsInUse(), "the raw peer's server rings are registered");
    }

    private static void echo(RawShmPeer p, int n) {
        byte[] b = HostileRingTest.req(1, n);
        assertTrue(p.request.writeChunk(b.length, b, b.length, RawShmPeer.MAGIC_COMMITTED), "no room");
        assertTrue(p.doorbell(), "doorbell");
        long deadline = System.nanoTime() + 10_000_000_000L;
        byte[] got;
        while ((got = p.response.readChunk()) == null && System.nanoTime() < deadline) {
            NativeClient.sleep(1);
        }
        assertNotNull(got, "no echo through the raw peer");
        assertEquals(24 + n, ByteBuffer.wrap(got).order(ByteOrder.LITTLE_ENDIAN).getInt(8), "echo length");
    }
}
