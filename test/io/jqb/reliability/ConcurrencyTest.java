package io.jqb.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.Client;
import io.jqb.Connection;
import io.jqb.Errno;
import io.jqb.Service;
import io.jqb.testutil.EchoWire;
import io.jqb.testutil.InteropTestBase;
import io.jqb.testutil.NativeClient;
import io.jqb.testutil.RecordingHandler;
import io.jqb.testutil.Soak;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Concurrent use of one connection from both ends (libqb #243: concurrent sends corrupted the ring, because libqb
 * leaves serialisation to the application): 8 threads sending responses and events on one server-side
 * {@link Connection} while the loop thread answers the client's requests into the same response ring, and 8 threads
 * sharing one {@link Client} (plus 8 server threads feeding a native libqb client). Every message is
 * self-describing (thread, sequence number, a payload derived from both): each one must arrive byte for byte, exactly
 * once, and each sender's messages in its order.
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES)
class ConcurrencyTest extends InteropTestBase {
    private static final int THREADS = 8;
    private static final int RESP_BASE = 1000;
    private static final int EVENT_BASE = 2000;
    private static final int MAX = 1 << 20;

    @Test
    void eightServerThreadsOnOneConnection() throws Exception {
        int perThread = Soak.count("concurrency.server", 1_500, 30_000);
        RecordingHandler h = new RecordingHandler();
        Service s = start(h);
        try (Client c = Client.connect(s.name(), MAX)) {
            Connection conn = waitFor("the connection", () -> s.connections().stream().filter(Connection::isConnected)
                    .findFirst().orElse(null));
            ExecutorService pool = Executors.newFixedThreadPool(THREADS + 2);
            try {
                List<Future<?>> senders = new ArrayList<>();
                for (int t = 0; t < THREADS; t++) {
                    final int tt = t;
                    senders.add(pool.submit(() -> {
                        Random r = new Random(tt);
                        for (int seq = 0; seq < perThread; seq++) {
                            boolean event = r.nextBoolean();
                            ByteBuffer m = message(event ? EVENT_BASE + tt : RESP_BASE + tt, seq, r.nextInt(3000));
                            long deadline = System.nanoTime() + 10_000_000_000L;
                            int rc;
                            while ((rc = event ? conn.sendEvent(m) : conn.sendResponse(m)) == Errno.WOULD_BLOCK) {
                                assertTrue(System.nanoTime() < deadline, "ring full for 10 s");
                                Thread.yield();
                            }
                            assertEquals(m.remaining(), rc);
                        }
                        return null;
                    }));
                }
                // Meanwhile the client sends echo requests: the loop thread answers them into the same response
                // ring, a ninth writer.
                int echoes = perThread;
                Future<?> requests = pool.submit(() -> {
                    ByteBuffer req = EchoWire.buffer(MAX);
                    Random r = new Random(99);
                    for (int seq = 0; seq < echoes; seq++) {
                        buildRequest(req, EchoWire.ECHO, THREADS, seq, 8 + r.nextInt(3000));
                        int rc;
                        while ((rc = c.send(req)) == Errno.WOULD_BLOCK) {
                            Thread.yield();
                        }
                        assertTrue(rc > 0);
                    }
                    return null;
                });
                // The client reads both rings on two threads and checks everything.
                int[][] nextSeq = new int[2][THREADS + 1];
                AtomicInteger got = new AtomicInteger();
                Future<?> responses = pool.submit(() -> readAll(c, false, nextSeq[0], got, perThread));
                Future<?> events = pool.submit(() -> readAll(c, true, nextSeq[1], got, perThread));
                for (Future<?> f : senders) {
                    f.get(5, TimeUnit.MINUTES);
                }
                requests.get(5, TimeUnit.MINUTES);
                // All sent; tell the readers how many to expect in total, by waiting for the count.
                long deadline = System.nanoTime() + 60_000_000_000L;
                while (got.get() < THREADS * perThread + echoes && System.nanoTime() < deadline) {
                    Thread.sleep(5);
                    if (responses.isDone()) {
                        responses.get();
                    }
                    if (events.isDone()) {
                        events.get();
                    }
                }
                assertEquals(THREADS * perThread + echoes, got.get(), "messages received");
                for (int t = 0; t < THREADS; t++) {
                    assertEquals(perThread, nextSeq[0][t] + nextSeq[1][t], "messages of sender " + t);
                }
                assertEquals(echoes, nextSeq[0][THREADS], "echoes (written by the loop thread)");
                responses.cancel(true);
                events.cancel(true);
                assertEquals(THREADS * perThread + echoes, conn.stats(false).responses() + conn.stats(false).events());
            } finally {
                pool.shutdownNow();
                pool.awaitTermination(30, TimeUnit.SECONDS);
            }
        }
        Soak.figure("ConcurrencyTest.eightServerThreadsOnOneConnection", "messages", THREADS * perThread
                + " from 8 threads + " + perThread + " echoes from the loop thread");
    }

