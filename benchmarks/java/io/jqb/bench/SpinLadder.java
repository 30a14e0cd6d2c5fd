package io.jqb.bench;

import io.jqb.Errno;
import io.jqb.internal.posix.LibC;
import io.jqb.internal.posix.Posix;
import io.jqb.internal.ring.ShmRing;
import io.jqb.internal.wire.ChunkDescriptor;
import io.jqb.internal.wire.RingHeaderDescriptor;
import java.lang.invoke.VarHandle;
import java.lang.reflect.Field;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Locale;

/**
 * The rungs between {@code qbn-floor --layout jqb} (C) and {@code jqb bench --wait spin} ↔ {@code jqb echo-server
 * --wait spin}: the same spinning echo through a request and a response ring in libqb's layout, between two JVMs
 * (each pinned by the caller, {@code taskset}), with less and less of jqb in between. Run by
 * {@code benchmarks/spin-ladder.sh}; the findings are in the performance notes ("Spin mode: the 4 KiB gap").
 *
 * <pre>
 *   SpinLadder server RUNG WHERE SIZE [COPY]                 prints "ready", then echoes
 *   SpinLadder client RUNG WHERE SIZE COPY COUNT WARMUP      prints the line qbn-floor and jqb bench print
 * </pre>
 *
 * <ul>
 * <li>{@code unsafe} (WHERE: a directory, both ends): qbn_floor.c's {@code run_jqb_layout} step for step in Java: the
 * same loads, release stores, locked add, fences, checks and copies, as {@code sun.misc.Unsafe} calls on raw
 * addresses of the two rings' files (made by {@link ShmRing#create}, mapped again here as jqb maps them: the data area
 * twice back to back). No jqb class on the path: what the JVM alone (its code, its copy routine, its threads on the
 * pinned vCPU) costs against C. {@code COPY}: {@code unsafe} ({@code Unsafe.copyMemory}: HotSpot's arraycopy stub)
 * or {@code memcpy} (glibc's, through jnr-ffi, as the C floor copies).</li>
 * <li>{@code ring} (WHERE: a directory, both ends): jqb's {@link ShmRing} driven directly ({@code write},
 * {@code readDetected}, the handler's {@code copyTo} and a request view), no Client, Service or EventLoop.</li>
 * <li>{@code takeover} (server; WHERE: a service name): a real jqb {@code Service} makes the connection (handshake,
 * rings, "JQB2"); its {@code created} callback then keeps the loop thread and echoes with the {@code ring} server
 * loop. Against {@code jqb bench}: the real client with the ring-level server.</li>
 * <li>{@code client} (client; WHERE: a service name): a real jqb {@code Client} connects, then the {@code ring} client
 * loop drives its rings (reflection). Against {@code jqb echo-server}: the real server with the ring-level
 * client.</li>
 * </ul>
 * The rings' {@code max_msg_size} is {@code max(SIZE + 40, 12328)} as a jqb client agrees it (libqb's clients ask
 * for at least the connection response's size), or {@code -Dladder.maxMsg=N} (the first two rungs).
 *
 * <p>Byte order: the host's (little-endian on x86), as libqb's native peers and jqb write every word.</p>
 */
public final class SpinLadder {
    private static final sun.misc.Unsafe U = unsafe();
    private static final long STALL_NS = 10_000_000_000L;
    private static final int CHECK_EVERY = 1 << 16;
    private static final int REQ_HEADER = 16;
    private static final int RES_HEADER = 24;
    private static final int SIZE_FIELD = 8;
    private static final int HOLD_AT = 16;
    private static final int WRITE_PT = RingHeaderDescriptor.WRITE_PT_OFFSET;
    private static final int READ_PT = RingHeaderDescriptor.READ_PT_OFFSET;
    private static final int REF_COUNT = RingHeaderDescriptor.REF_COUNT_OFFSET;
    private static final int SEM = RingHeaderDescriptor.SEMAPHORE_OFFSET;
    private static final int USER_DATA = RingHeaderDescriptor.USER_DATA_OFFSET;
    private static final int MODE = RingHeaderDescriptor.CONSUMER_AWAKE_OFFSET;
    private static final int SPINNING = RingHeaderDescriptor.READER_SPINNING;
    private static final int ALLOCATED = ChunkDescriptor.MAGIC_ALLOCATED;
    private static final int COMMITTED = ChunkDescriptor.MAGIC_COMMITTED;

