package io.jqb.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.testutil.JqbCliProcess;
import io.jqb.testutil.NativeServer;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A client that has nothing to log never starts SLF4J: the loggers of the client path ({@code Guard},
 * {@code ShmClientChannel}, {@code DoorbellFlusher}) are made on first use. Starting SLF4J (its service lookup and
 * the provider's set-up) cost a short-lived client 40-60 ms before its first round trip (docs/PERFORMANCE.md, "Cold
 * start", session 9); a new eager {@code static final Logger} on the client path brings that back, and fails here.
 * Runs {@code bench} in a child JVM with {@code -verbose:class} against a native libqb server.
 */
class ColdClientLoadsNoLoggerTest {
    @Test
    @Timeout(120)
    void aQuietShmAndSocketClientLoadsNoLoggingClass() throws Exception {
        for (String transport : new String[] {"shm", "socket"}) {
            try (NativeServer server = NativeServer.start(NativeServer.uniqueName("nolog-" + transport),
                    "--transport", transport)) {
                File out = File.createTempFile("jqb-nolog-", ".out");
                try {
                    Process p = new ProcessBuilder(JqbCliProcess.java(), "-verbose:class", "-XX:TieredStopAtLevel=1",
                            "-cp", JqbCliProcess.classPath(), "io.jqb.cli.Main",
                            "bench", "--service", server.service(), "--count", "200", "--warmup", "0")
                            .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                            .redirectErrorStream(true)
                            .redirectOutput(out)
                            .start();
                    assertTrue(p.waitFor(90, TimeUnit.SECONDS), "bench did not exit");
                    List<String> lines = Files.readAllLines(out.toPath(), StandardCharsets.UTF_8);
                    assertEquals(0, p.exitValue(), String.join("\n", lines.subList(Math.max(0, lines.size() - 20),
                            lines.size())));
                    assertTrue(lines.stream().anyMatch(l -> l.contains("io.jqb.internal.client.ShmClientChannel")
                            || l.contains("io.jqb.internal.client.SocketClientChannel")),
                            transport + ": -verbose:class lists jqb's client classes (else this test proves nothing)");
                    List<String> logging = lines.stream()
                            .filter(l -> l.contains("org.slf4j.") || l.contains("io.jqb.internal.Logs "))
                            .collect(Collectors.toList());
                    assertEquals(List.of(), logging, transport + ": a client with nothing to log loaded these");
                } finally {
                    out.delete();
                }
            }
        }
    }
}
