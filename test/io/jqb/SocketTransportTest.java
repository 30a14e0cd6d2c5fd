package io.jqb;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.internal.posix.LibC;
import io.jqb.internal.posix.Posix;
import io.jqb.testutil.EchoWire;
import io.jqb.testutil.JqbCliProcess;
import io.jqb.testutil.NativeClient;
import io.jqb.testutil.NativeServer;
import io.jqb.testutil.RecordingHandler;
import io.jqb.testutil.ShmAssert;
import io.jqb.testutil.SocketFiles;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * Issue 4, SOCKET transport (abstract namespace), against real native libqb 2.0.6 peers in both directions: the full
 * echo contract, proof that the connection really is QB_IPC_SOCKET (the four abstract datagram sockets and the 24-byte
 * control file, no rings), events and their queue length, flow control, disconnects from either side, server death,
 * and that the control file and the directory are removed afterwards. Filesystem mode: {@link SocketFilesystemModeTest}.
 */
class SocketTransportTest extends SocketTestBase {
    static final long OUR_PID = ProcessHandle.current().pid();
    static final int MAX = 65_536;
    static final int TIMEOUT_MS = 5_000;
    private static final AtomicInteger NAMES = new AtomicInteger();

    <T extends AutoCloseable> T track(T r) {
        return tracked.add(r);
    }

    /** Short (sun_path has room for 106 bytes of {@code <dir>/qb-<name>-event-tx}) and unique on the host. */
    static String uniqueName(String tag) {
        return "jqbs-" + tag + "-" + OUR_PID + "-" + NAMES.incrementAndGet();
    }

    Service socketService(String name, ServiceHandler h) throws IpcException {
        Service s = track(Service.create(name, 4, TransportType.SOCKET, h));
        s.run();
        return s;
    }

    NativeServer nativeSocketServer(String name, String... more) {
        List<String> args = new ArrayList<>(List.of("--transport", "socket"));
        args.addAll(List.of(more));
        return track(NativeServer.start(name, args.toArray(new String[0])));
    }

    static Connection connectionOf(Service s, long clientPid) {
        Connection[] found = new Connection[1];
        // listed from the handshake on; usable (sendEvent) once established
        waitUntil(5, "an established connection from pid " + clientPid + " on " + s.name(), () -> {
            found[0] = s.connections().stream().filter(c -> c.clientPid() == clientPid && c.isConnected())
                    .findFirst().orElse(null);
            return found[0] != null;
        });
        return found[0];
    }

    /** Polls a native server command until it answers {@code expected}; asserts it does. */
    static void awaitAnswer(NativeServer s, String command, String expected) {
        String[] last = new String[1];
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        do {
            last[0] = s.command(command);
            if (expected.equals(last[0])) {
                return;
            }
            NativeClient.sleep(10);
        } while (System.nanoTime() < deadline);
        assertEquals(expected, last[0], "qbn-server '" + command + "'");
    }

    static int nativeEventQueue(NativeServer s) {
        String a = s.command("connstats");
        Matcher m = Pattern.compile("^ok conns=1 .* event_q=(\\d+)$").matcher(a);
        assertTrue(m.matches(), "connstats answered " + a);
        return Integer.parseInt(m.group(1));
    }

    /** One echo round trip through a jqb client, every byte checked. */
    static void echo(Client c, int n, int seed) throws IpcException {
        ByteBuffer req = EchoWire.request(EchoWire.buffer(EchoWire.REQUEST_HEADER + n), EchoWire.ECHO, n, seed);
        ByteBuffer resp = EchoWire.buffer(EchoWire.RESPONSE_HEADER + n);
        assertEquals(EchoWire.REQUEST_HEADER + n, c.send(req), "send of " + n + " payload bytes");
        EchoWire.assertEcho(resp, c.recv(resp, TIMEOUT_MS), n, seed);
    }

    // ------------------------------------------------------------------------------------------- echo contract

