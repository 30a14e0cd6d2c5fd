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
import io.jqb.testutil.Soak;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;

/**
 * Issue 10, item 1: a server that sends many events from inside {@code message()} (so the loop cannot dispatch
 * POLLOUT meanwhile), retrying on {@link Errno#WOULD_BLOCK}, to a native libqb client that reads them as libqb
 * applications do ({@code qb_ipcc_event_recv} waits for a notification byte first). Once a notification byte did not
 * fit the socket, the old code only counted the later ones and flushed them on POLLOUT, which never came while the
 * callback retried: the client slept in poll with events in its ring, the server spun forever. libqb 2.0.6 resends
 * the outstanding notifications on every event send and again when the ring is full; so must jqb.
 */
class EventNotificationTest extends InteropTestBase {
    private static final int FLOOD = 3;
    private static final int BIG = 128 * 1024;

    /** Sends {@code count} events from inside message(); every 1000th is 128 KiB. */
    static final class FloodHandler implements ServiceHandler {
        final int count;
        final AtomicLong sent = new AtomicLong();
        final AtomicLong retries = new AtomicLong();
        volatile boolean gaveUp;
        private final ByteBuffer small = ByteBuffer.allocateDirect(24).order(ByteOrder.LITTLE_ENDIAN);
        private final ByteBuffer big = ByteBuffer.allocateDirect(BIG).order(ByteOrder.LITTLE_ENDIAN);

        FloodHandler(int count) {
            this.count = count;
        }

        @Override
        public int message(Connection c, ByteBuffer request) {
            if (request.getInt(request.position()) != FLOOD) {
                return 0;
            }
            long giveUp = System.nanoTime() + Duration.ofSeconds(20).toNanos();
            try {
                for (int i = 0; i < count; i++) {
                    ByteBuffer ev = (i % 1000 == 999) ? big : small;
                    ev.clear();
                    ev.putInt(0, FLOOD).putInt(8, ev.capacity());
                    while (c.sendEvent(ev) == Errno.WOULD_BLOCK) {
                        retries.incrementAndGet();
                        if (System.nanoTime() - giveUp > 0) {
                            gaveUp = true; // the stall this test is about: give the loop back
                            return 0;
                        }
                        LockSupport.parkNanos(1_000_000L); // the application's back-off, as in the report
                    }
                    sent.incrementAndGet();
                }
            } catch (NotConnectedException e) {
                return 0;
            }
            return 0;
        }
    }

    @Test
    void eventsSentFromInsideMessageReachANativeClient() throws Exception {
        int count = Soak.count("events.flood", 30_000, 300_000);
        FloodHandler h = new FloodHandler(count);
        Service s = start(h);
        NativeClient nc = drive(s.name(), 256 * 1024);
        nc.connect();
        nc.expect("send " + FLOOD + " 0", "ok");
        long t0 = System.nanoTime();
        // Each event must come within 5 s of the previous one: a lost notification is a stall, not a slow run.
        nc.write("events " + count + " 5000");
        String r = nc.read(Duration.ofSeconds(120));
        long ms = (System.nanoTime() - t0) / 1_000_000;
        Soak.figure("EventNotificationTest", "events", count + " in " + ms + " ms, sender retries " + h.retries.get());
        assertEquals("ok " + count, r, "native client stalled (sent " + h.sent.get() + ", retries "
                + h.retries.get() + ", gave up " + h.gaveUp + ")");
        waitUntil("all sent", () -> h.sent.get() == count);
        assertTrue(!h.gaveUp);
        nc.expect("connected", "ok 1");
    }
}
