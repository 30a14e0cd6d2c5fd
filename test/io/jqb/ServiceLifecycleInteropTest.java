package io.jqb;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.testutil.InteropTestBase;
import io.jqb.testutil.NativeClient;
import io.jqb.testutil.PollLoop;
import io.jqb.testutil.NativeClient.Msg;
import io.jqb.testutil.RecordingHandler;
import io.jqb.testutil.ShmAssert;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * Connection and service lifecycle against native libqb clients: refusal, disconnects from either side, reference
 * counting, service destruction, name clashes and many clients at once. Every scenario also checks /dev/shm.
 */
class ServiceLifecycleInteropTest extends InteropTestBase {

    @Test
    void acceptReturningAnErrnoRefusesTheNativeClient() throws Exception {
        RecordingHandler h = new RecordingHandler();
        h.onAccept = c -> -Errno.EACCES;
        Service s = start(h);
        NativeClient nc = drive(s.name());

        nc.expect("connect", "err EACCES");
        assertCountSettles("destroyed", h.destroyed, 1);
        assertEquals(1, h.accepts.get());
        assertEquals(0, h.created.get());
        assertEquals(0, h.closed.get(), "closed runs only for connections that were established");
        ShmAssert.assertNoneLeft();
        assertEquals(new ServiceStats(0, 0), s.stats(false));
        assertEquals(List.of(), s.connections());

        // the errno is passed through verbatim, and the service keeps serving
        h.onAccept = c -> -Errno.EPERM;
        nc.expect("connect", "err EPERM");
        h.onAccept = c -> 0;
        assertEquals(65536, nc.connect());
        nc.echo(5);
        assertCountSettles("destroyed", h.destroyed, 2);
        assertEquals(3, h.accepts.get());
        assertEquals(1, h.created.get());
        assertNoHookErrors(h);
    }

    @Test
    void nativeClientKilledMeansClosedAndDestroyedOnceAndAllFilesGone() throws Exception {
        RecordingHandler h = new RecordingHandler();
        Service s = start(h);
        NativeClient nc = drive(s.name());
        nc.connect();
        nc.echo(100);
        Connection c = connectionOf(s, nc);
        Path dir = ShmAssert.connectionDir(nc.pid());
        assertTrue(dir.getFileName().toString().matches("qb-" + ShmAssert.ourPid() + "-" + nc.pid()
                + "-\\d+-[A-Za-z0-9]{6}"), dir.toString());
        ShmAssert.assertSixFiles(dir, s.name());

        nc.kill();
        assertCountSettles("closed", h.closed, 1);
        assertCountSettles("destroyed", h.destroyed, 1);
        assertEquals(1, h.closedPerConnection.get(c.id()).get());
        assertEquals(1, h.destroyedPerConnection.get(c.id()).get());
        ShmAssert.assertGone(dir);
        ShmAssert.assertNoneLeft();
        assertFalse(c.isConnected());
        assertEquals(new ServiceStats(0, 1), s.stats(false));
        assertThrows(NotConnectedException.class, () -> c.sendEvent(RecordingHandler.message(1, 0, 0)));
        assertThrows(NotConnectedException.class, () -> c.sendResponse(RecordingHandler.message(1, 0, 0)));
    }

    @Test
    void nativeClientDisconnectMeansClosedAndDestroyedOnceAndAllFilesGone() throws Exception {
        RecordingHandler h = new RecordingHandler();
        Service s = start(h);
        NativeClient nc = drive(s.name());
        nc.connect();
        Path dir = ShmAssert.connectionDir(nc.pid());
        ShmAssert.assertSixFiles(dir, s.name());
        nc.expect("disconnect", "ok");
        assertCountSettles("closed", h.closed, 1);
        assertCountSettles("destroyed", h.destroyed, 1);
        ShmAssert.assertGone(dir);
        assertEquals(new ServiceStats(0, 1), s.stats(false));

        // the same process can come back
        nc.connect();
        nc.echo(1);
        assertEquals(new ServiceStats(1, 1), s.stats(false));
    }

