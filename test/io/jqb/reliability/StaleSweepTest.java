package io.jqb.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.Service;
import io.jqb.TransportType;
import io.jqb.internal.server.StaleSweep;
import io.jqb.testutil.InteropTestBase;
import io.jqb.testutil.NonBlockingEchoHandler;
import io.jqb.testutil.ShmAssert;
import io.jqb.testutil.StderrCapture;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The stale sweep a service runs on start: it removes {@code /dev/shm/qb-<pid>-<clientpid>-<fd>-XXXXXX} directories
 * whose server and client are provably dead (no such process, or a zombie) and that are real directories owned by
 * us holding only libqb files, and touches nothing else.
 */
class StaleSweepTest extends InteropTestBase {
    private static final String SVC = "stalesvc";
    private final List<Path> planted = new ArrayList<>();
    private final List<Process> children = new ArrayList<>();

    @AfterEach
    void cleanUp() throws Exception {
        for (Process p : children) {
            p.destroyForcibly();
            p.waitFor(5, TimeUnit.SECONDS);
        }
        for (Path p : planted) {
            deleteTree(p);
        }
    }

    @Test
    void removesOnlyWhatIsProvablyStale() throws Exception {
        int dead1 = deadPid();
        int dead2 = deadPid();
        Process live = child("sleep", "60");
        int alive = (int) live.pid();
        int zombie = zombiePid();
        int me = (int) ShmAssert.ourPid();

        Path stale = plantDir(dead1, dead2, true);
        Path staleSocket = plant("qb-" + dead1 + "-" + dead2 + "-9-Sock42", List.of("qb-control-" + SVC));
        Path zombieServer = plantDir(zombie, dead2, true);
        Path emptyStale = plant("qb-" + dead2 + "-" + dead1 + "-3-Empty0", List.of());
        Path liveServer = plantDir(alive, dead2, true);
        Path liveClient = plantDir(dead1, alive, true);
        Path ours = plantDir(me, dead2, true);
        Path unexpected = plantDir(dead1, dead2, true);
        Files.writeString(unexpected.resolve("notes.txt"), "not libqb's");
        Path withSubdir = plantDir(dead1, dead2, true);
        Files.createDirectory(withSubdir.resolve("qb-request-" + SVC + "-data-dir"));
        Path victim = Files.createTempFile("jqb-victim", ".txt");
        planted.add(victim);
        Files.writeString(victim, "victim");
        Path withSymlink = plant("qb-" + dead1 + "-" + dead2 + "-5-Symlnk", List.of());
        Files.createSymbolicLink(withSymlink.resolve("qb-request-" + SVC + "-header"), victim);
        Path otherOwner = plantDir(dead1, dead2, true);
        Files.setAttribute(otherOwner, "unix:uid", 65534, LinkOption.NOFOLLOW_LINKS);
        Path realDir = Files.createTempDirectory("jqb-realdir");
        planted.add(realDir);
        Files.writeString(realDir.resolve("qb-request-" + SVC + "-header"), "must stay");
        Path dirSymlink = ShmAssert.SHM.resolve("qb-" + dead1 + "-" + dead2 + "-6-LnkDir");
        Files.createSymbolicLink(dirSymlink, realDir);
        planted.add(dirSymlink);
        Path badName = plant("qb-" + dead1 + "-x-" + dead2 + "-Bad123", List.of("qb-request-" + SVC + "-header"));

        Service s = track(Service.create(serviceName(), 7, TransportType.SHM, new NonBlockingEchoHandler()));
        try (StderrCapture log = new StderrCapture()) {
            s.run();
            assertFalse(log.lines("removed stale " + stale).isEmpty(), "no log line for " + stale);
        }

        for (Path p : List.of(stale, staleSocket, zombieServer, emptyStale)) {
            assertFalse(Files.exists(p, LinkOption.NOFOLLOW_LINKS), p + " should have been swept");
        }
        for (Path p : List.of(liveServer, liveClient, ours, unexpected, withSubdir, withSymlink, otherOwner,
                dirSymlink, badName)) {
            assertTrue(Files.exists(p, LinkOption.NOFOLLOW_LINKS), p + " must be left alone");
        }
        assertEquals(7, Files.list(unexpected).count(), "contents of " + unexpected);
        assertEquals("victim", Files.readString(victim));
        assertTrue(Files.isSymbolicLink(withSymlink.resolve("qb-request-" + SVC + "-header")));
        assertEquals("must stay", Files.readString(realDir.resolve("qb-request-" + SVC + "-header")));
        assertTrue(Files.isSymbolicLink(dirSymlink));
        assertTrue(StaleSweep.provablyDead(dead1));
        assertTrue(StaleSweep.provablyDead(zombie), "zombie " + zombie);
        assertFalse(StaleSweep.provablyDead(alive));
        assertFalse(StaleSweep.provablyDead(me));
        assertFalse(StaleSweep.provablyDead(1), "pid 1");
    }

    @Test
    void canBeDisabled() throws Exception {
        Path stale = plantDir(deadPid(), deadPid(), true);
        Service s = track(Service.create(serviceName(), 7, TransportType.SHM, new NonBlockingEchoHandler()));
        s.setStaleSweep(false);
        s.run();
        assertTrue(Files.exists(stale), "swept although disabled");
    }

    // ------------------------------------------------------------------------------------------- helpers

    /** A pid that certainly existed and is now gone (reaped). */
    private static int deadPid() throws Exception {
        Process p = new ProcessBuilder("true").start();
        assertEquals(0, p.waitFor());
        int pid = (int) p.pid();
        assertTrue(StaleSweep.provablyDead(pid), "pid " + pid + " reused already");
        return pid;
    }

    /** A zombie: a child of {@code sleep} (which never reaps it). */
    private int zombiePid() throws Exception {
        Process p = child("sh", "-c", "sleep 0.2 & echo $!; exec sleep 60");
        String line = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.US_ASCII))
                .readLine();
        int pid = Integer.parseInt(line.trim());
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (!Files.readString(Path.of("/proc/" + pid + "/stat")).strip().matches(".*\\) Z .*")) {
            assertTrue(System.nanoTime() < deadline, "pid " + pid + " never became a zombie");
            Thread.sleep(10);
        }
        return pid;
    }

    private Process child(String... cmd) throws IOException {
        Process p = new ProcessBuilder(cmd).start();
        children.add(p);
        return p;
    }

    private Path plantDir(int serverPid, int clientPid, boolean files) throws IOException {
        String suffix = Long.toString(System.nanoTime() % 1_000_000 + 1_000_000, 36).substring(0, 4) + "Zz";
        List<String> names = new ArrayList<>();
        if (files) {
            names.addAll(ShmAssert.sixFiles(SVC));
        }
        return plant("qb-" + serverPid + "-" + clientPid + "-" + (planted.size() + 10) + "-" + suffix, names);
    }

    private Path plant(String name, List<String> files) throws IOException {
        Path d = ShmAssert.SHM.resolve(name);
        Files.createDirectory(d);
        planted.add(d);
        for (String f : files) {
            Files.write(d.resolve(f), new byte[64]);
        }
        return d;
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
