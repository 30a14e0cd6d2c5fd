package io.jqb.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.Service;
import io.jqb.StaleDirectory;
import io.jqb.TransportType;
import io.jqb.internal.server.StaleSweep;
import io.jqb.testutil.InteropTestBase;
import io.jqb.testutil.JqbCliProcess;
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
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The stale sweep: {@code qb-<pid>-<clientpid>-<fd>-XXXXXX} directories whose server and client are provably dead (no
 * such process, or a zombie) and that are real directories owned by us holding only libqb files. A service's start-up
 * sweep removes only those provably of its own service name; every service's is the explicit
 * {@code Service.sweepStaleDirectories} / {@code jqb sweep}. The full matrix runs on a private root (a temporary
 * directory), so no test removes anything of another process; /dev/shm only sees directories planted here.
 */
class StaleSweepTest extends InteropTestBase {
    private static final String SVC = "stalesvc";
    private final List<Path> planted = new ArrayList<>();
    /** Where {@link #plant} creates directories: /dev/shm, or a private root for the any-service matrix. */
    private Path root = ShmAssert.SHM;
    private final List<Process> children = new ArrayList<>();

    @AfterEach
    void cleanUp() throws Exception {
        System.clearProperty("jqb.staleSweepRoot");
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
        root = privateRoot();
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
        Path dirSymlink = root.resolve("qb-" + dead1 + "-" + dead2 + "-6-LnkDir");
        Files.createSymbolicLink(dirSymlink, realDir);
        planted.add(dirSymlink);
        Path badName = plant("qb-" + dead1 + "-x-" + dead2 + "-Bad123", List.of("qb-request-" + SVC + "-header"));
        Path otherService = plant("qb-" + dead1 + "-" + dead2 + "-8-Other1", List.copyOf(ShmAssert.sixFiles("other")));

        StaleSweep.Result dry = StaleSweep.sweep(root, me, StaleSweep.effectiveUid(), null, true);
        assertEquals(List.of(), removedNames(StaleSweep.sweep(root, me, StaleSweep.effectiveUid(), SVC + "x", true)),
                "no directory is provably of a service that has none");
        assertEquals(removedNames(dry).size(), 5, "dry run: " + dry.removed);
        assertTrue(Files.exists(stale), "a dry run removes nothing");
        StaleSweep.Result r;
        try (StderrCapture log = new StderrCapture()) {
            r = StaleSweep.sweep(root, me, StaleSweep.effectiveUid(), null, false);
            assertFalse(log.lines("removed stale " + stale).isEmpty(), "no log line for " + stale);
        }
        assertEquals(removedNames(dry), removedNames(r), "the dry run predicted the sweep");
        assertTrue(r.removed.stream().allMatch(e -> e.reason.matches("server pid \\d+ and client pid \\d+ are gone")),
                r.removed.toString());

        for (Path p : List.of(stale, staleSocket, zombieServer, emptyStale, otherService)) {
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
    void aServiceRemovesOnlyItsOwnStaleDirectories() throws Exception {
        root = privateRoot();
        String name = serviceName();
        int dead1 = deadPid();
        int dead2 = deadPid();
        Path own = plantDir(dead1, dead2, name);
        Path ownSocket = plant("qb-" + dead1 + "-" + dead2 + "-9-" + suffix(), List.of("qb-control-" + name));
        Path foreign = plantDir(dead1, dead2, name + "x");
        Path mixed = plant("qb-" + dead2 + "-" + dead1 + "-7-" + suffix(),
                List.of("qb-request-" + name + "-header", "qb-request-other-data"));
        Path empty = plant("qb-" + dead2 + "-" + dead1 + "-6-" + suffix(), List.of());
        Service s = track(Service.create(name, 7, TransportType.SHM, new NonBlockingEchoHandler()));
        try (StderrCapture log = new StderrCapture()) {
            s.run();
            assertFalse(log.lines("removed stale " + own).isEmpty(), "no log line for " + own);
        }
        assertFalse(Files.exists(own), own + ": this service's, provably stale");
        assertFalse(Files.exists(ownSocket), ownSocket + ": this service's SOCKET control file only");
        for (Path p : List.of(foreign, mixed, empty)) {
            assertTrue(Files.exists(p), p + " is not provably this service's: a service must leave it");
        }
    }

    @Test
    void theExplicitSweepListsEveryServicesStaleDirectoriesWithTheReason() throws Exception {
        root = privateRoot();
        int dead1 = deadPid();
        int dead2 = deadPid();
        Path foreign = plantDir(dead1, dead2, serviceName() + "-foreign");
        List<StaleDirectory> found = Service.sweepStaleDirectories(true);
        assertEquals(found, Service.sweepStaleDirectories(root, true));
        StaleDirectory d = found.stream().filter(x -> x.directory().equals(foreign)).findFirst().orElse(null);
        assertTrue(d != null, foreign + " not in " + found);
        assertEquals("server pid " + dead1 + " and client pid " + dead2 + " are gone", d.reason());
        assertTrue(Files.exists(foreign), "a dry run removes nothing");
        try (JqbCliProcess cli = JqbCliProcess.start("sweep", "--dry-run", "--root", root.toString())) {
            assertEquals(Integer.valueOf(0), cli.waitFor(60_000), cli.describe());
            String out = cli.stdout();
            assertTrue(out.contains("would remove " + foreign + ": server pid " + dead1 + " and client pid " + dead2
                    + " are gone"), out);
            assertTrue(out.strip().endsWith("would be removed"), out);
        }
        assertTrue(Files.exists(foreign), "jqb sweep --dry-run removes nothing");
        try (JqbCliProcess cli = JqbCliProcess.start("sweep", "--root", root.toString())) {
            assertEquals(Integer.valueOf(0), cli.waitFor(60_000), cli.describe());
            assertTrue(cli.stdout().contains("removed " + foreign + ": server pid " + dead1 + " and client pid "
                    + dead2 + " are gone"), cli.stdout());
            assertTrue(cli.stdout().strip().endsWith("1 removed"), cli.stdout());
        }
        assertFalse(Files.exists(foreign), "jqb sweep removes it");
    }

    @Test
    void canBeDisabled() throws Exception {
        root = privateRoot();
        Path stale = plantDir(deadPid(), deadPid(), serviceName());
        Service s = track(Service.create(serviceName(), 7, TransportType.SHM, new NonBlockingEchoHandler()));
        s.setStaleSweep(false);
        s.run();
        assertTrue(Files.exists(stale), "swept although disabled");
    }

    /**
     * A private directory standing in for /dev/shm (services' start-up sweeps look there through the property
     * jqb.staleSweepRoot), so that no other process's sweep removes what a test plants, and no test removes anything
     * of another process.
     */
    private Path privateRoot() throws IOException {
        Path r = Files.createTempDirectory("jqb-stale-root");
        planted.add(r);
        System.setProperty("jqb.staleSweepRoot", r.toString());
        return r;
    }

    private static List<String> removedNames(StaleSweep.Result r) {
        return r.removed.stream().map(e -> e.dir.getFileName().toString()).sorted().collect(Collectors.toList());
    }

    private static String suffix() {
        return Long.toString(System.nanoTime() % 1_000_000 + 1_000_000, 36).substring(0, 4) + "Zz";
    }

    private Path plantDir(int serverPid, int clientPid, String service) throws IOException {
        return plant("qb-" + serverPid + "-" + clientPid + "-" + (planted.size() + 10) + "-" + suffix(),
                List.copyOf(ShmAssert.sixFiles(service)));
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
        Path d = root.resolve(name);
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
