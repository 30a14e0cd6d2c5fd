package io.jqb.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.Connection;
import io.jqb.Errno;
import io.jqb.NotConnectedException;
import io.jqb.Service;
import io.jqb.ServiceHandler;
import io.jqb.testutil.InteropTestBase;
import io.jqb.testutil.NativeClient;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;

/**
 * {@link Service#coalesceEventNotifications(boolean)}: events sent from the loop's callbacks are announced at the
 * end of the dispatch pass, one send(2) per connection. Native libqb clients ({@code qb_ipcc_event_recv} waits for a
 * notification byte per event) must still get every event within a bound, none announced twice, also when the
 * sender retries on a full ring inside its callback (where the pass cannot end before the client has read).
 */
class CoalescedEventNotificationTest extends InteropTestBase {
    private static final int FAN_OUT = 5;

    /** On request {@link #FAN_OUT}: {@code perClient} events to every connection, from inside message(). */
    static final class FanOutHandler implements ServiceHandler {
        final int perClient;
        final List<Connection> clients = new ArrayList<>();
        final AtomicLong sent = new AtomicLong();
        volatile boolean gaveUp;
        private final ByteBuffer ev = ByteBuffer.allocateDirect(40).order(ByteOrder.LITTLE_ENDIAN);
        private final ByteBuffer reply = ByteBuffer.allocateDirect(24).order(ByteOrder.LITTLE_ENDIAN);

        FanOutHandler(int perClient) {
            this.perClient = perClient;
        }

        @Override
        public void created(Connection c) {
            clients.add(c);
        }

        @Override
        public int closed(Connection c) {
            clients.remove(c);
            return 0;
        }

        @Override
        public int message(Connection from, ByteBuffer request) {
            int id = request.getInt(request.position());
            reply.clear();
            reply.putInt(0, id).putInt(8, 24).putInt(16, 0);
            from.sendResponse(reply);
            if (id != FAN_OUT) {
                return 0;
            }
            long giveUp = System.nanoTime() + Duration.ofSeconds(20).toNanos();
            try {
                for (int i = 0; i < perClient; i++) {
                    for (Connection c : clients) {
                        ev.clear();
                        ev.putInt(0, FAN_OUT).putInt(8, 40).putInt(24, i);
                        while (c.sendEvent(ev) == Errno.WOULD_BLOCK) {
                            if (System.nanoTime() - giveUp > 0) {
                                gaveUp = true;
                                return 0;
                            }
                            LockSupport.parkNanos(1_000_000L); // retried inside the callback: the pass goes on
                        }
                        sent.incrementAndGet();
                    }
                }
            } catch (NotConnectedException e) {
                return 0;
            }
            return 0;
        }
    }

    @Test
    void everyClientGetsEveryEventOfAFanOutAndNoStrayOne() throws Exception {
        int perClient = 2_000; // 2,000 x 48-byte chunks: more than a 64 KiB ring holds, so sends see WOULD_BLOCK
        FanOutHandler h = new FanOutHandler(perClient);
        Service s = start(h);
        s.coalesceEventNotifications(true);
        assertTrue(s.coalescesEventNotifications());
        List<NativeClient> ncs = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            NativeClient nc = drive(s.name(), 64 * 1024);
            nc.connect();
            connectionOf(s, nc);
            ncs.add(nc);
        }
        waitUntil("3 connections", () -> s.connections().size() == 3);
        ncs.get(0).expect("send " + FAN_OUT + " 0", "ok");
        // Each event must come within 5 s of the previous one: an announcement held back is a stall.
        for (NativeClient nc : ncs) {
            nc.write("events " + perClient + " 5000");
        }
        for (NativeClient nc : ncs) {
            assertEquals("ok " + perClient, nc.read(Duration.ofSeconds(60)),
                    "native client stalled (sent " + h.sent.get() + ", gave up " + h.gaveUp + ")");
        }
        waitUntil("all sent", () -> h.sent.get() == 3L * perClient);
        for (NativeClient nc : ncs) {
            nc.expect("event 0", "err EAGAIN"); // as many announcements as events, none left over
        }
        assertTrue(!h.gaveUp);
    }

    @Test
    void aFloodSentFromInsideMessageStillReachesANativeClient() throws Exception {
        // EventNotificationTest's flood (every 1000th event 128 KiB, retries on a full ring inside the callback)
        // with coalescing on: the deferred announcements must go out when the ring is full, not at the pass's end.
        int count = 20_000;
        EventNotificationTest.FloodHandler h = new EventNotificationTest.FloodHandler(count);
        Service s = start(h);
        s.coalesceEventNotifications(true);
        NativeClient nc = drive(s.name(), 256 * 1024);
        nc.connect();
        nc.expect("send 3 0", "ok");
        nc.write("events " + count + " 5000");
        assertEquals("ok " + count, nc.read(Duration.ofSeconds(120)),
                "native client stalled (sent " + h.sent.get() + ", retries " + h.retries.get() + ")");
        waitUntil("all sent", () -> h.sent.get() == count);
        assertTrue(!h.gaveUp);
        nc.expect("event 0", "err EAGAIN");
    }
}