    @Test
    void nativeClientPassesTheEchoContractAgainstAJqbSocketService() throws Exception {
        String name = uniqueName("nchk");
        RecordingHandler h = new RecordingHandler();
        Service s = socketService(name, h);
        NativeClient.CheckResult r = NativeClient.check(name, 0, Duration.ofSeconds(30));
        r.assertPassed();
        // connect bufsize is-connected auth, 8 echo sizes, echo-max, mixed, 3 events, unknown-id, oversize,
        // echo-after-oversize, no-stray-events, no-stray-responses
        assertEquals(22, r.passed(), r.stdout());
        waitUntil(5, "destroyed after the check disconnected", () -> h.destroyed.get() == 1);
        assertEquals(1, h.created.get());
        // 8 + 1 + 20000 + 3 + 1 + 1 requests, all answered through the request socket
        assertEquals(20_014, h.messages.get());
        assertEquals(new ServiceStats(0, 1), s.stats(false));
        ShmAssert.assertNoneLeft(OUR_PID, r.pid());
    }

    @Test
    void jqbCheckCommandPassesTheEchoContractAgainstANativeSocketServer() throws Exception {
        String name = uniqueName("jchk");
        NativeServer srv = nativeSocketServer(name);
        JqbCliProcess p = track(JqbCliProcess.start("check", "--service", name));
        Integer rc = p.waitFor(60_000);
        assertEquals(0, rc, p.describe());
        String[] lines = p.stdout().strip().split("\n");
        assertEquals("23 passed, 0 failed", lines[lines.length - 1], p.describe());
        assertFalse(p.stdout().contains("FAIL"), p.describe());
        awaitAnswer(srv, "stats", "ok active=0 closed=1");
        ShmAssert.assertNoneLeft(srv.pid());
    }

    // ------------------------------------------------------------------------------------------- it is SOCKET

    @Test
    void nativeClientOnAJqbSocketServiceUsesDatagramSocketsAndAControlFile() throws Exception {
        String name = uniqueName("nsock");
        RecordingHandler h = new RecordingHandler();
        h.onAccept = c -> {
            c.authSet(4242, 4343, 0640);
            return 0;
        };
        Service s = socketService(name, h);
        NativeClient d = track(NativeClient.drive(name));
        assertEquals(MAX, d.connect());
        Path dir = SocketFiles.connectionDir(OUR_PID, d.pid());
        SocketFiles.assertControlFileOnly(dir, name, 4242, 4343, 0640);
        SocketFiles.assertDatagramSockets(dir, name);
        d.echo(0);
        d.echo(MAX - EchoWire.RESPONSE_HEADER);
        Connection c = connectionOf(s, d.pid());
        assertEquals(2, c.stats(false).requests());
        // counted once the send returned, which may be after the client already has the response
        waitUntil(5, "2 responses counted", () -> c.stats(false).responses() == 2);
        assertEquals(MAX, c.bufferSize());

        d.expect("disconnect", "ok");
        waitUntil(5, "destroyed", () -> h.destroyed.get() == 1);
        assertEquals(1, h.closed.get());
        SocketFiles.assertGone(dir.resolve("qb-control-" + name));
        SocketFiles.assertGone(dir);
        SocketFiles.assertNoSocketsUnder(dir);
        assertEquals(new ServiceStats(0, 1), s.stats(false));
    }

    @Test
    void jqbClientOnANativeSocketServerUsesDatagramSocketsAndAControlFile() throws Exception {
        String name = uniqueName("jsock");
        NativeServer srv = nativeSocketServer(name, "--auth", "4242:4343:0640");
        Client c = track(Client.connect(name, MAX));
        assertEquals(MAX, c.bufferSize());
        assertNotNull(c.serverCredentials());
        assertEquals(srv.pid(), c.serverCredentials().pid());
        Path dir = SocketFiles.connectionDir(srv.pid(), OUR_PID);
        SocketFiles.assertControlFileOnly(dir, name, 4242, 4343, 0640);
        SocketFiles.assertDatagramSockets(dir, name);
        echo(c, 0, 0);
        echo(c, 1, 1);
        echo(c, 4097, 2);
        echo(c, MAX - EchoWire.RESPONSE_HEADER, 3);
        assertEquals("ok 1", srv.command("conns"));

        c.close();
        // the libqb client's disconnect unlinks the control file and rmdirs the directory; jqb's does the same
        SocketFiles.assertGone(dir.resolve("qb-control-" + name));
        SocketFiles.assertGone(dir);
        SocketFiles.assertNoSocketsUnder(dir);
        awaitAnswer(srv, "stats", "ok active=0 closed=1");
    }

