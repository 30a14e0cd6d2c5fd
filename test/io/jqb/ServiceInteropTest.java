package io.jqb;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.testutil.InteropTestBase;
import io.jqb.testutil.NativeClient;
import io.jqb.testutil.NativeClient.CheckResult;
import io.jqb.testutil.NativeClient.Msg;
import io.jqb.testutil.RecordingHandler;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The echo contract, events, unknown ids and statistics, against the native libqb client (qbn-client).
 */
class ServiceInteropTest extends InteropTestBase {

    @Test
    void echoesEverySizeUpToTheLargestThatFits() throws Exception {
        RecordingHandler h = new RecordingHandler();
        Service s = start(h);
        NativeClient nc = drive(s.name(), 70_000);
        assertEquals(70_000, nc.connect());
        Connection c = connectionOf(s, nc);
        assertEquals(70_000, c.bufferSize());

        int largest = 70_000 - 24; // the response header plus payload must fit the agreed size
        int[] sizes = {0, 1, 7, 8, 64, 4095, 4096, 4097, 65536, largest};
        for (int n : sizes) {
            nc.echo(n);
        }
        // a request one byte bigger than the buffer never leaves the native client
        nc.expect("send 1 " + (70_000 - 16 + 1), "err EMSGSIZE");
        nc.echo(3);

        ConnectionStats st = settledStats(c, sizes.length + 1, 0);
        assertEquals(sizes.length + 1, st.requests());
        assertEquals(sizes.length + 1, st.responses());
        assertEquals(0, st.events());
        assertEquals(nc.pid(), st.clientPid());
        assertNoHookErrors(h);
    }

    @Test
    void nativeCheckPassesIncluding20000MixedRoundTrips() throws Exception {
        RecordingHandler h = new RecordingHandler();
        Service s = start(h);
        CheckResult r = NativeClient.check(s.name(), 131_072, Duration.ofSeconds(60));
        r.assertPassed();
        for (int n : new int[] {0, 1, 7, 8, 64, 4095, 4096, 4097, 65536}) {
            assertTrue(r.stdout().contains("PASS echo-" + n + "\n"), "echo-" + n + " not run:\n" + r.stdout());
        }
        for (String name : List.of("echo-max-131048", "echo-mixed-20000", "event-0", "event-100", "event-131048",
                "unknown-id", "oversize-send", "no-stray-events", "no-stray-responses")) {
            assertTrue(r.stdout().contains("PASS " + name + "\n"), name + " not run:\n" + r.stdout());
        }

        // server side: the client is gone, so closed and destroyed ran once, and stats saw every message
        assertCountSettles("closed", h.closed, 1);
        assertCountSettles("destroyed", h.destroyed, 1);
        ConnectionStats st = h.statsAtClose.values().iterator().next();
        // 9 sizes + largest + 20000 mixed + 3 events + unknown id + echo after the (locally refused) oversize send
        assertEquals(20_015, st.requests(), st.toString());
        assertEquals(20_015, st.responses(), st.toString());
        assertEquals(3, st.events(), st.toString());
        assertEquals(r.pid(), st.clientPid());
        assertEquals(new ServiceStats(0, 1), s.stats(false));
        assertNoHookErrors(h);
    }

    @Test
    void eventsArriveIncludingOneSentFromCreated() throws Exception {
        RecordingHandler h = new RecordingHandler();
        h.onCreated = c -> assertEquals(124, c.sendEvent(RecordingHandler.message(42, 0, 100)));
        Service s = start(h);
        NativeClient nc = drive(s.name());
        nc.connect();
        assertEquals(new Msg(42, 124, 0, 124), nc.receive("event 2000"));

        // the echo contract's EVENT request: a bare response, then the payload as an event
        nc.expect("send 2 300", "ok");
        assertEquals(new Msg(2, 24, 0, 24), nc.receive("recv 2000"));
        assertEquals(new Msg(2, 324, 0, 324), nc.receive("event 2000"));

        // events sent from a test thread (not the loop); the queue length counts what the client has not read
        Connection c = connectionOf(s, nc);
        for (int i = 0; i < 3; i++) {
            assertEquals(24 + 10 * i, c.sendEvent(RecordingHandler.message(50 + i, 0, 10 * i)));
        }
        assertEquals(3, c.stats(false).eventQueueLength());
        assertEquals(new Msg(50, 24, 0, 24), nc.receive("event 2000"));
        assertEquals(2, c.stats(false).eventQueueLength());
        assertEquals(new Msg(51, 34, 0, 34), nc.receive("event 2000"));
        assertEquals(new Msg(52, 44, 0, 44), nc.receive("event 2000"));
        assertEquals(0, c.stats(false).eventQueueLength());
        nc.expect("event 0", "err EAGAIN");

        ConnectionStats st = settledStats(c, 1, 5);
        assertEquals(1, st.requests());
        assertEquals(1, st.responses());
        assertEquals(5, st.events());
        assertNoHookErrors(h);
    }

