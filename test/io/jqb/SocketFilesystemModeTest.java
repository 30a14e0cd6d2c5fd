package io.jqb;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.internal.posix.Posix;
import io.jqb.internal.setup.SocketNames;
import io.jqb.testutil.EchoWire;
import io.jqb.testutil.ForceFilesystemSwitch;
import io.jqb.testutil.HostSwitchWatcher;
import io.jqb.testutil.Tracked;
import io.jqb.testutil.NativeClient;
import io.jqb.testutil.NativeServer;
import io.jqb.testutil.RecordingHandler;
import io.jqb.testutil.ShmAssert;
import io.jqb.testutil.SocketFiles;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Issue 4, filesystem socket mode, switched by the REAL {@code /etc/libqb/force-filesystem-sockets} against real
 * native libqb 2.0.6 peers (which decide once per process, at their first IPC call): jqb services and clients in
 * filesystem mode talk to native ones over SOCKET and SHM, the listening socket is {@code /tmp/<name>} with mode 0777
 * while serving and gone afterwards, a stale one from a killed server is replaced, and a client in the other mode is
 * refused. The host's switch file is never created: native peers see one in their own mount namespace and jqb reads a
 * private one (see {@link ForceFilesystemSwitch}); {@link HostSwitchWatcher} fails the class if the real one appears.
 */
class SocketFilesystemModeTest {
    static final long OUR_PID = ProcessHandle.current().pid();
    static final int MAX = 65_536;
    static final Path SOCKET_DIR = Path.of("/tmp");
    private static final AtomicInteger NAMES = new AtomicInteger();

    private final Tracked tracked = new Tracked();
    private final List<String> names = new ArrayList<>();

    @BeforeAll
    static void hostIsInAbstractMode() {
        assertTrue(ForceFilesystemSwitch.awaitAbsent(10_000), ForceFilesystemSwitch.FILE + " exists before the tests:"
                + " the host is in filesystem-socket mode (a crashed run, or someone else's); not touching it");
    }

    @AfterEach
    void cleanUp() throws Exception {
        ForceFilesystemSwitch.off();
        try {
            tracked.closeAll();
        } finally {
            for (String n : names) {
                // a failed test may have left one (the test itself asserts it is gone)
                Files.deleteIfExists(SOCKET_DIR.resolve(n));
            }
            names.clear();
            System.clearProperty(SocketNames.FORCE_FILE_PROPERTY);
            System.clearProperty(SocketNames.SOCKET_DIR_PROPERTY);
        }
    }

    @AfterAll
    static void nothingLeft() {
        ForceFilesystemSwitch.off();
        assertFalse(ForceFilesystemSwitch.heldHere(), ForceFilesystemSwitch.FILE + " left behind");
        NativeClient.killAll();
        NativeClient.assertNoChildProcesses();
        ShmAssert.assertNoneLeft();
        HostSwitchWatcher.assertNeverAppeared();
    }

    <T extends AutoCloseable> T track(T r) {
        return tracked.add(r);
    }

    String uniqueName(String tag) {
        String n = "jqbf-" + tag + "-" + OUR_PID + "-" + NAMES.incrementAndGet();
        names.add(n);
        return n;
    }

    /** Runs the service with the (private) switch file present (jqb decides at run()). */
    Service serviceInFilesystemMode(String name, TransportType type, ServiceHandler h) throws Exception {
        Service s = track(Service.create(name, 9, type, h));
        ForceFilesystemSwitch.with(() -> {
            s.run();
            return null;
        });
        return s;
    }

    Service serviceInAbstractMode(String name, TransportType type, ServiceHandler h) throws Exception {
        Service s = track(Service.create(name, 9, type, h));
        ForceFilesystemSwitch.withoutSwitch(() -> {
            s.run();
            return null;
        });
        return s;
    }

    /** A native server that made its once-per-process decision seeing the switch file (in its own namespace). */
    NativeServer nativeServerInFilesystemMode(String name, String transport) throws Exception {
        return ForceFilesystemSwitch.with(() -> track(NativeServer.start(name, "--transport", transport)));
    }

    /** Asserts the service listens on /tmp/<name> (a socket, mode 0777) and not on the abstract @name. */
    static long assertListensOnTmp(String name) {
        Path p = SOCKET_DIR.resolve(name);
        long ino = SocketFiles.assertSocketFile(p, 0777);
        assertTrue(SocketFiles.pathBound(p), p + " is not a bound socket in /proc/net/unix");
        assertFalse(SocketFiles.abstractNameBound(name), "@" + name + " is bound as well");
        return ino;
    }

