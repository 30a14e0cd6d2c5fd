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
import org.junit.jupiter.api.Test;

/**
 * A client that never reads its events: {@code sendEvent} reports {@link Errno#WOULD_BLOCK} at once (from any thread,
 * including the loop's own), never blocks the loop (another client keeps being served), the notification bytes that
 * no longer fit the socket are queued; once the client reads, it gets every event byte for byte and in order, and
 * sending works again.
 */
class EventRingFullTest extends InteropTestBase {
    /** Longest a single sendEvent may take, even with a full ring and a full socket. */
    private static final long MAX_SEND_NANOS = 50_000_000L;

    @Test
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
                int sent = fill(conn, payload, 0);
                assertTrue(sent > 100, "only " + sent + " events fitted");
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
                int again = fill(conn, payload, sent);
                assertTrue(again > 100, "the ring took " + again + " events after draining");
                for (int i = 0; i < again; i++) {
                    assertEvent(resp, c.eventRecv(resp.clear(), 5_000), sent + i, payload);
                }
                Soak.figure("EventRingFullTest.jqb", "eventsToFill(" + payload + "B)", sent);
            }
        }
        good.assertHealthy();
    }

    @Test
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
        for (;;) {
            long t0 = System.nanoTime();
            int rc = conn.sendEvent(ev);
            long d = System.nanoTime() - t0;
            assertTrue(d < MAX_SEND_NANOS, "sendEvent took " + d / 1000 + " us");
            if (rc == Errno.WOULD_BLOCK) {
                break;
            }
            assertEquals(ev.remaining(), rc);
            sent++;
        }
        assertTrue(sent > 50, "only " + sent + " events fitted");
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

    /** Sends numbered events until WOULD_BLOCK, each call bounded in time. @return events sent */
    private static int fill(Connection conn, int payload, int first) throws Exception {
        ByteBuffer ev = ByteBuffer.allocate(24 + payload).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = first;; i++) {
            ev.clear();
            ev.putInt(0, EchoWire.EVENT).putInt(8, 24 + payload).putInt(16, i);
            for (int k = 0; k < payload; k++) {
                ev.put(24 + k, (byte) (k * 31 + i));
            }
            long t0 = System.nanoTime();
            int rc = conn.sendEvent(ev);
            long d = System.nanoTime() - t0;
            assertTrue(d < MAX_SEND_NANOS, "sendEvent took " + d / 1000 + " us (event " + i + ")");
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
