package io.jqb;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.cli.EchoHandler;
import io.jqb.internal.posix.NativeMemory;
import io.jqb.testutil.ForceFilesystemSwitch;
import io.jqb.testutil.NativeClient;
import io.jqb.testutil.ShmAssert;
import io.jqb.testutil.Tracked;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Issue 14, item 5: what an open, served SOCKET connection keeps on the server, measured with
 * {@value #CLIENTS} real native libqb clients ({@code qbn-client bench-many}: one process, one connection and one
 * thread doing echo round trips each) against a service answering as {@code bin/jqb echo-server} does (a gathered
 * header + payload response, copied into a send scratch). Measured while every connection is open and has been
 * served: the Java heap still live after {@code System.gc()} and the native bytes jqb has malloc'd, each minus the
 * same figure with none of them open, before (after a warm-up run of the same clients) and after (the smaller
 * difference).
 */
class SocketConnectionFootprintTest {
    private static final int CLIENTS = 300;
    /**
     * Live heap per open connection: ~1,290 B measured before this test (the connection's objects: {@code
     * Connection}, its channel, path strings, callbacks, backlogs, the ops view); ~1,120 with the send scratch
     * shared, ~1,010 with one callbacks object, ~820 without the socket base and control path strings, 730-830 over
     * runs with the control file made from the directory and a per-service name, 560-680 without the PeerSocket
     * objects and with the send backlogs made on first use (session 7). The bound leaves room for what other threads
     * keep meanwhile.
     */
    private static final long HEAP_PER_CONNECTION_BOUND = 900;
    /**
     * Native bytes per open connection: 0 of its own (the receive area and the loop's send scratch are the
     * service's); each used to malloc a 256-byte send scratch for its first response. Slack for other threads.
     */
    private static final long NATIVE_PER_CONNECTION_BOUND = 64;

    private final Tracked tracked = new Tracked();
    private static AutoCloseable abstractMode;

    @BeforeAll
    static void hostIsInAbstractMode() {
        abstractMode = ForceFilesystemSwitch.holdAbstractMode();
    }

    @AfterAll
    static void nothingLeft() throws Exception {
        if (abstractMode != null) {
            abstractMode.close();
        }
        NativeClient.killAll();
        NativeClient.assertNoChildProcesses();
        ShmAssert.assertNoneLeft();
    }

    @AfterEach
    void closeTracked() throws Exception {
        tracked.closeAll();
    }

    @Test
    void anOpenServedSocketConnectionKeepsLittleHeapAndNoNativeMemory() throws Exception {
        String name = "jqbs-foot-" + ProcessHandle.current().pid();
        CountingEcho h = new CountingEcho();
        Service s = tracked.add(Service.create(name, 4, TransportType.SOCKET, h));
        s.run();
        // One connection open throughout keeps the service's shared areas (they go with its last connection).
        NativeClient keeper = tracked.add(NativeClient.drive(name, 8192));
        assertTrue(keeper.connect() > 0, "the keeper connected");
        keeper.echo(64);
        // Warm-up: the same clients once (classes, the JIT, the shared receive area and send scratch).
        Process warm = benchMany(name, 300);
        try {
            assertTrue(warm.waitFor(120, TimeUnit.SECONDS), "warm-up bench-many did not finish within 120 s");
            assertEquals(0, warm.exitValue(), "warm-up bench-many exit status");
        } finally {
            warm.destroyForcibly();
            warm.waitFor();
        }
        waitUntil("the warm-up's connections torn down", () -> h.destroyed.get() == CLIENTS);
        MemoryMXBean mem = ManagementFactory.getMemoryMXBean();
        long heap0 = liveHeap(mem);
        long native0 = NativeMemory.outstandingBytes();

        Process p = benchMany(name, 600_000); // held open until this test ends it
        long heap1;
        long native1;
        try {
            waitUntil("every connection open and served", () -> s.connections().size() == CLIENTS + 1
                    && s.connections().stream().allMatch(c -> c.stats(false).requests() > 0));
            heap1 = liveHeap(mem);
            native1 = NativeMemory.outstandingBytes();
            assertTrue(p.isAlive() && s.connections().size() == CLIENTS + 1, "the clients stayed connected");
        } finally {
            p.destroyForcibly();
            p.waitFor();
        }
        waitUntil("every connection torn down", () -> h.destroyed.get() == 2 * CLIENTS);
        long heap2 = liveHeap(mem);
        long native2 = NativeMemory.outstandingBytes();
        // Against the figures before and after: what another test left behind (freed meanwhile, or made meanwhile
        // and kept) moves one of the two differences, not both; the smaller is what the open connections held.
        long heapPer = Math.min(heap1 - heap0, heap1 - heap2) / CLIENTS;
        long nativePer = Math.min(native1 - native0, native1 - native2) / CLIENTS;
        System.out.println("[socket connection footprint] live heap " + heapPer + " B, native " + nativePer
                + " B per open connection (" + CLIENTS + " connections; heap before/open/after " + heap0 + "/" + heap1
                + "/" + heap2 + ")");
        assertTrue(heapPer <= HEAP_PER_CONNECTION_BOUND, "live heap per open SOCKET connection: " + heapPer
                + " B, bound " + HEAP_PER_CONNECTION_BOUND);
        assertTrue(nativePer <= NATIVE_PER_CONNECTION_BOUND, "native bytes per open SOCKET connection: " + nativePer
                + " B, bound " + NATIVE_PER_CONNECTION_BOUND);
    }

    /** Heap in use after a full collection (twice: a Cleaner or reference queue may free more after the first). */
    private static long liveHeap(MemoryMXBean mem) {
        System.gc();
        System.gc();
        return mem.getHeapMemoryUsage().getUsed();
    }

    private static Process benchMany(String name, long durationMs) throws java.io.IOException {
        return new ProcessBuilder(NativeClient.clientBinary().toString(), "bench-many", "--service", name,
                "--clients", Integer.toString(CLIENTS), "--duration-ms", Long.toString(durationMs), "--warmup-ms", "0",
                "--size", "64", "--max", "8192")
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
    }

    /** {@link EchoHandler} (the echo server's answers) counting {@code destroyed} callbacks. */
    private static final class CountingEcho extends EchoHandler {
        final AtomicInteger destroyed = new AtomicInteger();

        @Override
        public void destroyed(Connection connection) {
            destroyed.incrementAndGet();
        }
    }

    private static void waitUntil(String what, BooleanSupplier cond) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!cond.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, "timed out after 60 s waiting for: " + what);
            NativeClient.sleep(20);
        }
    }
}