    @Test
    void serverSideDisconnectGivesTheNativeClientEnotconn() throws Exception {
        RecordingHandler h = new RecordingHandler();
        Service s = start(h);
        NativeClient receiver = drive(s.name());
        NativeClient sender = drive(s.name());
        receiver.connect();
        sender.connect();
        Path d1 = ShmAssert.connectionDir(receiver.pid());
        Path d2 = ShmAssert.connectionDir(sender.pid());
        connectionOf(s, receiver).disconnect();
        connectionOf(s, sender).disconnect();
        assertCountSettles("closed", h.closed, 2);
        assertCountSettles("destroyed", h.destroyed, 2);
        ShmAssert.assertGone(d1);
        ShmAssert.assertGone(d2);

        // a waiting receive notices the hang-up; a send notices the request ring's ref_count
        receiver.expect("recv 300", "err ENOTCONN");
        receiver.expect("connected", "ok 0");
        sender.expect("send 1 10", "err ENOTCONN");
        sender.expect("connected", "ok 0");
        assertEquals(new ServiceStats(0, 2), s.stats(false));
        assertNoHookErrors(h);
    }

    @Test
    void disconnectFromInsideMessageGivesTheNativeClientEnotconn() throws Exception {
        RecordingHandler h = new RecordingHandler();
        Service s = start(h);
        NativeClient nc = drive(s.name());
        nc.connect();
        nc.echo(8);
        Path dir = ShmAssert.connectionDir(nc.pid());
        nc.expect("send " + RecordingHandler.DISCONNECT_ME + " 0", "ok");
        nc.expect("recv 300", "err ENOTCONN");
        nc.expect("connected", "ok 0");
        assertCountSettles("closed", h.closed, 1);
        assertCountSettles("destroyed", h.destroyed, 1);
        ShmAssert.assertGone(dir);
        assertEquals(2, h.statsAtClose.values().iterator().next().requests());
    }

    @Test
    void closedReturningNonZeroIsCalledAgainAndDestroyedWaitsForIt() throws Exception {
        RecordingHandler h = new RecordingHandler();
        h.closedRetries = 3;
        Service s = start(h);
        NativeClient nc = drive(s.name());
        nc.connect();
        Path dir = ShmAssert.connectionDir(nc.pid());
        nc.expect("disconnect", "ok");
        assertCountSettles("closed calls", h.closed, 4);
        assertCountSettles("destroyed", h.destroyed, 1);
        ShmAssert.assertGone(dir);
        assertEquals(new ServiceStats(0, 1), s.stats(false));
    }

    @Test
    void connectionReferenceKeepsTheFilesUntilTheLastUnref() throws Exception {
        RecordingHandler h = new RecordingHandler();
        h.onCreated = Connection::ref;
        Service s = start(h);
        NativeClient nc = drive(s.name());
        nc.connect();
        Path dir = ShmAssert.connectionDir(nc.pid());
        Connection c = waitFor("created", () -> h.createdConnections.isEmpty() ? null : h.createdConnections.get(0));
        waitUntil("created returned", () -> h.created.get() == 1);
        assertEquals(2, c.refCount());

        nc.kill();
        assertCountSettles("closed", h.closed, 1);
        NativeClient.sleep(200);
        assertEquals(0, h.destroyed.get(), "destroyed before the last unref");
        assertEquals(1, c.refCount());
        ShmAssert.assertSixFiles(dir, s.name());
        assertFalse(c.isConnected());
        assertEquals(new ServiceStats(0, 1), s.stats(false));

        c.ref();
        c.unref();
        assertEquals(0, h.destroyed.get());
        ShmAssert.assertSixFiles(dir, s.name());
        c.unref();
        assertEquals(1, h.destroyed.get());
        ShmAssert.assertGone(dir);
        assertEquals(0, c.refCount());
    }

