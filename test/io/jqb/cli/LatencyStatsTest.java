package io.jqb.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The bench commands' percentiles (HdrHistogram) and their output line, which scripts parse. */
class LatencyStatsTest {

    /** Within HdrHistogram's 3 significant digits (0.1 %) of {@code exact}. */
    private static void assertNear(long exact, long actual) {
        assertTrue(Math.abs(actual - exact) <= exact / 1000 + 1, () -> "expected ~" + exact + ", got " + actual);
    }

    @Test
    void percentilesOfAKnownDistribution() {
        LatencyStats s = new LatencyStats();
        // 1..100000 µs in a shuffled order: p50 = 50 ms, p99 = 99 ms, p99.9 = 99.9 ms.
        long n = 100_000;
        for (long i = 0; i < n; i++) {
            long v = (i * 7919) % n + 1; // a permutation of 1..n (7919 is prime, coprime to n)
            s.record(v * 1000);
        }
        assertEquals(n, s.count());
        assertNear(50_000_000L, s.percentile(50));
        assertNear(99_000_000L, s.percentile(99));
        assertNear(99_900_000L, s.percentile(99.9));
        assertNear(100_000_000L, s.max());
    }

    @Test
    void smallValuesAreExact() {
        LatencyStats s = new LatencyStats();
        for (int i = 0; i < 99; i++) {
            s.record(400);
        }
        s.record(1500);
        assertEquals(400, s.percentile(50));
        assertEquals(400, s.percentile(99));
        assertEquals(1500, s.percentile(99.9));
    }

    @Test
    void emptyReportsZeroAndResetForgets() {
        LatencyStats s = new LatencyStats();
        assertEquals(0, s.percentile(50));
        assertEquals(0, s.max());
        s.record(123);
        s.reset();
        assertEquals(0, s.count());
        assertEquals(0, s.percentile(99));
    }

    @Test
    void outOfRangeValuesAreClampedNotThrown() {
        LatencyStats s = new LatencyStats();
        s.record(-5);
        s.record(Long.MAX_VALUE);
        assertEquals(2, s.count());
        assertNear(LatencyStats.HIGHEST_NS, s.max());
    }

    @Test
    void lineHasQbnClientsFormat() {
        // qbn-client: "size=%ld count=%ld p50_ns=%llu p99_ns=%llu p999_ns=%llu msgs_per_s=%.0f MB_per_s=%.2f"
        assertEquals("size=64 count=20000 p50_ns=8800 p99_ns=11400 p999_ns=30000 msgs_per_s=100000 MB_per_s=6.40",
                LatencyStats.line(64, 20_000, 8_800, 11_400, 30_000, 200_000_000L));
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
        BenchCommand.print(out, 4096, 1000, 1, 2, 3, 1_000_000_000L);
        assertEquals("size=4096 count=1000 p50_ns=1 p99_ns=2 p999_ns=3 msgs_per_s=1000 MB_per_s=4.10",
                bytes.toString(StandardCharsets.UTF_8).trim());
        LatencyStats s = new LatencyStats();
        s.record(1000);
        assertEquals("size=0 count=1 p50_ns=1000 p99_ns=1000 p999_ns=1000 msgs_per_s=1000 MB_per_s=0.00",
                s.line(0, 1, 1_000_000L));
    }

    @Test
    void recordAllocatesNothing() {
        java.lang.management.ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        if (!(mx instanceof com.sun.management.ThreadMXBean)) {
            return; // no per-thread allocation counter on this JVM
        }
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) mx;
        LatencyStats s = new LatencyStats();
        long tid = Thread.currentThread().getId();
        for (int i = 0; i < 20_000; i++) {
            s.record(i * 37L);
        }
        long before = threads.getThreadAllocatedBytes(tid);
        for (int i = 0; i < 100_000; i++) {
            s.record(i * 101L);
        }
        long allocated = threads.getThreadAllocatedBytes(tid) - before;
        // The counter read itself may allocate a little; 100k records at even 8 B each would be 800 KB.
        assertTrue(allocated < 4096, () -> "record() allocated " + allocated + " bytes over 100k calls");
    }
}
