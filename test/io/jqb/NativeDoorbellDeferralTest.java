package io.jqb;

import static io.jqb.internal.posix.Posix.C;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.internal.posix.LibC;
import io.jqb.internal.posix.Posix;
import io.jqb.testutil.InteropTestBase;
import io.jqb.testutil.NativeClient;
import io.jqb.testutil.NativeClient.Msg;
import io.jqb.testutil.LoopProbe;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A real libqb client ({@code qbn-client drive}) pipelines requests while the jqb SHM server's loop is behind: the
 * loop is held in the handler of a first request while the client queues N more (a post and a doorbell byte each),
 * then released. The server reads a native client's doorbell bytes late (once 32 are owed or the ring is empty, never
 * more than it served, at once when paused): whatever N, every request is answered exactly once and in order, every
 * byte is read once the ring is empty (the fd goes quiet) and the loop is idle afterwards. N is not a multiple of 32;
 * the last N is 23 more than the one-byte sends the client's stream socket holds (≈ 278 here, measured on a
 * socketpair, as it depends on the kernel's accounting): the loop is released only once the
 * socket is full and the client's next send waits (libqb retries EAGAIN) until the loop reads. Budgets of 50, 5
 * and 1 requests per wake-up.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class NativeDoorbellDeferralTest extends InteropTestBase {
    /** Requests queued behind the held one; then one more than the client's socket holds (see the class comment). */
    private static final int[] BEHIND = {1, 7, 31, 33, 77};
    /** Sends that surely fit the client's socket while the loop reads nothing (≈ 278 do); fewer if it holds fewer. */
    private static final int SURELY_QUEUED = 200;

    /** Echoes {id, 24 + n, 0} + payload, records the ids it saw and holds the loop in the request {@link #holdId}. */
    private static final class Handler implements ServiceHandler {
        final List<Integer> ids = new CopyOnWriteArrayList<>();
        volatile int holdId = -1;
        volatile CountDownLatch held;
        volatile CountDownLatch release;

        @Override
        public int message(Connection c, ByteBuffer req) {
            int id = req.getInt(req.position());
            ids.add(id);
            if (id == holdId) {
                held.countDown();
                try {
                    assertTrue(release.await(60, TimeUnit.SECONDS), "not released");
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            int n = req.remaining() - 16;
            ByteBuffer resp = ByteBuffer.allocate(24 + n).order(ByteOrder.LITTLE_ENDIAN);
            resp.putInt(0, id).putInt(8, 24 + n).putInt(16, 0);
            resp.put(24, req, req.position() + 16, n);
            int rc = c.sendResponse(resp);
            assertTrue(rc >= 0, "response: " + Errno.name(rc));
            return 0;
        }
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(value = RateLimit.class, names = {"FAST", "NORMAL", "SLOW"})
    void requestsQueuedWhileTheLoopIsBehindAreAnsweredOnceInOrderAndTheLoopIdles(RateLimit rate) throws Exception {
        Handler h = new Handler();
        track(() -> {
            CountDownLatch r = h.release;
            if (r != null) {
                r.countDown(); // a failed test never leaves the loop held
            }
        });
        Service s = start(h);
        s.requestRateLimit(rate);
        NativeClient nc = drive(s.name());
        nc.connect();
        Connection conn = connectionOf(s, nc);
        final int socketHolds = oneByteSendsASocketHolds();
        assertTrue(socketHolds > 64 && socketHolds < 600, "a stream socket holds " + socketHolds
                + " one-byte sends: outside what this test is sized for");
        final int surelyQueued = Math.min(SURELY_QUEUED, socketHolds - 16);
        final int[] behind = java.util.Arrays.copyOf(BEHIND, BEHIND.length + 1);
        behind[BEHIND.length] = socketHolds + 23;
        List<Integer> expected = new ArrayList<>();
        int id = 100;
        for (int round = 0; round < 2; round++) {
            for (int n : behind) {
                String what = rate + " round " + round + ", " + n + " behind";
                int first = id;
                h.held = new CountDownLatch(1);
                h.release = new CountDownLatch(1);
                h.holdId = first;
                nc.ok("send " + first + " 8");
                assertTrue(h.held.await(30, TimeUnit.SECONDS), what + ": the first request was not served");
                for (int i = 1; i <= n; i++) {
                    nc.write("send " + (first + i) + " " + (i % 32));
                }
                int sure = Math.min(n, surelyQueued);
                for (int i = 0; i < sure; i++) {
                    assertEquals("ok", nc.read(), what + ": send " + i + nc.describe());
                }
                assertTrue(LoopProbe.queuedBytes(conn.channel().fd()) >= sure + 1, what + ": a doorbell was read while the loop was held");
                if (n + 1 > socketHolds) {
                    // The client's socket is full: its next send waits (libqb retries EAGAIN) until the loop reads.
                    waitUntil(what + ": the client's socket full (" + LoopProbe.queuedBytes(conn.channel().fd()) + " of " + socketHolds
                            + " bytes)", () -> LoopProbe.queuedBytes(conn.channel().fd()) >= socketHolds);
                }
                h.release.countDown();
                for (int i = sure; i < n; i++) {
                    assertEquals("ok", nc.read(), what + ": send " + i + nc.describe());
                }
                for (int i = 0; i <= n; i++) {
                    nc.write("recv 10000");
                }
                for (int i = 0; i <= n; i++) {
                    int len = 24 + (i == 0 ? 8 : i % 32);
                    assertEquals(new Msg(first + i, len, 0, len), nc.readMsg("recv 10000"), what + ": answer " + i);
                }
                nc.expect("recv 0", "err ETIMEDOUT"); // nothing more: each answered once
                for (int i = 0; i <= n; i++) {
                    expected.add(first + i);
                }
                // The ring is empty, so the loop read every byte owed: nothing keeps the fd readable.
                waitUntil(what + ": every doorbell byte read (" + LoopProbe.queuedBytes(conn.channel().fd()) + " left)",
                        () -> LoopProbe.queuedBytes(conn.channel().fd()) == 0);
                id += n + 1;
            }
        }
        assertEquals(expected, h.ids, "every request served exactly once, in order");
        // Idle: an idle loop uses ~0 ms; one spinning on a readable fd uses most of the window even when loaded.
        long cpu = LoopProbe.cpuMillis("jqb-" + s.name(), 300);
        assertTrue(cpu < 100, "loop used " + cpu + " ms of CPU in 300 ms, idle after the last answer");
        assertEquals(expected.size(), settledStats(conn, expected.size(), 0).requests());
    }

    /** One-byte sends a default unix stream socket holds before EAGAIN (≈ 278; libqb's setup socket is one). */
    private static int oneByteSendsASocketHolds() {
        long pair = Posix.allocate(8);
        long b = Posix.allocate(1);
        try {
            Posix.check(C.socketpair(LibC.AF_UNIX, LibC.SOCK_STREAM | LibC.SOCK_NONBLOCK | LibC.SOCK_CLOEXEC, 0, pair),
                    "socketpair");
            int n = 0;
            while (C.send(Posix.MEM.readInt(pair), b, 1, LibC.MSG_DONTWAIT) == 1) {
                n++;
            }
            return n;
        } finally {
            Posix.closeQuietly(Posix.MEM.readInt(pair));
            Posix.closeQuietly(Posix.MEM.readInt(pair + 4));
            Posix.free(b, 1);
            Posix.free(pair, 8);
        }
    }

}
