package io.jqb.testutil;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The benchmark probe {@code qbn-regime} runs two spinning processes at SCHED_FIFO: it must never be able to hang a
 * CPU. It refuses CPUs that cannot work (equal, negative, malformed, outside its cpuset) and bursts too long for its
 * period (exit 2, before anything runs); it exits 1 within a second or so when its server child dies mid-run, and
 * exits 0 with its result line (and its child gone) on SIGTERM. The running cases need root (SCHED_FIFO) and two CPUs.
 */
class RegimeProbeTest {
    private static Path binary() {
        String dir = System.getProperty("jqb.native.dir", "native/build");
        Path p = Path.of(dir, "qbn-regime").toAbsolutePath();
        if (!Files.isExecutable(p)) {
            throw new IllegalStateException(p + " is missing: run `make -C native` first");
        }
        return p;
    }

    private static Process start(String... args) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(binary().toString());
        cmd.addAll(List.of(args));
        return new ProcessBuilder(cmd).start();
    }

    private static String stdout(Process p) throws IOException {
        return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
    }

    private static String stderr(Process p) throws IOException {
        return new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8).trim();
    }

    private static void finish(Process p) throws InterruptedException {
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly();
        p.waitFor();
    }

    @ParameterizedTest
    @ValueSource(strings = {"--client-cpu 0 --server-cpu 0", "--client-cpu 1 --server-cpu 1", "--server-cpu -1",
        "--client-cpu 100000", "--server-cpu 1x", "--client-cpu ''", "--count 20000", "--count 0",
        "--count 200000 --period-ms 60000", "--period-ms 0", "--bursts -1", "surplus"})
    void refusesWhatCouldHangACpu(String argLine) throws Exception {
        String[] args = argLine.replace("''", "").split(" ", -1);
        Process p = start(args);
        try {
            assertTrue(p.waitFor(30, TimeUnit.SECONDS), "qbn-regime " + argLine + " did not exit");
            String err = stderr(p);
            assertEquals(2, p.exitValue(), "exit code of qbn-regime " + argLine + ": " + err);
            assertTrue(err.startsWith("qbn-regime: ") || err.startsWith("usage: "), err);
            assertEquals("", stdout(p));
        } finally {
            finish(p);
        }
    }

    @Test
    void exitsWhenItsServerChildDiesMidRun() throws Exception {
        Process p = startOnTwoCpus();
        try {
            ProcessHandle child = awaitRunning(p);
            child.destroyForcibly(); // SIGKILL, during a burst or between two
            assertTrue(p.waitFor(5, TimeUnit.SECONDS), "qbn-regime still runs 5 s after its server child died");
            String err = stderr(p);
            assertEquals(1, p.exitValue(), err);
            assertTrue(err.contains("server child"), err);
            assertEquals("", stdout(p));
        } finally {
            finish(p);
        }
    }

    @Test
    void endsOnSigtermWithItsLineAndWithoutItsChild() throws Exception {
        Process p = startOnTwoCpus();
        try {
            ProcessHandle child = awaitRunning(p);
            p.toHandle().destroy(); // SIGTERM (Process.destroy would also close our end of its stdout)
            if (!p.waitFor(5, TimeUnit.SECONDS)) {
                Path proc = Path.of("/proc", Long.toString(p.pid()), "status");
                String status = String.join(" | ", Files.readAllLines(proc));
                throw new AssertionError("qbn-regime still runs 5 s after SIGTERM: " + status);
            }
            String out = stdout(p);
            assertEquals(0, p.exitValue(), stderr(p));
            assertTrue(out.matches("regime=(f|n|s|mixed|none) bursts=\\d+ fast=\\d+ normal=\\d+ slow=\\d+ p50_ns=\\d+"),
                    out);
            child.onExit().get(5, TimeUnit.SECONDS);
            assertFalse(child.isAlive());
        } finally {
            finish(p);
        }
    }

    /**
     * The probe of both running cases: a burst of 500 round trips every 2 ms, its server child on the first of two CPUs
     * this process may run on and itself on the second (skipped as {@link #runnable()} says). Not yet spinning: wait
     * for that with {@link #awaitRunning}, inside the try that finishes it.
     */
    private static Process startOnTwoCpus() throws IOException {
        int[] cpus = runnable();
        return start("--period-ms", "2", "--count", "500", "--client-cpu", Integer.toString(cpus[1]),
                "--server-cpu", Integer.toString(cpus[0]));
    }

    /** Two CPUs this process may run on, or the test is skipped; also needs root (SCHED_FIFO). */
    private static int[] runnable() throws IOException {
        assumeTrue((int) Files.getAttribute(Path.of("/proc/self"), "unix:uid") == 0, "needs root for SCHED_FIFO");
        List<Integer> cpus = new ArrayList<>();
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("Cpus_allowed_list:")) {
                for (String range : line.substring(line.indexOf(':') + 1).trim().split(",")) {
                    String[] ends = range.split("-");
                    int lo = Integer.parseInt(ends[0]);
                    int hi = Integer.parseInt(ends[ends.length - 1]);
                    for (int c = lo; c <= hi && cpus.size() < 2; c++) {
                        cpus.add(c);
                    }
                }
            }
        }
        assumeTrue(cpus.size() >= 2, "needs two CPUs");
        return new int[] {cpus.get(0), cpus.get(1)};
    }

    /**
     * Waits (bounded) until the probe itself runs at SCHED_FIFO: it gets there only after its server child said it
     * is pinned at FIFO, so from then on both spin in bursts. Returns the child.
     */
    private static ProcessHandle awaitRunning(Process p) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        Path stat = Path.of("/proc", Long.toString(p.pid()), "stat");
        while (System.nanoTime() < deadline) {
            assertTrue(p.isAlive(), () -> "qbn-regime exited early: " + p.exitValue());
            String s = Files.readString(stat);
            String[] fields = s.substring(s.lastIndexOf(')') + 2).split(" ");
            if (Integer.parseInt(fields[41 - 3]) == 1) { // field 41, policy: 1 = SCHED_FIFO
                return p.descendants().findFirst().orElseThrow();
            }
            Thread.sleep(5); // polling a condition, with a deadline: not a timing assumption
        }
        throw new AssertionError("qbn-regime did not reach SCHED_FIFO within 20 s");
    }
}
