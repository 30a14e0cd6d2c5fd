package io.jqb.internal.socket;

import static io.jqb.internal.posix.Posix.C;

import io.jqb.Errno;
import io.jqb.internal.posix.LibC;
import io.jqb.internal.posix.Posix;
import java.nio.ByteBuffer;

/**
 * Sending and receiving whole datagrams with ByteBuffers. Each instance owns a direct scratch buffer for heap
 * buffers and gathered writes; callers serialise use of one instance.
 */
public final class Datagrams {
    private final int capacity;
    /**
     * 16 bytes for peeking at a header, made on first use: a server's two instances per connection only send, and
     * each direct buffer costs a malloc and a Cleaner.
     */
    private ByteBuffer header;
    private long headerAddress;
    /**
     * The area heap buffers and gathered sends are copied into, made on first use and grown (doubling, up to
     * {@code capacity}) to the largest message it had to hold: most connections never need it, and one whose
     * messages are small keeps a small one instead of the agreed buffer size (the server has two per connection).
     * It is malloc'd, not a zero-filled direct ByteBuffer: pages the kernel never had to touch cost no RAM, and
     * {@link #close()} gives it back at once instead of whenever the garbage collector runs a Cleaner.
     */
    private ByteBuffer scratch;
    private long scratchAddress;
    private int scratchSize;
    /** The smallest scratch area made. */
    private static final int MIN_SCRATCH = 256;

    /** @param capacity the largest message (the agreed buffer size) */
    public Datagrams(int capacity) {
        this.capacity = Math.max(capacity, 16);
    }

    private long headerAddress() {
        if (header == null) {
            header = ByteBuffer.allocateDirect(16).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            headerAddress = Posix.bufferAddress(header);
        }
        return headerAddress;
    }

    /** @return the scratch area, at least {@code need} bytes long unless that is over {@code capacity} */
    private ByteBuffer scratch(int need) {
        if (scratch == null || (need > scratchSize && scratchSize < capacity)) {
            int size = Math.min(capacity, Math.max(MIN_SCRATCH, Integer.highestOneBit(Math.max(need, 1) - 1) << 1));
            size = Math.max(size, Math.min(need, capacity));
            long a = Posix.MEM.allocate(size);
            ByteBuffer b;
            try {
                b = Posix.directBuffer(a, size);
            } catch (RuntimeException | Error e) {
                Posix.MEM.freeMemory(a, size);
                throw e;
            }
            close();
            scratchAddress = a;
            scratchSize = size;
            scratch = b;
        }
        return scratch;
    }

    /** Frees the scratch area; callers guarantee no use is in flight or follows. */
    public void close() {
        if (scratch != null) {
            scratch = null;
            Posix.MEM.freeMemory(scratchAddress, scratchSize);
            scratchAddress = 0;
            scratchSize = 0;
        }
    }

    /** @return length sent, {@link Errno#WOULD_BLOCK} (socket full) or a negated errno */
    public int send(int fd, ByteBuffer msg) {
        if (msg.isDirect()) {
            return sendDirect(fd, msg);
        }
        int len = msg.remaining();
        scratch(len).put(0, msg, msg.position(), len);
        return sendRaw(fd, scratchAddress, len);
    }

    /**
     * Sends a direct buffer's bytes (position..limit) as they are: no scratch area is needed.
     *
     * @return length sent, {@link Errno#WOULD_BLOCK} (socket full) or a negated errno
     */
    public static int sendDirect(int fd, ByteBuffer msg) {
        return sendRaw(fd, Posix.bufferAddress(msg) + msg.position(), msg.remaining());
    }

    /** Sends the concatenation of {@code msgs} as one datagram. */
    public int send(int fd, ByteBuffer[] msgs) {
        return send(fd, msgs, capacity);
    }

    /**
     * Sends the concatenation of {@code msgs} as one datagram of at most {@code limit} bytes (and this instance's
     * capacity): an instance shared by connections of different agreed sizes is given each one's own.
     *
     * @return length sent, {@link Errno#WOULD_BLOCK} (socket full) or a negated errno (-EMSGSIZE over the limit)
     */
    public int send(int fd, ByteBuffer[] msgs, int limit) {
        long total = 0;
        for (ByteBuffer b : msgs) {
            total += b.remaining();
        }
        if (total > Math.min(limit, capacity)) {
            return -Errno.EMSGSIZE;
        }
        int pos = 0;
        final ByteBuffer scratch = scratch((int) total);
        for (ByteBuffer b : msgs) {
            int n = b.remaining();
            scratch.put(pos, b, b.position(), n);
            pos += n;
        }
        return sendRaw(fd, scratchAddress, pos);
    }

    private static int sendRaw(int fd, long addr, int len) {
        for (;;) {
            long n = C.send(fd, addr, len, LibC.MSG_NOSIGNAL | LibC.MSG_DONTWAIT);
            if (n >= 0) {
                return (int) n;
            }
            int e = Posix.errno();
            if (e == Errno.EINTR) {
                continue;
            }
            return e == Errno.EAGAIN || e == Errno.ENOBUFS ? Errno.WOULD_BLOCK : -e;
        }
    }

