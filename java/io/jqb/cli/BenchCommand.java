package io.jqb.cli;

import io.jqb.Client;
import io.jqb.Errno;
import io.jqb.IpcException;
import java.io.PrintStream;
import java.lang.management.CompilationMXBean;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.time.Instant;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.locks.LockSupport;
import javax.management.JMException;
import javax.management.ObjectName;

/**
 * {@code jqb bench} and {@code jqb bench-connect}, the jqb counterparts of {@code qbn-client bench} and
 * {@code qbn-client bench-connect}, with the same output lines so that scripts can compare them:
 * <ul>
 * <li>{@code bench}: blocking echo round trips after a warm-up;
 * {@code size=S count=N p50_ns=.. p99_ns=.. p999_ns=.. msgs_per_s=.. MB_per_s=..}. With {@code --pipeline}, requests
 * go out without waiting for each response (latencies are then reported as 0); the warm-up is then the blocking round
 * trips and {@link #MIN_WARM_PASSES} pipelined passes of {@code min(warmup, count)} requests ({@code --warm-passes N}:
 * N passes; {@code --warm-passes auto}: until the JIT is done with them, {@link #warmUntilCompiled});</li>
 * <li>{@code bench-connect}: connect + handshake + disconnect; {@code connect count=N p50_ns=.. p99_ns=..}.</li>
 * </ul>
 * Percentiles come from an HdrHistogram ({@link LatencyStats}). The measured loops allocate nothing: buffers and
 * the histogram are created before the clock starts.
 * <p>
 * {@code bench --cold} (for a cold-start measurement, with {@code --warmup 0}) adds a second line,
 * {@code cold connected_epoch_ns=.. first_epoch_ns=.. first_rtt_ns=.. total_ns=.. count=N}: the wall-clock times
 * (CLOCK_REALTIME, ns since the epoch) at which the connection was made and the first echo came back, that first
 * round trip's time, and the time of the whole timed loop; {@code qbn-client bench --cold} prints the same. jqb adds
 * {@code main_epoch_ns}, when {@code main} was entered (the JVM's own start-up is the time before it).
 */
final class BenchCommand {
    private static final int OP_TIMEOUT_MS = 5000;
    /** Chunk header words (length, magic) that every ring message carries in front of its padded payload. */
    private static final int CHUNK_HEADER = 8;

    /**
     * The pipelined warm-up runs at least this many passes: HotSpot compiles the loop on stack (OSR) during the first
     * pass, throws that code away when the pass leaves the loop (a branch its profile had never seen taken), compiles
     * it again in the second, and in the runs measured (-XX:+LogCompilation, 2-vCPU VM) C2 compiled it as a whole
     * method during the third: 50-200 ms of compilation that a second pass with little compiling would have let
     * into the timed loop.
     */
    static final int MIN_WARM_PASSES = 3;
    /** At most this many pipelined warm-up passes, however busy the JIT stays. */
    static final int MAX_WARM_PASSES = 8;
    /** Without a readable compile queue, the warm-up ends only after this long without a finished compilation. */
    static final long MIN_QUIET_NANOS = 300_000_000L;

    private BenchCommand() {
    }

