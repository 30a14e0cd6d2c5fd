package io.jqb.cli;

import io.jqb.IpcException;
import io.jqb.libipc.IpcClient;
import io.jqb.libipc.IpcMessage;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Set;

/**
 * {@code jqb libipc-bench NAME [--count N] [--size S] [--warmup W]}: lock-step DATA echo round trips against a
 * libipc echo server (jqb's or libipc-peer's). Every echo is checked byte for byte (exit 1 at the first mismatch);
 * then the {@code size= count= p50_ns= p99_ns= p999_ns= msgs_per_s= MB_per_s=} line of {@code bench}.
 */
final class LibipcBenchCommand {
    private static final long OP_TIMEOUT_MS = 10_000;

    private LibipcBenchCommand() {
    }

    static int run(String[] argv, PrintStream out) {
        if (argv.length < 1 || argv[0].startsWith("-")) {
            System.err.println("jqb libipc-bench: usage: libipc-bench NAME [--count N] [--size S] [--warmup W]");
            return 2;
        }
        String name = argv[0];
        Args a;
        try {
            a = new Args(Arrays.copyOfRange(argv, 1, argv.length), Set.of("--count", "--size", "--warmup"), Set.of());
        } catch (IllegalArgumentException e) {
            System.err.println("jqb libipc-bench: " + e.getMessage());
            return 2;
        }
        int count = a.getInt("--count", 100_000);
        int size = a.getInt("--size", 64);
        int warmup = a.getInt("--warmup", 20_000);
        if (count <= 0 || size < 0 || warmup < 0 || size > IpcMessage.C_MAX_PAYLOAD) {
            System.err.println("jqb libipc-bench: --count must be positive, --size 0.." + IpcMessage.C_MAX_PAYLOAD
                    + ", --warmup not negative");
            return 2;
        }
        try (IpcClient c = IpcClient.connect(name)) {
            ByteBuffer req = ByteBuffer.allocateDirect(size);
            byte[] base = new byte[size];
            byte[] next = new byte[size];
            for (int k = 0; k < size; k++) {
                base[k] = (byte) (k * 7 + 1);
            }
            long[] rtt = new long[count];
            long start = 0;
            for (int i = -warmup; i < count; i++) {
                if (i == 0) {
                    start = System.nanoTime();
                }
                fill(req, base, next, i + warmup);
                long t0 = System.nanoTime();
                c.write(IpcMessage.DATA, req);
                IpcMessage m = c.read(OP_TIMEOUT_MS);
                long t1 = System.nanoTime();
                String bad = check(m, req);
                if (bad != null) {
                    System.err.println("jqb libipc-bench: echo " + i + ": " + bad);
                    return 1;
                }
                if (i >= 0) {
                    rtt[i] = t1 - t0;
                }
            }
            long elapsed = System.nanoTime() - start;
            Arrays.sort(rtt);
            BenchCommand.print(out, size, count, rtt[count / 2], rtt[(int) (count * 0.99)],
                    rtt[(int) Math.min(count - 1, count * 0.999)], elapsed);
            return 0;
        } catch (IpcException e) {
            System.err.println("jqb libipc-bench: " + e.getMessage());
            return 1;
        }
    }

    /**
     * The same pattern as libipc-peer: byte k of message seq is k*7 + seq*13 + 1; {@code base} holds k*7 + 1. A loop
     * over heap arrays (which the JIT vectorises, as gcc does the C peer's) and one bulk copy, not a bounds-checked
     * put per byte into the direct buffer: outside the timed send-to-receive window either way, but part of msgs/s.
     */
    private static void fill(ByteBuffer b, byte[] base, byte[] next, int seq) {
        byte add = (byte) (seq * 13);
        for (int k = 0; k < next.length; k++) {
            next[k] = (byte) (base[k] + add);
        }
        b.put(0, next, 0, next.length);
    }

    private static String check(IpcMessage m, ByteBuffer req) {
        if (m == null) {
            return "no echo within " + OP_TIMEOUT_MS + " ms";
        }
        if (m.type() != IpcMessage.DATA || m.length() != req.remaining()) {
            return "got type " + m.type() + " length " + m.length() + ", sent type 2 length " + req.remaining();
        }
        ByteBuffer p = m.payload();
        int at = p.mismatch(req);
        if (at >= 0) {
            return "payload differs at byte " + at;
        }
        return null;
    }
}