    // ------------------------------------------------------------------------------------------- events, stats

    @Test
    void aRecvRetryIsCountedOnItsConnectionAndKeepsItServing() throws Exception {
        // The channel's recv-retry callback (a read that found nothing although the loop said there was something)
        // is an anonymous Owner inside Connection: it must count on the Connection, not throw from the receive path.
        String name = uniqueName("nrr");
        Service s = socketService(name, new RecordingHandler());
        NativeClient d = track(NativeClient.drive(name));
        d.connect();
        Connection c = connectionOf(s, d.pid());
        assertEquals(0, c.stats(false).recvRetries());
        c.owner().recvRetry();
        c.owner().recvRetry();
        assertEquals(2, c.stats(false).recvRetries());
        assertEquals(2, c.stats(true).recvRetries(), "read and cleared");
        assertEquals(0, c.stats(false).recvRetries());
        d.expect("send 2 10", "ok");
        assertEquals(new NativeClient.Msg(EchoWire.EVENT, 24, 0, 24), d.receive("recv " + TIMEOUT_MS));
        assertTrue(c.isConnected());
    }

    @Test
    void eventsFromAJqbSocketServiceAreCountedUntilTheNativeClientReadsThem() throws Exception {
        String name = uniqueName("nev");
        RecordingHandler h = new RecordingHandler();
        Service s = socketService(name, h);
        NativeClient d = track(NativeClient.drive(name));
        d.connect();
        Connection c = connectionOf(s, d.pid());
        assertEquals(0, c.stats(false).eventQueueLength());
        int[] sizes = {0, 100, 5000, MAX - EchoWire.RESPONSE_HEADER};
        for (int n : sizes) {
            assertEquals(24 + n, c.sendEvent(RecordingHandler.message(EchoWire.EVENT, 0, n)), "event of " + n);
        }
        assertEquals(4, c.stats(false).events());
        assertEquals(4, c.stats(false).eventQueueLength(), "unread events");
        for (int i = 0; i < sizes.length; i++) {
            NativeClient.Msg m = d.receive("event " + TIMEOUT_MS);
            assertEquals(new NativeClient.Msg(EchoWire.EVENT, 24 + sizes[i], 0, 24 + sizes[i]), m);
            assertEquals(sizes.length - 1 - i, c.stats(false).eventQueueLength(), "unread events after " + (i + 1));
        }
        String none = d.call("event 0");
        assertTrue(none.equals("err EAGAIN") || none.equals("err ETIMEDOUT"), "stray event: " + none);
        // the echo contract's EVENT request: response first, then the event
        d.expect("send 2 10", "ok");
        assertEquals(new NativeClient.Msg(EchoWire.EVENT, 24, 0, 24), d.receive("recv " + TIMEOUT_MS));
        assertEquals(new NativeClient.Msg(EchoWire.EVENT, 34, 0, 34), d.receive("event " + TIMEOUT_MS));
        assertEquals(0, c.stats(false).eventQueueLength());
    }

