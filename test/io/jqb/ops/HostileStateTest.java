package io.jqb.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.internal.wire.RingHeaderDescriptor;
import io.jqb.ops.internal.Bounded;
import io.jqb.ops.internal.RingTracker;
import io.jqb.ops.internal.Scanner;
import io.jqb.testutil.NativeClient;
import io.jqb.testutil.NativeServer;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Odd and hostile state: garbage ring headers, files truncated under the reader, a FIFO where a header should be,
 * processes that exit while they are read, thousands of services. {@code ls}/{@code top} report what they can and
 * never throw or hang.
 */
class HostileStateTest extends OpsInteropTestBase {
    private static final Duration BOUND = Duration.ofSeconds(60);

    @TempDir
    Path tmp;

    /** A made-up connection directory of ours (server pid = this JVM, so it is not stale) under a private root. */
    private Path fakeConnection(String service) throws Exception {
        long pid = ProcessHandle.current().pid();
        Path dir = Files.createDirectory(tmp.resolve("qb-" + pid + "-" + pid + "-7-Hostil"));
        for (String ring : List.of("request", "response", "event")) {
            Path h = dir.resolve("qb-" + ring + "-" + service + "-header");
            Files.write(h, header(0, 0, 4096));
            Files.write(dir.resolve("qb-" + ring + "-" + service + "-data"), new byte[4 * 4096]);
        }
        return dir;
    }

    private static byte[] header(int w, int r, int words) {
        ByteBuffer b = ByteBuffer.allocate(RingHeaderDescriptor.FILE_LENGTH).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(RingHeaderDescriptor.WRITE_PT_OFFSET, w).putInt(RingHeaderDescriptor.READ_PT_OFFSET, r)
                .putInt(RingHeaderDescriptor.WORD_SIZE_OFFSET, words).putInt(RingHeaderDescriptor.REF_COUNT_OFFSET, 2);
        return b.array();
    }

    private HostSnapshot scanFake() {
        return assertTimeoutPreemptively(BOUND, () -> new Scanner(new Scanner.Roots(Path.of("/proc"), tmp,
                tmp.resolve("no-sockets")), 2_000).scan());
    }

    private static ConnectionInfo only(HostSnapshot s, String service) {
        ServiceInfo svc = s.service(service);
        assertNotNull(svc, "listed without a listener: " + s.services());
        assertEquals(1, svc.connections().size());
        assertTrue(svc.problems().get(0).contains("no listening socket"), svc.problems().toString());
        return svc.connections().get(0);
    }

    @Test
    void garbageTruncatedAndFifoHeadersAreReportedNotFatal() throws Exception {
        Path dir = fakeConnection("hostile");
        byte[] garbage = new byte[RingHeaderDescriptor.FILE_LENGTH];
        new Random(42).nextBytes(garbage);
        Files.write(dir.resolve("qb-request-hostile-header"), garbage);
        Files.write(dir.resolve("qb-response-hostile-header"), new byte[100]);
        Path event = dir.resolve("qb-event-hostile-header");
        Files.delete(event);
        Process mkfifo = new ProcessBuilder("mkfifo", event.toString()).start();
        assertEquals(0, mkfifo.waitFor());

        ConnectionInfo c = only(scanFake(), "hostile");
        assertTrue(c.ring("request").error().startsWith("garbage"), c.ring("request").toString());
        assertEquals(-1, c.ring("request").usedBytes());
        assertTrue(c.ring("response").error().startsWith("truncated: header 100 of 8248"),
                c.ring("response").toString());
        assertTrue(c.ring("event").error().contains("not a regular file"), c.ring("event").toString());
        assertEquals(3, c.problems().size(), c.problems().toString());
    }

    @Test
    void pointersOutsideTheRingAndAWrongWordSizeAreGarbage() throws Exception {
        Path dir = fakeConnection("bounds");
        Files.write(dir.resolve("qb-request-bounds-header"), header(5000, 0, 4096));
        Files.write(dir.resolve("qb-response-bounds-header"), header(0, 0, 9999));
        Files.write(dir.resolve("qb-event-bounds-header"), header(100, 40, 4096));
        ConnectionInfo c = only(scanFake(), "bounds");
        assertTrue(c.ring("request").error().contains("write_pt=5000"), c.ring("request").toString());
        assertTrue(c.ring("response").error().contains("word_size=9999"), c.ring("response").toString());
        assertNull(c.ring("event").error());
        assertEquals(60 * 4, c.ring("event").usedBytes());
    }

    @Test
    void aFileTruncatedUnderTheTrackerOnlyStopsThatRing() throws Exception {
        Path h = tmp.resolve("t-header");
        Path d = tmp.resolve("t-data");
        Files.write(h, header(0, 0, 1024));
        Files.write(d, new byte[4096]);
        try (RingTracker t = RingTracker.open(h, d)) {
            t.sample();
            try (RandomAccessFile f = new RandomAccessFile(h.toFile(), "rw")) {
                f.write(header(50, 0, 1024));   // 50 words written: a chunk walk reads the data file
            }
            try (RandomAccessFile f = new RandomAccessFile(d.toFile(), "rw")) {
                f.setLength(0);                  // ... which its owner truncated
            }
            t.sample();
            assertEquals(200, t.bytes());
            assertTrue(t.estimated(), "messages estimated: the chunks cannot be read");
            try (RandomAccessFile f = new RandomAccessFile(h.toFile(), "rw")) {
                f.setLength(4);
            }
            t.sample();
            assertEquals("truncated header", t.error());
        }
    }

