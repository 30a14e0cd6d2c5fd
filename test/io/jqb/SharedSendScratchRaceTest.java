package io.jqb;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A SOCKET service's connections share one copy area for heap and gathered sends (SocketReceiveArea's send
 * scratch). An embedded {@link EventLoop} may be driven by {@link EventLoop#runOnce} from more than one thread in
 * turn (an embedder's pool), so "the thread that last ran a loop callback" may be sending outside the loop while
 * another thread runs a callback that sends too: the shared area must never be used by both at once, or one
 * client receives the other's bytes. Two threads take turns driving the loop (one at a time, under a lock); the
 * handler answers client A's requests with heap responses full of {@code 'A'}, and each driver, between its turns,
 * sends client E heap events (single and gathered) full of {@code 'E'}. Every byte each client receives must be its
 * own. (The shared area chosen by thread identity alone failed this in a few of 20,000 round trips.)
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class SharedSendScratchRaceTest {
    /** Large messages: a copy into the area takes long enough for the other thread's to overlap it. */
    private static final int SIZE = 32 * 1024;
    private static final int ROUNDS = 20_000;
    private static final int RECV_MS = 15_000;
    /** The request id by which client E makes its connection the events' target. */
    private static final int HELLO = 1 << 30;

    @Test
    void heapSendsOnAndOffTheLoopNeverMixConnections() throws Exception {
        String name = "jqb-scratchrace-" + ProcessHandle.current().pid();
        AtomicReference<Connection> second = new AtomicReference<>(); // E's: the one that said hello
        // Heap (copied on send), filled once: callbacks run one at a time, and the shorter the way from a callback's
        // start to its copy, the likelier a sharing mistake shows.
        ByteBuffer response = ByteBuffer.allocate(SIZE).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = ResponseHeader.LENGTH; i < SIZE; i++) {
            response.put(i, (byte) 'A');
        }
        ServiceHandler h = new ServiceHandler() {
            @Override
            public int message(Connection c, ByteBuffer req) {
                int id = req.getInt(req.position());
                if (id == HELLO) {
                    second.set(c);
                }
                new ResponseHeader().wrap(response, 0).set(id, SIZE, 0);
                c.sendResponse(response.clear());
                return 0;
            }
        };
        Object turn = new Object(); // one runOnce at a time, as an embedder's pool would
        AtomicBoolean stop = new AtomicBoolean();
        AtomicLong driverFailures = new AtomicLong();
        try (EventLoop loop = new EventLoop()) {
            Service s = Service.create(name, 0, TransportType.SOCKET, h);
            s.setPollHandlers(loop);
            s.run();
            try {
                Runnable drive = () -> {
                    ByteBuffer ev = ByteBuffer.allocate(SIZE).order(ByteOrder.LITTLE_ENDIAN);
                    new ResponseHeader().wrap(ev, 0).set(99, SIZE, 0);
                    for (int i = ResponseHeader.LENGTH; i < SIZE; i++) {
                        ev.put(i, (byte) 'E');
                    }
                    ByteBuffer[] parts = {ev.duplicate().limit(SIZE / 2), ev.duplicate().position(SIZE / 2)};
                    boolean gather = false;
                    while (!stop.get()) {
                        synchronized (turn) {
                            loop.runOnce(1);
                        }
                        Connection e = second.get();
                        if (e == null) {
                            continue;
                        }
                        try {
                            ev.clear();
                            parts[0].position(0);
                            parts[1].position(SIZE / 2);
                            int rc = gather ? e.sendEvent(parts) : e.sendEvent(ev);
                            gather = !gather;
                            assertTrue(rc > 0 || rc == Errno.WOULD_BLOCK, "sendEvent: " + rc);
                        } catch (NotConnectedException x) {
                            return; // the test is closing the client
                        } catch (Throwable x) {
                            driverFailures.incrementAndGet();
                        }
                    }
                };
                Thread t1 = new Thread(drive, "scratchrace-driver-1");
                Thread t2 = new Thread(drive, "scratchrace-driver-2");
                t1.start();
                t2.start();
                long badResponses = 0;
                AtomicLong badEvents = new AtomicLong();
                AtomicLong events = new AtomicLong();
                try (Client e = Client.connect(name, SIZE + 64)) {
                    ByteBuffer req = ByteBuffer.allocateDirect(RequestHeader.LENGTH).order(ByteOrder.LITTLE_ENDIAN);
                    ByteBuffer dst = ByteBuffer.allocateDirect(SIZE + 64);
                    new RequestHeader().wrap(req, 0).set(HELLO, RequestHeader.LENGTH);
                    assertEquals(SIZE, e.sendRecv(req, dst, RECV_MS), "E's hello answered"); // events go to E now
                    try (Client a = Client.connect(name, SIZE + 64)) {
                        Thread er = new Thread(() -> {
                            ByteBuffer d = ByteBuffer.allocateDirect(SIZE + 64);
                            while (!stop.get()) {
                                d.clear();
                                int n;
                                try {
                                    n = e.eventRecv(d, 100);
                                } catch (IpcException x) {
                                    return;
                                }
                                if (n <= 0) {
                                    continue;
                                }
                                events.incrementAndGet();
                                if (n != SIZE || !all(d, n, (byte) 'E')) {
                                    badEvents.incrementAndGet();
                                }
                            }
                        }, "scratchrace-events");
                        er.start();
                        for (int i = 0; i < ROUNDS; i++) {
                            req.clear();
                            new RequestHeader().wrap(req, 0).set(i, RequestHeader.LENGTH);
                            dst.clear();
                            int got = a.sendRecv(req, dst, RECV_MS);
                            if (got != SIZE || !all(dst, got, (byte) 'A')) {
                                badResponses++;
                            }
                        }
                        stop.set(true);
                        er.join(30_000);
                        assertFalse(er.isAlive(), "event reader ended");
                    }
                } finally {
                    stop.set(true);
                    t1.join(30_000);
                    t2.join(30_000);
                }
                assertFalse(t1.isAlive() || t2.isAlive(), "drivers ended");
                assertEquals(0, badResponses, "responses to A carrying other bytes (of " + ROUNDS + ")");
                assertEquals(0, badEvents.get(), "events to E carrying other bytes (of " + events.get() + ")");
                assertTrue(events.get() > 0, "E received events");
                assertEquals(0, driverFailures.get(), "driver send failures");
            } finally {
                synchronized (turn) {
                    s.close();
                }
            }
        }
    }

    private static boolean all(ByteBuffer b, int n, byte v) {
        for (int i = ResponseHeader.LENGTH; i < n; i++) {
            if (b.get(i) != v) {
                return false;
            }
        }
        return true;
    }
}