    @Test
    void eventsFromANativeSocketServerWakeTheEventFdAndAreCountedUntilRead() throws Exception {
        String name = uniqueName("jev");
        NativeServer srv = nativeSocketServer(name);
        Client c = track(Client.connect(name, MAX));
        ByteBuffer buf = EchoWire.buffer(MAX);
        assertEquals(0, Posix.pollOne(c.fd(), LibC.POLLIN, 0), "event fd readable before any event");
        assertEquals(0, nativeEventQueue(srv));
        assertEquals("ok sent=1", srv.command("event 10"));
        assertEquals("ok sent=1", srv.command("event " + (MAX - EchoWire.RESPONSE_HEADER)));
        assertEquals(2, nativeEventQueue(srv), "unread events");
        // qb_ipcc_fd_get is the event datagram socket
        assertTrue((Posix.pollOne(c.fd(), LibC.POLLIN, TIMEOUT_MS) & LibC.POLLIN) != 0, "event fd not readable");
        EchoWire.assertResponse(buf, c.eventRecv(buf.clear(), TIMEOUT_MS), EchoWire.EVENT, 10, 0, 0);
        assertEquals(1, nativeEventQueue(srv), "unread events after one read");
        EchoWire.assertResponse(buf, c.eventRecv(buf.clear(), TIMEOUT_MS), EchoWire.EVENT,
                MAX - EchoWire.RESPONSE_HEADER, 0, 0);
        assertEquals(0, nativeEventQueue(srv));
        assertEquals(Errno.WOULD_BLOCK, c.eventRecv(buf.clear(), 0));
        assertEquals(0, Posix.pollOne(c.fd(), LibC.POLLIN, 20), "event fd readable with nothing queued");
    }

    @Test
    void eventsSentFromConnectionCreatedArriveAlthoughTheClientBindsItsSocketsAfterTheHandshake() throws Exception {
        // the server connects its event socket lazily, retrying while the client has not bound B-event yet
        String name = uniqueName("ncr");
        RecordingHandler h = new RecordingHandler();
        h.onCreated = c -> {
            try {
                assertEquals(24 + 3000, c.sendEvent(RecordingHandler.message(EchoWire.EVENT, 0, 3000)));
            } catch (IpcException e) {
                throw new AssertionError(e);
            }
        };
        socketService(name, h);
        NativeClient d = track(NativeClient.drive(name));
        d.connect();
        assertEquals(new NativeClient.Msg(EchoWire.EVENT, 3024, 0, 3024), d.receive("event " + TIMEOUT_MS));
        d.echo(10);
        assertTrue(h.hookErrors.isEmpty(), "created hook failed: " + h.hookErrors);

        String nname = uniqueName("jcr");
        nativeSocketServer(nname, "--event-on-created", "3000");
        Client c = track(Client.connect(nname, MAX));
        ByteBuffer buf = EchoWire.buffer(MAX);
        EchoWire.assertResponse(buf, c.eventRecv(buf, TIMEOUT_MS), EchoWire.EVENT, 3000, 0, 0);
        echo(c, 10, 7);
    }

    @Test
    void eventsToAClientThatDoesNotReadWouldBlockAfterAsManyAsLibqbQueues() throws Exception {
        // libqb: a native server floods a jqb client until its event socket is full
        String nname = uniqueName("jflood");
        NativeServer srv = nativeSocketServer(nname);
        Client c = track(Client.connect(nname, MAX));
        int nativeQueued = 0;
        String answer;
        while ((answer = srv.command("event 1000")).equals("ok sent=1") && nativeQueued < 10_000) {
            nativeQueued++;
        }
        assertEquals("err EAGAIN", answer);
        assertEquals(nativeQueued, nativeEventQueue(srv));
        ByteBuffer buf = EchoWire.buffer(MAX);
        for (int i = 0; i < nativeQueued; i++) {
            EchoWire.assertResponse(buf, c.eventRecv(buf.clear(), 0), EchoWire.EVENT, 1000, 0, 0);
        }
        assertEquals(Errno.WOULD_BLOCK, c.eventRecv(buf.clear(), 0));
        assertEquals(0, nativeEventQueue(srv));

        // jqb: the same flood against a native client queues exactly as many, counts them, then WOULD_BLOCK
        String name = uniqueName("nflood");
        Service s = socketService(name, new RecordingHandler());
        NativeClient d = track(NativeClient.drive(name));
        d.connect();
        Connection conn = connectionOf(s, d.pid());
        ByteBuffer ev = RecordingHandler.message(EchoWire.EVENT, 0, 1000);
        int queued = 0;
        int rc;
        while ((rc = conn.sendEvent(ev.duplicate())) == 1024 && queued < 10_000) {
            queued++;
        }
        assertEquals(Errno.WOULD_BLOCK, rc);
        assertTrue(queued > 1, "queued " + queued);
        assertEquals(nativeQueued, queued, "events queued before WOULD_BLOCK: libqb " + nativeQueued + ", jqb " + queued);
        assertEquals(queued, conn.stats(false).eventQueueLength());
        assertEquals(1, conn.stats(false).sendRetries());
        for (int i = 0; i < queued; i++) {
            assertEquals(new NativeClient.Msg(EchoWire.EVENT, 1024, 0, 1024), d.receive("event 0"));
        }
        String none = d.call("event 0");
        assertTrue(none.equals("err EAGAIN") || none.equals("err ETIMEDOUT"), none);
        assertEquals(0, conn.stats(false).eventQueueLength());
        assertEquals(1024, conn.sendEvent(ev.duplicate()), "room again once read");
    }