    private SpinLadder() {
    }

    /** glibc's memcpy (the {@code memcpy} copy). */
    public interface CLib {
        /**
         * @param dst destination address
         * @param src source address
         * @param n bytes
         * @return dst
         */
        long memcpy(long dst, long src, long n);
    }

    private static CLib clib;

    public static void main(String[] args) throws Exception {
        boolean server = args[0].equals("server");
        String rung = args[1];
        String where = args[2];
        int size = Integer.parseInt(args[3]);
        String copy = args.length > 4 ? args[4] : "unsafe";
        if (copy.equals("memcpy")) {
            clib = jnr.ffi.LibraryLoader.create(CLib.class).load("c");
        }
        // The rings' max_msg_size: -Dladder.maxMsg, by default what a jqb client agrees when jqb bench asks for
        // size + 40 (at least the connection response's size, as libqb's clients ask), as qbn-floor --layout jqb
        int maxMsg = Integer.getInteger("ladder.maxMsg",
                Math.max(size + RES_HEADER + REQ_HEADER, io.jqb.internal.client.ClientHandshake.MIN_BUFFER_SIZE));
        if (rung.equals("takeover") && server) {
            System.exit(takeoverServer(where));
        }
        if (rung.equals("client") && !server) {
            System.exit(clientRings(where, maxMsg, size, args));
        }
        ShmRing req;
        ShmRing res;
        if (server) {
            req = ShmRing.create(where + "/request", maxMsg, -1, -1, 0600);
            res = ShmRing.create(where + "/response", maxMsg, -1, -1, 0600);
        } else {
            req = ShmRing.open(where + "/request", maxMsg);
            res = ShmRing.open(where + "/response", maxMsg);
        }
        req.setDetect(true);
        res.setDetect(true);
        int rc;
        try {
            if (rung.equals("unsafe")) {
                Raw rq = Raw.map(where + "/request", req.dataBytes());
                Raw rs = Raw.map(where + "/response", res.dataBytes());
                rc = server ? rawServer(rq, rs, size) : rawClient(rq, rs, size, args);
            } else if (rung.equals("ring")) {
                if (server) {
                    System.out.println("ready");
                    System.out.flush();
                }
                rc = server ? ringServer(req, res) : ringClient(req, res, size, args);
            } else {
                throw new IllegalArgumentException("rung: unsafe, ring, takeover (server), client (client)");
            }
        } finally {
            req.close(server);
            res.close(server);
        }
        System.exit(rc);
    }

    // ------------------------------------------------------------------------------------------ jqb's set-up

    private static Object field(Object o, String name) throws ReflectiveOperationException {
        for (Class<?> k = o.getClass(); k != null; k = k.getSuperclass()) {
            try {
                Field f = k.getDeclaredField(name);
                f.setAccessible(true);
                return f.get(o);
            } catch (NoSuchFieldException e) {
                // look in the superclass
            }
        }
        throw new NoSuchFieldException(name);
    }

    /**
     * A real jqb Service (handshake, rings, the client's "JQB2"); its {@code created} callback then takes the loop
     * thread and echoes with the ring rung's server loop until the client closes its rings: the server half of
     * {@code jqb echo-server --wait spin} without the EventLoop, Connection and EchoHandler.
     */
    private static int takeoverServer(String service) throws Exception {
        java.util.concurrent.CountDownLatch done = new java.util.concurrent.CountDownLatch(1);
        int[] rc = {0};
        io.jqb.ServiceHandler h = new io.jqb.ServiceHandler() {
            @Override
            public void created(io.jqb.Connection c) {
                try {
                    java.lang.reflect.Method m = io.jqb.Connection.class.getDeclaredMethod("channel");
                    m.setAccessible(true);
                    Object ch = m.invoke(c);
                    rc[0] = ringServer((ShmRing) field(ch, "request"), (ShmRing) field(ch, "response"));
                } catch (ReflectiveOperationException e) {
                    e.printStackTrace();
                    rc[0] = 1;
                } finally {
                    done.countDown();
                }
            }

            @Override
            public int message(io.jqb.Connection c, ByteBuffer request) {
                return 0;
            }
        };
        try (io.jqb.Service s = io.jqb.Service.create(service, 0, io.jqb.TransportType.SHM, h)) {
            s.run();
            System.out.println("ready");
            System.out.flush();
            done.await();
        }
        return rc[0];
    }

