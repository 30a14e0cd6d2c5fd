package io.jqb.libipc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.testutil.JqbCliProcess;
import io.jqb.testutil.LibipcPeer;
import java.nio.file.Files;
import java.util.Map;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** {@code jqb libipc-echo-server} and {@code jqb libipc-bench} as processes, with IPC_RUNDIR, against the C peer. */
class LibipcCliTest extends RunDirTest {
    private static final Pattern BENCH_LINE = Pattern.compile(
            "size=\\d+ count=\\d+ p50_ns=\\d+ p99_ns=\\d+ p999_ns=\\d+ msgs_per_s=\\d+ MB_per_s=\\d+\\.\\d\\d");

    private JqbCliProcess echoServer(String name, String... extra) {
        String[] args = new String[extra.length + 2];
        args[0] = "libipc-echo-server";
        args[1] = name;
        System.arraycopy(extra, 0, args, 2, extra.length);
        JqbCliProcess p = JqbCliProcess.start(Map.of("IPC_RUNDIR", dir.toString()), args);
        String line = p.nextLine(60_000);
        assertNotNull(line, "no ready line" + p.describe());
        assertTrue(line.contains("ready"), line + p.describe());
        return p;
    }

    @Test
    void echoServerHonoursIpcRundirServesTheCPeerAndStopsCleanlyOnSigterm() {
        String name = LibipcTestDirs.name("cli");
        try (JqbCliProcess server = echoServer(name)) {
            assertTrue(Files.exists(dir.resolve(name + "-0-0")), "socket at IPC_RUNDIR/NAME-0-0");
            for (int size : new int[] {0, 1, 64, 4096, 32768}) {
                LibipcPeer.Result r = LibipcPeer.run(dir.toString(), 60_000, "bench", name, "--count", "200",
                        "--size", Integer.toString(size), "--warmup", "0");
                assertEquals(0, r.exit(), r.output() + server.describe());
                assertTrue(BENCH_LINE.matcher(r.output().trim()).matches(), r.output());
            }
            IpcClient c = IpcClient.builder(name).runDirectory(dir.toString()).connect();
            try (c) {
                c.write(IpcMessage.formatData(new byte[] {1, 2}));
                assertEquals(2, c.read(10_000).length());
                server.terminate();
                assertEquals(Integer.valueOf(0), server.waitFor(30_000), server.describe());
                assertEquals(IpcEventType.DISCONNECTION, c.waitEvent(10_000).type(), "clients closed");
            }
            assertFalse(Files.exists(dir.resolve(name + "-0-0")), "socket removed");
        }
    }

    @Test
    void serverCloseOption() {
        String name = LibipcTestDirs.name("clisc");
        try (JqbCliProcess server = echoServer(name, "--server-close");
                IpcClient c = IpcClient.builder(name).runDirectory(dir.toString()).connect()) {
            c.write(IpcMessage.formatData(new byte[] {1}));
            assertNotNull(c.read(10_000));
            server.terminate();
            assertEquals(IpcEventType.SERVER_CLOSE, c.waitEvent(30_000).type());
            assertEquals(IpcEventType.DISCONNECTION, c.waitEvent(10_000).type());
            assertEquals(Integer.valueOf(0), server.waitFor(30_000), server.describe());
        }
    }

    @Test
    void benchAgainstTheCServerPrintsTheBenchLine() {
        String name = LibipcTestDirs.name("clib");
        try (LibipcPeer c = LibipcPeer.echoServer(dir.toString(), name);
                JqbCliProcess bench = JqbCliProcess.start(Map.of("IPC_RUNDIR", dir.toString()), "libipc-bench",
                        name, "--count", "2000", "--size", "4096", "--warmup", "100")) {
            assertEquals(Integer.valueOf(0), bench.waitFor(120_000), bench.describe());
            String out = bench.stdout().trim();
            assertTrue(BENCH_LINE.matcher(out).matches(), out);
            assertTrue(out.startsWith("size=4096 count=2000 "), out);
        }
    }

    @Test
    void benchExitsNonZeroAtTheFirstMismatch() throws Exception {
        String name = LibipcTestDirs.name("clim");
        try (IpcServer s = IpcServer.builder(name).runDirectory(dir.toString()).init();
                JqbCliProcess bench = JqbCliProcess.start(Map.of("IPC_RUNDIR", dir.toString()), "libipc-bench",
                        name, "--count", "100", "--size", "16", "--warmup", "0")) {
            // A server that echoes 10 messages faithfully, then flips one bit of the 11th.
            int echoed = 0;
            for (;;) {
                IpcEvent e = s.waitEvent(60_000);
                if (e.type() == IpcEventType.MESSAGE) {
                    byte[] p = e.message().payloadBytes();
                    if (echoed++ == 10) {
                        p[5] ^= 1;
                        e.connection().write(IpcMessage.DATA, java.nio.ByteBuffer.wrap(p));
                        break;
                    }
                    e.connection().write(e.message());
                } else if (e.type() != IpcEventType.CONNECTION) {
                    throw new AssertionError("unexpected " + e + bench.describe());
                }
            }
            assertEquals(Integer.valueOf(1), bench.waitFor(60_000), bench.describe());
            assertEquals("", bench.stdout(), "no result line after a mismatch");
            assertTrue(bench.describe().contains("differs at byte 5"), bench.describe());
        }
    }

    @Test
    void benchWithoutAServerFailsClearly() {
        try (JqbCliProcess bench = JqbCliProcess.start(Map.of("IPC_RUNDIR", dir.toString()), "libipc-bench",
                LibipcTestDirs.name("none"))) {
            assertEquals(Integer.valueOf(1), bench.waitFor(60_000), bench.describe());
            assertTrue(bench.describe().contains("ENOENT"), bench.describe());
        }
    }
}