    @Test
    void aRealConnectionWhoseHeaderIsTruncatedIsStillListed() throws Exception {
        String name = serviceName();
        NativeServer server = track(NativeServer.start(name));
        NativeClient nc = drive(name);
        nc.connect();
        ConnectionInfo c = OpsTestSupport.connection(OpsTestSupport.scanUntil(name, "a connection",
                s -> s.connections().size() == 1), nc.pid());
        Path h = Path.of(c.directory(), "qb-event-" + name + "-header");
        try (RandomAccessFile f = new RandomAccessFile(h.toFile(), "rw")) {
            f.setLength(10);   // nobody touches the event ring while idle, so neither peer faults
        }
        ServiceInfo svc = assertTimeoutPreemptively(BOUND, () -> Discovery.scan().service(name));
        ConnectionInfo after = OpsTestSupport.connection(svc, nc.pid());
        assertTrue(after.ring("event").error().startsWith("truncated: header 10 of"), after.ring("event").toString());
        assertNull(after.ring("request").error());
        assertEquals(server.pid(), svc.serverPid());
        server.kill();
        nc.kill();
        deleteTree(Path.of(c.directory()));   // the server left it; the client was killed before its close
    }

    /** Removes a directory and its files; its owner may be removing them at the same time. */
    private static void deleteTree(Path dir) throws Exception {
        try (var s = Files.list(dir)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                Files.deleteIfExists(p);
            }
        } catch (java.nio.file.NoSuchFileException e) {
            return;
        }
        Files.deleteIfExists(dir);
    }

    @Test
    void processesExitingWhileTheyAreReadDoNotBreakTheScan() throws Exception {
        String name = serviceName();
        NativeServer server = track(NativeServer.start(name));
        List<NativeClient> clients = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
            NativeClient nc = drive(name);
            nc.connect();
            clients.add(nc);
        }
        OpsTestSupport.scanUntil(name, "12 connections", s -> s.connections().size() == 12);
        AtomicBoolean done = new AtomicBoolean();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread killer = new Thread(() -> {
            try {
                for (NativeClient nc : clients) {
                    nc.kill();
                }
                server.kill();
            } catch (Throwable t) {
                failure.set(t);
            } finally {
                done.set(true);
            }
        }, "killer");
        killer.start();
        int scans = 0;
        while (!done.get() || scans < 3) {
            HostSnapshot s = assertTimeoutPreemptively(BOUND, Discovery::scan);
            ServiceInfo svc = s.service(name);
            if (svc != null) {
                for (ConnectionInfo c : svc.connections()) {
                    // a directory caught between the unlinks and the rmdir has no files left to name it
                    assertTrue(name.equals(c.service()) || c.service() == null && !c.problems().isEmpty(),
                            c.toString());
                }
            }
            scans++;
        }
        killer.join(30_000);
        assertNull(failure.get());
        // what the killed server left is a stale directory each (its clients died too): remove them
        for (StaleDirectory d : Discovery.scan().staleDirectories()) {
            if (d.serverPid() == server.pid()) {
                deleteTree(Path.of(d.directory()));
            }
        }
        assertTrue(scans >= 3);
    }

    @Test
    void twoThousandServicesOfOneProcess() throws Exception {
        String prefix = serviceName("many");
        int n = 2000;
        Process p = new ProcessBuilder(NativeClient.nativeDir().resolve("qbn-listeners").toString(), prefix,
                Integer.toString(n)).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
            assertEquals("ready " + n, out.readLine());
            HostSnapshot s = assertTimeoutPreemptively(BOUND, Discovery::scan);
            long ours = s.services().stream().filter(x -> x.name().startsWith(prefix + "-")).count();
            assertEquals(n, ours);
            ServiceInfo last = s.service(prefix + "-" + (n - 1));
            assertEquals(p.pid(), last.serverPid());
            assertEquals("@" + prefix + "-" + (n - 1), last.address());
            assertTrue(last.serverCommand().contains("qbn-listeners"), last.serverCommand());
            try (ActivitySampler sampler = new ActivitySampler()) {
                assertTimeoutPreemptively(BOUND, () -> sampler.measure(Duration.ofMillis(100), () -> false));
            }
        } finally {
            p.getOutputStream().close();
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
                p.destroyForcibly().waitFor();
            }
        }
    }

    @Test
    void aStuckReadIsAbandonedAtItsDeadline() {
        long t0 = System.nanoTime();
        assertThrows(TimeoutException.class, () -> Bounded.call(() -> {
            Thread.sleep(60_000);
            return null;
        }, 200));
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertTrue(ms >= 200 && ms < 5_000, "deadline honoured: " + ms + " ms");
    }
}