    // ------------------------------------------------------------------------------------------- flow control

    @Test
    void nativeServerRateLimitOffMakesJqbClientSendsWouldBlock() throws Exception {
        String name = uniqueName("jfc");
        NativeServer srv = nativeSocketServer(name);
        Client c = track(Client.connect(name, MAX));
        echo(c, 10, 1);
        ByteBuffer req = EchoWire.request(EchoWire.buffer(64), EchoWire.ECHO, 10, 2);
        assertEquals("ok", srv.command("ratelimit off"));
        assertEquals(Errno.WOULD_BLOCK, c.send(req), "send while the server's flow control is on");
        assertEquals(Errno.WOULD_BLOCK, c.send(req), "still");
        assertEquals("ok", srv.command("ratelimit normal"));
        echo(c, 10, 3);
        assertEquals("ok", srv.command("ratelimit off2"));
        c.fcEnableMax(2);
        assertEquals(Errno.WOULD_BLOCK, c.send(req), "fc 2 with fcEnableMax 2");
        c.fcEnableMax(1);
        assertEquals("ok", srv.command("ratelimit normal"));
        echo(c, 100, 4);
        assertTrue(c.isConnected());
    }

    @Test
    void jqbServiceRateLimitOffMakesNativeSendsFailWithEagain() throws Exception {
        String name = uniqueName("nfc");
        RecordingHandler h = new RecordingHandler();
        Service s = socketService(name, h);
        NativeClient d = track(NativeClient.drive(name));
        d.connect();
        d.echo(10);
        Connection c = connectionOf(s, d.pid());
        s.requestRateLimit(RateLimit.OFF);
        assertEquals(1, c.stats(false).flowControlState());
        d.expect("send 1 10", "err EAGAIN");
        // a client that connects while the limit is off gets the flag from its first moment
        NativeClient d2 = track(NativeClient.drive(name));
        d2.connect();
        d2.expect("send 1 10", "err EAGAIN");
        s.requestRateLimit(RateLimit.NORMAL);
        assertEquals(0, c.stats(false).flowControlState());
        d.expect("send 1 10", "ok");
        assertEquals(new NativeClient.Msg(EchoWire.ECHO, 34, 0, 34), d.receive("recv " + TIMEOUT_MS));
        d2.echo(4096);
        assertEquals(2, c.stats(false).flowControlCount(), "off, then normal");
    }

    // ------------------------------------------------------------------------------------------- disconnect

    @Test
    void jqbServiceDisconnectEndsTheNativeClientsConnectionAndRemovesItsFiles() throws Exception {
        String name = uniqueName("ndis");
        RecordingHandler h = new RecordingHandler();
        Service s = socketService(name, h);
        NativeClient d = track(NativeClient.drive(name));
        d.connect();
        d.echo(100);
        Path dir = SocketFiles.connectionDir(OUR_PID, d.pid());
        SocketFiles.assertDatagramSockets(dir, name);
        connectionOf(s, d.pid()).disconnect();
        waitUntil(5, "destroyed", () -> h.destroyed.get() == 1);
        assertEquals(1, h.closed.get());
        SocketFiles.assertGone(dir);
        assertEquals(new ServiceStats(0, 1), s.stats(false));
        // libqb's SOCKET client notices when its wait ends (see the SIGKILL test)
        d.expect("recv 300", "err ENOTCONN");
        d.expect("connected", "ok 0");
        d.expect("disconnect", "ok");
        SocketFiles.assertNoSocketsUnder(dir);
    }

