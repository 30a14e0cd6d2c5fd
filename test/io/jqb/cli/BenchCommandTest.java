package io.jqb.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.testutil.ForceFilesystemSwitch;
import io.jqb.testutil.NativeServer;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code jqb bench --pipeline}: its warm-up runs the pipelined loop until the JIT is done with it (the timed loop
 * must not pay for compilation a native client never does), and the whole command against a real libqb server.
 */
class BenchCommandTest {
    private static AutoCloseable abstractMode;

    @BeforeAll
    static void holdAbstractMode() {
        abstractMode = ForceFilesystemSwitch.holdAbstractMode();
    }

    @AfterAll
    static void release() throws Exception {
        abstractMode.close();
        assertEquals(java.util.List.of(), NativeServer.stillRunning(), "qbn-server processes left running");
    }

    /**
     * A fake JIT: per pass, its compilation time rises by {@code finishedMs[i]} (0 after the array's end) and
     * {@code pending[i]} compilations remain (0 after the end; -1: unknown); each pass lasts {@code passMs}.
     */
    private static int passesWith(long[] finishedMs, int[] pending, long passMs) {
        AtomicLong jitMs = new AtomicLong(100);
        AtomicLong clock = new AtomicLong(5_000_000_000L);
        AtomicInteger runs = new AtomicInteger();
        int passes = BenchCommand.warmUntilCompiled(() -> {
            int i = runs.getAndIncrement();
            jitMs.addAndGet(i < finishedMs.length ? finishedMs[i] : 0);
            clock.addAndGet(passMs * 1_000_000L);
        }, new BenchCommand.Jit() {
            @Override
            public long compiledMillis() {
                return jitMs.get();
            }

            @Override
            public int pending() {
                int i = runs.get() - 1;
                return i < pending.length ? pending[i] : pending.length > 0 && pending[pending.length - 1] < 0 ? -1 : 0;
            }

            @Override
            public long nanoTime() {
                return clock.get();
            }
        }, BenchCommand.MIN_WARM_PASSES, BenchCommand.MAX_WARM_PASSES);
        assertEquals(runs.get(), passes, "the count returned is the passes run");
        return passes;
    }

    /** A fake JIT whose clock advances during the first {@code busyPasses} passes and whose queue is then empty. */
    private static int passesWith(int busyPasses) {
        long[] finished = new long[Math.min(busyPasses, 100)];
        java.util.Arrays.fill(finished, 7);
        return passesWith(finished, new int[0], 50);
    }

    @Test
    void warmUpGoesOnWhileACompilationIsStillRunning() {
        // Passes 1-3 finish compilations; pass 4 sees "+0 ms" while C2 still works on the loop (1 pending), its
        // compilation finishes during pass 5; pass 6 is the first with nothing finished and nothing pending.
        assertEquals(6, passesWith(new long[] {7, 7, 7, 0, 120}, new int[] {1, 1, 1, 1, 0, 0}, 50));
        // Still compiling at the end of every quiet pass: the bound holds.
        assertEquals(BenchCommand.MAX_WARM_PASSES, passesWith(new long[0], new int[] {1, 1, 1, 1, 1, 1, 1, 1}, 50));
    }

    @Test
    void withoutTheQueueTheWarmUpNeedsQuietWallTime() {
        // No readable queue (-1): two quiet passes are not enough if they last less than MIN_QUIET_NANOS together.
        assertEquals(300_000_000L, BenchCommand.MIN_QUIET_NANOS);
        assertEquals(5, passesWith(new long[] {7, 7, 7}, new int[] {-1}, 200));
        assertEquals(BenchCommand.MAX_WARM_PASSES, passesWith(new long[] {7, 7, 7}, new int[] {-1}, 50));
        assertEquals(7, passesWith(new long[] {7, 7, 7}, new int[] {-1}, 80));
    }

