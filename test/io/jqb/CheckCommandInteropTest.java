package io.jqb;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.cli.EchoHandler;
import io.jqb.testutil.JqbCliProcess;
import io.jqb.testutil.NativeServer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@code jqb check --service NAME} (io.jqb.cli.Main) run as its own JVM process, the way a user runs it: against the
 * native libqb server and the jqb service every check passes and it exits 0; against a dead or refusing server it
 * fails and exits non-zero. The last line is always {@code N passed, M failed}.
 */
class CheckCommandInteropTest extends ClientTestSupport {
    private static final Pattern SUMMARY = Pattern.compile("(\\d+) passed, (\\d+) failed");
    /** Checks {@code jqb check} makes against a server with the default 65536-byte buffer. */
    private static final List<String> EXPECTED_CHECKS = List.of("connect", "bufsize", "is-connected", "auth",
            "echo-0", "echo-1", "echo-7", "echo-8", "echo-64", "echo-4095", "echo-4096", "echo-4097",
            "echo-max-65512", "echo-mixed-20000", "event-0", "event-100", "event-65512", "unknown-id",
            "oversize-refused", "echo-after-oversize", "no-stray-events", "no-stray-responses", "still-connected");

    private record Run(int exit, List<String> lines, String stderr) {
        String last() {
            return lines.isEmpty() ? "" : lines.get(lines.size() - 1);
        }

        String describe() {
            return "exit " + exit + ", stdout:\n  " + String.join("\n  ", lines) + "\nstderr:\n" + stderr;
        }
    }

    private static Run check(String... args) throws Exception {
        List<String> cmd = new ArrayList<>();
        cmd.add(JqbCliProcess.java());
        cmd.add("-cp");
        cmd.add(JqbCliProcess.classPath());
        cmd.add("io.jqb.cli.Main");
        cmd.add("check");
        cmd.addAll(Arrays.asList(args));
        Process p = new ProcessBuilder(cmd).start();
        try {
            p.getOutputStream().close();
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            Thread errPump = pump(p.getErrorStream(), err);
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            Thread outPump = pump(p.getInputStream(), out);
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                throw new AssertionError("jqb check still running after 60 s: " + cmd);
            }
            outPump.join(5_000);
            errPump.join(5_000);
            List<String> lines = out.toString(StandardCharsets.UTF_8).lines().filter(l -> !l.isBlank())
                    .collect(java.util.stream.Collectors.toList());
            return new Run(p.exitValue(), lines, err.toString(StandardCharsets.UTF_8));
        } finally {
            p.destroyForcibly();
            p.waitFor(10, TimeUnit.SECONDS);
        }
    }

    private static Thread pump(InputStream in, ByteArrayOutputStream sink) {
        Thread t = new Thread(() -> {
            try {
                in.transferTo(sink);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
        t.setDaemon(true);
        t.start();
        return t;
    }

    private static void assertAllPassed(Run r) {
        Matcher m = SUMMARY.matcher(r.last());
        assertTrue(m.matches(), "last line is not 'N passed, M failed': " + r.describe());
        assertEquals("0", m.group(2), r.describe());
        assertEquals(EXPECTED_CHECKS.size(), Integer.parseInt(m.group(1)), r.describe());
        List<String> passes = new ArrayList<>();
        for (String l : r.lines()) {
            assertFalse(l.startsWith("FAIL"), r.describe());
            if (l.startsWith("PASS ")) {
                passes.add(l.substring(5));
            }
        }
        assertEquals(EXPECTED_CHECKS, passes, r.describe());
        assertEquals(0, r.exit(), r.describe());
    }

    @Test
    @Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void passesAgainstTheNativeServer() throws Exception {
        NativeServer server = nativeServer("cli");
        assertAllPassed(check("--service", server.service()));
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (!server.command("conns").equals("ok 0") && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertEquals("ok 0", server.command("conns"), "the check disconnected");
        assertTrue(server.isAlive());
    }

    @Test
    @Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void passesAgainstTheJqbService() throws Exception {
        String name = NativeServer.uniqueName("cli-jqb");
        Service s = track(Service.create(name, 0, TransportType.SHM, new EchoHandler()));
        s.run();
        assertAllPassed(check("--service", name));
    }

    @Test
    @Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void failsAgainstAKilledServer() throws Exception {
        NativeServer server = nativeServer("cli-dead");
        server.kill();
        Run r = check("--service", server.service());
        assertNotEquals(0, r.exit(), r.describe());
        assertEquals("0 passed, 1 failed", r.last(), r.describe());
        assertTrue(r.lines().stream().anyMatch(l -> l.startsWith("FAIL connect") && l.contains("ECONNREFUSED")),
                r.describe());
    }

    @Test
    @Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void failsAgainstARefusingServer() throws Exception {
        NativeServer server = nativeServer("cli-reject", "--reject", "13");
        Run r = check("--service", server.service());
        assertNotEquals(0, r.exit(), r.describe());
        assertEquals("0 passed, 1 failed", r.last(), r.describe());
        assertTrue(r.lines().stream().anyMatch(l -> l.startsWith("FAIL connect") && l.contains("EACCES")),
                r.describe());
    }

    @Test
    @Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void usageErrorExitsTwo() throws Exception {
        Run r = check();
        assertEquals(2, r.exit(), r.describe());
    }
}
