package io.jqb.cli;

import io.jqb.Client;
import io.jqb.Errno;
import io.jqb.IpcException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Locale;
import java.util.Set;

/**
 * {@code jqb bench}: blocking echo round trips after a warm-up. One output line:
 * {@code size=S count=N p50_ns=.. p99_ns=.. p999_ns=.. msgs_per_s=.. MB_per_s=..}.
 */
final class BenchCommand {
    private BenchCommand() {
    }

    static int run(String[] argv, PrintStream out) {
        Args a;
        try {
            a = new Args(argv, Set.of("--service", "--count", "--size", "--warmup", "--max"), Set.of());
            a.require("--service");
        } catch (IllegalArgumentException e) {
            System.err.println("jqb bench: " + e.getMessage());
            return 2;
        }
        int count = a.getInt("--count", 100_000);
        int size = a.getInt("--size", 64);
        int warmup = a.getInt("--warmup", 20_000);
        int max = Math.max(a.getInt("--max", 0), size + 64);
        try (Client c = Client.connect(a.require("--service"), max)) {
            ByteBuffer req = EchoMessages.request(ByteBuffer.allocateDirect(size + 16), EchoHandler.ECHO, size);
            ByteBuffer resp = ByteBuffer.allocateDirect(c.bufferSize());
            for (int i = 0; i < warmup; i++) {
                roundTrip(c, req, resp, size);
            }
            long[] rtt = new long[count];
            long start = System.nanoTime();
            for (int i = 0; i < count; i++) {
                long t0 = System.nanoTime();
                roundTrip(c, req, resp, size);
                rtt[i] = System.nanoTime() - t0;
            }
            long elapsed = System.nanoTime() - start;
            Arrays.sort(rtt);
            double perSec = count / (elapsed / 1e9);
            out.println(String.format(Locale.ROOT,
                    "size=%d count=%d p50_ns=%d p99_ns=%d p999_ns=%d msgs_per_s=%.0f MB_per_s=%.1f", size, count,
                    rtt[count / 2], rtt[(int) (count * 0.99)], rtt[(int) Math.min(count - 1, count * 0.999)], perSec,
                    perSec * size / 1e6));
            return 0;
        } catch (IpcException e) {
            System.err.println("jqb bench: " + e.getMessage());
            return 1;
        }
    }

    private static void roundTrip(Client c, ByteBuffer req, ByteBuffer resp, int size) throws IpcException {
        int rc;
        while ((rc = c.send(req)) == Errno.WOULD_BLOCK) {
            Thread.onSpinWait();
        }
        rc = c.recv(resp, 5000);
        if (rc != size + EchoMessages.RESPONSE_HEADER) {
            throw new IpcException("bench recv", rc < 0 ? -rc : Errno.EBADMSG, "length " + rc);
        }
    }
}