    @Test
    void theCompileQueueIsReadable() {
        assertEquals(0, BenchCommand.compilerQueueTasks(
                "Current compiles: \n\nC1 compile queue:\nEmpty\n\nC2 compile queue:\nEmpty\n\n"));
        assertEquals(2, BenchCommand.compilerQueueTasks("Current compiles: \n"
                + "C2 CompilerThread0  1503       4       java.util.concurrent.ConcurrentHashMap::get (162 bytes)\n\n"
                + "C1 compile queue:\nEmpty\n\nC2 compile queue:\n"
                + "1509       4       jdk.internal.org.objectweb.asm.SymbolTable::addConstantUtf8 (98 bytes)\n\n"));
        assertEquals(-1, BenchCommand.compilerQueueTasks("unknown command"));
        // This JVM's own queue (HotSpot's DiagnosticCommand MBean): -1 would fall back to the wall-time rule.
        assertTrue(BenchCommand.jitPending() >= 0, "compilerQueue: " + BenchCommand.jitPending());
    }

    @Test
    void warmUpStopsAtTheFirstPassWithoutCompilation() {
        assertEquals(4, passesWith(3));
        assertEquals(6, passesWith(5));
    }

    @Test
    void warmUpRunsTheMinimumEvenWhenTheJitIsQuietAtOnce() {
        // The first pass's on-stack compilation is thrown away when it leaves the loop, and C2 compiles the loop as a
        // method during the third: a quiet second pass must not end the warm-up.
        assertEquals(3, BenchCommand.MIN_WARM_PASSES);
        assertEquals(BenchCommand.MIN_WARM_PASSES, passesWith(0));
        assertEquals(BenchCommand.MIN_WARM_PASSES, passesWith(1));
        assertEquals(BenchCommand.MIN_WARM_PASSES, passesWith(2));
    }

    @Test
    void warmUpIsBoundedWhenTheJitNeverSettles() {
        assertEquals(BenchCommand.MAX_WARM_PASSES, passesWith(Integer.MAX_VALUE));
    }

    @Test
    void theJitClockIsReadable() {
        // HotSpot monitors compilation time; -1 (unknown) would silently reduce the warm-up to the minimum.
        assertTrue(BenchCommand.jitMillis() >= 0, "CompilationMXBean time: " + BenchCommand.jitMillis());
    }

