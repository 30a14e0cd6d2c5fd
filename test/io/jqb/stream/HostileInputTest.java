package io.jqb.stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.IpcException;
import io.jqb.testutil.LeakProbe;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Hostile clients against an IpcServer (TagService: idle 5 s, frame time-out 600 ms): each is dropped with a
 * clear error on its own connection while a well-behaved client keeps being served, and nothing leaks.
 */
@Timeout(120)
class HostileInputTest {
    static final int P = Frames.PREFIX;
    /**
     * The server's idle time-out: what "dropped at once" is told apart from, so it is long enough that no loaded
     * machine takes that long to drop a connection for a bad frame.
     */
    static final int IDLE_MS = 5_000;
    /** The server's frame time-out. */
    static final int FRAME_MS = 600;
    private IpcServer<TagService> server;
    private TcpIpc listener;
    private Thread runner;
    private TcpIpc good;
    private LeakProbe.Snapshot before;
    private final AtomicReference<Boolean> result = new AtomicReference<>();

    @BeforeEach
    void start() {
        PeerProcess.warmUp();
        before = LeakProbe.snapshot();
        server = new IpcServer<>("hostile", 32, IpcServer.Overflow.WAIT);
        listener = TcpIpc.listen(0, "127.0.0.1");
        runner = IpcServerTest.runInBackground(server, listener, new TagService(IDLE_MS, FRAME_MS), result);
        good = TcpIpc.connect("127.0.0.1", listener.localPort(), 5000);
        assertServed();
    }

    @AfterEach
    void stop() throws Exception {
        good.close();
        server.stopNow();
        runner.join(30_000);
        assertEquals(Boolean.TRUE, result.get());
        LeakProbe.assertNoLeak("hostile input", before, Duration.ofSeconds(10));
    }

    private int seq;

    /** A new, well-behaved client is served (a fresh connection each time: the last one may have idled out). */
    private void assertServed() {
        good.close();
        good = TcpIpc.connect("127.0.0.1", listener.localPort(), 5000);
        good.writeMessage(P, ++seq, "still here");
        Message m = good.readMessage(P, 100, 10_000);
        assertNotNull(m);
        assertEquals(seq, m.msgId());
    }

    /** An attacker: a raw TCP connection that writes bytes built by hand. */
    private TcpIpc attacker() {
        return TcpIpc.connect("127.0.0.1", listener.localPort(), 5000);
    }

    /** @return ms until the server closed the attacker's connection (EOF or reset seen) */
    private static long msUntilClosed(TcpIpc s, long t0) {
        byte[] buf = new byte[4096];
        try {
            while (s.read(buf, buf.length, 20_000) > 0) {
                // drain whatever the server answered
            }
        } catch (IpcException e) {
            // reset: closed with unread input
        }
        return (System.nanoTime() - t0) / 1_000_000;
    }

    @Test
    void twoGibibyteLengthHeader() throws Exception {
        try (TcpIpc s = attacker()) {
            long t0 = System.nanoTime();
            s.write(Frames.header(P, 1, 0x8000_0000L));
            long ms = msUntilClosed(s, t0);
            assertTrue(ms < IDLE_MS, "dropped at once, not after the idle time-out: " + ms + " ms");
        }
        assertServed();
        // and the same check on the reader itself: a typed error, nothing allocated for 2 GiB
        PipeIpc[] p = PipeIpc.pair();
        try (PipeIpc a = p[0]; PipeIpc b = p[1]) {
            a.write(Frames.header(P, 1, 0xFFFF_FFFFL));
            long free = Runtime.getRuntime().freeMemory();
            FrameException e = org.junit.jupiter.api.Assertions.assertThrows(FrameException.class,
                    () -> b.readMessage(P, 1 << 20, 5000));
            assertEquals(FrameException.Kind.TOO_LARGE, e.kind());
            assertTrue(e.getMessage().contains("length=4294967295"), e.getMessage());
            assertTrue(b.error());
            assertTrue(free - Runtime.getRuntime().freeMemory() < 64 << 20);
        }
    }

    @Test
    void randomBytes() throws Exception {
        byte[] junk = new byte[8192];
        new Random(7).nextBytes(junk);
        try (TcpIpc s = attacker()) {
            long t0 = System.nanoTime();
            s.write(junk);
            assertTrue(msUntilClosed(s, t0) < IDLE_MS);
        }
        assertServed();
        PipeIpc[] p = PipeIpc.pair();
        try (PipeIpc a = p[0]; PipeIpc b = p[1]) {
            a.write(junk);
            FrameException e = org.junit.jupiter.api.Assertions.assertThrows(FrameException.class,
                    () -> b.readMessage(P, 1 << 20, 5000));
            assertEquals(FrameException.Kind.WRONG_PREFIX, e.kind());
        }
    }

    @Test
    void connectAndNeverSend() throws Exception {
        long t0 = System.nanoTime(); // before the connect: the server's idle clock starts after it
        try (TcpIpc s = attacker()) {
            assertServed();
            long ms = msUntilClosed(s, t0);
            // not before the idle time-out; after it within a bound that only a server that never drops it misses
            assertTrue(ms >= IDLE_MS - 50 && ms < IDLE_MS + 10_000, "closed after the idle time-out: " + ms + " ms");
        }
        assertServed();
    }

    @Test
    void slowLorisIsCutByTheFrameTimeout() throws Exception {
        try (TcpIpc s = attacker()) {
            byte[] frame = Frames.frame(P, 1, new byte[100]);
            long t0 = System.nanoTime();
            // one byte every 100 ms: always inside the idle time-out, never a whole frame within FRAME_MS
            Thread dripper = new Thread(() -> {
                try {
                    for (int i = 0; i < frame.length; i++) {
                        s.write(frame, i, 1);
                        java.util.concurrent.locks.LockSupport.parkNanos(100_000_000);
                    }
                } catch (IpcException e) {
                    // closed by the server: expected
                }
            }, "slow-loris");
            dripper.start();
            long ms = msUntilClosed(s, t0);
            assertTrue(ms >= FRAME_MS - 50 && ms < IDLE_MS, "cut after the frame time-out: " + ms + " ms");
            dripper.join(30_000);
        }
        assertServed();
    }

    @Test
    void truncatedFrameThenClose() throws Exception {
        try (TcpIpc s = attacker()) {
            s.write(java.util.Arrays.copyOf(Frames.frame(P, 1, new byte[50]), 30));
            io.jqb.internal.posix.Posix.C.shutdown(s.fd(), 1);
            assertTrue(msUntilClosed(s, System.nanoTime()) < IDLE_MS);
        }
        assertServed();
        PipeIpc[] p = PipeIpc.pair();
        try (PipeIpc a = p[0]; PipeIpc b = p[1]) {
            a.write(java.util.Arrays.copyOf(Frames.frame(P, 1, new byte[50]), 30));
            a.close();
            FrameException e = org.junit.jupiter.api.Assertions.assertThrows(FrameException.class,
                    () -> b.readMessage(P, 1 << 20, 5000));
            assertEquals(FrameException.Kind.TRUNCATED, e.kind());
            org.junit.jupiter.api.Assertions.assertThrows(IpcException.class, () -> b.readMessage(P, 100, 10));
        }
    }
}