    /**
     * A real jqb Client connects (handshake, rings opened, "JQB2"); then the ring rung's client loop drives its
     * rings: the client half of {@code jqb bench --wait spin} without Client.send/recv, their locks and waits.
     */
    private static int clientRings(String service, int maxMsg, int size, String[] args) throws Exception {
        try (io.jqb.Client c = io.jqb.Client.connect(service, maxMsg)) {
            Object ch = field(c, "channel");
            System.err.println("SpinLadder: buffer size " + c.bufferSize() + ", ring data " + ((ShmRing) field(ch, "request")).dataBytes() + " B");
            return ringClient((ShmRing) field(ch, "request"), (ShmRing) field(ch, "response"), size, args);
        }
    }

    // ------------------------------------------------------------------------------------------ rung "unsafe"

    /** A ring's header and data area mapped again by this class (raw addresses); writer state as ShmRing keeps it. */
    static final class Raw {
        final long hdr;
        final long data;
        final int words;
        final int bytes;
        int writePos;
        int cachedReadPt;
        boolean primed;

        private Raw(long hdr, long data, int bytes) {
            this.hdr = hdr;
            this.data = data;
            this.bytes = bytes;
            this.words = bytes / 4;
        }

        static Raw map(String base, int bytes) {
            int rw = LibC.PROT_READ | LibC.PROT_WRITE;
            int fd = Posix.C.open(base + "-header", LibC.O_RDWR | LibC.O_CLOEXEC, 0);
            long hdr = Posix.C.mmap(0, RingHeaderDescriptor.STRUCT_LENGTH, rw, LibC.MAP_SHARED, fd, 0);
            Posix.C.close(fd);
            fd = Posix.C.open(base + "-data", LibC.O_RDWR | LibC.O_CLOEXEC, 0);
            long region = Posix.C.mmap(0, 2L * bytes, LibC.PROT_NONE, LibC.MAP_PRIVATE | LibC.MAP_ANONYMOUS, -1, 0);
            long a = Posix.C.mmap(region, bytes, rw, LibC.MAP_SHARED | LibC.MAP_FIXED, fd, 0);
            long b = Posix.C.mmap(region + bytes, bytes, rw, LibC.MAP_SHARED | LibC.MAP_FIXED, fd, 0);
            Posix.C.close(fd);
            if (hdr == -1 || region == -1 || a == -1 || b == -1) {
                throw new IllegalStateException("mmap " + base + ": errno " + Posix.errno());
            }
            return new Raw(hdr, region, bytes);
        }

        int ld(long a) {
            return U.getIntVolatile(null, a);
        }

        static long freeWords(int w, int r, int n) {
            return w > r ? (long) r - w + n - 1 : w < r ? (long) r - w - 1 : n;
        }

        /** ShmRing.claimCached: the payload's byte offset, -1 when there is no room, -2 when corrupt. */
        long claim(int len) {
            final int n = words;
            if (!primed) {
                int ww = ld(hdr + WRITE_PT);
                int rr = ld(hdr + READ_PT);
                if (ww < 0 || ww >= n || rr < 0 || rr >= n) {
                    return -2;
                }
                writePos = ww;
                cachedReadPt = rr;
                primed = true;
            }
            final int w = writePos;
            final long need = (long) len + ChunkDescriptor.MARGIN_BYTES;
            if (freeWords(w, cachedReadPt, n) * 4 < need) {
                int rr = ld(hdr + READ_PT);
                if (rr < 0 || rr >= n) {
                    return -2;
                }
                cachedReadPt = rr;
                if (freeWords(w, rr, n) * 4 < need) {
                    return -1;
                }
            }
            U.putInt(data + 4L * w, 0);
            U.putOrderedInt(null, data + 4L * ((w + 1) % n), ALLOCATED);
            return 4L * ((w + 2) % n);
        }