    /** Reads messages of one ring until interrupted, checking each; per sender the sequence numbers increase. */
    private static Void readAll(Client c, boolean events, int[] lastSeq, AtomicInteger got, int perThread)
            throws Exception {
        ByteBuffer b = EchoWire.buffer(MAX);
        int[] expectNext = new int[THREADS + 1];
        int[] seenPerThread = new int[THREADS + 1];
        while (!Thread.currentThread().isInterrupted()) {
            int len = events ? c.eventRecv(b.clear(), 100) : c.recv(b.clear(), 100);
            if (len == Errno.TIMED_OUT) {
                continue;
            }
            b.order(ByteOrder.LITTLE_ENDIAN);
            int id = b.getInt(0);
            if (!events && id == EchoWire.ECHO) {
                long key = checkEcho(b, len);
                int seq = (int) key;
                assertEquals(THREADS, (int) (key >>> 32), "echo sender");
                assertTrue(seq == expectNext[THREADS], "echo " + seq + " after " + expectNext[THREADS]);
                expectNext[THREADS] = seq + 1;
                lastSeq[THREADS] = ++seenPerThread[THREADS];
                got.incrementAndGet();
                continue;
            }
            int base = events ? EVENT_BASE : RESP_BASE;
            int t = id - base;
            assertTrue(t >= 0 && t < THREADS, (events ? "event" : "response") + " with id " + id);
            int seq = b.getInt(16);
            check(b, len, id, seq);
            assertTrue(seq >= expectNext[t], "sender " + t + ": seq " + seq + " after " + expectNext[t]
                    + " (reordered or duplicated)");
            expectNext[t] = seq + 1;
            seenPerThread[t]++;
            lastSeq[t] = seenPerThread[t];
            got.incrementAndGet();
        }
        return null;
    }

    @Test
    void eightThreadsOnOneClient() throws Exception {
        int perThread = Soak.count("concurrency.client", 1_500, 30_000);
        RecordingHandler h = new RecordingHandler();
        Service s = start(h);
        ConcurrentHashMap<Long, Boolean> echoed = new ConcurrentHashMap<>();
        AtomicInteger eventsSeen = new AtomicInteger();
        AtomicInteger eventAcks = new AtomicInteger();
        try (Client c = Client.connect(s.name(), MAX)) {
            ExecutorService pool = Executors.newFixedThreadPool(THREADS);
            try {
                List<Future<?>> fs = new ArrayList<>();
                for (int t = 0; t < THREADS; t++) {
                    final int tt = t;
                    fs.add(pool.submit(() -> {
                        Random r = new Random(100 + tt);
                        ByteBuffer req = EchoWire.buffer(MAX);
                        ByteBuffer resp = EchoWire.buffer(MAX);
                        for (int seq = 0; seq < perThread; seq++) {
                            boolean event = seq % 5 == 4;
                            int n = 8 + r.nextInt(r.nextInt(10) == 0 ? 60_000 : 2_000);
                            buildRequest(req, event ? EchoWire.EVENT : EchoWire.ECHO, tt, seq, n);
                            long deadline = System.nanoTime() + 10_000_000_000L;
                            int rc;
                            while ((rc = (seq & 1) == 0 ? c.send(req)
                                    : c.send(req.duplicate().limit(16), req.duplicate().position(16)))
                                    == Errno.WOULD_BLOCK) {
                                assertTrue(System.nanoTime() < deadline, "request ring full for 10 s");
                                Thread.yield();
                            }
                            assertEquals(16 + n, rc);
                            // A response arrives for every request, but threads share the ring: the one this
                            // thread reads may answer another thread's request. Each is checked on its own.
                            int len = c.recv(resp.clear(), 10_000);
                            assertTrue(len > 0, "recv: " + len);
                            resp.order(ByteOrder.LITTLE_ENDIAN);
                            if (resp.getInt(0) == EchoWire.EVENT) {
                                EchoWire.assertHeaderOnly(resp, len, EchoWire.EVENT, 0);
                                eventAcks.incrementAndGet();
                            } else {
                                long key = checkEcho(resp, len);
                                assertTrue(echoed.put(key, true) == null, "echo delivered twice: " + key);
                            }
                            if (event) {
                                int el = c.eventRecv(resp.clear(), 10_000);
                                assertTrue(el > 0, "eventRecv: " + el);
                                checkEcho(resp.order(ByteOrder.LITTLE_ENDIAN), el);
                                eventsSeen.incrementAndGet();
                            }
                        }
                        return null;
                    }));
                }
                for (Future<?> f : fs) {
                    f.get(5, TimeUnit.MINUTES);
                }
            } finally {
                pool.shutdownNow();
                pool.awaitTermination(30, TimeUnit.SECONDS);
            }
        }
        int events = THREADS * (perThread / 5);
        assertEquals(THREADS * perThread - events, echoed.size(), "distinct echoes received");
        assertEquals(events, eventAcks.get(), "responses to EVENT requests");
        assertEquals(events, eventsSeen.get(), "events received");
        for (int t = 0; t < THREADS; t++) {
            BitSet seqs = new BitSet();
            for (long k : echoed.keySet()) {
                if ((int) (k >>> 32) == t) {
                    seqs.set((int) k);
                }
            }
            assertEquals(perThread - perThread / 5, seqs.cardinality(), "echoes of thread " + t);
        }
        assertEquals(THREADS * perThread, h.messages.get(), "requests the server saw");
        Soak.figure("ConcurrencyTest.eightThreadsOnOneClient", "requests", THREADS * perThread);
    }

