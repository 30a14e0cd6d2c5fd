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

    /** A fake JIT clock that advances during the first {@code busyPasses} passes. */
    private static int passesWith(int busyPasses) {
        AtomicLong jitMs = new AtomicLong(100);
        AtomicInteger runs = new AtomicInteger();
        int passes = BenchCommand.warmUntilCompiled(() -> {
            if (runs.incrementAndGet() <= busyPasses) {
                jitMs.addAndGet(7);
            }
        }, jitMs::get, BenchCommand.MIN_WARM_PASSES, BenchCommand.MAX_WARM_PASSES);
        assertEquals(runs.get(), passes, "the count returned is the passes run");
        return passes;
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
    @ValueSource(strings = {"shm", "socket"})
    @Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void pipelinedBenchAgainstTheNativeServer(String transport) throws Exception {
        try (NativeServer server = NativeServer.start(NativeServer.uniqueName("bench-" + transport), "--transport",
                transport)) {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            int rc;
            try (PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8)) {
                // SOCKET with a fixed number of warm-up passes (what benchmarks/pipeline-counts.sh asks for).
                String[] passes = transport.equals("socket") ? new String[] {"--warm-passes", "3"} : new String[0];
                String[] args = {"--service", server.service(), "--count", "3000", "--size", "4096", "--warmup", "500",
                    "--pipeline"};
                rc = BenchCommand.run(java.util.stream.Stream.concat(java.util.Arrays.stream(args),
                        java.util.Arrays.stream(passes)).toArray(String[]::new), out);
            }
            String line = bytes.toString(StandardCharsets.UTF_8).trim();
            assertEquals(0, rc, line);
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