        /** ShmRing.commit with detection; false when write_pt was not ours or the reader does not spin. */
        boolean commit(int len) {
            final int n = words;
            final int w = writePos;
            final int next = (w + ChunkDescriptor.chunkWords(len)) % n;
            U.putInt(data + 4L * w, len);
            long old = U.getAndAddLong(null, hdr + WRITE_PT, (long) next - w);
            if ((int) old != w || (int) (old >>> 32) < 0 || (int) (old >>> 32) >= n) {
                return false;
            }
            writePos = next;
            cachedReadPt = (int) (old >>> 32);
            U.putOrderedInt(null, data + 4L * ((w + 1) % n), COMMITTED);
            VarHandle.fullFence();
            return ld(hdr + MODE) == SPINNING;
        }

        /** readDetected's look and readChunk/validChunk: the payload's offset (at[0] the chunk, at[1] its length). */
        long poll(int[] at) {
            final int n = words;
            if (ld(hdr + SEM) != 0) {
                return -2; // nobody posts here
            }
            int p = ld(hdr + READ_PT);
            int w = ld(hdr + WRITE_PT);
            if (w == p) {
                return -1;
            }
            if (p >= 0 && p < n && ld(data + 4L * ((p + 1) % n)) == ALLOCATED) {
                return -1;
            }
            p = ld(hdr + READ_PT);
            w = ld(hdr + WRITE_PT);
            if (p < 0 || p >= n || w < 0 || w >= n || ld(data + 4L * ((p + 1) % n)) != COMMITTED) {
                return -2;
            }
            int len = U.getInt(data + 4L * p);
            if (len < 0 || len > bytes - ChunkDescriptor.DATA_SLACK) {
                return -2;
            }
            int used = w > p ? w - p : w - p + n;
            if (ChunkDescriptor.chunkWords(len) > used) {
                return -2;
            }
            at[0] = p;
            at[1] = len;
            return 4L * ((p + 2) % n);
        }

        void reclaim(int p, int len) {
            U.putOrderedInt(null, hdr + READ_PT, (p + ChunkDescriptor.chunkWords(len)) % words);
        }
    }

    private static void copy(long dst, long src, long n) {
        if (clib != null) {
            clib.memcpy(dst, src, n);
        } else {
            U.copyMemory(null, src, null, dst, n);
        }
    }

    /** qbn_floor.c jqb_server. */
    private static int rawServer(Raw req, Raw res, int size) {
        long header = U.allocateMemory(RES_HEADER);
        int[] at = new int[2];
        U.putOrderedInt(null, req.hdr + MODE, SPINNING);
        VarHandle.fullFence();
        System.out.println("ready");
        System.out.flush();
        for (long i = 1;; i++) {
            long off;
            int spins = 0;
            long deadline = 0;
            while ((off = req.poll(at)) == -1) {
                Thread.onSpinWait();
                if (++spins % CHECK_EVERY == 0) {
                    long t = System.nanoTime();
                    if (i > 1 && req.ld(req.hdr + REF_COUNT) < 2) {
                        return 0; // the client closed its rings
                    }
                    if (deadline == 0) {
                        deadline = t + STALL_NS;
                    } else if (t - deadline > 0) {
                        return 0; // the client is gone
                    }
                }
            }
            if (off < 0) {
                System.err.println("SpinLadder: server: corrupt request ring at #" + i);
                return 1;
            }
            final int len = at[1];
            final int p = at[0];
            int msgSize = U.getInt(req.data + off + SIZE_FIELD);
            int n = msgSize - REQ_HEADER;
            if (len < REQ_HEADER || msgSize < REQ_HEADER || msgSize > len || U.getInt(req.data + off) != 1) {
                System.err.println("SpinLadder: server: bad request #" + i);
                return 1;
            }
            U.setMemory(header, RES_HEADER, (byte) 0);
            U.putInt(header, 1);
            U.putInt(header + SIZE_FIELD, RES_HEADER + n);
            long roff = res.claim(RES_HEADER + n);
            if (roff < 0) {
                System.err.println("SpinLadder: server: response ring full at #" + i);
                return 1;
            }
            copy(res.data + roff, header, RES_HEADER);
            copy(res.data + roff + RES_HEADER, req.data + off + REQ_HEADER, n);
            if (!res.commit(RES_HEADER + n)) {
                System.err.println("SpinLadder: server: response commit failed at #" + i);
                return 1;
            }
            req.reclaim(p, len);
        }
    }

