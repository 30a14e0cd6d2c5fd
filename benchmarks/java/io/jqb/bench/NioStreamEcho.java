package io.jqb.bench;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;

/**
 * The stream benchmark's plain-JDK baseline: the same frames as io.jqb.stream (12-byte big-endian header
 * {prefix, msgId, length}, then the payload) echoed with blocking {@link SocketChannel}s and direct buffers, the
 * way one would write it without a library. Filesystem paths only for pipes (the JDK takes no abstract names).
 *
 * <pre>
 * java -cp ... io.jqb.bench.NioStreamEcho echo  (--tcp PORT | --pipe PATH)
 * java -cp ... io.jqb.bench.NioStreamEcho bench (--tcp HOST:PORT | --pipe PATH) [--count N] [--size S] [--warmup N]
 * </pre>
 */
public final class NioStreamEcho {
    private static final int PREFIX = 0x4A514253;

    private NioStreamEcho() {
    }

    public static void main(String[] args) throws IOException {
        String tcp = null;
        String pipe = null;
        int count = 100_000;
        int size = 64;
        int warmup = 20_000;
        for (int i = 1; i < args.length; i++) {
            switch (args[i]) {
                case "--tcp": tcp = args[++i]; break;
                case "--pipe": pipe = args[++i]; break;
                case "--count": count = Integer.parseInt(args[++i]); break;
                case "--size": size = Integer.parseInt(args[++i]); break;
                case "--warmup": warmup = Integer.parseInt(args[++i]); break;
                default: throw new IllegalArgumentException(args[i]);
            }
        }
        if (args[0].equals("echo")) {
            echo(tcp, pipe);
        } else {
            bench(tcp, pipe, count, size, warmup);
        }
    }

    private static void echo(String tcp, String pipe) throws IOException {
        ServerSocketChannel l;
        if (tcp != null) {
            l = ServerSocketChannel.open();
            int c = tcp.lastIndexOf(':');
            l.bind(c < 0 ? new InetSocketAddress(Integer.parseInt(tcp))
                    : new InetSocketAddress(tcp.substring(0, c), Integer.parseInt(tcp.substring(c + 1))));
        } else {
            Files.deleteIfExists(Path.of(pipe));
            l = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
            l.bind(UnixDomainSocketAddress.of(pipe));
        }
        System.out.println("nio echo: ready");
        System.out.flush();
        ByteBuffer hdr = ByteBuffer.allocateDirect(12);
        ByteBuffer body = ByteBuffer.allocateDirect(16 << 20);
        ByteBuffer[] both = {hdr, body};
        for (;;) {
            try (SocketChannel c = l.accept()) {
                if (tcp != null) {
                    c.setOption(StandardSocketOptions.TCP_NODELAY, true);
                }
                while (readFrame(c, hdr, body)) {
                    hdr.flip();
                    body.flip();
                    while (hdr.hasRemaining() || body.hasRemaining()) {
                        c.write(both);
                    }
                }
            } catch (IOException e) {
                // client gone: next
            }
        }
    }

    /** Reads one frame into hdr + body (body's limit = its length); false at EOF. */
    private static boolean readFrame(SocketChannel c, ByteBuffer hdr, ByteBuffer body) throws IOException {
        hdr.clear();
        while (hdr.hasRemaining()) {
            if (c.read(hdr) < 0) {
                return false;
            }
        }
        if (hdr.getInt(0) != PREFIX) {
            throw new IOException("wrong prefix");
        }
        int len = hdr.getInt(8);
        if (len < 0 || len > body.capacity()) {
            throw new IOException("frame too large: " + len);
        }
        body.clear().limit(len);
        while (body.hasRemaining()) {
            if (c.read(body) < 0) {
                throw new IOException("truncated");
            }
        }
        return true;
    }

    private static void bench(String tcp, String pipe, int count, int size, int warmup) throws IOException {
        SocketChannel c;
        if (tcp != null) {
            int i = tcp.lastIndexOf(':');
            c = SocketChannel.open(new InetSocketAddress(tcp.substring(0, i), Integer.parseInt(tcp.substring(i + 1))));
            c.setOption(StandardSocketOptions.TCP_NODELAY, true);
        } else {
            c = SocketChannel.open(UnixDomainSocketAddress.of(pipe));
        }
        ByteBuffer reqHdr = ByteBuffer.allocateDirect(12);
        ByteBuffer req = ByteBuffer.allocateDirect(size);
        ByteBuffer[] out = {reqHdr, req};
        ByteBuffer hdr = ByteBuffer.allocateDirect(12);
        ByteBuffer body = ByteBuffer.allocateDirect(Math.max(size, 1));
        long[] rtt = new long[count];
        long start = 0;
        for (int i = -warmup; i < count; i++) {
            if (i == 0) {
                start = System.nanoTime();
            }
            long t0 = System.nanoTime();
            reqHdr.clear();
            reqHdr.putInt(0, PREFIX).putInt(4, i).putInt(8, size);
            req.clear();
            while (reqHdr.hasRemaining() || req.hasRemaining()) {
                c.write(out);
            }
            if (!readFrame(c, hdr, body) || hdr.getInt(4) != i || body.limit() != size) {
                throw new IOException("bad echo at " + i);
            }
            if (i >= 0) {
                rtt[i] = System.nanoTime() - t0;
            }
        }
        long elapsed = System.nanoTime() - start;
        Arrays.sort(rtt);
        double perSec = count / (elapsed / 1e9);
        System.out.println(String.format(Locale.ROOT,
                "size=%d count=%d p50_ns=%d p99_ns=%d p999_ns=%d msgs_per_s=%.0f MB_per_s=%.2f", size, count,
                rtt[count / 2], rtt[(int) (count * 0.99)], rtt[(int) Math.min(count - 1, count * 0.999)], perSec,
                perSec * size / 1e6));
        c.close();
    }
}