    @Test
    void serviceDestroyWhileClientsAreConnectedRemovesEverything() throws Exception {
        RecordingHandler h = new RecordingHandler();
        Service s = start(h);
        List<NativeClient> clients = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            NativeClient nc = drive(s.name());
            nc.connect();
            nc.echo(10 * i);
            clients.add(nc);
        }
        assertEquals(3, ShmAssert.entries(ShmAssert.ourPid()).size());
        s.close();
        assertFalse(s.isRunning());
        assertEquals(3, h.closed.get(), "destroy returns after every connection is closed");
        assertEquals(3, h.destroyed.get());
        assertEquals(List.of(), ShmAssert.entries(ShmAssert.ourPid()));
        assertEquals(new ServiceStats(0, 3), s.stats(false));
        for (NativeClient nc : clients) {
            nc.expect("recv 300", "err ENOTCONN");
            nc.expect("connected", "ok 0");
        }
        // the listening socket is gone too
        NativeClient late = drive(s.name());
        late.expect("connect", "err ECONNREFUSED");
        s.close(); // idempotent
        assertEquals(3, h.destroyed.get());
    }

    @Test
    void serviceDestroyStillFinishesConnectionsWhoseClosedAsksToBeCalledAgain() throws Exception {
        RecordingHandler h = new RecordingHandler();
        h.closedRetries = 2;
        Service s = start(h);
        NativeClient nc = drive(s.name());
        nc.connect();
        Path dir = ShmAssert.connectionDir(nc.pid());
        s.close();
        assertCountSettles("closed calls", h.closed, 3);
        assertCountSettles("destroyed", h.destroyed, 1);
        ShmAssert.assertGone(dir);
        nc.expect("recv 300", "err ENOTCONN");
    }

    @Test
    void serviceDestroyWaitsForAClosedThatAsksToBeCalledAgainForAWhile() throws Exception {
        long[] busyUntil = {0};
        AtomicInteger calls = new AtomicInteger();
        RecordingHandler h = new RecordingHandler() {
            @Override
            public int closed(Connection c) {
                if (calls.getAndIncrement() == 0) {
                    busyUntil[0] = System.nanoTime() + 300_000_000L; // e.g. work for c still in flight
                }
                return System.nanoTime() < busyUntil[0] ? -1 : super.closed(c);
            }
        };
        Service s = start(h);
        NativeClient nc = drive(s.name());
        nc.connect();
        Path dir = ShmAssert.connectionDir(nc.pid());
        s.close();
        assertCountSettles("destroyed", h.destroyed, 1);
        assertEquals(1, h.closed.get());
        assertTrue(calls.get() > 1);
        ShmAssert.assertGone(dir);
    }

    @Test
    void destroyWithAReferenceHeldDisconnectsEveryoneAndWithdrawsAsLibqbDoes() throws Exception {
        // libqb 2.0.6 qb_ipcs_destroy: disconnect every connection, withdraw the listener, then unref
        RecordingHandler h = new RecordingHandler();
        Service s = start(h);
        NativeClient nc = drive(s.name());
        nc.connect();
        nc.echo(64);
        s.ref();
        s.destroy();
        assertCountSettles("destroyed", h.destroyed, 1);
        nc.expect("recv 300", "err ENOTCONN");
        drive(s.name()).expect("connect", "err ECONNREFUSED");
        assertTrue(s.isRunning(), "the service object lives until the last reference");
        s.unref();
        assertFalse(s.isRunning());
        assertEquals(1, h.destroyed.get());
        ShmAssert.assertNoneLeft();
    }

    @Test
    void aNegativeMessageReturnBacksOffAsLibqb() throws Exception {
        // libqb's msg_process: "0 == good, negative == backoff": the request is consumed, the batch ends
        PollLoop loop = track(new PollLoop("backoff-loop"));
        java.util.concurrent.atomic.AtomicInteger perDispatch = new java.util.concurrent.atomic.AtomicInteger();
        java.util.concurrent.atomic.AtomicInteger most = new java.util.concurrent.atomic.AtomicInteger();
        java.util.concurrent.atomic.AtomicInteger seen = new java.util.concurrent.atomic.AtomicInteger();
        java.util.concurrent.atomic.AtomicInteger dispatches = loop.dispatches;
        java.util.concurrent.atomic.AtomicInteger lastDispatch = new java.util.concurrent.atomic.AtomicInteger(-1);
        java.util.concurrent.CountDownLatch gate = new java.util.concurrent.CountDownLatch(1);
        Service s = track(Service.create(serviceName(), 7, TransportType.SHM, new ServiceHandler() {
            @Override
            public int message(Connection c, java.nio.ByteBuffer request) {
                int d = dispatches.get();
                int n = lastDispatch.getAndSet(d) == d ? perDispatch.incrementAndGet() : resetTo(perDispatch, 1);
                most.accumulateAndGet(n, Math::max);
                if (seen.incrementAndGet() == 1) {
                    try {
                        gate.await(10, java.util.concurrent.TimeUnit.SECONDS); // let the rest queue up
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
                return -Errno.EAGAIN;
            }
        }));
        s.setPollHandlers(loop);
        s.run();
        track(() -> loop.runAndWait(s::close));
        NativeClient nc = drive(s.name());
        nc.connect();
        for (int i = 0; i < 6; i++) {
            nc.expect("send 1 0", "ok");
        }
        waitUntil("the first request is in message()", () -> seen.get() >= 1);
        gate.countDown();
        waitUntil("all six requests consumed", () -> seen.get() == 6);
        assertEquals(1, most.get(), "a negative return must end the batch: at most one request per dispatch");
    }

    private static int resetTo(java.util.concurrent.atomic.AtomicInteger a, int v) {
        a.set(v);
        return v;
    }

    @Test
    void aSecondServiceWithTheSameNameFailsWithEaddrinuse() throws Exception {
        RecordingHandler h = new RecordingHandler();
        String name = serviceName();
        Service first = start(name, h);
        Service second = track(Service.create(name, 8, TransportType.SHM, new RecordingHandler()));
        IpcException e = assertThrows(IpcException.class, second::run);
        assertEquals(Errno.EADDRINUSE, e.errno(), e.getMessage());
        assertEquals("EADDRINUSE", e.errnoName());
        assertFalse(second.isRunning());

        // the first one is unaffected
        NativeClient nc = drive(name);
        nc.connect();
        nc.echo(4097);
        nc.expect("disconnect", "ok");

        // once the first is destroyed, the name is free again
        first.close();
        Service third = start(name, h);
        assertTrue(third.isRunning());
        nc.connect();
        nc.echo(7);
    }

    @Test
    void sixtyFourConcurrentNativeClientsAreServedCorrectly() throws Exception {
        final int n = 64;
        RecordingHandler h = new RecordingHandler();
        Service s = start(h);
        List<NativeClient> cs = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            cs.add(drive(s.name()));
        }
        // every client connects at once
        cs.forEach(c -> c.write("connect"));
        for (NativeClient c : cs) {
            assertEquals("ok bufsize=65536", c.read(), c.describe());
        }
        waitUntil("64 active", () -> s.stats(false).activeConnections() == n);
        waitUntil("64 listed", () -> s.connections().size() == n);
        Set<Long> pids = new HashSet<>();
        s.connections().forEach(c -> pids.add((long) c.clientPid()));
        assertEquals(n, pids.size());
        assertEquals(n, ShmAssert.entries(ShmAssert.ourPid()).size());

        // rounds of concurrent echoes of different sizes (each client's ring wraps)
        int[] sizes = {0, 1, 4097, 65512, 300, 20000, 7, 65536 - 24 - 1000, 8, 4096};
        for (int round = 0; round < sizes.length; round++) {
            for (int i = 0; i < n; i++) {
                cs.get(i).write("echo " + sizes[(round + i) % sizes.length]);
            }
            for (NativeClient c : cs) {
                assertEquals("ok", c.read(), c.describe());
            }
        }
        // and an event each
        cs.forEach(c -> c.write("send 2 33"));
        cs.forEach(c -> assertEquals("ok", c.read(), c.describe()));
        cs.forEach(c -> c.write("recv 5000"));
        cs.forEach(c -> assertEquals(new Msg(2, 24, 0, 24), c.readMsg("recv 5000")));
        cs.forEach(c -> c.write("event 5000"));
        cs.forEach(c -> assertEquals(new Msg(2, 57, 0, 57), c.readMsg("event 5000")));

        cs.forEach(c -> c.write("quit"));
        cs.forEach(c -> assertEquals("ok", c.read(), c.describe()));
        assertCountSettles("destroyed", h.destroyed, n);
        assertCountSettles("closed", h.closed, n);
        h.closedPerConnection.values().forEach(v -> assertEquals(1, v.get()));
        h.destroyedPerConnection.values().forEach(v -> assertEquals(1, v.get()));
        assertEquals(n, h.statsAtClose.size());
        h.statsAtClose.values().forEach(st -> {
            assertEquals(sizes.length + 1, st.requests(), st.toString());
            assertEquals(sizes.length + 1, st.responses(), st.toString());
            assertEquals(1, st.events(), st.toString());
        });
        assertEquals(new ServiceStats(0, n), s.stats(false));
        ShmAssert.assertNoneLeft();
        assertTrue(Files.isDirectory(ShmAssert.SHM));
    }

    @Test
    void fourConcurrentNativeChecksPass() throws Exception {
        RecordingHandler h = new RecordingHandler();
        Service s = start(h);
        List<Process> ps = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            ps.add(NativeClient.startCheck(s.name(), 0)); // 20,000+ round trips each, all at once
        }
        for (Process p : ps) {
            NativeClient.finish(p, Duration.ofSeconds(90)).assertPassed();
        }
        assertCountSettles("destroyed", h.destroyed, 4);
        assertEquals(new ServiceStats(0, 4), s.stats(false));
        ShmAssert.assertNoneLeft();
    }
}
