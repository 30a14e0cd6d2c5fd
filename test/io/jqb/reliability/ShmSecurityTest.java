package io.jqb.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.Client;
import io.jqb.Connection;
import io.jqb.IpcException;
import io.jqb.Service;
import io.jqb.TransportType;
import io.jqb.testutil.EchoWire;
import io.jqb.testutil.InteropTestBase;
import io.jqb.testutil.NonBlockingEchoHandler;
import io.jqb.testutil.ShmAssert;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * Where and how a jqb server creates a connection's files (libqb #338 / CVE-2019-12779: symlink attacks in /dev/shm):
 * a fresh mkdtemp directory (0770, owned by the client), files created O_EXCL|O_NOFOLLOW (0600, owned by the client
 * unless authSet says otherwise); a symlink planted at a predictable file name makes the connection fail instead of
 * redirecting a write; a client that swaps its (client-owned) directory for a symlink cannot make the server create,
 * chown or delete anything outside /dev/shm.
 */
class ShmSecurityTest extends InteropTestBase {
    private static final int NOBODY = 65534;
    private final List<Path> cleanup = new ArrayList<>();

    @AfterEach
    void removeLeftovers() throws IOException {
        for (Path p : cleanup) {
            deleteTree(p);
        }
    }

    private Service service(NonBlockingEchoHandler h) throws IpcException {
        Service s = track(Service.create(serviceName(), 7, TransportType.SHM, h));
        s.run();
        return s;
    }

    @Test
    void defaultModesAndOwner() throws Exception {
        Service s = service(new NonBlockingEchoHandler());
        try (Client c = Client.connect(s.name(), 65536)) {
            Path dir = single(ShmAssert.entries(ShmAssert.ourPid(), ShmAssert.ourPid()));
            assertModes(dir, s.name(), uid(), gid(), "rw-------");
            assertTrue(c.isConnected());
        }
    }

    @Test
    void authSetChoosesOwnerAndMode() throws Exception {
        NonBlockingEchoHandler h = new NonBlockingEchoHandler() {
            @Override
            public int accept(Connection c, int uid, int gid) {
                c.authSet(1234, 5678, 0660);
                return super.accept(c, uid, gid);
            }
        };
        Service s = service(h);
        Assumptions.assumeTrue(uid() == 0, "chown to another uid needs root");
        try (Client c = Client.connect(s.name(), 65536)) {
            Path dir = single(ShmAssert.entries(ShmAssert.ourPid(), ShmAssert.ourPid()));
            assertModes(dir, s.name(), 1234, 5678, "rw-rw----");
            ConnectCyclesTest.echo(c, EchoWire.buffer(65536), EchoWire.buffer(65536), 3);
        }
    }

    /** A native libqb client running as nobody: directory and files belong to it, as with a libqb server. */
    @Test
    void nativeClientOfAnotherUidOwnsItsFiles() throws Exception {
        Assumptions.assumeTrue(uid() == 0 && Files.isExecutable(Path.of("/usr/bin/setpriv")), "needs root + setpriv");
        Service s = service(new NonBlockingEchoHandler());
        Process p = new ProcessBuilder("/usr/bin/setpriv", "--reuid=" + NOBODY, "--regid=" + NOBODY,
                "--clear-groups", io.jqb.testutil.NativeClient.clientBinary().toString(), "drive", "--service",
                s.name()).redirectErrorStream(true).start();
        try {
            OutputStream in = p.getOutputStream();
            BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
            in.write("connect\necho 100\n".getBytes(StandardCharsets.US_ASCII));
            in.flush();
            String l1 = out.readLine();
            assertTrue(l1 != null && l1.startsWith("ok bufsize="), "connect as nobody: " + l1);
            assertEquals("ok", out.readLine(), "echo as nobody");
            Path dir = single(ShmAssert.entries(ShmAssert.ourPid(), p.pid()));
            assertModes(dir, s.name(), NOBODY, NOBODY, "rw-------");
            in.write("quit\n".getBytes(StandardCharsets.US_ASCII));
            in.flush();
            assertEquals("ok", out.readLine());
            ShmAssert.assertGone(dir);
        } finally {
            p.destroyForcibly();
            p.waitFor(5, TimeUnit.SECONDS);
        }
    }

    /**
     * Symlinks planted at the predictable file names inside the connection directory (by the client, which owns
     * it, between the directory's creation and the rings'): creation fails with EEXIST, the client is refused, and
     * the link targets are untouched.
     */
    @Test
    void symlinkAtPredictableFileNameCannotRedirectAWrite() throws Exception {
        Path victim = Files.createTempFile("jqb-victim", ".txt");
        cleanup.add(victim);
        Files.writeString(victim, "precious");
        Set<PosixFilePermission> victimMode = Files.getPosixFilePermissions(victim);
        for (String ring : List.of("request", "response", "event")) {
            for (String part : List.of("header", "data")) {
                AtomicReference<Path> dirSeen = new AtomicReference<>();
                NonBlockingEchoHandler h = new NonBlockingEchoHandler() {
                    @Override
                    public int accept(Connection c, int uid, int gid) {
                        try {
                            Path dir = single(ShmAssert.entries(ShmAssert.ourPid(), ShmAssert.ourPid()));
                            dirSeen.set(dir);
                            Files.createSymbolicLink(dir.resolve("qb-" + ring + "-" + c.service().name() + "-"
                                    + part), victim);
                        } catch (IOException e) {
                            throw new IllegalStateException(e);
                        }
                        return 0;
                    }
                };
                Service s = track(Service.create(serviceName("-" + ring + part), 7, TransportType.SHM, h));
                s.run();
                IpcException e = assertThrows(IpcException.class, () -> Client.connect(s.name(), 65536).close(),
                        "connect with a planted " + ring + "-" + part + " symlink");
                assertEquals(17, e.errno(), "EEXIST expected, got " + e);
                assertEquals("precious", Files.readString(victim), "the symlink target was written");
                assertEquals(victimMode, Files.getPosixFilePermissions(victim));
                assertEquals(uid(), (int) Files.getAttribute(victim, "unix:uid"));
                Path dir = dirSeen.get();
                assertNotNull(dir);
                cleanup.add(dir);
                // The server removed every file it created; only the planted link may be left (and the directory
                // holding it, which the server cannot rmdir).
                if (Files.exists(dir)) {
                    try (Stream<Path> left = Files.list(dir)) {
                        List<Path> l = left.collect(java.util.stream.Collectors.toList());
                        assertEquals(1, l.size(), "left in " + dir + ": " + l);
                        assertTrue(Files.isSymbolicLink(l.get(0)), "left in " + dir + ": " + l);
                    }
                    deleteTree(dir);
                }
                s.close();
            }
        }
    }

