package io.jqb;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.internal.setup.UnixSocket;
import io.jqb.testutil.InteropTestBase;
import io.jqb.testutil.NativeClient;
import io.jqb.testutil.NonBlockingEchoHandler;
import io.jqb.testutil.RawShmPeer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The handshake time-out's timer lives only while a client is in set-up. It used to stay queued for the whole
 * time-out after every connect (5 s by default), so for that long every sleep of the loop was a timed
 * {@code epoll_wait} (an hrtimer armed and cancelled in the kernel) and every pass read the clock twice: ≈ 0.1 µs
 * per request of a libqb client pipelining into a fresh connection (docs/PERFORMANCE.md, "libqb's client against the
 * jqb SHM server, per request"). libqb has no handshake time-out at all. The test drives an embedded loop itself and
 * reads its {@link EventLoop#timeoutMs()}: -1 = no timed work, the loop sleeps without a time-out.
 */
class HandshakeTimerTest extends InteropTestBase {
    private static final int SHORT_TIMEOUT_MS = 300;

    @Test
    @Timeout(60)
    void theTimeOutTimerEndsWithTheLastPendingHandshake() throws Exception {
        EventLoop loop = new EventLoop("hs-timer-" + ProcessHandle.current().pid()); // driven by this thread
        Service s = Service.create(serviceName(), 7, TransportType.SHM, new NonBlockingEchoHandler());
        s.setPollHandlers(loop);
        s.setHandshakeTimeout(60_000); // far beyond the test: the timer cannot leave by running
        int silent = -1;
        try (NativeClient first = NativeClient.drive(s.name()); NativeClient second = NativeClient.drive(s.name())) {
            s.run();
            assertEquals(-1, loop.timeoutMs(), "no timed work before any client");

            // A native client connects: its handshake is armed, then completes; nothing is left to time out.
            connectWhileServing(loop, first);
            loop.runOnce(0);
            assertEquals(-1, loop.timeoutMs(), "the handshake is over, yet the loop still waits for its time-out");

            // A silent client (connects, never sends its request) is pending when another one completes: the
            // timer stays for the silent one, which is dropped at its time-out; then no timed work is left.
            s.setHandshakeTimeout(SHORT_TIMEOUT_MS);
            silent = RawShmPeer.rawConnect(s.name());
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (loop.timeoutMs() < 0 && System.nanoTime() - until < 0) {
                loop.runOnce(100);
            }
            assertTrue(loop.timeoutMs() >= 0, "the silent client's handshake has no time-out timer");
            connectWhileServing(loop, second);
            int t = loop.timeoutMs();
            assertTrue(t >= 0 && t <= SHORT_TIMEOUT_MS, "the pending handshake lost its timer: " + t + " ms");
            while (!RawShmPeer.awaitClosedByPeer(silent, 0) && System.nanoTime() - until < 0) {
                loop.runOnce(SHORT_TIMEOUT_MS);
            }
            assertTrue(RawShmPeer.awaitClosedByPeer(silent, 0), "the silent client was not dropped at its time-out");
            loop.runOnce(0);
            assertEquals(-1, loop.timeoutMs(), "no handshake left, yet timed work");
            assertEquals(2, s.connections().size(), "both native clients connected");
        } finally {
            if (silent > 0) {
                UnixSocket.shutdownAndClose(silent);
            }
            s.destroy();
            loop.close();
        }
    }

    /** {@code connect} on the native client's own thread while this thread serves the loop; waits for success. */
    private static void connectWhileServing(EventLoop loop, NativeClient c) throws Exception {
        CompletableFuture<Integer> size = new CompletableFuture<>();
        Thread t = new Thread(() -> {
            try {
                size.complete(c.connect());
            } catch (Throwable e) {
                size.completeExceptionally(e);
            }
        }, "hs-timer-connect");
        t.start();
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        while (!size.isDone() && System.nanoTime() - until < 0) {
            loop.runOnce(50);
        }
        t.join(TimeUnit.SECONDS.toMillis(15));
        assertTrue(size.isDone(), "native connect did not finish");
        assertTrue(size.get() > 0, "agreed buffer size");
    }
}
