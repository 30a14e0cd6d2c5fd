package io.jqb.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.Client;
import io.jqb.Connection;
import io.jqb.Errno;
import io.jqb.Service;
import io.jqb.TransportType;
import io.jqb.testutil.EchoPinger;
import io.jqb.testutil.EchoWire;
import io.jqb.testutil.InteropTestBase;
import io.jqb.testutil.NativeClient;
import io.jqb.testutil.NonBlockingEchoHandler;
import io.jqb.testutil.RecordingHandler;
import io.jqb.testutil.Soak;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A client that never reads its events: {@code sendEvent} reports {@link Errno#WOULD_BLOCK} at once (from any thread,
 * including the loop's own), never blocks the loop (another client keeps being served), the notification bytes that
 * no longer fit the socket are queued; once the client reads, it gets every event byte for byte and in order, and
 * sending works again.
 */
class EventRingFullTest extends InteropTestBase {
    /**
     * What "does not block" means here: a send that waited for the reader would take at least this long. On a
     * loaded machine any single call can be descheduled for longer, so no single call is held to it (see
     * {@link SendTimes}).
     */
    private static final long SLOW_SEND_NANOS = 50_000_000L;
    /** "Does not hang": no call may take this long, however loaded the machine. */
    private static final long HANG_NANOS = 10_000_000_000L;

    @Test
    @Timeout(value = 5, unit = TimeUnit.MINUTES, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void jqbClientThatNeverReadsEvents() throws Exception {
        NonBlockingEchoHandler h = new NonBlockingEchoHandler();
        Service s = track(Service.create(serviceName(), 7, TransportType.SHM, h));
        s.run();
        EchoPinger good = track(EchoPinger.start(s.name()));
        for (int payload : new int[] {0, 1000}) {
            try (Client c = Client.connect(s.name(), 1 << 20)) {
                Connection conn = waitFor("the connection", () -> s.connections().stream()
                        .filter(x -> x.bufferSize() == (1 << 20) && x.isConnected()).findFirst().orElse(null));
                // Fill the event ring from a foreign thread.
                SendTimes times = new SendTimes();
                int sent = fill(conn, payload, 0, times);
                assertTrue(sent > 100, "only " + sent + " events fitted");
                times.assertNeverBlocked("filling the ring with " + payload + "-byte events");
                assertFullRingAnswersAtOnce(conn, EchoWire.buffer(24 + payload).limit(24 + payload));
                assertEquals(sent, conn.stats(false).eventQueueLength(), "event_q_length with a full ring");
                long retriesBefore = conn.stats(false).sendRetries();
                // The loop thread itself meets the full ring: an EVENT request is answered, its event dropped.
                ByteBuffer req = EchoWire.request(EchoWire.buffer(64), EchoWire.EVENT, 8, 0);
                assertEquals(24, c.send(req));
                ByteBuffer resp = EchoWire.buffer(1 << 20);
                assertEquals(24, c.recv(resp, 5_000), "the response still comes while the event ring is full");
                waitUntil("the loop's own event send found the ring full", () -> h.dropped.get() > 0);
                assertTrue(conn.stats(false).sendRetries() > retriesBefore, "send retries counted");
                good.awaitProgress(20); // the loop never blocked

                // The client recovers: every queued event, in order, byte for byte.
                for (int i = 0; i < sent; i++) {
                    int len = c.eventRecv(resp.clear(), 5_000);
                    assertEvent(resp, len, i, payload);
                }
                assertEquals(Errno.TIMED_OUT, c.eventRecv(resp.clear(), 50), "no more events");
                assertEquals(0, conn.stats(false).eventQueueLength());
                SendTimes againTimes = new SendTimes();
                int again = fill(conn, payload, sent, againTimes);
                assertTrue(again > 100, "the ring took " + again + " events after draining");
                againTimes.assertNeverBlocked("refilling the ring");
                for (int i = 0; i < again; i++) {
                    assertEvent(resp, c.eventRecv(resp.clear(), 5_000), sent + i, payload);
                }
                Soak.figure("EventRingFullTest.jqb", "eventsToFill(" + payload + "B)", sent);
            }
        }
        good.assertHealthy();
    }

    @Test
    @Timeout(value = 5, unit = TimeUnit.MINUTES, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void nativeClientThatNeverReadsEvents() throws Exception {
        RecordingHandler h = new RecordingHandler();
        Service s = start(h);
        EchoPinger good = track(EchoPinger.start(s.name()));
        NativeClient nc = drive(s.name());
        nc.connect();
        Connection conn = connectionOf(s, nc);
        waitUntil("established", conn::isConnected);
        ByteBuffer ev = RecordingHandler.message(EchoWire.EVENT, 0, 500);
        int sent = 0;
        SendTimes times = new SendTimes();
        for (;;) {
            long t0 = System.nanoTime();
            int rc = conn.sendEvent(ev);
            times.add(System.nanoTime() - t0);
            if (rc == Errno.WOULD_BLOCK) {
                break;
            }
            assertEquals(ev.remaining(), rc);
            sent++;
        }
        assertTrue(sent > 50, "only " + sent + " events fitted");
        times.assertNeverBlocked("filling a native client's ring");
        assertFullRingAnswersAtOnce(conn, ev);
        good.awaitProgress(20); // the loop never blocked
        for (int i = 0; i < sent; i++) {
            NativeClient.Msg m = nc.receive("event 2000");
            assertEquals(EchoWire.EVENT, m.id());
            assertEquals(24 + 500, m.len());
        }
        String none = nc.call("event 50");
        assertTrue(none.equals("err EAGAIN") || none.equals("err ETIMEDOUT"), "no more events: " + none);
        assertEquals(ev.remaining(), conn.sendEvent(ev), "sending works again");
        assertEquals(24 + 500, nc.receive("event 2000").len());
        nc.echo(100);
        Soak.figure("EventRingFullTest.native", "eventsToFill(500B)", sent);
    }

    /**
     * The durations of a series of sends. A send that waits for the reader (a blocking socket write, a wait for ring
     * space) takes at least {@link #SLOW_SEND_NANOS} every time it meets a full ring or socket, i.e. on most sends
     * of a fill; a loaded machine makes only a few calls that slow (a call takes microseconds, and a thread is
     * descheduled for 50 ms only now and then). So: no call hangs, and at most 5% of the calls (or 10) are slow.
     */
    static final class SendTimes {
        private int calls;
        private int slow;
        private long max;

        void add(long nanos) {
            calls++;
            max = Math.max(max, nanos);
            if (nanos >= SLOW_SEND_NANOS) {
                slow++;
            }
            assertTrue(nanos < HANG_NANOS, "sendEvent took " + nanos / 1_000_000 + " ms: it blocks");
        }

        void assertNeverBlocked(String what) {
            assertTrue(slow <= Math.max(10, calls / 20), what + ": " + slow + " of " + calls
                    + " sendEvent calls took over " + SLOW_SEND_NANOS / 1_000_000 + " ms (longest "
                    + max / 1_000_000 + " ms): sendEvent waits for the reader");
        }
    }

    /**
     * With the ring full, {@code sendEvent} answers WOULD_BLOCK without waiting: the fastest of 20 calls (which no
     * load makes slow all 20 times) is under {@link #SLOW_SEND_NANOS}; one that waited for space would take at least
     * that on every call.
     */
    private static void assertFullRingAnswersAtOnce(Connection conn, ByteBuffer ev) {
        long fastest = Long.MAX_VALUE;
        for (int i = 0; i < 20; i++) {
            long t0 = System.nanoTime();
            int rc = conn.sendEvent(ev);
            long d = System.nanoTime() - t0;
            assertEquals(Errno.WOULD_BLOCK, rc, "a send to the full ring");
            assertTrue(d < HANG_NANOS, "sendEvent to a full ring took " + d / 1_000_000 + " ms: it blocks");
            fastest = Math.min(fastest, d);
        }
        assertTrue(fastest < SLOW_SEND_NANOS, "sendEvent to a full ring took at least " + fastest / 1_000_000
                + " ms on each of 20 calls: it waits for the reader");
    }

    /** Sends numbered events until WOULD_BLOCK, timing each call into {@code times}. @return events sent */
    private static int fill(Connection conn, int payload, int first, SendTimes times) throws Exception {
        ByteBuffer ev = ByteBuffer.allocate(24 + payload).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = first;; i++) {
            ev.clear();
            ev.putInt(0, EchoWire.EVENT).putInt(8, 24 + payload).putInt(16, i);
            for (int k = 0; k < payload; k++) {
                ev.put(24 + k, (byte) (k * 31 + i));
            }
            long t0 = System.nanoTime();
            int rc = conn.sendEvent(ev);
            times.add(System.nanoTime() - t0);
            if (rc == Errno.WOULD_BLOCK) {
                return i - first;
            }
            assertEquals(24 + payload, rc);
        }
    }

    private static void assertEvent(ByteBuffer b, int len, int i, int payload) {
        assertEquals(24 + payload, len, "length of event " + i);
        b.order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(EchoWire.EVENT, b.getInt(0));
        assertEquals(i, b.getInt(16), "sequence: events out of order or lost");
        for (int k = 0; k < payload; k++) {
            if (b.get(24 + k) != (byte) (k * 31 + i)) {
                throw new AssertionError("event " + i + " byte " + k);
            }
        }
    }
}
