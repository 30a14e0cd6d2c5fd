package io.jqb.stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.Errno;
import io.jqb.IpcException;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Time-outs honoured within [T, T + 500 ms] (generous for a loaded machine): first byte, inter-byte, a peer (socat)
 * that sends half a frame then stalls, connect to a listener whose backlog is full, accept.
 */
@Timeout(120)
class TimeoutTest {
    static final int P = Frames.PREFIX;
    static final long SLACK_MS = 500;

    @Test
    void firstByteTimeout() {
        try (TcpIpc l = TcpIpc.listen(0, "127.0.0.1");
                PeerProcess socat = PeerProcess.start("socat", "-", "TCP:127.0.0.1:" + l.localPort());
                TcpIpc c = l.accept(10_000)) {
            assertNotNull(c);
            byte[] buf = new byte[16];
            long t0 = System.nanoTime();
            assertEquals(0, c.read(buf, 16, 300, 5000));
            assertWithin(t0, 300);
            t0 = System.nanoTime();
            assertNull(c.readMessage(P, 100, 300));
            assertWithin(t0, 300);
            assertTrue(!c.error() && !c.eof());
            t0 = System.nanoTime();
            assertTrue(!c.pollIn(200));
            assertWithin(t0, 200);
        }
    }

    @Test
    void interByteTimeoutReturnsWhatArrived() {
        try (TcpIpc l = TcpIpc.listen(0, "127.0.0.1");
                PeerProcess socat = PeerProcess.start("socat", "-", "TCP:127.0.0.1:" + l.localPort());
                TcpIpc c = l.accept(10_000)) {
            socat.send(new byte[] {1, 2, 3, 4, 5, 6});
            assertTrue(c.pollIn(10_000));
            byte[] buf = new byte[100];
            long t0 = System.nanoTime();
            int n = c.read(buf, 100, 5000, 300);
            assertWithin(t0, 300);
            assertTrue(n >= 1 && n <= 6, "n=" + n);
            // a single-time-out read returns what is there at once
            socat.send(new byte[] {7, 8});
            assertTrue(c.pollIn(10_000));
            t0 = System.nanoTime();
            assertTrue(c.read(buf, 100, 5000) > 0);
            assertTrue((System.nanoTime() - t0) / 1_000_000 < SLACK_MS);
        }
    }

    @Test
    void halfAFrameThenStallIsAFrameTimeout() {
        try (TcpIpc l = TcpIpc.listen(0, "127.0.0.1");
                PeerProcess socat = PeerProcess.start("socat", "-", "TCP:127.0.0.1:" + l.localPort());
                TcpIpc c = l.accept(10_000)) {
            c.setFrameTimeout(400);
            byte[] frame = Frames.frame(P, 1, new byte[20]);
            socat.send(java.util.Arrays.copyOf(frame, 16));
            assertTrue(c.pollIn(10_000));
            long t0 = System.nanoTime();
            FrameException e = assertThrows(FrameException.class, () -> c.readMessage(P, 100, 5000));
            assertWithin(t0, 400);
            assertEquals(FrameException.Kind.TIMED_OUT, e.kind());
            assertEquals(Errno.ETIMEDOUT, e.errno());
            assertTrue(c.error());
            assertThrows(IpcException.class, () -> c.readMessage(P, 100, 10));
        }
    }

    @Test
    void connectTimeoutOnAFullBacklog() {
        // A listener that never accepts, backlog 1: once its queue is full, the kernel drops further SYNs.
        List<TcpIpc> queued = new ArrayList<>();
        try (TcpIpc l = TcpIpc.listen(0, "127.0.0.1", 1)) {
            IpcException timedOut = null;
            long took = 0;
            for (int i = 0; i < 16 && timedOut == null; i++) {
                long t0 = System.nanoTime();
                try {
                    queued.add(TcpIpc.connect("127.0.0.1", l.localPort(), 300));
                } catch (IpcException e) {
                    timedOut = e;
                    took = (System.nanoTime() - t0) / 1_000_000;
                }
            }
            assertNotNull(timedOut, "no connect timed out");
            assertEquals(Errno.ETIMEDOUT, timedOut.errno(), timedOut.getMessage());
            assertTrue(took >= 295 && took < 300 + SLACK_MS, "took " + took + " ms");
        } finally {
            queued.forEach(TcpIpc::close);
        }
    }

    @Test
    void acceptTimeout() {
        try (TcpIpc l = TcpIpc.listen(0, "127.0.0.1"); PipeIpc pl = PipeIpc.listen("@jqb-accept-timeout-"
                + ProcessHandle.current().pid() + "-" + System.nanoTime())) {
            long t0 = System.nanoTime();
            assertNull(l.accept(300));
            assertWithin(t0, 300);
            t0 = System.nanoTime();
            assertNull(pl.accept(300));
            assertWithin(t0, 300);
            assertNull(l.accept(0));
        }
    }

    static void assertWithin(long t0, long ms) {
        long took = (System.nanoTime() - t0) / 1_000_000;
        assertTrue(took >= ms - 5 && took < ms + SLACK_MS, "took " + took + " ms, expected " + ms);
    }
}