    @Test
    void nativeServerDisconnectEndsTheJqbClientsConnectionAndCloseRemovesItsFiles() throws Exception {
        String name = uniqueName("jdis");
        NativeServer srv = nativeSocketServer(name);
        Client c = track(Client.connect(name, MAX));
        echo(c, 100, 5);
        Path dir = SocketFiles.connectionDir(srv.pid(), OUR_PID);
        assertEquals("ok", srv.command("disconnect"));
        long t0 = System.nanoTime();
        assertThrows(NotConnectedException.class, () -> c.recv(EchoWire.buffer(MAX), TIMEOUT_MS));
        long ms = (System.nanoTime() - t0) / 1_000_000;
        // noticed, not waited out: well before the receive's own time-out (room for a loaded machine)
        assertTrue(ms < TIMEOUT_MS - 1_000, "recv noticed the disconnect after " + ms + " ms");
        assertFalse(c.isConnected());
        assertThrows(NotConnectedException.class, () -> c.send(EchoWire.request(EchoWire.buffer(64), 1, 1)));
        awaitAnswer(srv, "stats", "ok active=0 closed=1");
        c.close();
        SocketFiles.assertGone(dir);
        SocketFiles.assertNoSocketsUnder(dir);
    }

    @Test
    void sigkilledNativeClientIsNoticedAndItsFilesRemovedByTheJqbSocketService() throws Exception {
        String name = uniqueName("ncdie");
        RecordingHandler h = new RecordingHandler();
        Service s = socketService(name, h);
        NativeClient d = track(NativeClient.drive(name));
        d.connect();
        d.echo(10);
        Path dir = SocketFiles.connectionDir(OUR_PID, d.pid());
        SocketFiles.assertDatagramSockets(dir, name);
        d.kill();
        // the stream setup socket hangs up: that is the server's only liveness signal on SOCKET
        waitUntil(5, "destroyed after the client died", () -> h.destroyed.get() == 1);
        assertEquals(1, h.closed.get());
        SocketFiles.assertGone(dir);
        SocketFiles.assertNoSocketsUnder(dir);
        assertEquals(new ServiceStats(0, 1), s.stats(false));
    }

    // ------------------------------------------------------------------------------------------- server death

    @Test
    void sigkilledNativeServerEndsAJqbClientsBlockingRecvWithinASecond() throws Exception {
        String name = uniqueName("jkill");
        NativeServer srv = nativeSocketServer(name);
        Client c = Client.connect(name, MAX);
        Path dir = null;
        Thread t = null;
        try {
            echo(c, 64, 6);
            dir = SocketFiles.connectionDir(srv.pid(), OUR_PID);
            SocketFiles.assertDatagramSockets(dir, name);
            long[] endedAt = new long[1];
            CompletableFuture<Throwable> waiter = new CompletableFuture<>();
            t = new Thread(() -> {
                try {
                    int rc = c.recv(EchoWire.buffer(MAX), -1);
                    waiter.complete(new AssertionError("recv returned " + rc));
                } catch (Throwable e) {
                    endedAt[0] = System.nanoTime();
                    waiter.complete(e);
                }
            }, "blocked-recv");
            t.setDaemon(true);
            t.start();
            NativeClient.sleep(200);
            assertFalse(waiter.isDone(), "recv(-1) returned with nothing to receive: " + waiter.getNow(null));
            long killedAt = System.nanoTime();
            srv.kill();
            Throwable e = waiter.get(30, TimeUnit.SECONDS); // recv(-1) that never notices fails here
            assertTrue(e instanceof NotConnectedException, "recv ended with " + e);
            long ms = (endedAt[0] - killedAt) / 1_000_000;
            assertTrue(ms < 5_000, "recv noticed the server's death after " + ms + " ms");
            assertFalse(c.isConnected());
        } finally {
            // close() makes a receive still in progress give up, so it is always safe; let the thread finish first.
            if (t != null) {
                t.join(2000);
            }
            // nobody else is left to clean up: the client's close removes the control file and the directory
            // (on a busy host, any jqb Service.run() may also sweep a dead server's directory)
            c.close();
        }
        SocketFiles.assertGone(dir);
        SocketFiles.assertNoSocketsUnder(dir);
    }

