package io.jqb.cli;

import io.jqb.IpcException;
import io.jqb.stream.Ipc;
import io.jqb.stream.PipeIpc;
import io.jqb.stream.TcpIpc;
import io.jqb.stream.internal.FrameDescriptor;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Set;

/**
 * {@code jqb stream-bench}: framed echo round trips against {@code jqb stream-echo} (or any peer that echoes frames),
 * printing the same line as {@code jqb bench}. The measured loop allocates nothing.
 */
final class StreamBenchCommand {
    private static final int OP_TIMEOUT_MS = 5000;

    private StreamBenchCommand() {
    }

    static int run(String[] argv, PrintStream out) {
        Args a;
        try {
            a = new Args(argv, Set.of("--tcp", "--tls", "--pipe", "--ca", "--count", "--size", "--warmup"), Set.of());
        } catch (IllegalArgumentException e) {
            System.err.println("jqb stream-bench: " + e.getMessage());
            return 2;
        }
        int modes = (a.flag("--tcp") ? 1 : 0) + (a.flag("--tls") ? 1 : 0) + (a.flag("--pipe") ? 1 : 0);
        int count = a.getInt("--count", 100_000);
        int size = a.getInt("--size", 64);
        int warmup = a.getInt("--warmup", 20_000);
        if (modes != 1 || count <= 0 || size < 0 || warmup < 0) {
            System.err.println("jqb stream-bench: give one of --tcp HOST:PORT, --tls HOST:PORT, --pipe PATH;"
                    + " --count positive, --size and --warmup not negative");
            return 2;
        }
        try (Ipc c = a.flag("--pipe") ? PipeIpc.connect(a.require("--pipe"), OP_TIMEOUT_MS)
                : a.flag("--tcp") ? TcpIpc.connect(a.require("--tcp"), 0, OP_TIMEOUT_MS)
                : StreamTls.connect(a.require("--tls"), a.get("--ca", null), OP_TIMEOUT_MS)) {
            ByteBuffer req = ByteBuffer.allocateDirect(size);
            for (int i = 0; i < size; i++) {
                req.put(i, (byte) i);
            }
            ByteBuffer resp = ByteBuffer.allocateDirect(Math.max(size, 1));
            for (int i = 0; i < warmup; i++) {
                roundTrip(c, req, resp, i, size);
            }
            long[] rtt = new long[count];
            long start = System.nanoTime();
            for (int i = 0; i < count; i++) {
                long t0 = System.nanoTime();
                roundTrip(c, req, resp, i, size);
                rtt[i] = System.nanoTime() - t0;
            }
            long elapsed = System.nanoTime() - start;
            Arrays.sort(rtt);
            BenchCommand.print(out, size, count, rtt[count / 2], rtt[(int) (count * 0.99)],
                    rtt[(int) Math.min(count - 1, count * 0.999)], elapsed);
            return 0;
        } catch (IllegalArgumentException e) {
            System.err.println("jqb stream-bench: " + e.getMessage());
            return 2;
        } catch (IpcException e) {
            System.err.println("jqb stream-bench: " + e.getMessage());
            return 1;
        }
    }

    private static void roundTrip(Ipc c, ByteBuffer req, ByteBuffer resp, int id, int size) {
        c.writeMessage(FrameDescriptor.DEFAULT_PREFIX, id, req);
        resp.clear().limit(size);
        long got = c.readMessage(FrameDescriptor.DEFAULT_PREFIX, resp, OP_TIMEOUT_MS);
        if (got != Integer.toUnsignedLong(id) || resp.position() != size) {
            throw new IpcException("stream-bench", io.jqb.Errno.EBADMSG,
                    "expected id=" + id + " length=" + size + ", got id=" + got + " length=" + resp.position());
        }
    }
}