    static int run(String[] argv, PrintStream out) {
        if (wantsHelp(argv)) {
            return 0;
        }
        Args a;
        int count;
        int size;
        int warmup;
        int fixedPasses;
        boolean autoPasses;
        try {
            a = new Args(argv, Set.of("--service", "--count", "--size", "--warmup", "--max", "--window", "--wait",
                    "--warm-passes"),
                    Set.of("--pipeline", "--cold"));
            a.require("--service");
            count = a.getInt("--count", 100_000);
            size = a.getInt("--size", 64);
            warmup = a.getInt("--warmup", 20_000);
            // --warm-passes N: N pipelined warm-up passes (default MIN_WARM_PASSES); "auto": until the JIT is idle.
            autoPasses = "auto".equals(a.get("--warm-passes", null));
            fixedPasses = autoPasses ? 0 : a.getInt("--warm-passes", MIN_WARM_PASSES);
            a.getInt("--window", 0);
            a.getInt("--max", 0);
        } catch (IllegalArgumentException e) { // NumberFormatException too: "--count x"
            System.err.println("jqb bench: " + e.getMessage());
            return 2;
        }
        if (count <= 0 || size < 0 || warmup < 0) {
            System.err.println("jqb bench: --count must be positive, --size and --warmup not negative");
            return 2;
        }
        if (!autoPasses && fixedPasses < 1) {
            System.err.println("jqb bench: --warm-passes must be at least 1");
            return 2;
        }
        io.jqb.WaitStrategy wait;
        try {
            wait = io.jqb.WaitStrategy.parse(a.get("--wait", "block"));
        } catch (IllegalArgumentException e) {
            System.err.println("jqb bench: " + e.getMessage());
            return 2;
        }
        // The response (24-byte header + payload) must fit; SOCKET peers also need room for the request header.
        int max = Math.max(a.getInt("--max", 0), size + EchoMessages.RESPONSE_HEADER + EchoMessages.REQUEST_HEADER);
        boolean cold = a.flag("--cold");
        try (Client c = Client.connect(a.require("--service"), max)) {
            long connectedEpochNs = cold ? epochNanos() : 0;
            c.setWaitStrategy(wait);
            ByteBuffer req = EchoMessages.request(ByteBuffer.allocateDirect(size + EchoMessages.REQUEST_HEADER), EchoHandler.ECHO, size);
            ByteBuffer resp = ByteBuffer.allocateDirect(c.bufferSize());
            for (int i = 0; i < warmup; i++) {
                roundTrip(c, req, resp, size);
            }
            if (a.flag("--pipeline")) {
                int window = a.getInt("--window", 0);
                if (window <= 0) {
                    window = defaultWindow(c.bufferSize(), size);
                }
                // Warm the pipelined loop too: it runs different code from the blocking round trip.
                final int w = window;
                final int passCount = Math.min(warmup, count);
                int passes = 0;
                long warmJit = jitMillis();
                if (passCount > 0 && autoPasses) {
                    passes = warmUntilCompiled(() -> pipeline(c, req, resp, size, passCount, w), HOTSPOT,
                            MIN_WARM_PASSES, MAX_WARM_PASSES);
                } else if (passCount > 0) {
                    // A fixed number, no compile-queue probing: the adaptive rule's JMX queries (and its up to eight
                    // passes) left the timed loop ~15 % slower in a quiet A/B (issue 14 item 4, session 6 notes).
                    for (; passes < fixedPasses; passes++) {
                        pipeline(c, req, resp, size, passCount, w);
                    }
                }
                long timedJit = jitMillis();
                long elapsed = pipeline(c, req, resp, size, count, window);
                print(out, size, count, 0, 0, 0, elapsed);
                if (Boolean.getBoolean("jqb.bench.jit")) {
                    // -Djqb.bench.jit=true (JQB_JAVA_OPTS): how much compilation still ran inside the timed loop.
                    System.err.println(String.format(Locale.ROOT,
                            "jqb bench: warm_passes=%d warm_jit_ms=%d timed_jit_ms=%d", passes, timedJit - warmJit,
                            jitMillis() - timedJit));
                }
                return 0;
            }
            LatencyStats stats = new LatencyStats();
            // -Djqb.bench.slice=N (JQB_JAVA_OPTS, a debug run): the time of every N round trips, printed to stderr.
            int slice = Integer.getInteger("jqb.bench.slice", 0);
            long[] sliceEnds = slice > 0 ? new long[count / slice] : null;
            long firstEpochNs = 0;
            long firstRtt = 0;
            long start = System.nanoTime();
            for (int i = 0; i < count; i++) {
                long t0 = System.nanoTime();
                roundTrip(c, req, resp, size);
                long t1 = System.nanoTime();
                long rtt = t1 - t0;
                stats.record(rtt);
                if (cold && i == 0) {
                    firstEpochNs = epochNanos();
                    firstRtt = rtt;
                }
                if (sliceEnds != null && (i + 1) % slice == 0) {
                    sliceEnds[(i + 1) / slice - 1] = t1;
                }
            }
            long elapsed = System.nanoTime() - start;
            stats.print(out, size, count, elapsed);
            if (sliceEnds != null) {
                printSlices(slice, start, sliceEnds);
            }
            if (cold) {
                out.println(String.format(Locale.ROOT,
                        "cold connected_epoch_ns=%d first_epoch_ns=%d first_rtt_ns=%d total_ns=%d count=%d"
                                + " main_epoch_ns=%d",
                        connectedEpochNs, firstEpochNs, firstRtt, elapsed, count, Main.mainEpochNs));
            }
            return 0;
        } catch (IpcException e) {
            System.err.println("jqb bench: " + e.getMessage());
            return 1;
        }
    }

