package io.jqb;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.testutil.EchoWire;
import io.jqb.testutil.NativeServer;
import io.jqb.testutil.ShmAssert;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The native server dies (SIGKILL) or drops us while the jqb client is using the connection: the client must report
 * not-connected promptly (never hang, libqb #27/#37/#481) and its close must remove every file of the connection,
 * the directory included (libqb's own client leaves the directory).
 */
class ClientServerDeathTest extends ClientTestSupport {
    /**
     * How long a client may take to notice the server's death or disconnect: 50 of its 100 ms liveness slices, room
     * for a loaded machine. A client that does not notice hangs in its recv(-1) (the SEPARATE_THREAD time-out fails
     * it) or returns TIMED_OUT instead of throwing NotConnected.
     */
    private static final long NOTICE_MS = 5_000;

    static final int SIGSTOP = 19;
    static final int SIGCONT = 18;
    private final ScheduledExecutorService killer = Executors.newSingleThreadScheduledExecutor();
    /** The kill {@link #killLater} scheduled: SIGKILL and reaping, which may finish after the client noticed. */
    private ScheduledFuture<?> pendingKill;

    @AfterEach
    void stopKiller() throws InterruptedException {
        killer.shutdownNow();
        assertTrue(killer.awaitTermination(10, TimeUnit.SECONDS));
    }

    /** The one connection directory of ours under {@code server}, holding the six ring files. */
    private static Path connectionDir(NativeServer server) {
        List<Path> dirs = ShmAssert.entries(server.pid(), OUR_PID);
        assertEquals(1, dirs.size(), "connection directories: " + dirs);
        ShmAssert.assertSixFiles(dirs.get(0), server.service());
        return dirs.get(0);
    }

    /** Kills {@code server} after {@code delayMs} on another thread; returns where the kill time will be stored. */
    private AtomicLong killLater(NativeServer server, long delayMs) {
        AtomicLong killedAt = new AtomicLong();
        pendingKill = killer.schedule(() -> {
            killedAt.set(System.nanoTime());
            server.kill();
        }, delayMs, TimeUnit.MILLISECONDS);
        return killedAt;
    }

    /**
     * After the server's death: the files stay until our close removes them and the directory. The client may see
     * the socket's hang-up while the killed server is still exiting (its files are closed before it is a zombie):
     * the server is dead, as the close's liveness check sees it, once the killer has reaped it.
     */
    private void assertCloseRemovesEverything(Client c, Path dir, String service) throws Exception {
        if (pendingKill != null) {
            pendingKill.get(30, TimeUnit.SECONDS);
        }
        assertTrue(Files.isDirectory(dir), dir + " vanished before our close (nobody else may remove it)");
        ShmAssert.assertSixFiles(dir, service);
        c.close();
        assertFalse(Files.exists(dir), dir + " is left after close: " + (Files.exists(dir) ? ShmAssert.fileNames(dir)
                : ""));
    }

    @Test
    @Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void sigkillDuringRecvWithTimeoutIsNotConnectedWellBeforeTheTimeout() throws Exception {
        NativeServer server = nativeServer("kill-recv");
        Client c = connect(server.service(), 65_536);
        echo(c, 100);
        Path dir = connectionDir(server);
        AtomicLong killedAt = killLater(server, 300);
        long t0 = System.nanoTime();
        NotConnectedException e = assertThrows(NotConnectedException.class,
                () -> c.recv(EchoWire.buffer(65_536), 10_000));
        long end = System.nanoTime();
        assertTrue(killedAt.get() != 0, "recv returned before the kill");
        long afterKill = (end - killedAt.get()) / 1_000_000L;
        assertTrue(afterKill < NOTICE_MS, "noticed the death " + afterKill
                + " ms after the kill (timeout was 10 s)");
        assertTrue(millisSince(t0) >= 250, "recv returned after " + millisSince(t0) + " ms, before the kill");
        assertEquals("ENOTCONN", e.errnoName());
        assertTrue(e.getMessage().contains("recv(" + server.service() + ")"), e.getMessage());
        assertFalse(c.isConnected());
        ByteBuffer req = EchoWire.request(EchoWire.buffer(100), EchoWire.ECHO, 10);
        assertThrows(NotConnectedException.class, () -> c.send(req));
        assertThrows(NotConnectedException.class, () -> c.eventRecv(EchoWire.buffer(100), 0));
        assertCloseRemovesEverything(c, dir, server.service());
    }

    @Test
    @Timeout(value = 20, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void sigkillDuringRecvForeverIsNotConnectedNotAHang() throws Exception {
        NativeServer server = nativeServer("kill-forever");
        Client c = connect(server.service(), 65_536);
        Path dir = connectionDir(server);
        AtomicLong killedAt = killLater(server, 300);
        assertThrows(NotConnectedException.class, () -> c.recv(EchoWire.buffer(65_536), -1));
        long afterKill = millisSince(killedAt.get());
        assertTrue(afterKill < NOTICE_MS, "noticed the death " + afterKill + " ms after the kill");
        assertFalse(c.isConnected());
        assertCloseRemovesEverything(c, dir, server.service());
    }

    @Test
    @Timeout(value = 20, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void sigkillDuringSendRecvForeverIsNotConnected() throws Exception {
        // the request was delivered but the server stopped (SIGSTOP) before answering, then got killed
        NativeServer server = nativeServer("kill-sendrecv");
        Client c = connect(server.service(), 65_536);
        Path dir = connectionDir(server);
        assertEquals(0, signal(server.pid(), SIGSTOP));
        AtomicLong killedAt = killLater(server, 300);
        ByteBuffer req = EchoWire.request(EchoWire.buffer(1000), EchoWire.ECHO, 500);
        assertThrows(NotConnectedException.class, () -> c.sendRecv(req, EchoWire.buffer(1000), -1));
        assertTrue(millisSince(killedAt.get()) < NOTICE_MS, "noticed the death late");
        assertCloseRemovesEverything(c, dir, server.service());
    }

    @Test
    @Timeout(value = 20, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void sigkillDuringEventRecvForeverIsNotConnected() throws Exception {
        NativeServer server = nativeServer("kill-event");
        Client c = connect(server.service(), 65_536);
        Path dir = connectionDir(server);
        AtomicLong killedAt = killLater(server, 300);
        NotConnectedException e = assertThrows(NotConnectedException.class,
                () -> c.eventRecv(EchoWire.buffer(65_536), -1));
        assertTrue(millisSince(killedAt.get()) < NOTICE_MS, "noticed the death late");
        assertTrue(e.getMessage().contains("event_recv(" + server.service() + ")"), e.getMessage());
        assertCloseRemovesEverything(c, dir, server.service());
    }

    @Test
    void whatTheServerDeliveredBeforeItsDeathCanStillBeRead() throws Exception {
        NativeServer server = nativeServer("kill-queued");
        Client c = connect(server.service(), 65_536);
        Path dir = connectionDir(server);
        ByteBuffer req = EchoWire.request(EchoWire.buffer(1000), EchoWire.ECHO, 300, 8);
        assertEquals(316, c.send(req));
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (!server.command("connstats").contains(" responses=1 ") && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertEquals("ok sent=1", server.command("event 200"));
        server.kill();
        ByteBuffer buf = EchoWire.buffer(1000);
        EchoWire.assertEcho(buf, c.recv(buf, 1000), 300, 8);
        EchoWire.assertResponse(buf, c.eventRecv(buf.clear(), 1000), EchoWire.EVENT, 200, 0, 0);
        assertThrows(NotConnectedException.class, () -> c.recv(buf.clear(), 1000));
        assertThrows(NotConnectedException.class, () -> c.eventRecv(buf.clear(), 1000));
        assertCloseRemovesEverything(c, dir, server.service());
    }

    @Test
    void sendAfterSigkillIsNotConnected() throws Exception {
        NativeServer server = nativeServer("kill-send");
        Client c = connect(server.service(), 65_536);
        Client idle = connect(server.service(), 65_536);
        echo(c, 10);
        List<Path> dirs = ShmAssert.entries(server.pid(), OUR_PID);
        assertEquals(2, dirs.size(), "connection directories: " + dirs);
        server.kill();
        ByteBuffer req = EchoWire.request(EchoWire.buffer(100), EchoWire.ECHO, 10);
        NotConnectedException e = assertThrows(NotConnectedException.class, () -> c.send(req));
        assertEquals("ENOTCONN", e.errnoName());
        assertFalse(c.isConnected());
        assertFalse(idle.isConnected(), "isConnected on an idle connection to a dead server");
        c.close();
        idle.close();
        for (Path d : dirs) {
            assertFalse(Files.exists(d), d + " left after close");
        }
        assertTrue(ShmAssert.entries(server.pid()).isEmpty(), "left: " + ShmAssert.entries(server.pid()));
    }

    @Test
    void serverDisconnectIsNotConnectedOnNextRecvAndSend() throws Exception {
        NativeServer server = nativeServer("disconnect");
        Client a = connect(server.service(), 65_536);
        Client b = connect(server.service(), 65_536);
        echo(a, 10);
        echo(b, 10);
        assertEquals("ok 2", server.command("conns"));
        assertEquals("ok", server.command("disconnect"));
        long t0 = System.nanoTime();
        NotConnectedException e = assertThrows(NotConnectedException.class,
                () -> a.recv(EchoWire.buffer(1000), 10_000));
        assertTrue(millisSince(t0) < NOTICE_MS, "noticed the disconnect after " + millisSince(t0) + " ms");
        assertEquals("ENOTCONN", e.errnoName());
        assertFalse(a.isConnected());
        ByteBuffer req = EchoWire.request(EchoWire.buffer(100), EchoWire.ECHO, 10);
        assertThrows(NotConnectedException.class, () -> b.send(req));
        assertFalse(b.isConnected());
        assertThrows(NotConnectedException.class, () -> b.send(req), "a second send");
        // the live server cleaned up its side; our close must not fail and nothing stays
        a.close();
        b.close();
        ShmAssert.assertNoneLeft(server.pid(), OUR_PID);
        assertEquals("ok 0", server.command("conns"));
        // the service itself is fine: a new connection works
        Client c = connect(server.service(), 65_536);
        echo(c, 1000);
    }

    @Test
    void serverQuitIsNotConnected() throws Exception {
        NativeServer server = nativeServer("quit");
        Client c = connect(server.service(), 65_536);
        echo(c, 10);
        server.close(); // graceful: qb_ipcs_destroy disconnects everyone and removes the files
        assertThrows(NotConnectedException.class, () -> c.recv(EchoWire.buffer(100), 5_000));
        assertFalse(c.isConnected());
        c.close();
        assertTrue(ShmAssert.entries(server.pid()).isEmpty(), "left: " + ShmAssert.entries(server.pid()));
    }

    static int signal(long pid, int sig) {
        return io.jqb.internal.posix.Posix.C.kill((int) pid, sig);
    }
}