    /**
     * The client owns its directory, so it may rename it and put a symlink to any directory in its place (here from
     * inside accept, the window between the directory's creation and the rings'). A root server must not follow it:
     * no file is created in, no owner changed on, and nothing deleted from the target.
     */
    @Test
    void swappedDirectoryCannotRedirectTheServer() throws Exception {
        Path target = Files.createTempDirectory("jqb-target");
        cleanup.add(target);
        Files.writeString(target.resolve("keep.txt"), "keep");
        int targetUid = (int) Files.getAttribute(target, "unix:uid");
        AtomicReference<Path> moved = new AtomicReference<>();
        NonBlockingEchoHandler h = new NonBlockingEchoHandler() {
            @Override
            public int accept(Connection c, int uid, int gid) {
                c.authSet(NOBODY, NOBODY, 0600);
                try {
                    Path dir = single(ShmAssert.entries(ShmAssert.ourPid(), ShmAssert.ourPid()));
                    Path away = dir.resolveSibling(dir.getFileName() + "-moved");
                    Files.move(dir, away);
                    moved.set(away);
                    cleanup.add(away);
                    Files.createSymbolicLink(dir, target);
                    cleanup.add(dir);
                } catch (IOException e) {
                    throw new IllegalStateException(e);
                }
                return 0;
            }
        };
        Service s = service(h);
        // The server must refuse (its files cannot be created through the symlink), not connect through it.
        assertThrows(IpcException.class, () -> Client.connect(s.name(), 65536).close(),
                "connected through a swapped directory");
        try (Stream<Path> l = Files.list(target)) {
            List<String> names = l.map(p -> p.getFileName().toString()).sorted()
                    .collect(java.util.stream.Collectors.toList());
            assertEquals(List.of("keep.txt"), names, "files the server created in the symlink's target");
        }
        assertEquals(targetUid, (int) Files.getAttribute(target, "unix:uid", LinkOption.NOFOLLOW_LINKS),
                "the server chowned the symlink's target");
        assertEquals("keep", Files.readString(target.resolve("keep.txt")));
        assertNotNull(moved.get());
    }

    // ------------------------------------------------------------------------------------------- helpers

    private static void assertModes(Path dir, String service, int owner, int group, String fileMode)
            throws IOException {
        assertFalse(Files.isSymbolicLink(dir), dir + " is a symlink");
        assertTrue(Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS));
        assertEquals("rwxrwx---", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir,
                LinkOption.NOFOLLOW_LINKS)), "mode of " + dir);
        assertEquals(owner, (int) Files.getAttribute(dir, "unix:uid", LinkOption.NOFOLLOW_LINKS), "owner of " + dir);
        assertEquals(group, (int) Files.getAttribute(dir, "unix:gid", LinkOption.NOFOLLOW_LINKS), "group of " + dir);
        ShmAssert.assertSixFiles(dir, service);
        try (Stream<Path> files = Files.list(dir)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                assertTrue(Files.isRegularFile(f, LinkOption.NOFOLLOW_LINKS), f + " is not a regular file");
                assertEquals(fileMode, PosixFilePermissions.toString(Files.getPosixFilePermissions(f,
                        LinkOption.NOFOLLOW_LINKS)), "mode of " + f);
                assertEquals(owner, (int) Files.getAttribute(f, "unix:uid", LinkOption.NOFOLLOW_LINKS), "owner of " + f);
                assertEquals(group, (int) Files.getAttribute(f, "unix:gid", LinkOption.NOFOLLOW_LINKS), "group of " + f);
                assertEquals(1, (int) Files.getAttribute(f, "unix:nlink", LinkOption.NOFOLLOW_LINKS), "links of " + f);
            }
        }
    }

    private static Path single(List<Path> l) {
        assertEquals(1, l.size(), "connection directories: " + l);
        return l.get(0);
    }

    private static int uid() throws IOException {
        return (int) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
    }

    private static int gid() throws IOException {
        return (int) Files.getAttribute(Path.of("/proc/self"), "unix:gid");
    }

    private static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
            try (Stream<Path> s = Files.walk(p)) {
                for (Path x : (Iterable<Path>) s.sorted(Comparator.reverseOrder())::iterator) {
                    Files.deleteIfExists(x);
                }
            }
        } else {
            Files.deleteIfExists(p);
        }
    }
}
