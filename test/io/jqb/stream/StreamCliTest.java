package io.jqb.stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.testutil.JqbCliProcess;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The exact CLI contracts of {@code jqb stream-echo} and {@code jqb stream-bench}, with socat and openssl peers. */
@Timeout(240)
class StreamCliTest {
    static final Pattern BENCH = Pattern.compile(
            "^size=(\\d+) count=(\\d+) p50_ns=\\d+ p99_ns=\\d+ p999_ns=\\d+ msgs_per_s=\\d+ MB_per_s=\\d+\\.\\d\\d$");
    @TempDir
    Path dir;

    /** Waits for the ready line; returns it. */
    static String ready(JqbCliProcess p) {
        for (;;) {
            String l = p.nextLine(60_000);
            assertNotNull(l, "no ready line: " + p.describe());
            if (l.contains("ready")) {
                return l;
            }
        }
    }

    static int port(String readyLine) {
        Matcher m = Pattern.compile(":(\\d+) ready").matcher(readyLine);
        assertTrue(m.find(), readyLine);
        return Integer.parseInt(m.group(1));
    }

    static void assertBench(JqbCliProcess b, int size, int count) {
        assertEquals(Integer.valueOf(0), b.waitFor(120_000), b.describe());
        String line = b.stdout().strip();
        Matcher m = BENCH.matcher(line);
        assertTrue(m.matches(), line);
        assertEquals(size, Integer.parseInt(m.group(1)));
        assertEquals(count, Integer.parseInt(m.group(2)));
    }

    static void terminate(JqbCliProcess srv) {
        srv.terminate();
        assertEquals(Integer.valueOf(0), srv.waitFor(30_000), srv.describe());
    }

    @Test
    void tcpEchoBenchAndRawSocat() {
        try (JqbCliProcess srv = JqbCliProcess.start("stream-echo", "--tcp", "127.0.0.1:0")) {
            int port = port(ready(srv));
            try (JqbCliProcess b = JqbCliProcess.start("stream-bench", "--tcp", "127.0.0.1:" + port, "--count",
                    "2000", "--size", "4096", "--warmup", "200")) {
                assertBench(b, 4096, 2000);
            }
            // a frame sent by socat comes back byte for byte
            byte[] f = Frames.frame(Frames.PREFIX, 77, "via socat".getBytes(StandardCharsets.UTF_8));
            try (PeerProcess socat = PeerProcess.start("socat", "-", "TCP:127.0.0.1:" + port)) {
                socat.send(f);
                assertArrayEquals(f, socat.awaitOutput(f.length, 20_000), socat.describe());
            }
            terminate(srv);
        }
        try (JqbCliProcess srv = JqbCliProcess.start("stream-echo", "--tcp", "0", "--raw")) {
            int port = port(ready(srv));
            try (PeerProcess socat = PeerProcess.start("socat", "-", "TCP:localhost:" + port)) {
                socat.send("any bytes at all\n".getBytes(StandardCharsets.UTF_8));
                assertTrue(socat.awaitText("any bytes at all", 20_000), socat.describe());
            }
            terminate(srv);
        }
    }

    @Test
    void pipeEchoBenchAndSocat() {
        String path = dir.resolve("echo-" + ProcessHandle.current().pid() + ".sock").toString();
        try (JqbCliProcess srv = JqbCliProcess.start("stream-echo", "--pipe", path)) {
            assertTrue(ready(srv).contains(path));
            try (JqbCliProcess b = JqbCliProcess.start("stream-bench", "--pipe", path, "--count", "2000",
                    "--warmup", "200")) {
                assertBench(b, 64, 2000);
            }
            byte[] f = Frames.frame(Frames.PREFIX, 5, new byte[1000]);
            try (PeerProcess socat = PeerProcess.start("socat", "-", "UNIX-CONNECT:" + path)) {
                socat.send(f);
                assertArrayEquals(f, socat.awaitOutput(f.length, 20_000), socat.describe());
            }
            terminate(srv);
        }
        assertTrue(!Files.exists(Path.of(path)), "socket file removed on SIGTERM");
    }

    @Test
    void tlsEchoWithBenchAndOpensslClient() {
        TestPki pki = new TestPki(dir);
        try (JqbCliProcess srv = JqbCliProcess.start("stream-echo", "--tls", "127.0.0.1:0", "--cert",
                pki.serverCert, "--key", pki.serverKey)) {
            int port = port(ready(srv));
            try (JqbCliProcess b = JqbCliProcess.start("stream-bench", "--tls", "localhost:" + port, "--ca", pki.ca,
                    "--count", "1000", "--warmup", "100")) {
                assertBench(b, 64, 1000);
            }
            terminate(srv);
        }
        try (JqbCliProcess srv = JqbCliProcess.start("stream-echo", "--tls", "127.0.0.1:0", "--cert",
                pki.serverCert, "--key", pki.serverKey, "--raw")) {
            int port = port(ready(srv));
            try (PeerProcess cli = PeerProcess.start("openssl", "s_client", "-connect", "127.0.0.1:" + port,
                    "-CAfile", pki.ca, "-quiet")) {
                cli.send("hello openssl\n".getBytes(StandardCharsets.UTF_8));
                assertTrue(cli.awaitText("hello openssl", 20_000), cli.describe());
            }
            terminate(srv);
        }
    }

    @Test
    void badUsageExitsTwo() {
        try (JqbCliProcess p = JqbCliProcess.start("stream-echo", "--tcp", "0", "--pipe", "/tmp/x")) {
            assertEquals(Integer.valueOf(2), p.waitFor(60_000));
        }
        try (JqbCliProcess p = JqbCliProcess.start("stream-bench")) {
            assertEquals(Integer.valueOf(2), p.waitFor(60_000));
        }
    }
}