    /**
     * Runs {@code pass} until the JIT has finished with what it runs: at least {@code min} times, then until a pass
     * during which no compilation finished ({@link Jit#compiledMillis} unchanged) and after which none is running or
     * queued ({@link Jit#pending} 0), at most {@code max} times. The compilation time alone is not enough: it rises
     * only when a compilation finishes, C2 takes 50-300 ms over one method and an SHM pass of 20,000 requests lasts
     * 15-95 ms, so a pass can see "+0 ms" while C2 works on the loop, which then compiles in the timed loop (reviewed
     * in session 6: 5 of 6 SHM 64 B runs stopped on such a pass). Where the queue cannot be read ({@code pending}
     * -1), the passes since the last finished compilation must number at least two and last together at least
     * {@link #MIN_QUIET_NANOS}. Measured on the 2-vCPU VM (issue 14 item 4, session 6): after one pass of 20,000
     * pipelined requests the timed 40,000 still ran with 16-125 ms of C1/C2 compilation on the client's own vCPU,
     * the loop itself interpreted until its OSR compilation, and the client thread used 25-35 % more CPU per
     * request than after three passes. A native client has nothing to compile: its one warm-up pass is already
     * steady state.
     *
     * @param jit what the JIT is doing ({@link #HOTSPOT}; a fake in tests)
     * @return the number of passes run
     */
    static int warmUntilCompiled(Runnable pass, Jit jit, int min, int max) {
        int passes = 0;
        int quietPasses = 0;
        long quietNanos = 0;
        while (passes < max) {
            long before = jit.compiledMillis();
            long t0 = jit.nanoTime();
            pass.run();
            passes++;
            long took = jit.nanoTime() - t0;
            int pending = jit.compiledMillis() == before ? jit.pending() : 1;
            if (pending > 0) {
                quietPasses = 0;
                quietNanos = 0;
                continue;
            }
            quietPasses++;
            quietNanos += took;
            if (passes >= min && (pending == 0 || quietPasses >= 2 && quietNanos >= MIN_QUIET_NANOS)) {
                break;
            }
        }
        return passes;
    }

    /** What {@link #warmUntilCompiled} asks the JIT. */
    interface Jit {
        /** @return the JIT's accumulated compilation time in ms (rises when a compilation finishes), or -1 */
        long compiledMillis();

        /** @return the compilations running or queued now, or -1 if unknown */
        int pending();

        /** @return a monotonic clock in ns */
        long nanoTime();
    }

    /** This JVM's JIT: {@link #jitMillis()}, {@link #jitPending()} and {@link System#nanoTime()}. */
    static final Jit HOTSPOT = new Jit() {
        @Override
        public long compiledMillis() {
            return jitMillis();
        }

        @Override
        public int pending() {
            return jitPending();
        }

        @Override
        public long nanoTime() {
            return System.nanoTime();
        }
    };

    /** The JIT's accumulated compilation time in ms, or -1 (a constant: passes stop at the minimum) if unknown. */
    static long jitMillis() {
        CompilationMXBean jit = ManagementFactory.getCompilationMXBean();
        return jit != null && jit.isCompilationTimeMonitoringSupported() ? jit.getTotalCompilationTime() : -1;
    }

    /**
     * The compilations running or queued now, from HotSpot's {@code compilerQueue} diagnostic command (what
     * {@code jcmd PID Compiler.queue} prints), or -1 if it cannot be read.
     */
    static int jitPending() {
        try {
            Object text = ManagementFactory.getPlatformMBeanServer().invoke(
                    new ObjectName("com.sun.management:type=DiagnosticCommand"), "compilerQueue", null, null);
            return text instanceof String ? compilerQueueTasks((String) text) : -1;
        } catch (JMException | RuntimeException e) {
            return -1;
        }
    }

