package io.jqb.libipc;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.IpcException;
import io.jqb.internal.posix.LibC;
import io.jqb.internal.posix.Posix;
import io.jqb.libipc.internal.PathRule;
import io.jqb.testutil.LeakProbe;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Pipe;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** Server set-up (path rule, stale/live sockets, run directory, modes, credentials) and the waitEvent contract. */
class LibipcServerTest extends RunDirTest {
    private IpcServer server(String name) {
        return IpcServer.builder(name).runDirectory(dir.toString()).init();
    }

    private IpcClient client(String name) {
        return IpcClient.builder(name).runDirectory(dir.toString()).connect();
    }

    /** Waits for the next event that is not TIMEOUT (at most 10 s). */
    private static IpcEvent next(IpcServer s) {
        IpcEvent e = s.waitEvent(10_000);
        assertFalse(e.type() == IpcEventType.TIMEOUT, "no event within 10 s");
        return e;
    }

    /**
     * accept without a time-out on a closed server ends with an error at once: it must not take the closed listener
     * for a listener out of fds and retry it forever (the thread never returned).
     */
    @Test
    void acceptOnAClosedServerFails() throws Exception {
        IpcServer s = server("acceptclosed");
        s.close();
        assertAcceptFails(s, "accept(-1) after close");
        assertAcceptFails(s, "a second accept(-1) after close"); // once waited forever on a selector with no key
        IpcServer used = server("acceptusedclosed");
        assertEquals(null, used.accept(0), "nobody connects");
        used.close();
        assertAcceptFails(used, "accept(-1) after an accept and close"); // once an unchecked ClosedSelectorException
    }

