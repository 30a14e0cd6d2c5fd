package io.jqb;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.jqb.testutil.InteropTestBase;
import io.jqb.testutil.NativeClient;
import io.jqb.testutil.RecordingHandler;
import io.jqb.testutil.ShmAssert;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The agreed buffer size (spec 5.6) and the files in /dev/shm: their sizes, owners and modes, against native
 * clients.
 */
class ServiceShmFilesInteropTest extends InteropTestBase {
    private static final int PAGE = 4096;

    /** libqb's data file size for an agreed size: roundup(size + 13, page). */
    static long dataFileSize(int agreed) {
        return (agreed + 13L + PAGE - 1) / PAGE * PAGE;
    }

    @ParameterizedTest(name = "enforce {0}, client asks {1} -> {2}")
    @CsvSource({
        // enforced, client --max (0 = qbn-client's default 65536), agreed size
        "0,      5000,   12328",   // native clients never ask for less than 12328
        "0,      12328,  12328",
        "0,      0,      65536",
        "0,      100000, 100000",
        "100000, 5000,   100000",  // enforce is a lower bound ...
        "100000, 200000, 200000",  // ... not a cap
        "131072, 130048, 131072",  // libqb's stress test: client asks 1024 less than enforced
        "20000,  20000,  20000",
    })
    void agreedBufferSizeIsWhatLibqbGives(int enforced, int clientMax, int agreed) throws Exception {
        RecordingHandler h = new RecordingHandler();
        Service s = track(Service.create(serviceName(), 1, TransportType.SHM, h));
        s.enforceBufferSize(enforced);
        assertEquals(enforced, s.enforcedBufferSize());
        s.run();
        NativeClient nc = drive(s.name(), clientMax);
        assertEquals(agreed, nc.connect());
        assertEquals(Integer.toString(agreed), nc.ok("bufsize"));
        Connection c = connectionOf(s, nc);
        assertEquals(agreed, c.bufferSize());

        Path dir = ShmAssert.connectionDir(nc.pid());
        ShmAssert.assertSixFiles(dir, s.name());
        for (String ring : new String[] {"request", "response", "event"}) {
            Path data = dir.resolve("qb-" + ring + "-" + s.name() + "-data");
            assertEquals(dataFileSize(agreed), Files.size(data), data.toString());
            Path header = dir.resolve("qb-" + ring + "-" + s.name() + "-header");
            // created with 8252 bytes; the libqb client truncates the response and event headers to 8248 on open
            assertEquals(ring.equals("request") ? 8252 : 8248, Files.size(header), header.toString());
        }
        // the largest message that fits in each direction
        nc.echo(agreed - 24);
        nc.expect("send 1 " + (agreed - 16 + 1), "err EMSGSIZE");
        nc.echo(0);
    }

    @Test
    void filesBelongToTheClientByDefault() throws Exception {
        RecordingHandler h = new RecordingHandler();
        Service s = start(h);
        NativeClient nc = drive(s.name());
        nc.connect();
        Path dir = ShmAssert.connectionDir(nc.pid());
        // qbn-client runs as our uid/gid
        int uid = (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
        int gid = (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:gid");
        Connection c = connectionOf(s, nc);
        assertEquals(uid, c.clientUid());
        assertEquals(gid, c.clientGid());
        assertOwner(dir, uid, gid, "rwxrwx---");
        for (String f : ShmAssert.sixFiles(s.name())) {
            assertOwner(dir.resolve(f), uid, gid, "rw-------");
        }
    }

    @Test
    void authSetChangesOwnerAndModeOfDirectoryAndFiles() throws Exception {
        Assumptions.assumeTrue(isRoot(), "auth_set needs root to give files away (CI runs as root)");
        RecordingHandler h = new RecordingHandler();
        h.onAccept = c -> {
            c.authSet(1234, 5678, 0660);
            return 0;
        };
        Service s = start(h);
        NativeClient nc = drive(s.name());
        nc.connect();
        Path dir = ShmAssert.connectionDir(nc.pid());
        assertOwner(dir, 1234, 5678, "rwxrwx---");
        ShmAssert.assertSixFiles(dir, s.name());
        for (String f : ShmAssert.sixFiles(s.name())) {
            assertOwner(dir.resolve(f), 1234, 5678, "rw-rw----");
        }
        Connection c = connectionOf(s, nc);
        assertEquals(0, c.clientUid(), "auth_set changes the files, not the client's credentials");
        nc.echo(4096);
        nc.expect("disconnect", "ok");
        assertCountSettles("destroyed", h.destroyed, 1);
        ShmAssert.assertGone(dir);
    }

    static boolean isRoot() {
        try {
            return (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid") == 0;
        } catch (java.io.IOException e) {
            return false;
        }
    }

    static void assertOwner(Path p, int uid, int gid, String perms) throws Exception {
        assertEquals(uid, Files.getAttribute(p, "unix:uid", LinkOption.NOFOLLOW_LINKS), "uid of " + p);
        assertEquals(gid, Files.getAttribute(p, "unix:gid", LinkOption.NOFOLLOW_LINKS), "gid of " + p);
        assertEquals(perms, PosixFilePermissions.toString(Files.getPosixFilePermissions(p, LinkOption.NOFOLLOW_LINKS)),
                "mode of " + p);
    }
}
