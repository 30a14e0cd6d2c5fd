package io.jqb.bench;

import io.jqb.internal.posix.PointerStore;
import io.jqb.internal.posix.Posix;
import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * A check beside {@link RingCopyBenchmark} that a loaded machine skews less: old (ByteBuffer view) and new
 * (PointerStore) payload copies alternate in 20 ms blocks in one JVM, the order rotating every block, 2 x 60 blocks
 * (the first pass is warm-up); prints the median ns per copy of each. Usage:
 * {@code java -cp target/test-classes:target/classes:$(cat target/test.cp) io.jqb.bench.RingCopyAlternating SIZE KIND}
 * with KIND {@code direct} or {@code heap}.
 */
public final class RingCopyAlternating {
    private RingCopyAlternating() {
    }

    /** @param a SIZE and KIND ({@code direct} or {@code heap}) */
    public static void main(String[] a) {
        int size = Integer.parseInt(a[0]);
        boolean heap = a[1].equals("heap");
        int area = 2 * 65536 + 4096, at = 4104;
        long addr = Posix.allocate(area);
        PointerStore store = new PointerStore(addr, area);
        ByteBuffer view = Posix.directBuffer(addr, area);
        ByteBuffer user = heap ? ByteBuffer.allocate(size) : ByteBuffer.allocateDirect(size);
        int blocks = 60;
        double[][] r = new double[4][blocks];
        for (int warm = 0; warm < 2; warm++) {
            for (int b = 0; b < blocks; b++) {
                for (int k = 0; k < 4; k++) {
                    int kk = (b + k) % 4; // rotate the order every block
                    long t0 = System.nanoTime(), n = 0;
                    while (System.nanoTime() - t0 < 20_000_000L) {
                        for (int i = 0; i < 64; i++) {
                            switch (kk) {
                                case 0: view.put(at, user, 0, size); break;
                                case 1: store.write(at, user, 0, size); break;
                                case 2: user.put(0, view, at, size); break;
                                default: store.read(at, user, 0, size); break;
                            }
                        }
                        n += 64;
                    }
                    r[kk][b] = (System.nanoTime() - t0) / (double) n;
                }
            }
        }
        String[] names = {"viewIn", "storeIn", "viewOut", "storeOut"};
        StringBuilder sb = new StringBuilder(size + " " + a[1]);
        for (int k = 0; k < 4; k++) {
            double[] x = r[k].clone(); Arrays.sort(x);
            sb.append(String.format(" %s=%.1f", names[k], x[blocks / 2]));
        }
        System.out.println(sb);
        Posix.free(addr, area);
    }
}