    @ParameterizedTest
    @ValueSource(strings = {"0", "-1", "x", ""})
    void aBadWarmPassesIsRejectedBeforeConnecting(String value) {
        // No such service: a run that got as far as connecting would end with 1 (or a stack trace), not the usage 2.
        String service = "jqb-no-such-bench-" + ProcessHandle.current().pid();
        try (io.jqb.testutil.StderrCapture err = new io.jqb.testutil.StderrCapture()) {
            int rc = BenchCommand.run(new String[] {"--service", service, "--pipeline", "--warm-passes", value},
                    new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
            assertEquals(2, rc, "--warm-passes " + value);
            String expected = value.equals("0") || value.equals("-1") ? "jqb bench: --warm-passes must be at least 1"
                    : "jqb bench: --warm-passes must be an integer, not '" + value + "'";
            assertEquals(1, err.lines(expected).size(), "stderr: " + err.lines("jqb bench"));
        }
    }

    @Test
    void aBadCountIsRejectedLikeTheOtherFlags() {
        try (io.jqb.testutil.StderrCapture err = new io.jqb.testutil.StderrCapture()) {
            int rc = BenchCommand.run(new String[] {"--service", "jqb-no-such-bench-" + ProcessHandle.current().pid(),
                "--count", "1e6"}, new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
            assertEquals(2, rc);
            assertEquals(1, err.lines("jqb bench: --count must be an integer, not '1e6'").size());
        }
    }

    /**
     * {@code -Djqb.bench.slice=N} (a debug run of the cold start): one stderr line with the time of every N round
     * trips, as many as fit in the count, which together take no longer than the whole timed loop.
     */
    @Test
    @Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void coldBenchPrintsItsSlicesOnRequest() throws Exception {
        try (NativeServer server = NativeServer.start(NativeServer.uniqueName("bench-slice"), "--transport", "shm")) {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            int rc;
            java.util.List<String> slices;
            String before = System.setProperty("jqb.bench.slice", "100");
            try (PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
                    io.jqb.testutil.StderrCapture err = new io.jqb.testutil.StderrCapture()) {
                rc = BenchCommand.run(new String[] {"--service", server.service(), "--count", "1050", "--warmup", "0",
                    "--cold"}, out);
                slices = err.lines("jqb bench: slice=");
            } finally {
                if (before == null) {
                    System.clearProperty("jqb.bench.slice");
                } else {
                    System.setProperty("jqb.bench.slice", before);
                }
            }
            String text = bytes.toString(StandardCharsets.UTF_8);
            assertEquals(0, rc, text);
            assertEquals(1, slices.size(), "stderr: " + slices);
            assertTrue(slices.get(0).startsWith("jqb bench: slice=100 ms="), slices.get(0));
            String[] ms = slices.get(0).substring("jqb bench: slice=100 ms=".length()).split(",");
            assertEquals(10, ms.length, "1050 round trips hold ten whole slices of 100: " + slices.get(0));
            double sum = 0;
            for (String m : ms) {
                double v = Double.parseDouble(m);
                assertTrue(v >= 0, slices.get(0));
                sum += v;
            }
            String cold = text.lines().filter(l -> l.startsWith("cold ")).findFirst().orElseThrow();
            double totalMs = Long.parseLong(cold.replaceAll(".*total_ns=([0-9]+).*", "$1")) / 1e6;
            assertTrue(sum <= totalMs + 1, "slices " + sum + " ms within the loop's " + totalMs + " ms");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"shm", "socket"})
    @Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void pipelinedBenchAgainstTheNativeServer(String transport) throws Exception {
        try (NativeServer server = NativeServer.start(NativeServer.uniqueName("bench-" + transport), "--transport",
                transport)) {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            int rc;
            java.util.List<String> probe;
            // -Djqb.bench.jit=true: the bench says on stderr how many warm-up passes it ran.
            String jit = System.setProperty("jqb.bench.jit", "true");
            try (PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
                    io.jqb.testutil.StderrCapture err = new io.jqb.testutil.StderrCapture()) {
                // SOCKET with a fixed number of warm-up passes (what benchmarks/pipeline-counts.sh asks for); 2 is
                // below both the default (3) and the adaptive minimum, so only an honoured flag gives 2. SHM with
                // the adaptive rule, which runs 3 to 8.
                String[] passes = transport.equals("socket") ? new String[] {"--warm-passes", "2"}
                        : new String[] {"--warm-passes", "auto"};
                String[] args = {"--service", server.service(), "--count", "3000", "--size", "4096", "--warmup", "500",
                    "--pipeline"};
                rc = BenchCommand.run(java.util.stream.Stream.concat(java.util.Arrays.stream(args),
                        java.util.Arrays.stream(passes)).toArray(String[]::new), out);
                probe = err.lines("jqb bench: warm_passes=");
            } finally {
                if (jit == null) {
                    System.clearProperty("jqb.bench.jit");
                } else {
                    System.setProperty("jqb.bench.jit", jit);
                }
            }
            String line = bytes.toString(StandardCharsets.UTF_8).trim();
            assertEquals(0, rc, line);
            assertEquals(1, probe.size(), "stderr: " + probe);
            String runs = probe.get(0).replaceAll(".*warm_passes=([0-9]+).*", "$1");
            if (transport.equals("socket")) {
                assertEquals("2", runs, probe.get(0));
            } else {
                int n = Integer.parseInt(runs);
                assertTrue(n >= BenchCommand.MIN_WARM_PASSES && n <= BenchCommand.MAX_WARM_PASSES, probe.get(0));
            }
            assertTrue(line.matches("size=4096 count=3000 p50_ns=0 p99_ns=0 p999_ns=0 msgs_per_s=[1-9][0-9]* "
                    + "MB_per_s=[0-9.]+"), line);
            // The client has gone: the server holds no connection afterwards.
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (!server.command("conns").equals("ok 0") && System.nanoTime() < deadline) {
                Thread.onSpinWait();
            }
            assertEquals("ok 0", server.command("conns"));
        }
    }
}