    /** accept(-1) on {@code s} ends within 30 s with an IpcException. */
    private static void assertAcceptFails(IpcServer s, String what) throws Exception {
        java.util.concurrent.CompletableFuture<Object> f = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
            try {
                return s.accept(-1);
            } catch (IpcException e) {
                return e;
            } catch (RuntimeException e) {
                return "unchecked " + e;
            }
        });
        Object r = f.get(30, java.util.concurrent.TimeUnit.SECONDS);
        assertTrue(r instanceof IpcException, what + " returned " + r);
    }

    @Test
    void pathRule() {
        assertEquals("/tmp/pongd-0-0", PathRule.socketPath("t", "/tmp", "pongd", 0, 0));
        assertEquals("/run/ipc//pongd-0-0", PathRule.socketPath("t", PathRule.DEFAULT_DIR, "pongd", 0, 0));
        assertEquals("/pongd-0-0", PathRule.socketPath("t", "", "pongd", 0, 0), "IPC_RUNDIR set but empty");
        assertEquals("/d/x-3--1", PathRule.socketPath("t", "/d", "x", 3, -1), "%d of a uint32 >= 2^31");
        assertEquals("/explicit", PathRule.directory("/explicit"));
        String old = System.getProperty(PathRule.PROPERTY);
        try {
            System.setProperty(PathRule.PROPERTY, "/from-property");
            assertEquals("/from-property", PathRule.directory(null));
            System.clearProperty(PathRule.PROPERTY);
            String env = System.getenv("IPC_RUNDIR");
            assertEquals(env != null ? env : "/run/ipc/", PathRule.directory(null));
        } finally {
            if (old != null) {
                System.setProperty(PathRule.PROPERTY, old);
            }
        }
    }

    @Test
    void indexAndVersionArePartOfThePath() {
        String name = LibipcTestDirs.name("iv");
        try (IpcServer s = IpcServer.builder(name).runDirectory(dir.toString()).index(4).version(7).init();
                IpcClient c = IpcClient.builder(name).runDirectory(dir.toString()).index(4).version(7).connect()) {
            assertEquals(dir.resolve(name + "-4-7"), s.path());
            assertEquals(IpcEventType.CONNECTION, next(s).type());
            assertThrows(IpcException.class, () -> client(name));
        }
    }

    @Test
    void systemPropertyChoosesTheRunDirectory() {
        String name = LibipcTestDirs.name("prop");
        String old = System.getProperty(PathRule.PROPERTY);
        System.setProperty(PathRule.PROPERTY, dir.toString());
        try (IpcServer s = IpcServer.init(name); IpcClient c = IpcClient.connect(name)) {
            assertEquals(dir.resolve(name + "-0-0"), s.path());
            assertEquals(IpcEventType.CONNECTION, next(s).type());
        } finally {
            if (old == null) {
                System.clearProperty(PathRule.PROPERTY);
            } else {
                System.setProperty(PathRule.PROPERTY, old);
            }
        }
    }

    @Test
    void aStaleSocketIsReplacedALiveOneRefused() throws Exception {
        String name = LibipcTestDirs.name("stale");
        Path path = dir.resolve(name + "-0-0");
        // stale: bound, then closed without removing the file (what a crashed server leaves)
        try (ServerSocketChannel dead = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            dead.bind(UnixDomainSocketAddress.of(path));
        }
        assertTrue(Files.exists(path));
        try (IpcServer s = server(name)) {
            try (IpcClient c = client(name)) {
                assertEquals(IpcEventType.CONNECTION, next(s).type());
            }
            // live: a second server on the same name is refused, and the first keeps its socket
            IpcException e = assertThrows(IpcException.class, () -> server(name));
            assertEquals("EADDRINUSE", e.errnoName());
            assertTrue(e.getMessage().contains("live server"), e.getMessage());
            try (IpcClient c = client(name)) {
                assertEquals(IpcEventType.CONNECTION, next(s).type());
            }
        }
        assertFalse(Files.exists(path), "removed at close");
    }

    @Test
    void aFileThatIsNotASocketIsNotRemoved() throws Exception {
        String name = LibipcTestDirs.name("file");
        Path path = Files.writeString(dir.resolve(name + "-0-0"), "keep me");
        IpcException e = assertThrows(IpcException.class, () -> server(name));
        assertEquals("EEXIST", e.errnoName());
        assertEquals("keep me", Files.readString(path));
    }

    @Test
    void aFifoAtTheSocketPathIsNotTakenForAStaleSocket() throws Exception {
        String name = LibipcTestDirs.name("fifo");
        Path path = dir.resolve(name + "-0-0");
        assertEquals(0, new ProcessBuilder("mkfifo", path.toString()).inheritIO().start().waitFor(), "mkfifo");
        // connect(2) to a FIFO says ECONNREFUSED, as to a stale socket: it was removed as one
        IpcException e = assertThrows(IpcException.class, () -> server(name));
        assertEquals("EEXIST", e.errnoName());
        assertTrue(Files.exists(path, java.nio.file.LinkOption.NOFOLLOW_LINKS), "the FIFO is still there");
    }

    @Test
    void aLiveServerWhoseBacklogIsFullIsRefusedAsLive() throws Exception {
        String name = LibipcTestDirs.name("busy");
        Path path = dir.resolve(name + "-0-0");
        java.util.List<Integer> fds = new java.util.ArrayList<>();
        try (IpcServer s = server(name);
                io.jqb.internal.setup.UnixSocket.Address a =
                        io.jqb.internal.setup.UnixSocket.filesystemAddress(path.toString())) {
            // nobody accepts: non-blocking connects fill the listener's backlog until one says EAGAIN
            int errno = 0;
            for (int i = 0; i < 4096 && errno == 0; i++) {
                try {
                    fds.add(io.jqb.internal.setup.UnixSocket.connect(a, name));
                } catch (IpcException full) {
                    errno = full.errno();
                }
            }
            assertEquals("EAGAIN", io.jqb.Errno.name(errno), "the backlog filled after " + fds.size());
            IpcException e = assertThrows(IpcException.class, () -> server(name));
            assertEquals("EADDRINUSE", e.errnoName(), e.getMessage());
            assertTrue(Files.exists(path), "the live server keeps its socket");
        } finally {
            fds.forEach(io.jqb.internal.posix.Posix::closeQuietly);
        }
    }

    @Test
    void aMissingRunDirectoryIsCreatedWithMode0755() {
        Path missing = dir.resolve("a").resolve("b");
        String name = LibipcTestDirs.name("mkdir");
        try (IpcServer s = IpcServer.builder(name).runDirectory(missing.toString()).init()) {
            assertTrue(Files.isDirectory(missing));
            assertEquals("rwxr-xr-x", perms(missing));
            assertEquals("rwxr-xr-x", perms(missing.getParent()));
            try (IpcClient c = IpcClient.builder(name).runDirectory(missing.toString()).connect()) {
                assertEquals(IpcEventType.CONNECTION, next(s).type());
            }
        }
    }

    private static String perms(Path p) {
        try {
            return PosixFilePermissions.toString(Files.getPosixFilePermissions(p));
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @Test
    void aPathTooLongIsAClearError() {
        String name = "n".repeat(120);
        IpcException e = assertThrows(IpcException.class, () -> server(name));
        assertEquals("ENAMETOOLONG", e.errnoName());
        assertTrue(e.getMessage().contains("at most 106"), e.getMessage());
        IpcException c = assertThrows(IpcException.class, () -> client(name));
        assertEquals("ENAMETOOLONG", c.errnoName());
        // exactly 106 bytes fits (the JDK's limit; one more is refused before any system call)
        String fits = "m".repeat(106 - (dir.toString().length() + 1 + 4));
        try (IpcServer s = server(fits); IpcClient cl = client(fits)) {
            assertEquals(106, s.path().toString().length());
            assertEquals("ENAMETOOLONG", assertThrows(IpcException.class, () -> server(fits + "m")).errnoName());
            assertEquals(IpcEventType.CONNECTION, next(s).type());
        }
    }

    @Test
    void socketModeIsApplied() {
        String name = LibipcTestDirs.name("mode");
        try (IpcServer s = IpcServer.builder(name).runDirectory(dir.toString()).socketMode("rw-------").init()) {
            assertEquals("rw-------", perms(s.path()));
        }
    }

    @Test
    void peerCredentialsAreCheckedWhenConfigured() throws Exception {
        int uid = (int) new com.sun.security.auth.module.UnixSystem().getUid();
        int gid = (int) new com.sun.security.auth.module.UnixSystem().getGid();
        String ok = LibipcTestDirs.name("credok");
        try (IpcServer s = IpcServer.builder(ok).runDirectory(dir.toString()).allowUid(uid).init();
                IpcClient c = client(ok)) {
            IpcEvent e = next(s);
            assertEquals(IpcEventType.CONNECTION, e.type());
            assertEquals(System.getProperty("user.name"), e.connection().peer().user().getName());
        }
        String byGroup = LibipcTestDirs.name("credgid");
        try (IpcServer s = IpcServer.builder(byGroup).runDirectory(dir.toString()).allowUid(uid + 1)
                .allowGid(gid).init(); IpcClient c = client(byGroup)) {
            assertEquals(IpcEventType.CONNECTION, next(s).type());
        }
        String refused = LibipcTestDirs.name("credno");
        try (IpcServer s = IpcServer.builder(refused).runDirectory(dir.toString()).allowUid(uid + 1)
                .allowGid(gid + 1).init(); IpcClient c = client(refused)) {
            // the connection is accepted by the kernel, then closed by the server without any server event
            long until = System.nanoTime() + 10_000_000_000L;
            IpcEventType seen;
            do {
                assertEquals(IpcEventType.TIMEOUT, s.waitEvent(100).type());
                seen = c.waitEvent(0).type();
            } while (seen == IpcEventType.TIMEOUT && System.nanoTime() < until);
            assertEquals(IpcEventType.DISCONNECTION, seen);
            assertTrue(s.connections().isEmpty());
        }
    }

    @Test
    void timeoutIsHonoured() {
        String name = LibipcTestDirs.name("timeout");
        try (IpcServer s = server(name)) {
            long t0 = System.nanoTime();
            IpcEvent e = s.waitEvent(200);
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertEquals(IpcEventType.TIMEOUT, e.type());
            assertTrue(ms >= 199 && ms < 700, "took " + ms + " ms");
            assertEquals(IpcEventType.TIMEOUT, s.waitEvent(0).type());
        }
    }

    @Test
    void anInterruptedThreadGetsAnErrorNotASpin() {
        String name = LibipcTestDirs.name("intr");
        try (IpcServer s = server(name)) {
            Thread.currentThread().interrupt();
            try {
                IpcEvent e = s.waitEvent(-1);
                assertEquals(IpcEventType.ERROR, e.type());
                assertEquals("EINTR", ((IpcException) e.cause()).errnoName());
            } finally {
                Thread.interrupted();
            }
            assertEquals(IpcEventType.TIMEOUT, s.waitEvent(50).type());
        }
    }

    @Test
    void connectionMessageDisconnectionInOrderWithTheSameConnection() {
        String name = LibipcTestDirs.name("seq");
        try (IpcServer s = server(name)) {
            IpcConnection conn;
            try (IpcClient c = client(name)) {
                IpcEvent e = next(s);
                assertEquals(IpcEventType.CONNECTION, e.type());
                conn = e.connection();
                assertEquals(1, s.connections().size());
                c.write(IpcMessage.formatData("hello".getBytes()));
                e = next(s);
                assertEquals(IpcEventType.MESSAGE, e.type());
                assertSame(conn, e.connection());
                assertArrayEquals("hello".getBytes(), e.message().payloadBytes());
                e.connection().write(IpcMessage.formatData(ByteBuffer.wrap("world".getBytes())));
                assertArrayEquals("world".getBytes(), c.read(10_000).payloadBytes());
            }
            IpcEvent e = next(s);
            assertEquals(IpcEventType.DISCONNECTION, e.type());
            assertSame(conn, e.connection());
            assertFalse(conn.isOpen(), "closed before it is reported");
            assertTrue(s.connections().isEmpty(), "removed before it is reported");
        }
    }

    @Test
    void acceptReturnsAWatchedConnection() {
        String name = LibipcTestDirs.name("accept");
        try (IpcServer s = server(name)) {
            assertNull(s.accept(100));
            try (IpcClient c = client(name)) {
                IpcConnection conn = s.accept(10_000);
                assertNotNull(conn);
                c.write(IpcMessage.DATA, ByteBuffer.wrap(new byte[] {5}));
                IpcEvent e = next(s);
                assertEquals(IpcEventType.MESSAGE, e.type(), "no CONNECTION event for an accepted connection");
                assertSame(conn, e.connection());
            }
        }
    }

    @Test
    void delStopsWatchingAddResumes() {
        String name = LibipcTestDirs.name("adddel");
        try (IpcServer s = server(name); IpcClient c = client(name)) {
            IpcConnection conn = next(s).connection();
            assertTrue(s.del(conn));
            assertFalse(s.del(conn));
            c.write(IpcMessage.formatData(new byte[] {1}));
            assertEquals(IpcEventType.TIMEOUT, s.waitEvent(200).type(), "deleted: not watched");
            assertTrue(conn.isOpen(), "del does not close");
            s.add(conn);
            IpcEvent e = next(s);
            assertEquals(IpcEventType.MESSAGE, e.type());
            assertSame(conn, e.connection());
        }
    }

    @Test
    void addFdReportsAReadableChannelUntilItIsRead() throws Exception {
        String name = LibipcTestDirs.name("extra");
        Pipe pipe = Pipe.open();
        try (IpcServer s = server(name); Pipe.SinkChannel sink = pipe.sink(); Pipe.SourceChannel src = pipe.source()) {
            s.addFd(src);
            assertEquals(IpcEventType.TIMEOUT, s.waitEvent(100).type());
            sink.write(ByteBuffer.wrap(new byte[] {42}));
            IpcEvent e = next(s);
            assertEquals(IpcEventType.EXTRA_FD, e.type());
            assertSame(src, e.channel());
            assertEquals(-1, e.fd());
            assertEquals(IpcEventType.EXTRA_FD, next(s).type(), "level-triggered: still unread");
            ByteBuffer b = ByteBuffer.allocate(4);
            assertEquals(1, src.read(b));
            assertEquals(IpcEventType.TIMEOUT, s.waitEvent(100).type());
            assertTrue(s.delFd(src));
            sink.write(ByteBuffer.wrap(new byte[] {43}));
            assertEquals(IpcEventType.TIMEOUT, s.waitEvent(100).type(), "deleted");
        }
    }

    @Test
    void addFdOfARawFdWorksAndLeavesNoThread() {
        rawFdRound(); // the JDK starts some threads of its own (Cleaner) on first use
        LeakProbe.Snapshot before = LeakProbe.snapshot();
        rawFdRound();
        LeakProbe.assertNoLeak("raw fd watcher", before, Duration.ofSeconds(5));
    }

    private void rawFdRound() {
        String name = LibipcTestDirs.name("rawfd");
        int efd = Posix.check(Posix.C.eventfd(0, LibC.EFD_CLOEXEC | LibC.EFD_NONBLOCK), "eventfd");
        long buf = Posix.allocate(8);
        try (IpcServer s = server(name)) {
            s.addFd(efd);
            assertEquals(IpcEventType.TIMEOUT, s.waitEvent(100).type());
            Posix.MEM.writeLong(buf, 1);
            Posix.C.write(efd, buf, 8);
            IpcEvent e = next(s);
            assertEquals(IpcEventType.EXTRA_FD, e.type());
            assertEquals(efd, e.fd());
            assertNull(e.channel());
            assertEquals(IpcEventType.EXTRA_FD, next(s).type(), "level-triggered: still unread");
            assertEquals(8, Posix.C.read(efd, buf, 8));
            assertEquals(IpcEventType.TIMEOUT, s.waitEvent(150).type());
            // interleaves with connections
            try (IpcClient c = client(name)) {
                assertEquals(IpcEventType.CONNECTION, next(s).type());
            }
            assertEquals(IpcEventType.DISCONNECTION, next(s).type());
            assertTrue(s.delFd(efd));
            assertFalse(s.delFd(efd));
            Posix.C.write(efd, buf, 8);
            assertEquals(IpcEventType.TIMEOUT, s.waitEvent(150).type(), "deleted");
        } finally {
            Posix.closeQuietly(efd);
            Posix.free(buf, 8);
        }
    }

    @Test
    void aBusyConnectionDoesNotStarveTheOthers() throws Exception {
        String name = LibipcTestDirs.name("fair");
        try (IpcServer s = server(name); IpcClient busy = client(name); IpcClient quiet = client(name)) {
            IpcConnection busyConn = next(s).connection();
            IpcConnection quietConn = next(s).connection();
            // 2000 small frames from the busy client in one write, then one from the quiet one
            ByteBuffer burst = ByteBuffer.allocateDirect(2000 * 6);
            for (int i = 0; i < 2000; i++) {
                burst.put((byte) 2).putInt(Integer.reverseBytes(1)).put((byte) i);
            }
            burst.flip();
            busy.connection().raw.write(burst);
            assertEquals(0, burst.remaining());
            IpcEvent first = next(s);
            assertSame(busyConn, first.connection());
            quiet.write(IpcMessage.formatData(new byte[] {7}));
            // The quiet connection's message comes within a couple of events, not after 2000.
            int seen = 0;
            for (;;) {
                IpcEvent e = next(s);
                assertEquals(IpcEventType.MESSAGE, e.type());
                seen++;
                if (e.connection() == quietConn) {
                    break;
                }
                assertTrue(seen < 10, "quiet connection starved for " + seen + " events");
            }
            int rest = 0;
            while (s.waitEvent(500).type() == IpcEventType.MESSAGE) {
                rest++;
            }
            assertEquals(2000 - 1 - (seen - 1), rest, "every coalesced frame delivered");
        }
    }

    @Test
    void serverCloseIsSentWhenConfiguredAndReportedAsItsOwnEvent() {
        String name = LibipcTestDirs.name("sclose");
        IpcServer s = IpcServer.builder(name).runDirectory(dir.toString()).serverCloseOnClose(true).init();
        try (IpcClient a = client(name); IpcClient b = client(name)) {
            next(s);
            next(s);
            s.close();
            for (IpcClient c : new IpcClient[] {a, b}) {
                IpcEvent e = c.waitEvent(10_000);
                assertEquals(IpcEventType.SERVER_CLOSE, e.type());
                assertEquals(0, e.message().length());
                assertEquals(IpcEventType.DISCONNECTION, c.waitEvent(10_000).type());
                assertFalse(c.connection().isOpen());
            }
        } finally {
            s.close();
        }
        assertFalse(Files.exists(dir.resolve(name + "-0-0")));
    }

    @Test
    void noServerCloseByDefault() {
        String name = LibipcTestDirs.name("noclose");
        IpcServer s = server(name);
        try (IpcClient c = client(name)) {
            next(s);
            s.close();
            assertEquals(IpcEventType.DISCONNECTION, c.waitEvent(10_000).type());
            assertThrows(io.jqb.NotConnectedException.class, () -> c.read(0));
        } finally {
            s.close();
        }
    }

    @Test
    void writeOfMoreThanTheMaximumIsRefused() {
        String name = LibipcTestDirs.name("bigw");
        try (IpcServer s = IpcServer.builder(name).runDirectory(dir.toString()).maxPayload(100).init();
                IpcClient c = client(name)) {
            IpcConnection conn = next(s).connection();
            assertThrows(io.jqb.MessageTooLargeException.class, () -> conn.write(IpcMessage.DATA,
                    ByteBuffer.allocate(101)));
            conn.write(IpcMessage.DATA, ByteBuffer.allocate(100));
            assertEquals(100, c.read(10_000).length());
        }
    }

    @Test
    void clientWaitEventReportsExtraFds() throws Exception {
        String name = LibipcTestDirs.name("cextra");
        Pipe pipe = Pipe.open();
        try (IpcServer s = server(name); IpcClient c = client(name); Pipe.SinkChannel sink = pipe.sink();
                Pipe.SourceChannel src = pipe.source()) {
            c.addFd(src);
            sink.write(ByteBuffer.wrap(new byte[] {1}));
            IpcEvent e = c.waitEvent(10_000);
            assertEquals(IpcEventType.EXTRA_FD, e.type());
            assertSame(src, e.channel());
            assertThrows(IllegalStateException.class, () -> c.read(0), "read() would lose EXTRA_FD events");
            assertTrue(c.delFd(src));
            assertNull(c.read(0));
        }
    }
}