    @Test
    void sigkilledJqbServerEndsTheNativeClientsConnectionAndItsDisconnectRemovesTheFiles() throws Exception {
        String name = uniqueName("nkill");
        JqbCliProcess srv = track(JqbCliProcess.start("echo-server", "--service", name, "--transport", "socket"));
        String ready = srv.nextLine(30_000);
        assertEquals("jqb echo-server: service " + name + " ready (pid " + srv.pid() + ")", ready, srv.describe());
        NativeClient d = track(NativeClient.drive(name));
        d.connect();
        d.echo(1000);
        Path dir = SocketFiles.connectionDir(srv.pid(), d.pid());
        SocketFiles.assertControlFileOnly(dir, name, Posix.C.getuid(), Posix.C.getgid(), 0600);
        SocketFiles.assertDatagramSockets(dir, name);
        d.write("recv 1500");
        NativeClient.sleep(100);
        srv.kill();
        // libqb's SOCKET client polls only the response datagram socket while it waits, so it notices a dead server
        // when the wait ends (it then finds the setup socket hung up): ENOTCONN, not ETIMEDOUT. So it is with a
        // native server too.
        assertEquals("err ENOTCONN", d.read(), d.describe());
        d.expect("connected", "ok 0");
        // nobody else is left to clean up: libqb's client disconnect removes the control file and the directory
        // (on a busy host, any jqb Service.run() may also sweep a dead server's directory)
        d.expect("disconnect", "ok");
        SocketFiles.assertGone(dir);
        SocketFiles.assertNoSocketsUnder(dir);
        assertFalse(SocketFiles.abstractNameBound(name), "@" + name + " still bound");
    }

    // ------------------------------------------------------------------------------------------- CLI

    @Test
    void echoServerCliWithSocketTransportServesAndExitsZeroOnSigterm() throws Exception {
        String name = uniqueName("cli");
        JqbCliProcess srv = track(JqbCliProcess.start("echo-server", "--service", name, "--transport", "socket"));
        String ready = srv.nextLine(30_000);
        assertEquals("jqb echo-server: service " + name + " ready (pid " + srv.pid() + ")", ready, srv.describe());
        assertTrue(SocketFiles.abstractNameBound(name), "@" + name + " not listening");
        NativeClient d = track(NativeClient.drive(name));
        d.connect();
        Path dir = SocketFiles.connectionDir(srv.pid(), d.pid());
        SocketFiles.assertDatagramSockets(dir, name);
        SocketFiles.assertControlFileOnly(dir, name, Posix.C.getuid(), Posix.C.getgid(), 0600);
        NativeClient.CheckResult r = NativeClient.check(name, 0, Duration.ofSeconds(30));
        r.assertPassed();
        assertEquals(22, r.passed(), r.stdout());
        d.echo(500);

        srv.terminate();
        Integer rc = srv.waitFor(10_000);
        assertEquals(0, rc, "exit status after SIGTERM" + srv.describe());
        // the service closed everything on its way out: the connected client's files, the listening name
        SocketFiles.assertGone(dir);
        ShmAssert.assertNoneLeft(srv.pid());
        assertFalse(SocketFiles.abstractNameBound(name), "@" + name + " still listening");
        d.expect("recv 300", "err ENOTCONN");
        d.expect("disconnect", "ok");
        SocketFiles.assertNoSocketsUnder(dir);
    }

    // ------------------------------------------------------------------------------------------- transport choice

