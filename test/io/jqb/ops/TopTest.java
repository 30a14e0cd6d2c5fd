package io.jqb.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.jqb.internal.wire.ChunkDescriptor;
import io.jqb.internal.wire.MessageHeaderDescriptor;
import io.jqb.ops.internal.RingFiles;
import io.jqb.ops.internal.RingTracker;
import io.jqb.testutil.JqbCliProcess;
import io.jqb.testutil.NativeClient;
import io.jqb.testutil.NativeServer;
import java.io.File;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** {@code jqb top}: rates from ring positions, against real native peers; {@code --once}; {@code q} quits. */
class TopTest extends OpsInteropTestBase {

    @Test
    void theChunkWalkCountsEveryMessageExactly() {
        String name = serviceName();
        track(NativeServer.start(name));
        NativeClient nc = drive(name, 1 << 20);
        nc.connect();
        ConnectionInfo c = OpsTestSupport.connection(OpsTestSupport.scanUntil(name, "a connection",
                s -> s.connections().size() == 1), nc.pid());
        Path dir = Path.of(c.directory());
        List<RingTracker> ts = new ArrayList<>();
        try {
            for (String ring : RingFiles.RINGS) {
                RingTracker t = RingTracker.open(RingFiles.header(dir, ring, name), RingFiles.data(dir, ring, name));
                ts.add(t);
                t.sample();
            }
            int n = 50;
            int size = 300;
            for (int i = 0; i < n; i++) {
                nc.echo(size);   // one request, one response; the client reads (and so reclaims) the response
            }
            ts.forEach(RingTracker::sample);
            RingTracker req = ts.get(0);
            RingTracker resp = ts.get(1);
            assertFalse(req.estimated());
            assertFalse(resp.estimated());
            assertEquals(n, req.messages());
            assertEquals(n, resp.messages());
            assertEquals(0, ts.get(2).messages());
            assertEquals((long) n * 4 * ChunkDescriptor.chunkWords(MessageHeaderDescriptor.REQUEST_HEADER_LENGTH
                    + size), req.bytes());
            assertEquals((long) n * 4 * ChunkDescriptor.chunkWords(MessageHeaderDescriptor.RESPONSE_HEADER_LENGTH
                    + size), resp.bytes());
            assertNull(req.error());
        } catch (java.io.IOException e) {
            fail(e);
        } finally {
            ts.forEach(RingTracker::close);
        }
    }

    @Test
    void topOnceShowsTheBusyConnectionFirstWithMessagesPerSecond() throws Exception {
        String name = serviceName();
        NativeServer server = track(NativeServer.start(name));
        NativeClient idle = drive(name);
        idle.connect();
        Process bench = new ProcessBuilder(NativeClient.clientBinary().toString(), "bench", "--service", name,
                "--count", "100000000", "--size", "64", "--max", Integer.toString(1 << 20), "--warmup", "0")
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(ProcessBuilder.Redirect.DISCARD)
                .start();
        try {
            OpsTestSupport.scanUntil(name, "the bench connection", s -> s.connections().stream()
                    .anyMatch(c -> c.clientPid() == bench.pid()));
            String out;
            try (JqbCliProcess top = JqbCliProcess.start("top", "--once", "--interval", "1000")) {
                Integer rc = top.waitFor(60_000);
                assertEquals(0, rc, top.describe());
                out = top.stdout();
            }
            String[] lines = out.split("\n");
            assertTrue(lines[0].startsWith("jqb top "), out);
            assertTrue(lines[1].startsWith("SERVICE"), out);
            String busy = null;
            int busyAt = -1;
            int idleAt = -1;
            for (int i = 2; i < lines.length; i++) {
                String[] f = lines[i].trim().split("\\s+");
                // Our rows by the server's pid: the SERVICE column is cut to 21 characters, which drops the pid
                // suffix that makes our service name unique on a host where another test run uses the same name.
                if (f.length < 8 || !f[1].equals(Long.toString(server.pid()))) {
                    continue;
                }
                assertTrue(f[0].equals(name.substring(0, Math.min(name.length(), 21)))
                        || name.startsWith(f[0].replace("...", "")), lines[i]);
                if (f[2].equals(Long.toString(bench.pid())) && f[3].equals("request")) {
                    busy = lines[i];
                    busyAt = i;
                }
                if (f[2].equals(Long.toString(idle.pid())) && idleAt < 0) {
                    idleAt = i;
                }
            }
            assertNotNull(busy, out);
            String[] f = busy.trim().split("\\s+");
            long msgs = Long.parseLong(f[4].replace("~", ""));
            long bytes = Long.parseLong(f[5]);
            assertTrue(msgs > 0, busy);
            assertTrue(bytes >= msgs * 4 * ChunkDescriptor.chunkWords(16 + 64) / 2, busy);
            assertTrue(idleAt > busyAt, "sorted by activity:\n" + out);
        } finally {
            bench.destroyForcibly();
            bench.waitFor(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void qQuitsARefreshingTopInAPipe() throws Exception {
        Process p = new ProcessBuilder(JqbCliProcess.java(), "-cp", JqbCliProcess.classPath(), "io.jqb.cli.Main", "top",
                "--interval", "100").start();
        try {
            // first refresh printed: it runs; then q
            byte[] first = new byte[8];
            assertEquals(8, p.getInputStream().readNBytes(first, 0, 8));
            assertEquals("jqb top ", new String(first, StandardCharsets.US_ASCII));
            OutputStream in = p.getOutputStream();
            in.write('q');
            in.flush();
            assertTrue(p.waitFor(30, TimeUnit.SECONDS), "q ends it");
            assertEquals(0, p.exitValue());
        } finally {
            p.destroyForcibly();
            p.waitFor(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void onATerminalTheKeyQEndsItAtOnceWithoutEnter() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/script")), "script(1)");
        // script(1) runs top on a pseudo-terminal: raw mode through stty, screen cleared between refreshes
        Process p = new ProcessBuilder("script", "-qefc", JqbCliProcess.java() + " -cp " + JqbCliProcess.classPath()
                + " io.jqb.cli.Main top --interval 100", "/dev/null").start();
        try {
            byte[] buf = new byte[4096];
            StringBuilder seen = new StringBuilder();
            while (!seen.toString().contains("SERVICE")) {
                int n = p.getInputStream().read(buf);
                assertTrue(n > 0, "output ended: " + seen);
                seen.append(new String(buf, 0, n, StandardCharsets.UTF_8));
            }
            assertTrue(seen.toString().contains("\033[H\033[2J"), "screen cleared on a terminal: " + seen);
            p.getOutputStream().write('q');   // no newline: raw mode delivers the key at once
            p.getOutputStream().flush();
            assertTrue(p.waitFor(30, TimeUnit.SECONDS), "q ends it");
            assertEquals(0, p.exitValue());
        } finally {
            p.destroyForcibly();
            p.waitFor(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void aClosedPipeEndsIt() throws Exception {
        Process p = new ProcessBuilder(JqbCliProcess.java(), "-cp", JqbCliProcess.classPath(), "io.jqb.cli.Main", "top",
                "--interval", "100").start();
        try {
            byte[] first = new byte[8];
            assertEquals(8, p.getInputStream().readNBytes(first, 0, 8));
            p.getInputStream().close();   // as `jqb top | head -1` does once it has its line
            assertTrue(p.waitFor(30, TimeUnit.SECONDS), "a closed pipe ends it");
            assertEquals(0, p.exitValue());
        } finally {
            p.destroyForcibly();
            p.waitFor(10, TimeUnit.SECONDS);
        }
    }
}