    /** qbn_floor.c jqb_round_trip: the response length, or -1. */
    private static int rawRoundTrip(Raw req, Raw res, long msg, int msgLen, long dst, int dstLen, int[] at) {
        if (req.ld(req.hdr + REF_COUNT) != 2 || req.ld(req.hdr + USER_DATA) != 0 || req.ld(req.hdr + SEM) >= HOLD_AT) {
            return -1;
        }
        long off;
        while ((off = req.claim(msgLen)) == -1) {
            Thread.onSpinWait();
        }
        if (off < 0) {
            return -1;
        }
        copy(req.data + off, msg, msgLen);
        if (!req.commit(msgLen)) {
            return -1;
        }
        req.ld(req.hdr + MODE);
        while ((off = res.poll(at)) == -1) {
            Thread.onSpinWait();
        }
        int len = at[1];
        if (off < 0 || len > dstLen) {
            return -1;
        }
        copy(dst, res.data + off, len);
        res.reclaim(at[0], len);
        return len;
    }

    private static int rawClient(Raw req, Raw res, int size, String[] args) {
        int count = Integer.parseInt(args[5]);
        int warmup = Integer.parseInt(args[6]);
        int msgLen = REQ_HEADER + size;
        long msg = U.allocateMemory(msgLen);
        long dst = U.allocateMemory(res.bytes);
        U.setMemory(msg, REQ_HEADER, (byte) 0);
        U.putInt(msg, 1);
        U.putInt(msg + SIZE_FIELD, msgLen);
        for (int j = 0; j < size; j++) {
            U.putByte(msg + REQ_HEADER + j, (byte) (j * 31 + 7));
        }
        U.putOrderedInt(null, res.hdr + MODE, SPINNING);
        VarHandle.fullFence();
        while (req.ld(req.hdr + MODE) != SPINNING) {
            Thread.onSpinWait();
        }
        int[] at = new int[2];
        long[] rtt = new long[count];
        long start = 0;
        long total = (long) warmup + count;
        for (long i = 1; i <= total; i++) {
            if (i == warmup + 1) {
                start = System.nanoTime();
            }
            if (size >= 4) {
                U.putInt(msg + REQ_HEADER, (int) i);
            }
            long t0 = System.nanoTime();
            int got = rawRoundTrip(req, res, msg, msgLen, dst, res.bytes, at);
            long t1 = System.nanoTime();
            if (i > warmup) {
                rtt[(int) (i - warmup - 1)] = t1 - t0;
            }
            if (got != RES_HEADER + size || (size >= 4 && U.getInt(dst + RES_HEADER) != (int) i)) {
                System.err.println("SpinLadder: client: round trip #" + i + " failed (" + got + ")");
                return 1;
            }
        }
        report(rtt, size, System.nanoTime() - start);
        return 0;
    }

    // ------------------------------------------------------------------------------------------ rung "ring"

    /** The server's handler: the request view and the response parts, as EchoHandler answers through Connection. */
    static final class EchoChunk implements ShmRing.ChunkHandler {
        private final ShmRing res;
        private final ByteBuffer view;
        private final ByteBuffer header = ByteBuffer.allocateDirect(RES_HEADER).order(ByteOrder.LITTLE_ENDIAN);
        private final ByteBuffer[] parts = {header, null};

        EchoChunk(ShmRing req, ShmRing res) {
            this.res = res;
            this.view = req.view().asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
        }

        @Override
        public int onChunk(ShmRing ring, int offset, int length) {
            int msgSize = view.getInt(offset + SIZE_FIELD);
            if (length < REQ_HEADER || msgSize < REQ_HEADER || msgSize > length || view.getInt(offset) != 1) {
                return -Errno.EBADMSG;
            }
            int n = msgSize - REQ_HEADER;
            header.clear();
            header.putInt(0, 1).putInt(4, 0).putInt(SIZE_FIELD, RES_HEADER + n).putLong(16, 0);
            view.limit(offset + msgSize).position(offset + REQ_HEADER);
            parts[1] = view;
            int rc = res.write(parts);
            view.position(0).limit(view.capacity());
            return rc < 0 ? rc : 0;
        }
    }