    /**
     * Peeks the next datagram's request/response header and returns its size field (offset 8), which frames the
     * message as libqb frames it.
     *
     * @return the size, {@link Errno#WOULD_BLOCK} when nothing is queued, -EBADMSG for a runt, or a negated errno
     */
    public int peekSize(int fd) {
        long n;
        do {
            n = C.recv(fd, headerAddress(), 16, LibC.MSG_PEEK | LibC.MSG_DONTWAIT);
        } while (n < 0 && Posix.errno() == Errno.EINTR);
        if (n < 0) {
            int e = Posix.errno();
            return e == Errno.EAGAIN ? Errno.WOULD_BLOCK : -e;
        }
        if (n == 0) {
            return -Errno.ENOTCONN;
        }
        if (n < 16) {
            return -Errno.EBADMSG;
        }
        return header.getInt(8);
    }

    /**
     * Receives the next datagram (whose size field said {@code size}) into {@code dst} from its position on.
     *
     * @return the length received, or a negated errno
     */
    public int receive(int fd, ByteBuffer dst, int size) {
        long n;
        if (dst.isDirect()) {
            long addr = Posix.bufferAddress(dst) + dst.position();
            do {
                n = C.recv(fd, addr, size, LibC.MSG_DONTWAIT);
            } while (n < 0 && Posix.errno() == Errno.EINTR);
            return n < 0 ? -Posix.errno() : (int) n;
        }
        final ByteBuffer scratch = scratch(size);
        do {
            n = C.recv(fd, scratchAddress, Math.min(size, scratchSize), LibC.MSG_DONTWAIT);
        } while (n < 0 && Posix.errno() == Errno.EINTR);
        if (n < 0) {
            return -Posix.errno();
        }
        dst.put(dst.position(), scratch, 0, (int) n);
        return (int) n;
    }

    /**
     * The client-side equivalent of {@code qb_ipcc_verify_dgram_max_msg_size}: the largest datagram (up to
     * {@code max}) this host's AF_UNIX datagram sockets carry whole, found locally on a socketpair with libqb's
     * search (try {@code max}; else climb in 2048-byte steps, halving the step down to 512 past a failure).
     *
     * @return {@code max}, the largest size that worked, or -1
     */
    public static int verifyMaxMsgSize(int max) {
        if (verify(max)) {
            return max;
        }
        int last = -1;
        int inc = 2048;
        for (int i = inc; i < max; i += inc) {
            if (verify(i)) {
                last = i;
            } else if (inc >= 512) {
                i -= inc;
                inc /= 2;
            } else {
                break;
            }
        }
        return last;
    }

    private static boolean verify(int size) {
        long sv = Posix.allocate(8);
        long buf = Posix.allocate(Math.max(size, 1));
        int a = -1;
        int b = -1;
        try {
            if (C.socketpair(LibC.AF_UNIX, LibC.SOCK_DGRAM | LibC.SOCK_NONBLOCK | LibC.SOCK_CLOEXEC, 0, sv) < 0) {
                return false;
            }
            a = Posix.MEM.readInt(sv);
            b = Posix.MEM.readInt(sv + 4);
            io.jqb.internal.setup.UnixSocket.setBufferSizes(a, size);
            io.jqb.internal.setup.UnixSocket.setBufferSizes(b, size);
            return C.send(b, buf, size, LibC.MSG_DONTWAIT) == size && C.recv(a, buf, size, LibC.MSG_DONTWAIT) == size;
        } catch (io.jqb.IpcException e) {
            return false;
        } finally {
            Posix.closeQuietly(a);
            Posix.closeQuietly(b);
            Posix.free(buf, Math.max(size, 1));
            Posix.free(sv, 8);
        }
    }

    /**
     * Receives the next whole datagram straight into the direct buffer {@code dst} at its position, without a peek:
     * the caller guarantees {@code dst.remaining()} is at least the agreed buffer size, so nothing can be cut.
     *
     * @return the datagram's length, {@link Errno#WOULD_BLOCK} when none is queued, or a negated errno
     */
    public static int receiveWhole(int fd, ByteBuffer dst) {
        long addr = Posix.bufferAddress(dst) + dst.position();
        long n;
        do {
            n = C.recv(fd, addr, dst.remaining(), LibC.MSG_DONTWAIT);
        } while (n < 0 && Posix.errno() == Errno.EINTR);
        if (n < 0) {
            int e = Posix.errno();
            return e == Errno.EAGAIN ? Errno.WOULD_BLOCK : -e;
        }
        return (int) n;
    }

    /** Drops the next datagram. */
    public void discard(int fd) {
        C.recv(fd, headerAddress(), 16, LibC.MSG_DONTWAIT);
    }
}