    @Test
    void clientTakesWhateverTransportTheServerAnswersAndNativeMeansShm() throws Exception {
        // a native QB_IPC_NATIVE server answers SHM (type 1): six ring files, no datagram sockets
        String nname = uniqueName("nnat");
        NativeServer srv = track(NativeServer.start(nname, "--transport", "native"));
        try (Client c = Client.connect(nname, MAX)) {
            Path dir = SocketFiles.connectionDir(srv.pid(), OUR_PID);
            ShmAssert.assertSixFiles(dir, nname);
            assertEquals(List.of(), List.copyOf(SocketFiles.abstractNamesUnder(dir)));
            echo(c, 100, 8);
        }
        // a jqb NATIVE service is SHM as well
        String jname = uniqueName("jnat");
        Service s = track(Service.create(jname, 4, TransportType.NATIVE, new RecordingHandler()));
        s.run();
        NativeClient d = track(NativeClient.drive(jname));
        d.connect();
        Path dir = SocketFiles.connectionDir(OUR_PID, d.pid());
        ShmAssert.assertSixFiles(dir, jname);
        assertEquals(List.of(), List.copyOf(SocketFiles.abstractNamesUnder(dir)));
        d.echo(100);
        // and the same jqb client code takes SOCKET from a SOCKET server
        String sname = uniqueName("jsk");
        NativeServer ssrv = nativeSocketServer(sname);
        try (Client c = Client.connect(sname, MAX)) {
            Path sdir = SocketFiles.connectionDir(ssrv.pid(), OUR_PID);
            SocketFiles.assertDatagramSockets(sdir, sname);
            SocketFiles.assertControlFileOnly(sdir, sname, Posix.C.getuid(), Posix.C.getgid(), 0600);
            echo(c, 100, 9);
        }
    }

    // ------------------------------------------------------------------------------------------- datagram size

    @Test
    void datagramsBiggerThanTheDefaultSocketBufferPassBothWays() throws Exception {
        // the default SO_SNDBUF (wmem_default, 212992 here) cannot carry them: both sides must raise it to the size
        int size = Client.verifyDatagramMaxMsgSize(1 << 20);
        Assumptions.assumeTrue(size >= 512 * 1024, "this host's wmem_max caps datagrams at " + size);
        int n = size - EchoWire.RESPONSE_HEADER;

        String name = uniqueName("nbig");
        socketService(name, new RecordingHandler());
        NativeClient d = track(NativeClient.drive(name, size));
        assertEquals(size, d.connect());
        d.echo(n);
        d.expect("send 2 " + n, "ok");
        assertEquals(new NativeClient.Msg(EchoWire.EVENT, 24, 0, 24), d.receive("recv " + TIMEOUT_MS));
        assertEquals(new NativeClient.Msg(EchoWire.EVENT, size, 0, size), d.receive("event " + TIMEOUT_MS));

        String jname = uniqueName("jbig");
        nativeSocketServer(jname);
        Client c = track(Client.connect(jname, size));
        assertEquals(size, c.bufferSize());
        echo(c, n, 11);
        // one byte over the agreed size is refused locally and the connection stays usable
        assertThrows(MessageTooLargeException.class, () -> c.send(EchoWire.buffer(size + 1)));
        echo(c, 10, 12);
    }

    @Test
    void verifyDatagramMaxMsgSizeReturnsTheRequestedSizeWhenItFits() throws Exception {
        assertEquals(12_328, Client.verifyDatagramMaxMsgSize(12_328));
        assertEquals(65_536, Client.verifyDatagramMaxMsgSize(65_536));
        assertEquals(131_072, Client.verifyDatagramMaxMsgSize(131_072));
        // SO_SNDBUF is capped at 2 × wmem_max, so twice that never fits one AF_UNIX datagram: libqb's search (2048-byte
        // steps, then 1024, then 512) finds the largest size that does
        // (one read: sysctl files answer EOF to a read at an offset, so Files.readString sees only the first byte)
        long wmemMax = Long.parseLong(Files.readAllLines(Path.of("/proc/sys/net/core/wmem_max")).get(0).trim());
        int big = (int) Math.min(4 * wmemMax + 4096, Integer.MAX_VALUE / 4);
        int largest = Client.verifyDatagramMaxMsgSize(big);
        assertTrue(largest > 131_072 && largest < big, "largest datagram " + largest);
        assertEquals(0, largest % 512, "libqb's search steps by 2048, 1024, 512: " + largest);
        assertEquals(largest, Client.verifyDatagramMaxMsgSize(largest), "the size it found fits");
    }
}
