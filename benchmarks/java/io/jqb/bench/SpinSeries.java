package io.jqb.bench;

import io.jqb.Client;
import io.jqb.RequestHeader;
import io.jqb.ResponseHeader;
import io.jqb.WaitStrategy;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Locale;

/**
 * The spin round trip of one jqb client over time: {@code jqb bench --wait spin}'s loop (a real {@link Client},
 * spinning, against {@code jqb echo-server --wait spin}), but reported per window of round trips instead of once, so
 * that one pair's level can be followed through its life (does a pair that runs at ≈ 1 µs stay there, does a fast one
 * fall into it?). Run by {@code benchmarks/spin-levels.sh}; the findings are in the performance notes ("Spin mode: the
 * 1 µs level of some fresh pairs").
 *
 * <pre>
 *   SpinSeries SERVICE SIZE WARMUP WINDOWS PER_WINDOW
 * </pre>
 * Prints one line: {@code series t0_epoch_ms=T ms:p50 ms:p50 ...}: the wall-clock time of the first window's start
 * (to line windows up with a JIT log, {@code -Xlog:jit+compilation=debug::time}), then each window's start
 * (milliseconds since the first window) and the median of its round trips (ns, each timed with {@link System#nanoTime()} as {@code jqb bench} times them); then the
 * line {@code jqb bench} prints, over all windows.
 */
public final class SpinSeries {
    private static final int ECHO = 1;
    private static final int TIMEOUT_MS = 5000;

    private SpinSeries() {
    }

    public static void main(String[] args) {
        String service = args[0];
        int size = Integer.parseInt(args[1]);
        int warmup = Integer.parseInt(args[2]);
        int windows = Integer.parseInt(args[3]);
        int per = Integer.parseInt(args[4]);
        int max = size + ResponseHeader.LENGTH + RequestHeader.LENGTH;
        try (Client c = Client.connect(service, max)) {
            c.setWaitStrategy(WaitStrategy.parse("spin"));
            ByteBuffer req = ByteBuffer.allocateDirect(RequestHeader.LENGTH + size);
            new RequestHeader().wrap(req, 0).set(ECHO, RequestHeader.LENGTH + size);
            ByteBuffer resp = ByteBuffer.allocateDirect(c.bufferSize());
            for (int i = 0; i < warmup; i++) {
                roundTrip(c, req, resp, size);
            }
            long[] all = new long[windows * per];
            long[] window = new long[per];
            long[] starts = new long[windows];
            long[] p50s = new long[windows];
            long t0Wall = System.currentTimeMillis();
            long t0 = System.nanoTime();
            for (int w = 0; w < windows; w++) {
                starts[w] = System.nanoTime() - t0;
                for (int i = 0; i < per; i++) {
                    long a = System.nanoTime();
                    roundTrip(c, req, resp, size);
                    window[i] = System.nanoTime() - a;
                }
                System.arraycopy(window, 0, all, w * per, per);
                Arrays.sort(window);
                p50s[w] = window[per / 2];
            }
            long elapsed = System.nanoTime() - t0;
            StringBuilder sb = new StringBuilder("series");
            sb.append(" t0_epoch_ms=").append(t0Wall);
            for (int w = 0; w < windows; w++) {
                sb.append(' ').append(starts[w] / 1_000_000).append(':').append(p50s[w]);
            }
            System.out.println(sb);
            Arrays.sort(all);
            int n = all.length;
            System.out.println(String.format(Locale.ROOT, "size=%d count=%d p50_ns=%d p99_ns=%d p999_ns=%d msgs_per_s=%.0f",
                    size, n, all[n / 2], all[(int) (n * 0.99)], all[(int) (n * 0.999)], n * 1e9 / elapsed));
        }
    }

    private static void roundTrip(Client c, ByteBuffer req, ByteBuffer resp, int size) {
        req.clear().limit(RequestHeader.LENGTH + size);
        int rc = c.send(req);
        if (rc < 0) {
            throw new IllegalStateException("send: " + rc);
        }
        resp.clear();
        rc = c.recv(resp, TIMEOUT_MS);
        if (rc != ResponseHeader.LENGTH + size) {
            throw new IllegalStateException("recv: " + rc);
        }
    }
}