    static void assertNothingListens(String name) {
        Path p = SOCKET_DIR.resolve(name);
        SocketFiles.assertGone(p);
        assertFalse(SocketFiles.pathBound(p), p + " still bound");
        assertFalse(SocketFiles.abstractNameBound(name), "@" + name + " bound");
    }

    /** {@code jqb check} (io.jqb.cli.CheckCommand) in this JVM, so that it follows this JVM's switch decisions. */
    static String jqbCheck(String service) throws Exception {
        Method run = Class.forName("io.jqb.cli.CheckCommand").getDeclaredMethod("run", String[].class,
                PrintStream.class);
        run.setAccessible(true);
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        int rc;
        try (PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8)) {
            rc = (int) run.invoke(null, new String[] {"--service", service}, out);
        } catch (InvocationTargetException e) {
            throw (Exception) e.getCause();
        }
        String text = bytes.toString(StandardCharsets.UTF_8);
        String[] lines = text.strip().split("\n");
        assertEquals("23 passed, 0 failed", lines[lines.length - 1], "jqb check against " + service + ":\n" + text);
        assertFalse(text.contains("FAIL"), text);
        assertEquals(0, rc, text);
        return text;
    }

    static void echo(Client c, int n, int seed) throws IpcException {
        ByteBuffer req = EchoWire.request(EchoWire.buffer(EchoWire.REQUEST_HEADER + n), EchoWire.ECHO, n, seed);
        ByteBuffer resp = EchoWire.buffer(EchoWire.RESPONSE_HEADER + n);
        assertEquals(EchoWire.REQUEST_HEADER + n, c.send(req));
        EchoWire.assertEcho(resp, c.recv(resp, 5000), n, seed);
    }

    static void assertRefused(IpcException e, String what) {
        assertEquals("ECONNREFUSED", e.errnoName(), what + ": " + e.getMessage());
        assertEquals(Errno.ECONNREFUSED, e.errno(), what);
        assertTrue(e.getMessage().contains("Connection refused"), what + ": " + e.getMessage());
    }

    // ------------------------------------------------------------------------------------------- jqb server

    @Test
    void jqbSocketServiceInFilesystemModeServesNativeClientsInFilesystemMode() throws Exception {
        String name = uniqueName("js");
        RecordingHandler h = new RecordingHandler();
        Service s = serviceInFilesystemMode(name, TransportType.SOCKET, h);
        assertFalse(ForceFilesystemSwitch.heldHere());
        assertListensOnTmp(name);

        // the full contract; the switch goes away as soon as the client has connected (it decided before that)
        Thread w = ForceFilesystemSwitch.onUntil(() -> h.created.get() >= 1, 10_000);
        NativeClient.CheckResult r;
        try {
            r = NativeClient.check(name, 0, Duration.ofSeconds(30));
        } finally {
            ForceFilesystemSwitch.off();
            w.join(1000);
        }
        r.assertPassed();
        assertEquals(22, r.passed(), r.stdout());

        // the data path is still the abstract datagram sockets and the control file
        NativeClient d = track(ForceFilesystemSwitch.with(() -> NativeClient.drive(name)));
        d.connect();
        Path dir = SocketFiles.connectionDir(OUR_PID, d.pid());
        SocketFiles.assertDatagramSockets(dir, name);
        SocketFiles.assertControlFileOnly(dir, name, Posix.C.getuid(), Posix.C.getgid(), 0600);
        d.echo(1000);
        d.expect("disconnect", "ok");
        SocketFiles.assertGone(dir);
        SocketFiles.assertNoSocketsUnder(dir);

        s.close();
        assertNothingListens(name);
    }

    @Test
    void jqbShmServiceInFilesystemModeServesNativeClientsInFilesystemMode() throws Exception {
        String name = uniqueName("jm");
        RecordingHandler h = new RecordingHandler();
        Service s = serviceInFilesystemMode(name, TransportType.SHM, h);
        assertListensOnTmp(name);
        Thread w = ForceFilesystemSwitch.onUntil(() -> h.created.get() >= 1, 10_000);
        NativeClient.CheckResult r;
        try {
            r = NativeClient.check(name, 0, Duration.ofSeconds(30));
        } finally {
            ForceFilesystemSwitch.off();
            w.join(1000);
        }
        r.assertPassed();
        assertEquals(22, r.passed(), r.stdout());

        NativeClient d = track(ForceFilesystemSwitch.with(() -> NativeClient.drive(name)));
        d.connect();
        Path dir = SocketFiles.connectionDir(OUR_PID, d.pid());
        ShmAssert.assertSixFiles(dir, name);
        d.echo(1000);
        d.expect("disconnect", "ok");
        SocketFiles.assertGone(dir);

        s.close();
        assertNothingListens(name);
    }

    // ------------------------------------------------------------------------------------------- native server

    @Test
    void nativeSocketServerInFilesystemModeServesJqbClientsInFilesystemMode() throws Exception {
        String name = uniqueName("ns");
        NativeServer srv = nativeServerInFilesystemMode(name, "socket");
        assertFalse(ForceFilesystemSwitch.heldHere());
        assertListensOnTmp(name);

        Client c = track(ForceFilesystemSwitch.with(() -> Client.connect(name, MAX)));
        Path dir = SocketFiles.connectionDir(srv.pid(), OUR_PID);
        SocketFiles.assertDatagramSockets(dir, name);
        SocketFiles.assertControlFileOnly(dir, name, Posix.C.getuid(), Posix.C.getgid(), 0600);
        echo(c, 0, 0);
        echo(c, MAX - EchoWire.RESPONSE_HEADER, 1);
        c.close();
        SocketFiles.assertGone(dir);
        SocketFiles.assertNoSocketsUnder(dir);

        // the full contract (jqb check in this JVM); the switch goes away once the server has the connection
        Thread w = ForceFilesystemSwitch.onUntil(() -> "ok 1".equals(srv.command("conns")), 10_000);
        try {
            jqbCheck(name);
        } finally {
            ForceFilesystemSwitch.off();
            w.join(1000);
        }
        SocketTransportTest.awaitAnswer(srv, "stats", "ok active=0 closed=2");

        srv.close();
        assertNothingListens(name);
        ShmAssert.assertNoneLeft(srv.pid());
    }

    @Test
    void nativeShmServerInFilesystemModeServesJqbClientsInFilesystemMode() throws Exception {
        String name = uniqueName("nm");
        NativeServer srv = nativeServerInFilesystemMode(name, "shm");
        assertListensOnTmp(name);
        Client c = track(ForceFilesystemSwitch.with(() -> Client.connect(name, MAX)));
        Path dir = SocketFiles.connectionDir(srv.pid(), OUR_PID);
        ShmAssert.assertSixFiles(dir, name);
        echo(c, 4097, 2);
        c.close();
        SocketFiles.assertGone(dir);

        Thread w = ForceFilesystemSwitch.onUntil(() -> "ok 1".equals(srv.command("conns")), 10_000);
        try {
            jqbCheck(name);
        } finally {
            ForceFilesystemSwitch.off();
            w.join(1000);
        }
        srv.close();
        assertNothingListens(name);
        ShmAssert.assertNoneLeft(srv.pid());
    }

    // ------------------------------------------------------------------------------------------- mixed modes

    @Test
    void abstractModeClientsAreRefusedByFilesystemModeServers() throws Exception {
        String jname = uniqueName("mj");
        serviceInFilesystemMode(jname, TransportType.SOCKET, new RecordingHandler());
        String nname = uniqueName("mn");
        nativeServerInFilesystemMode(nname, "socket");
        assertFalse(ForceFilesystemSwitch.heldHere());

        ForceFilesystemSwitch.withoutSwitch(() -> {
            assertRefused(assertThrows(IpcException.class, () -> track(Client.connect(jname, MAX))), "jqb → jqb");
            assertRefused(assertThrows(IpcException.class, () -> track(Client.connect(nname, MAX))), "jqb → native");
            NativeClient d = track(NativeClient.drive(jname));
            d.expect("connect", "err ECONNREFUSED");
            return null;
        });
        assertListensOnTmp(jname);
        assertListensOnTmp(nname);
    }

    @Test
    void filesystemModeClientsAreRefusedByAbstractModeServers() throws Exception {
        String jname = uniqueName("aj");
        serviceInAbstractMode(jname, TransportType.SOCKET, new RecordingHandler());
        String nname = uniqueName("an");
        ForceFilesystemSwitch.withoutSwitch(() -> track(NativeServer.start(nname, "--transport", "socket")));
        assertTrue(SocketFiles.abstractNameBound(jname));
        assertFalse(Files.exists(SOCKET_DIR.resolve(jname)));

        assertRefused(assertThrows(IpcException.class,
                () -> ForceFilesystemSwitch.with(() -> track(Client.connect(jname, MAX)))), "jqb → jqb");
        assertRefused(assertThrows(IpcException.class,
                () -> ForceFilesystemSwitch.with(() -> track(Client.connect(nname, MAX)))), "jqb → native");
        // libqb's own client reports the missing /tmp/<name> as it is (ENOENT), not as a refusal
        NativeClient d = track(ForceFilesystemSwitch.with(() -> NativeClient.drive(jname)));
        d.expect("connect", "err ENOENT");
        // both still serve clients in their own mode
        ForceFilesystemSwitch.withoutSwitch(() -> {
            try (Client c = Client.connect(jname, MAX)) {
                echo(c, 10, 3);
            }
            try (Client c = Client.connect(nname, MAX)) {
                echo(c, 10, 4);
            }
            return null;
        });
    }

    // ------------------------------------------------------------------------------------------- stale socket

    @Test
    void staleSocketFileOfAKilledServerIsReplacedWhenAJqbServiceStartsInFilesystemMode() throws Exception {
        String name = uniqueName("st");
        Path p = SOCKET_DIR.resolve(name);
        NativeServer dead = nativeServerInFilesystemMode(name, "socket");
        assertListensOnTmp(name);
        dead.kill();
        assertTrue(Files.exists(p), "a SIGKILLed server cannot remove " + p);
        assertFalse(SocketFiles.pathBound(p), p + " still bound after its server died");
        // mark the stale file (ext4 may hand its inode number to the next file): mode 0600, mtime in 2001
        Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rw-------"));
        Files.setLastModifiedTime(p, FileTime.fromMillis(1_000_000_000_000L));
        SocketFiles.assertSocketFile(p, 0600);
        // nobody listens there: a filesystem-mode client is refused
        assertRefused(assertThrows(IpcException.class,
                () -> ForceFilesystemSwitch.with(() -> track(Client.connect(name, MAX)))), "stale socket");

        RecordingHandler h = new RecordingHandler();
        Service s = serviceInFilesystemMode(name, TransportType.SOCKET, h);
        // bind would have failed with EADDRINUSE had the stale file stayed; and this is a new one
        assertListensOnTmp(name);
        long age = System.currentTimeMillis() - Files.getLastModifiedTime(p).toMillis();
        assertTrue(age < 60_000, "the socket file is " + age + " ms old: the stale one was not replaced");

        NativeClient d = track(ForceFilesystemSwitch.with(() -> NativeClient.drive(name)));
        d.connect();
        d.echo(2000);
        d.expect("disconnect", "ok");
        s.close();
        assertNothingListens(name);
    }

    // ------------------------------------------------------------------------------------------- Java-only switch

    @Test
    void systemPropertiesPutBothJqbSidesInFilesystemModeInAnotherDirectory() throws Exception {
        Path dir = Files.createTempDirectory("jqbf-sock");
        Path force = Files.createFile(dir.resolve("force"));
        String name = uniqueName("pr");
        Path sock = dir.resolve(name);
        try {
            System.setProperty(SocketNames.FORCE_FILE_PROPERTY, force.toString());
            System.setProperty(SocketNames.SOCKET_DIR_PROPERTY, dir.toString());
            RecordingHandler h = new RecordingHandler();
            Service s = track(Service.create(name, 9, TransportType.SOCKET, h));
            s.run();
            SocketFiles.assertSocketFile(sock, 0777);
            assertTrue(SocketFiles.pathBound(sock));
            assertFalse(SocketFiles.abstractNameBound(name));
            try (Client c = Client.connect(name, MAX)) {
                echo(c, 100, 5);
                Path cdir = SocketFiles.connectionDir(OUR_PID, OUR_PID);
                SocketFiles.assertDatagramSockets(cdir, name);
            }
            // a client that follows the host's (abstract) setting is refused
            System.setProperty(SocketNames.FORCE_FILE_PROPERTY, dir.resolve("absent").toString());
            assertRefused(assertThrows(IpcException.class, () -> track(Client.connect(name, MAX))), "abstract client");
            s.close();
            SocketFiles.assertGone(sock);

            // libqb: "Required directory not present"
            System.setProperty(SocketNames.FORCE_FILE_PROPERTY, force.toString());
            System.setProperty(SocketNames.SOCKET_DIR_PROPERTY, dir.resolve("missing").toString());
            Service s2 = track(Service.create(uniqueName("pr"), 9, TransportType.SOCKET, h));
            IpcException e = assertThrows(IpcException.class, s2::run);
            assertEquals("ENOENT", e.errnoName(), e.getMessage());
            assertTrue(e.getMessage().contains("Required directory not present"), e.getMessage());
        } finally {
            System.clearProperty(SocketNames.FORCE_FILE_PROPERTY);
            System.clearProperty(SocketNames.SOCKET_DIR_PROPERTY);
            Files.deleteIfExists(sock);
            Files.deleteIfExists(force);
            Files.deleteIfExists(dir);
        }
    }
}