    private static int ringServer(ShmRing req, ShmRing res) {
        EchoChunk echo = new EchoChunk(req, res);
        req.setConsumerAwake(SPINNING);
        for (long i = 1;; i++) {
            int rc;
            int spins = 0;
            long deadline = 0;
            while ((rc = req.readDetected(echo)) == Errno.WOULD_BLOCK) {
                Thread.onSpinWait();
                if (++spins % CHECK_EVERY == 0) {
                    long t = System.nanoTime();
                    if (i > 1 && req.refCount() < 2) {
                        return 0; // the client closed its rings
                    }
                    if (deadline == 0) {
                        deadline = t + STALL_NS;
                    } else if (t - deadline > 0) {
                        return 0;
                    }
                }
            }
            if (rc < 0) {
                System.err.println("SpinLadder: server: request #" + i + ": " + rc);
                return 1;
            }
        }
    }

    /** The client's handler: copies the response out (Client.recv into a direct buffer). */
    static final class CopyOut implements ShmRing.ChunkHandler {
        final ByteBuffer dst;

        CopyOut(ByteBuffer dst) {
            this.dst = dst;
        }

        @Override
        public int onChunk(ShmRing ring, int offset, int length) {
            if (length > dst.capacity()) {
                return -Errno.EMSGSIZE;
            }
            dst.clear();
            ring.copyTo(offset, dst, length);
            return length;
        }
    }

    private static int ringClient(ShmRing req, ShmRing res, int size, String[] args) {
        int count = Integer.parseInt(args[5]);
        int warmup = Integer.parseInt(args[6]);
        ByteBuffer msg = ByteBuffer.allocateDirect(REQ_HEADER + size).order(ByteOrder.LITTLE_ENDIAN);
        msg.putInt(0, 1).putInt(4, 0).putInt(SIZE_FIELD, REQ_HEADER + size).putInt(12, 0);
        for (int j = 0; j < size; j++) {
            msg.put(REQ_HEADER + j, (byte) (j * 31 + 7));
        }
        CopyOut out = new CopyOut(ByteBuffer.allocateDirect(res.dataBytes()).order(ByteOrder.LITTLE_ENDIAN));
        res.setConsumerAwake(SPINNING);
        while (req.consumerAwake() != SPINNING) {
            Thread.onSpinWait();
        }
        long[] rtt = new long[count];
        long start = 0;
        long total = (long) warmup + count;
        for (long i = 1; i <= total; i++) {
            if (i == warmup + 1) {
                start = System.nanoTime();
            }
            if (size >= 4) {
                msg.putInt(REQ_HEADER, (int) i);
            }
            long t0 = System.nanoTime();
            int rc;
            while ((rc = req.write(msg)) == Errno.WOULD_BLOCK) {
                Thread.onSpinWait();
            }
            if (rc >= 0) {
                while ((rc = res.readDetected(out)) == Errno.WOULD_BLOCK) {
                    Thread.onSpinWait();
                }
            }
            long t1 = System.nanoTime();
            if (i > warmup) {
                rtt[(int) (i - warmup - 1)] = t1 - t0;
            }
            if (rc != RES_HEADER + size || (size >= 4 && out.dst.getInt(RES_HEADER) != (int) i)) {
                System.err.println("SpinLadder: client: round trip #" + i + " failed (" + rc + ")");
                return 1;
            }
        }
        report(rtt, size, System.nanoTime() - start);
        return 0;
    }

    // ------------------------------------------------------------------------------------------ common

    private static void report(long[] rtt, int size, long elapsedNs) {
        Arrays.sort(rtt);
        int n = rtt.length;
        double rate = n / (elapsedNs / 1e9);
        System.out.println(String.format(Locale.ROOT,
                "size=%d count=%d p50_ns=%d p99_ns=%d p999_ns=%d msgs_per_s=%.0f MB_per_s=%.2f", size, n,
                rtt[Math.min(n - 1, (int) (0.50 * n))], rtt[Math.min(n - 1, (int) (0.99 * n))],
                rtt[Math.min(n - 1, (int) (0.999 * n))], rate, rate * size / 1e6));
    }

    private static sun.misc.Unsafe unsafe() {
        try {
            Field f = sun.misc.Unsafe.class.getDeclaredField("theUnsafe");
            f.setAccessible(true);
            return (sun.misc.Unsafe) f.get(null);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }
}