    /**
     * The tasks that a {@code compilerQueue} text lists: its lines other than the headings ("Current compiles:",
     * "C1 compile queue:", ...), "Empty" and blank ones. An unknown format counts as busy, so the warm-up then runs
     * to its maximum rather than stopping early; a text without the "Current compiles:" heading is unknown (-1).
     */
    static int compilerQueueTasks(String text) {
        if (!text.contains("Current compiles:")) {
            return -1;
        }
        int tasks = 0;
        for (String line : text.split("\\R")) {
            String t = line.strip();
            if (!t.isEmpty() && !t.endsWith(":") && !t.equals("Empty")) {
                tasks++;
            }
        }
        return tasks;
    }

    /** {@code --help}: the usage text (scripts grep it for options, e.g. the wait strategy's). */
    private static boolean wantsHelp(String[] argv) {
        for (String s : argv) {
            if (s.equals("--help") || s.equals("-h")) {
                Main.usage();
                return true;
            }
        }
        return false;
    }

    /**
     * Prints the bench output line ({@link LatencyStats#line(int, long, long, long, long, long)}); other bench
     * commands (libipc-bench, stream-bench) reuse it so that scripts read one format, as qbn-client prints it.
     */
    static void print(PrintStream out, int size, int count, long p50, long p99, long p999, long elapsedNs) {
        out.println(LatencyStats.line(size, count, p50, p99, p999, elapsedNs));
    }

    /** {@code -Djqb.bench.slice=N}: each slice of N round trips' time in ms, on one stderr line. */
    private static void printSlices(int slice, long start, long[] sliceEnds) {
        StringBuilder sb = new StringBuilder("jqb bench: slice=").append(slice).append(" ms=");
        long prev = start;
        for (int k = 0; k < sliceEnds.length; k++) {
            sb.append(k == 0 ? "" : ",").append(String.format(Locale.ROOT, "%.1f", (sliceEnds[k] - prev) / 1e6));
            prev = sliceEnds[k];
        }
        System.err.println(sb);
    }

    /** Wall-clock time in nanoseconds since the epoch (CLOCK_REALTIME, as qbn-client's {@code --cold}). */
    static long epochNanos() {
        Instant now = Instant.now();
        return now.getEpochSecond() * 1_000_000_000L + now.getNano();
    }

    private static void roundTrip(Client c, ByteBuffer req, ByteBuffer resp, int size) {
        sendPatiently(c, req);
        expectEcho(c.recv(resp, OP_TIMEOUT_MS), size);
    }

    /**
     * Sends, retrying WOULD_BLOCK as qbn-client's {@code send_patient} does: a big request briefly does not fit
     * because the server frees the previous request chunk only after its handler (which already answered) returns.
     * Yield first, so that a server on the same vCPU can finish; sleep only if it persists (flow control).
     */
    private static void sendPatiently(Client c, ByteBuffer req) {
        long deadline = 0;
        for (int attempt = 0;; attempt++) {
            int rc = c.send(req);
            if (rc != Errno.WOULD_BLOCK) {
                return;
            }
            long now = System.nanoTime();
            if (deadline == 0) {
                deadline = now + OP_TIMEOUT_MS * 1_000_000L;
            } else if (now - deadline > 0) {
                throw new IpcException("bench send", Errno.EAGAIN, "ring full or flow control for 5 s");
            }
            if (attempt < 1000) {
                Thread.yield();
            } else {
                LockSupport.parkNanos(100_000);
            }
        }
    }

    private static void expectEcho(int rc, int size) {
        if (rc != size + EchoMessages.RESPONSE_HEADER) {
            throw new IpcException("bench recv", rc < 0 ? -rc : Errno.EBADMSG, "length " + rc);
        }
    }