    /** Native reader, 8 server threads sending events: every event intact, none lost. */
    @Test
    void eightServerThreadsToNativeClient() throws Exception {
        int perThread = Soak.count("concurrency.native", 150, 3_000);
        RecordingHandler h = new RecordingHandler();
        Service s = start(h);
        NativeClient nc = drive(s.name(), MAX);
        nc.connect();
        Connection conn = connectionOf(s, nc);
        waitUntil("established", conn::isConnected);
        ExecutorService pool = Executors.newFixedThreadPool(THREADS);
        try {
            List<Future<?>> fs = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                final int tt = t;
                fs.add(pool.submit(() -> {
                    Random r = new Random(tt);
                    for (int i = 0; i < perThread; i++) {
                        ByteBuffer ev = RecordingHandler.message(EVENT_BASE + tt, 0, r.nextInt(5_000));
                        int rc;
                        while ((rc = conn.sendEvent(ev)) == Errno.WOULD_BLOCK) {
                            Thread.yield();
                        }
                        assertEquals(ev.remaining(), rc);
                    }
                    return null;
                }));
            }
            int[] per = new int[THREADS];
            for (int i = 0; i < THREADS * perThread; i++) {
                NativeClient.Msg m = nc.receive("event 10000"); // the native client checks the payload pattern
                per[m.id() - EVENT_BASE]++;
            }
            for (Future<?> f : fs) {
                f.get(1, TimeUnit.MINUTES);
            }
            for (int t = 0; t < THREADS; t++) {
                assertEquals(perThread, per[t], "events of sender " + t);
            }
        } finally {
            pool.shutdownNow();
            pool.awaitTermination(30, TimeUnit.SECONDS);
        }
        nc.echo(100);
        Soak.figure("ConcurrencyTest.eightServerThreadsToNativeClient", "events", THREADS * perThread);
    }

    // ------------------------------------------------------------------------------------------- messages

    private static byte pattern(int t, int seq, int i) {
        return (byte) (i * 31 + t * 7 + seq * 13);
    }

    /** {id, 24+n, seq} + n bytes pattern(t, seq): a response or event that names its sender and number. */
    private static ByteBuffer message(int id, int seq, int n) {
        int t = id % 1000;
        ByteBuffer b = ByteBuffer.allocate(24 + n).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(0, id).putInt(8, 24 + n).putInt(16, seq);
        for (int i = 0; i < n; i++) {
            b.put(24 + i, pattern(t, seq, i));
        }
        return b;
    }

    private static void check(ByteBuffer b, int len, int id, int seq) {
        int t = id % 1000;
        assertEquals(len, b.getInt(8), "size field of message " + id + "/" + seq);
        for (int i = 0; i < len - 24; i++) {
            if (b.get(24 + i) != pattern(t, seq, i)) {
                throw new AssertionError("message " + id + "/" + seq + " byte " + i + " corrupt");
            }
        }
    }

    /** Request {id, 16+n} + [t, seq] + pattern(t, seq) from byte 8 of the payload on. */
    private static void buildRequest(ByteBuffer b, int id, int t, int seq, int n) {
        b.clear().order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(0, id).putInt(4, 0).putInt(8, 16 + n).putInt(12, 0).putInt(16, t).putInt(20, seq);
        for (int i = 8; i < n; i++) {
            b.put(16 + i, pattern(t, seq, i));
        }
        b.limit(16 + n);
    }

    /** Checks an echo (or event) {id, 24+n, 0} + [t, seq] + pattern. @return (t << 32) | seq */
    private static long checkEcho(ByteBuffer b, int len) {
        assertEquals(len, b.getInt(8), "size field");
        assertEquals(0, b.getInt(16), "error field");
        int n = len - 24;
        assertTrue(n >= 8, "payload " + n);
        int t = b.getInt(24);
        int seq = b.getInt(28);
        assertTrue(t >= 0 && t <= THREADS, "thread " + t);
        for (int i = 8; i < n; i++) {
            if (b.get(24 + i) != pattern(t, seq, i)) {
                throw new AssertionError("echo of " + t + "/" + seq + " byte " + i + " corrupt");
            }
        }
        return ((long) t << 32) | seq;
    }
}