    @Test
    void eventsFromManyThreadsArriveIntactAndInOrder() throws Exception {
        RecordingHandler h = new RecordingHandler();
        Service s = start(h);
        NativeClient nc = drive(s.name(), 12_328);
        assertEquals(12_328, nc.connect()); // a small ring, so the writers keep finding it full
        Connection c = connectionOf(s, nc);

        final int threads = 4;
        final int perThread = 150;
        // ask for every event up front; qbn-client answers one line per event it reads
        for (int i = 0; i < threads * perThread; i++) {
            nc.write("event 5000");
        }
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<?>> fs = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                final int tid = t;
                fs.add(pool.submit(() -> {
                    for (int k = 0; k < perThread; k++) {
                        int n = (k * 37) % 700;
                        int rc;
                        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                        while ((rc = c.sendEvent(RecordingHandler.message(1000 * (tid + 1) + k, 0, n)))
                                == Errno.WOULD_BLOCK) {
                            assertTrue(System.nanoTime() < deadline, "event ring stayed full");
                            Thread.onSpinWait();
                        }
                        assertEquals(24 + n, rc);
                    }
                    return null;
                }));
            }
            for (Future<?> f : fs) {
                f.get(30, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
        int[] next = new int[threads];
        for (int i = 0; i < threads * perThread; i++) {
            Msg m = nc.readMsg("event 5000");
            int tid = m.id() / 1000 - 1;
            int k = m.id() % 1000;
            assertTrue(tid >= 0 && tid < threads, "unexpected event " + m);
            assertEquals(next[tid]++, k, "events of thread " + tid + " out of order: " + m);
            assertEquals(24 + (k * 37) % 700, m.size());
            assertEquals(m.size(), m.len());
        }
        ConnectionStats st = settledStats(c, 0, threads * perThread);
        assertEquals(threads * perThread, st.events());
        assertEquals(0, st.eventQueueLength());
        nc.echo(100);
    }

    @Test
    void pipelinedRequestsAreAllAnsweredInOrderAtEveryPriority() throws Exception {
        RecordingHandler h = new RecordingHandler();
        Service s = start(h);
        NativeClient nc = drive(s.name());
        nc.connect();
        Connection c = connectionOf(s, nc);
        int total = 0;
        for (RateLimit rl : new RateLimit[] {RateLimit.FAST, RateLimit.NORMAL, RateLimit.SLOW}) {
            s.requestRateLimit(rl);
            // 150 requests queued without waiting (each send only writes the ring and a doorbell byte), then the
            // answers: several requests per wake-up, budgets of 50, 5 and 1, doorbells drained as served
            final int count = 150;
            for (int i = 0; i < count; i++) {
                nc.write("send 1 " + (i % 200));
            }
            for (int i = 0; i < count; i++) {
                assertEquals("ok", nc.read(), rl + " send " + i + nc.describe());
            }
            for (int i = 0; i < count; i++) {
                nc.write("recv 5000");
            }
            for (int i = 0; i < count; i++) {
                int n = i % 200;
                assertEquals(new Msg(1, 24 + n, 0, 24 + n), nc.readMsg("recv 5000"), rl + " answer " + i);
            }
            total += count;
            nc.expect("recv 0", "err ETIMEDOUT"); // nothing more: a native recv(0) reports ETIMEDOUT
        }
        ConnectionStats st = settledStats(c, total, 0);
        assertEquals(total, st.requests());
        assertEquals(total, st.responses());
        nc.echo(40_000);
    }

    @Test
    void responsesAndEventsSentFromWorkerThreadsArriveIntact() throws Exception {
        ExecutorService workers = Executors.newFixedThreadPool(4);
        track(workers::shutdownNow);
        List<Throwable> failures = new CopyOnWriteArrayList<>();
        // answers every request from a worker: a bare response {id, 24, 0}, and the payload back as event {2, 24+n}
        ServiceHandler async = (conn, request) -> {
            int id = request.getInt(request.position());
            ByteBuffer payload = ByteBuffer.allocate(request.remaining() - 16);
            payload.put(request.duplicate().position(request.position() + 16)).flip();
            workers.execute(() -> {
                try {
                    ByteBuffer hdr = RecordingHandler.message(id, 0, 0);
                    ByteBuffer ev = RecordingHandler.message(2, 0, 0);
                    new ResponseHeader().wrap(ev, 0).size(ResponseHeader.LENGTH + payload.remaining());
                    while (conn.sendResponse(hdr) == Errno.WOULD_BLOCK) {
                        Thread.onSpinWait();
                    }
                    while (conn.sendEvent(ev, payload.duplicate()) == Errno.WOULD_BLOCK) {
                        Thread.onSpinWait();
                    }
                } catch (RuntimeException e) {
                    failures.add(e);
                }
            });
            return 0;
        };
        Service s = start(async);
        NativeClient nc = drive(s.name());
        nc.connect();
        final int count = 200;
        for (int i = 0; i < count; i++) {
            nc.write("send " + (1000 + i) + " " + (i * 7 % 300));
        }
        for (int i = 0; i < count; i++) {
            assertEquals("ok", nc.read(), nc.describe());
        }
        Set<Integer> ids = new HashSet<>();
        for (int i = 0; i < count; i++) {
            Msg m = nc.receive("recv 5000");
            assertEquals(24, m.len(), m.toString());
            ids.add(m.id());
        }
        assertEquals(count, ids.size(), "every request answered exactly once");
        Map<Integer, Integer> sizes = new HashMap<>();
        for (int i = 0; i < count; i++) {
            Msg m = nc.receive("event 5000"); // qbn-client checks the payload byte for byte
            assertEquals(2, m.id());
            sizes.merge(m.size() - 24, 1, Integer::sum);
        }
        Map<Integer, Integer> expected = new HashMap<>();
        for (int i = 0; i < count; i++) {
            expected.merge(i * 7 % 300, 1, Integer::sum);
        }
        assertEquals(expected, sizes);
        assertTrue(failures.isEmpty(), failures.toString());
        ConnectionStats st = settledStats(connectionOf(s, nc), count, count);
        assertEquals(count, st.requests());
        assertEquals(count, st.responses());
        assertEquals(count, st.events());
    }

    @Test
    void contextsAndIdsAreWhatWasSet() throws Exception {
        RecordingHandler h = new RecordingHandler();
        h.onAccept = c -> {
            c.setContext("conn-ctx-" + c.clientPid());
            return 0;
        };
        Service s = track(Service.create(serviceName(), 4242, TransportType.SHM, h));
        s.setContext("service-ctx");
        s.run();
        assertEquals(4242, s.serviceId());
        assertEquals(TransportType.SHM, s.transportType());
        assertTrue(s.isRunning());
        NativeClient nc = drive(s.name());
        nc.connect();
        String auth = nc.ok("auth"); // the server's credentials, as the native client received them
        assertEquals("pid=" + ProcessHandle.current().pid(), auth.split(" ")[0]);
        Connection c = connectionOf(s, nc);
        assertEquals("conn-ctx-" + nc.pid(), c.context());
        assertEquals("service-ctx", c.serviceContext());
        assertEquals(s, c.service());
        assertEquals(nc.pid(), c.clientPid());
        assertTrue(c.isConnected());
        assertEquals(List.of(c), s.connections());
    }

    @Test
    void unknownRequestIdIsAnsweredWithEinval() throws Exception {
        RecordingHandler h = new RecordingHandler();
        Service s = start(h);
        NativeClient nc = drive(s.name());
        nc.connect();
        nc.expect("send 99 0", "ok");
        assertEquals(new Msg(99, 24, -Errno.EINVAL, 24), nc.receive("recv 2000"));
        nc.expect("send 0 40", "ok");
        assertEquals(new Msg(0, 24, -Errno.EINVAL, 24), nc.receive("recv 2000"));
        nc.expect("send 123456 5", "ok");
        assertEquals(new Msg(123456, 24, -Errno.EINVAL, 24), nc.receive("recv 2000"));
        nc.echo(10);
        assertEquals(4, connectionOf(s, nc).stats(false).requests());
    }

    @Test
    void statsMatchWhatHappened() throws Exception {
        RecordingHandler h = new RecordingHandler();
        Service s = start(h);
        assertEquals(new ServiceStats(0, 0), s.stats(false));
        NativeClient a = drive(s.name());
        a.connect();
        Connection c = connectionOf(s, a);
        assertEquals(new ConnectionStats((int) a.pid(), 0, 0, 0, 0, 0, 0, 0, 0), c.stats(false));
        assertEquals(new ServiceStats(1, 0), s.stats(false));

        a.echo(10);                                  // request + response
        a.expect("send 2 5", "ok");                  // request + response + event (left unread)
        assertEquals(new Msg(2, 24, 0, 24), a.receive("recv 2000"));
        a.expect("send 77 0", "ok");                 // request + EINVAL response
        a.receive("recv 2000");
        assertEquals(24, c.sendEvent(RecordingHandler.message(9, 0, 0))); // a server-initiated event
        ConnectionStats st = settledStats(c, 3, 2);
        assertEquals(3, st.requests());
        assertEquals(3, st.responses());
        assertEquals(2, st.events());
        assertEquals(2, st.eventQueueLength());
        assertEquals(0, st.flowControlState());
        assertEquals(0, st.flowControlCount());

        // clearing keeps the pid; the queue length is live, not a counter
        assertEquals(st, c.stats(true));
        assertEquals(new ConnectionStats((int) a.pid(), 0, 0, 0, 0, 0, 0, 0, 2), c.stats(false));
        a.receive("event 2000");
        assertEquals(1, c.stats(false).eventQueueLength());

        // active/closed connection counts
        NativeClient b = drive(s.name());
        b.connect();
        waitUntil("2 active", () -> s.stats(false).activeConnections() == 2);
        // listed once the loop is past the response, which the client may have before that
        waitUntil("2 listed", () -> s.connections().size() == 2);
        a.expect("disconnect", "ok");
        waitUntil("1 active, 1 closed", () -> s.stats(false).equals(new ServiceStats(1, 1)));
        assertEquals(new ServiceStats(1, 1), s.stats(true));
        // libqb's qb_ipcs_stats_get(clear) zeroes the whole struct, active_connections included
        assertEquals(new ServiceStats(0, 0), s.stats(false));
        b.kill();
        waitUntil("-1 active, 1 closed", () -> s.stats(false).equals(new ServiceStats(-1, 1)));
        waitUntil("no connection listed", () -> s.connections().isEmpty());
        assertNoHookErrors(h);
    }

    @Test
    void forEachConnectionHoldsAReferenceDuringTheCall() throws Exception {
        RecordingHandler h = new RecordingHandler();
        Service s = start(h);
        NativeClient a = drive(s.name());
        a.connect();
        connectionOf(s, a);
        java.util.List<Integer> refsSeen = new java.util.ArrayList<>();
        s.forEachConnection(c -> {
            refsSeen.add(c.refCount());
            a.expect("disconnect", "ok"); // the client goes away while we hold the connection
            waitUntil("closed", () -> h.closed.get() == 1);
            assertEquals(0, h.destroyed.get(), "destroyed while the iteration holds it");
        });
        assertEquals(java.util.List.of(2), refsSeen);
        assertCountSettles("destroyed", h.destroyed, 1); // the iteration's reference was the last
    }

    @Test
    void clearingConnectionStatsZeroesTheFlowControlStateAsLibqb() throws Exception {
        Service s = start(new RecordingHandler());
        NativeClient a = drive(s.name());
        a.connect();
        Connection c = connectionOf(s, a);
        s.requestRateLimit(RateLimit.OFF);
        a.expect("send 1 0", "err EAGAIN");
        ConnectionStats st = c.stats(true);
        assertEquals(1, st.flowControlState());
        assertEquals(1, st.flowControlCount());
        // libqb memsets the stats (all but client_pid): the state field reads 0 until the flag changes again
        assertEquals(new ConnectionStats((int) a.pid(), 0, 0, 0, 0, 0, 0, 0, 0), c.stats(false));
        a.expect("send 1 0", "err EAGAIN"); // flow control itself is still on
        s.requestRateLimit(RateLimit.NORMAL);
        assertEquals(0, c.stats(false).flowControlState());
        assertEquals(1, c.stats(false).flowControlCount());
        a.echo(10);
    }

    @Test
    void aClearingStatsReadLosesNoConcurrentIncrement() throws Exception {
        Service s = start(new RecordingHandler());
        NativeClient a = drive(s.name()); // reads no events: its event ring fills, then every send is a retry
        a.connect();
        Connection c = connectionOf(s, a);
        ByteBuffer ev = RecordingHandler.message(9, 0, 0);
        int filled = 0;
        while (c.sendEvent(ev) > 0) {
            filled++;
        }
        assertTrue(filled > 0, "some events fit");
        c.stats(true);
        final int perThread = 100_000;
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            List<Future<Long>> senders = new ArrayList<>();
            for (int t = 0; t < 2; t++) {
                senders.add(pool.submit(() -> {
                    long retries = 0;
                    ByteBuffer m = ev.duplicate();
                    for (int i = 0; i < perThread; i++) {
                        if (c.sendEvent(m) == Errno.WOULD_BLOCK) {
                            retries++;
                        }
                    }
                    return retries;
                }));
            }
            long cleared = 0;
            while (!(senders.get(0).isDone() && senders.get(1).isDone())) {
                cleared += c.stats(true).sendRetries();
            }
            long counted = senders.get(0).get() + senders.get(1).get();
            assertEquals(2L * perThread, counted, "the ring stays full: every send is a retry");
            assertEquals(counted, cleared + c.stats(false).sendRetries(),
                    "every retry shows up in exactly one clearing read or the final one");
        } finally {
            pool.shutdownNow();
        }
    }
}
