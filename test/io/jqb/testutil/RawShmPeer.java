package io.jqb.testutil;

import io.jqb.Errno;
import io.jqb.IpcException;
import io.jqb.internal.posix.LibC;
import io.jqb.internal.posix.Posix;
import io.jqb.internal.setup.UnixSocket;
import io.jqb.internal.wire.ConnectionRequestDescriptor;
import io.jqb.internal.wire.ConnectionResponseDescriptor;
import java.io.IOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.lang.reflect.Field;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * A libqb SHM client written from the wire spec with plain Java, for abusing a server: raw handshake on the setup
 * socket, then the three rings mapped with {@link FileChannel#map} (bounds-checked: a bug here cannot corrupt this
 * JVM's memory). It can behave (write a committed chunk, post, ring the doorbell; read a response) or write anything
 * anywhere in the shared files.
 */
public final class RawShmPeer implements AutoCloseable {
    public static final int MAGIC_COMMITTED = 0xA1A1A1A1;
    public static final int MAGIC_ALLOCATED = 0xA110CED0;
    public static final int MAGIC_DEAD = 0xD0D0D0D0;
    public static final int WRITE_PT = 0;
    public static final int READ_PT = 4;
    public static final int WORD_SIZE = 8;
    public static final int REF_COUNT = 8204;
    public static final int SEM = 8208;
    public static final int USER_DATA = 8240;
    public static final int HEADER_STRUCT = 8248;

    private static final VarHandle INT = MethodHandles.byteBufferViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle LONG = MethodHandles.byteBufferViewVarHandle(long[].class,
            ByteOrder.LITTLE_ENDIAN);

    /** One mapped ring. Offsets are bytes; data offsets are taken modulo the data size. */
    public static final class Ring {
        public final String base;
        public final MappedByteBuffer header;
        public final MappedByteBuffer data;
        /** W: data words. */
        public final int words;
        /**
         * The write_pt-detection rule ("JQB2" peers): {@code write_pt == read_pt} is always empty. The server may take
         * a chunk through write_pt before the post arrives, so a token can sit on an empty ring; libqb's rule would
         * read that as full (a writer that keeps libqb's margin never fills the ring to {@code w == r}).
         */
        volatile boolean equalMeansEmpty;

        Ring(String base, MappedByteBuffer header, MappedByteBuffer data) {
            this.base = base;
            this.header = header;
            this.data = data;
            this.words = data.capacity() / 4;
        }

        public int hdr(int off) {
            return (int) INT.getVolatile(header, off);
        }

        public void hdr(int off, int v) {
            INT.setVolatile(header, off, v);
        }

        public int word(long index) {
            return (int) INT.getVolatile(data, (int) (Math.floorMod(index, (long) words) * 4));
        }

        public void word(long index, int v) {
            INT.setVolatile(data, (int) (Math.floorMod(index, (long) words) * 4), v);
        }

        public long sem() {
            return (long) LONG.getVolatile(header, SEM);
        }

        public void sem(long v) {
            LONG.setVolatile(header, SEM, v);
        }

        /** sem_post: +1 on the value (no futex wake: a jqb or libqb server never sleeps on the request ring). */
        public void post() {
            long d;
            do {
                d = sem();
            } while (!LONG.compareAndSet(header, SEM, d, d + 1));
        }

        /** sem_trywait. */
        public boolean tryWait() {
            long d;
            do {
                d = sem();
                if ((int) d <= 0) {
                    return false;
                }
            } while (!LONG.compareAndSet(header, SEM, d, d - 1));
            return true;
        }

        /** Free bytes for a new chunk as libqb computes it, or -1 when the pointers are out of range. */
        public long free() {
            int w = hdr(WRITE_PT);
            int r = hdr(READ_PT);
            if (w < 0 || w >= words || r < 0 || r >= words) {
                return -1;
            }
            long f = w > r ? (long) r - w + words - 1 : w < r ? (long) r - w - 1
                    : (!equalMeansEmpty && (int) sem() > 0 ? 0 : words);
            return f * 4;
        }

        /**
         * Writes a committed chunk at write_pt with the given length word and payload (payload.length may differ
         * from len when lying), advances write_pt as for {@code advanceLen}, and posts.
         *
         * @return false when the ring has no room (nothing written)
         */
        public boolean writeChunk(int len, byte[] payload, int advanceLen, int magic) {
            if (!writeChunkUnposted(len, payload, advanceLen, magic)) {
                return false;
            }
            post();
            return true;
        }

        /** {@link #writeChunk} without the post: the server does not look at it before a post (and doorbell). */
        public boolean writeChunkUnposted(int len, byte[] payload, int advanceLen, int magic) {
            long f = free();
            if (f < 0 || f < (long) payload.length + 12) {
                return false;
            }
            int w = hdr(WRITE_PT);
            word(w, 0);
            word(w + 1, MAGIC_ALLOCATED);
            for (int i = 0; i < payload.length; i += 4) {
                int v = 0;
                for (int k = 0; k < 4 && i + k < payload.length; k++) {
                    v |= (payload[i + k] & 0xff) << (8 * k);
                }
                word(w + 2 + i / 4, v);
            }
            word(w, len);
            hdr(WRITE_PT, (int) ((w + 2 + ((advanceLen & 0xffffffffL) + 3) / 4) % words));
            word(w + 1, magic);
            return true;
        }

        /** Reads one committed chunk (response/event rings) if there is one. @return its bytes, or null */
        public byte[] readChunk() {
            if (!tryWait()) {
                return null;
            }
            int p = hdr(READ_PT);
            if (p < 0 || p >= words || word(p + 1) != MAGIC_COMMITTED) {
                post();
                return null;
            }
            int len = word(p);
            if (len < 0 || len > data.capacity() - 12) {
                post();
                return null;
            }
            byte[] b = new byte[len];
            for (int i = 0; i < len; i++) {
                int v = word(p + 2 + i / 4);
                b[i] = (byte) (v >>> (8 * (i % 4)));
            }
            word(p, 0);
            word(p + 1, MAGIC_DEAD);
            hdr(READ_PT, (int) ((p + 2 + ((long) len + 3) / 4) % words));
            return b;
        }

        void unmap() {
            unmapBuffer(data);
            unmapBuffer(header);
        }
    }

    private final int fd;
    private final long scratch;
    public final int maxMsgSize;
    /** The server's opaque connection field (a jqb server puts its connection id there). */
    public final long connectionId;
    public final Ring request;
    public final Ring response;
    public final Ring event;
    private boolean closed;

    private RawShmPeer(int fd, long scratch, int maxMsgSize, long connectionId, Ring request, Ring response,
            Ring event) {
        this.fd = fd;
        this.scratch = scratch;
        this.maxMsgSize = maxMsgSize;
        this.connectionId = connectionId;
        this.request = request;
        this.response = response;
        this.event = event;
    }

    // ------------------------------------------------------------------------------------------- raw socket

    /** A non-blocking stream socket connected to the service's abstract address (no handshake yet). */
    public static int rawConnect(String service) throws IpcException {
        try (UnixSocket.Address a = UnixSocket.abstractAddress(service)) {
            for (int attempt = 0;; attempt++) {
                try {
                    return UnixSocket.connect(a, service);
                } catch (IpcException e) {
                    // A full backlog gives EAGAIN on a non-blocking connect: the server is accepting, retry.
                    if (e.errno() != Errno.EAGAIN || attempt > 2000) {
                        throw e;
                    }
                    NativeClient.sleep(1);
                }
            }
        }
    }

    /** The 24-byte connection request {-1, 24, max, capability}. */
    public static byte[] connectionRequest(int id, int size, int max, int capability) {
        ByteBuffer b = ByteBuffer.allocate(ConnectionRequestDescriptor.LENGTH).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(ConnectionRequestDescriptor.ID_OFFSET, id).putInt(ConnectionRequestDescriptor.SIZE_OFFSET, size)
                .putInt(ConnectionRequestDescriptor.MAX_MSG_SIZE_OFFSET, max)
                .putInt(ConnectionRequestDescriptor.CAPABILITY_OFFSET, capability);
        return b.array();
    }

    /** Sends all of {@code b} (bounded wait); @return false when the peer is gone */
    public static boolean sendAll(int fd, byte[] b) {
        long buf = Posix.allocate(Math.max(b.length, 1));
        try {
            Posix.MEM.copyMemory(b, 0, buf, b.length);
            UnixSocket.sendFully(fd, buf, b.length, 2000, "raw send");
            return true;
        } catch (IpcException e) {
            return false;
        } finally {
            Posix.free(buf, Math.max(b.length, 1));
        }
    }

    /**
     * Receives exactly {@code n} bytes within {@code timeoutMs}.
     *
     * @return the bytes, or null on EOF/error/time-out
     */
    public static byte[] recvExactly(int fd, int n, int timeoutMs) {
        byte[] out = new byte[n];
        long buf = Posix.allocate(n);
        long pfd = Posix.allocate(8);
        try {
            long deadline = System.nanoTime() + timeoutMs * 1_000_000L;
            int have = 0;
            while (have < n) {
                long r = Posix.C.recv(fd, buf + have, n - have, LibC.MSG_DONTWAIT);
                if (r > 0) {
                    have += (int) r;
                    continue;
                }
                if (r == 0) {
                    return null;
                }
                int e = Posix.errno();
                if (e != Errno.EAGAIN && e != Errno.EINTR) {
                    return null;
                }
                int left = (int) ((deadline - System.nanoTime()) / 1_000_000L);
                if (left <= 0 || Posix.pollOne(fd, LibC.POLLIN, left, pfd) == 0) {
                    return null;
                }
            }
            Posix.readBytes(buf, out, 0, n);
            return out;
        } catch (IpcException e) {
            return null;
        } finally {
            Posix.free(buf, n);
            Posix.free(pfd, 8);
        }
    }

    /**
     * Waits up to {@code timeoutMs} for the server to close {@code fd}, discarding whatever it sends meanwhile.
     *
     * @return true when the server closed it (EOF or hang-up)
     */
    public static boolean awaitClosedByPeer(int fd, int timeoutMs) {
        long buf = Posix.allocate(4096);
        long pfd = Posix.allocate(8);
        try {
            long deadline = System.nanoTime() + timeoutMs * 1_000_000L;
            for (;;) {
                long r = Posix.C.recv(fd, buf, 4096, LibC.MSG_DONTWAIT);
                if (r == 0) {
                    return true;
                }
                if (r < 0) {
                    int e = Posix.errno();
                    if (e != Errno.EAGAIN && e != Errno.EINTR) {
                        return true;
                    }
                    int left = (int) ((deadline - System.nanoTime()) / 1_000_000L);
                    if (left <= 0) {
                        return false;
                    }
                    Posix.pollOne(fd, LibC.POLLIN, left, pfd);
                }
            }
        } catch (IpcException e) {
            return true;
        } finally {
            Posix.free(buf, 4096);
            Posix.free(pfd, 8);
        }
    }

    // ------------------------------------------------------------------------------------------- peer

    /**
     * Connects with a raw handshake and maps the three rings.
     *
     * @param capability the request's tail padding ({@link ConnectionRequestDescriptor#JQB_CAPABILITY} claims to be
     *        a jqb client, which may skip doorbells while the server advertises that it polls)
     */
    public static RawShmPeer connect(String service, int max, int capability) throws IOException, IpcException {
        int fd = rawConnect(service);
        boolean ok = false;
        try {
            if (!sendAll(fd, connectionRequest(ConnectionRequestDescriptor.MSG_AUTHENTICATE, 24, max, capability))) {
                throw new IOException("connection request not sent");
            }
            byte[] r = recvExactly(fd, ConnectionResponseDescriptor.LENGTH, 5000);
            if (r == null) {
                throw new IOException("no connection response");
            }
            ByteBuffer b = ByteBuffer.wrap(r).order(ByteOrder.LITTLE_ENDIAN);
            int err = b.getInt(ConnectionResponseDescriptor.ERROR_OFFSET);
            if (err != 0) {
                throw new IpcException("raw connect", -err, "refused");
            }
            int agreed = b.getInt(ConnectionResponseDescriptor.MAX_MSG_SIZE_OFFSET);
            Ring req = map(path(r, ConnectionResponseDescriptor.REQUEST_PATH_OFFSET));
            Ring resp = map(path(r, ConnectionResponseDescriptor.RESPONSE_PATH_OFFSET));
            Ring ev = map(path(r, ConnectionResponseDescriptor.EVENT_PATH_OFFSET));
            for (Ring x : new Ring[] {req, resp, ev}) {
                INT.getAndAdd(x.header, REF_COUNT, 1);
            }
            req.equalMeansEmpty = capability == ConnectionRequestDescriptor.JQB_WRITEPT_CAPABILITY;
            ok = true;
            return new RawShmPeer(fd, Posix.allocate(8), agreed, b.getLong(ConnectionResponseDescriptor.CONNECTION_OFFSET),
                    req, resp, ev);
        } finally {
            if (!ok) {
                UnixSocket.shutdownAndClose(fd);
            }
        }
    }

    private static String path(byte[] r, int off) {
        int end = off;
        while (end < off + ConnectionResponseDescriptor.PATH_LENGTH && r[end] != 0) {
            end++;
        }
        return new String(r, off, end - off, StandardCharsets.UTF_8);
    }

    private static Ring map(String base) throws IOException {
        MappedByteBuffer h;
        MappedByteBuffer d;
        try (FileChannel hc = FileChannel.open(Path.of(base + "-header"), StandardOpenOption.READ,
                StandardOpenOption.WRITE)) {
            h = hc.map(FileChannel.MapMode.READ_WRITE, 0, HEADER_STRUCT);
        }
        try (FileChannel dc = FileChannel.open(Path.of(base + "-data"), StandardOpenOption.READ,
                StandardOpenOption.WRITE)) {
            d = dc.map(FileChannel.MapMode.READ_WRITE, 0, dc.size());
        }
        h.order(ByteOrder.LITTLE_ENDIAN);
        d.order(ByteOrder.LITTLE_ENDIAN);
        return new Ring(base, h, d);
    }

    /** The setup socket. */
    public int fd() {
        return fd;
    }

    /** The connection directory. */
    public String directory() {
        return request.base.substring(0, request.base.lastIndexOf('/'));
    }

    /** Sends one doorbell byte; @return false when the socket is gone or full */
    public boolean doorbell() {
        Posix.MEM.writeByte(scratch, (byte) 1);
        return Posix.C.send(fd, scratch, 1, LibC.MSG_DONTWAIT | LibC.MSG_NOSIGNAL) == 1;
    }

    /**
     * Checks without waiting (or up to {@code timeoutMs}) whether the server has closed the connection, discarding
     * event notification bytes.
     */
    public boolean closedByServer(int timeoutMs) {
        return awaitClosedByPeer(fd, timeoutMs);
    }

    /** Closes the socket and unmaps the rings. Idempotent; callers must have stopped every thread using them. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        UnixSocket.shutdownAndClose(fd);
        request.unmap();
        response.unmap();
        event.unmap();
        Posix.free(scratch, 8);
    }

    // ------------------------------------------------------------------------------------------- unmapping

    private static final Object UNSAFE;
    private static final java.lang.reflect.Method INVOKE_CLEANER;

    static {
        Object u = null;
        java.lang.reflect.Method m = null;
        try {
            Class<?> c = Class.forName("sun.misc.Unsafe");
            Field f = c.getDeclaredField("theUnsafe");
            f.setAccessible(true);
            u = f.get(null);
            m = c.getMethod("invokeCleaner", ByteBuffer.class);
        } catch (ReflectiveOperationException | RuntimeException e) {
            // fall back to GC unmapping
        }
        UNSAFE = u;
        INVOKE_CLEANER = m;
    }

    static void unmapBuffer(ByteBuffer b) {
        if (INVOKE_CLEANER != null) {
            try {
                INVOKE_CLEANER.invoke(UNSAFE, b);
            } catch (ReflectiveOperationException e) {
                // leave it to the GC
            }
        }
    }
}