    /**
     * How many requests may be outstanding: one fewer than the response ring holds, as qbn-client computes it. A
     * server whose response ring is full stops reading doorbells while it retries, and a client that stops reading
     * responses while it waits for doorbell room then deadlocks with it (libqb's client busy-loops on the doorbell).
     * SOCKET connections use the same bound.
     */
    static int defaultWindow(int bufferSize, int size) {
        int chunk = CHUNK_HEADER + ((EchoMessages.RESPONSE_HEADER + size + 3) & ~3);
        return Math.max(1, bufferSize / chunk - 1);
    }

    /**
     * {@code count} requests, keeping up to {@code window} outstanding, the same loop as {@code qbn-client bench
     * --pipeline}: at the window it waits for one response; when a send would block it drains whatever responses
     * are ready (timeout 0), and waits for one only when none is.
     *
     * @return the elapsed nanoseconds
     */
    private static long pipeline(Client c, ByteBuffer req, ByteBuffer resp, int size, int count, int window) {
        final int len = req.remaining();
        long sent = 0;
        long received = 0;
        long stallSince = 0;
        final long start = System.nanoTime();
        while (sent < count) {
            if (sent - received >= window) {
                expectEcho(c.recv(resp, OP_TIMEOUT_MS), size);
                received++;
                continue;
            }
            int rc = c.send(req);
            if (rc == len) {
                sent++;
                continue;
            }
            if (rc != Errno.WOULD_BLOCK) {
                throw new IpcException("bench send", rc < 0 ? -rc : Errno.EBADMSG, "length " + rc);
            }
            // Request ring full: drain whatever responses are ready.
            long before = received;
            while (received < sent) {
                rc = c.recv(resp, 0);
                if (rc == Errno.WOULD_BLOCK || rc == Errno.TIMED_OUT) {
                    break;
                }
                expectEcho(rc, size);
                received++;
            }
            if (received == before) {
                if (received < sent) {
                    // Nothing ready yet: block for one response rather than spin.
                    expectEcho(c.recv(resp, OP_TIMEOUT_MS), size);
                    received++;
                } else {
                    // Nothing outstanding: the server has not yet freed the last request chunk, or flow control is on.
                    long now = System.nanoTime();
                    if (stallSince == 0) {
                        stallSince = now;
                    } else if (now - stallSince > OP_TIMEOUT_MS * 1_000_000L) {
                        throw new IpcException("bench send", Errno.EAGAIN, "send keeps failing, nothing outstanding");
                    }
                    Thread.yield();
                    continue;
                }
            }
            stallSince = 0;
        }
        while (received < sent) {
            expectEcho(c.recv(resp, OP_TIMEOUT_MS), size);
            received++;
        }
        return System.nanoTime() - start;
    }

    /** {@code jqb bench-connect}: connect + handshake + disconnect, timed one by one. */
    static int runConnect(String[] argv, PrintStream out) {
        if (wantsHelp(argv)) {
            return 0;
        }
        Args a;
        try {
            a = new Args(argv, Set.of("--service", "--count", "--warmup", "--max"), Set.of());
            a.require("--service");
        } catch (IllegalArgumentException e) {
            System.err.println("jqb bench-connect: " + e.getMessage());
            return 2;
        }
        String service = a.require("--service");
        int count = a.getInt("--count", 1000);
        // More than qbn-client's 10: the JIT needs a few hundred handshakes to compile the set-up path.
        int warmup = a.getInt("--warmup", 500);
        int max = a.getInt("--max", 65536);
        if (count <= 0 || warmup < 0) {
            System.err.println("jqb bench-connect: --count must be positive, --warmup not negative");
            return 2;
        }
        LatencyStats t = new LatencyStats();
        try {
            for (int i = -warmup; i < count; i++) {
                long t0 = System.nanoTime();
                Client c = Client.connect(service, max);
                c.close();
                if (i >= 0) {
                    t.record(System.nanoTime() - t0);
                }
            }
        } catch (IpcException e) {
            System.err.println("jqb bench-connect: " + e.getMessage());
            return 1;
        }
        out.println(String.format(Locale.ROOT, "connect count=%d p50_ns=%d p99_ns=%d", count, t.percentile(50),
                t.percentile(99)));
        return 0;
    }
}
