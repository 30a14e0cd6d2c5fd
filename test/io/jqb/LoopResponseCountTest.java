package io.jqb;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A connection counts the responses sent on its loop's thread with a single-writer store (no locked instruction),
 * which is only correct while no other thread can be counting at the same time: the thread of a loop run on its
 * own thread. An embedded loop's driving thread may change between {@link EventLoop#runOnce} calls (the last one
 * may still be sending outside it while the next runs callbacks), so there every response is counted atomically;
 * either way the count is exact.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class LoopResponseCountTest {
    private static final int ROUNDS = 2_000;

    /** Answers each request with a 16-byte response; records what {@link Service#onFixedLoopThread()} said. */
    private static final class Echo implements ServiceHandler {
        final AtomicReference<Service> service = new AtomicReference<>();
        final ConcurrentHashMap<Boolean, Boolean> fixed = new ConcurrentHashMap<>();
        /** The responses counted when the last request came (every earlier send had returned). */
        final java.util.concurrent.atomic.AtomicLong countedBeforeLast = new java.util.concurrent.atomic.AtomicLong(-1);

        @Override
        public int message(Connection c, ByteBuffer req) {
            if (req.getInt(req.position()) == ROUNDS) {
                countedBeforeLast.set(c.stats(false).responses());
            }
            fixed.put(service.get().onFixedLoopThread(), true);
            ByteBuffer r = ByteBuffer.allocateDirect(ResponseHeader.LENGTH).order(ByteOrder.LITTLE_ENDIAN);
            new ResponseHeader().wrap(r, 0).set(req.getInt(req.position()), ResponseHeader.LENGTH, 0);
            c.sendResponse(r);
            return 0;
        }
    }

    private static void roundTrips(String name, Echo h) {
        try (Client c = Client.connect(name, 4096)) {
            ByteBuffer req = ByteBuffer.allocateDirect(RequestHeader.LENGTH).order(ByteOrder.LITTLE_ENDIAN);
            ByteBuffer dst = ByteBuffer.allocateDirect(4096);
            for (int i = 0; i <= ROUNDS; i++) {
                new RequestHeader().wrap(req.clear(), 0).set(i, RequestHeader.LENGTH);
                assertEquals(ResponseHeader.LENGTH, c.sendRecv(req, dst.clear(), 15_000));
            }
            assertEquals(ROUNDS, h.countedBeforeLast.get(), "responses counted");
        }
    }

    @Test
    void aServiceOwnLoopCountsAsTheSingleWriter() {
        String name = "jqb-respcount-own-" + ProcessHandle.current().pid();
        Echo h = new Echo();
        try (Service s = Service.create(name, 0, TransportType.SOCKET, h)) {
            h.service.set(s);
            s.run();
            roundTrips(name, h);
        }
        assertEquals(java.util.Set.of(true), h.fixed.keySet(), "the own loop's thread is fixed");
    }

    @Test
    void anEmbeddedLoopDrivenByTwoThreadsCountsAtomically() throws Exception {
        String name = "jqb-respcount-emb-" + ProcessHandle.current().pid();
        Echo h = new Echo();
        Object turn = new Object();
        AtomicBoolean stop = new AtomicBoolean();
        try (EventLoop loop = new EventLoop()) {
            Service s = Service.create(name, 0, TransportType.SOCKET, h);
            h.service.set(s);
            s.setPollHandlers(loop);
            s.run();
            Runnable drive = () -> {
                while (!stop.get()) {
                    synchronized (turn) {
                        loop.runOnce(1);
                    }
                    Thread.yield(); // lets the other driver take a turn (no timing relied on)
                }
            };
            Thread t1 = new Thread(drive, "respcount-driver-1");
            Thread t2 = new Thread(drive, "respcount-driver-2");
            t1.start();
            t2.start();
            try {
                roundTrips(name, h);
            } finally {
                stop.set(true);
                t1.join(30_000);
                t2.join(30_000);
                synchronized (turn) {
                    s.close();
                }
            }
            assertFalse(t1.isAlive() || t2.isAlive(), "drivers ended");
        }
        assertEquals(java.util.Set.of(false), h.fixed.keySet(), "a runOnce-driven loop's thread is not fixed");
    }
}
