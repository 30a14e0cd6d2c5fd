package io.jqb.internal.socket;

import static io.jqb.internal.posix.Posix.C;

import com.kenai.jffi.MemoryIO;
import io.jqb.Errno;
import io.jqb.internal.posix.LibC;
import io.jqb.internal.posix.Posix;
import java.nio.ByteBuffer;

/**
 * Sending and receiving whole datagrams with ByteBuffers. Each instance owns a direct scratch buffer for heap
 * buffers and gathered writes; callers serialise use of one instance.
 */
public final class Datagrams {
    private static final MemoryIO MEMORY_IO = MemoryIO.getInstance();

    private final ByteBuffer scratch;
    private final long scratchAddress;

    /** @param capacity the largest message (the agreed buffer size) */
    public Datagrams(int capacity) {
        this.scratch = ByteBuffer.allocateDirect(Math.max(capacity, 16));
        this.scratchAddress = MEMORY_IO.getDirectBufferAddress(scratch);
    }

    /** @return length sent, {@link Errno#WOULD_BLOCK} (socket full) or a negated errno */
    public int send(int fd, ByteBuffer msg) {
        int len = msg.remaining();
        long addr;
        if (msg.isDirect()) {
            addr = MEMORY_IO.getDirectBufferAddress(msg) + msg.position();
        } else {
            scratch.put(0, msg, msg.position(), len);
            addr = scratchAddress;
        }
        return sendRaw(fd, addr, len);
    }

    /** Sends the concatenation of {@code msgs} as one datagram. */
    public int send(int fd, ByteBuffer[] msgs) {
        int pos = 0;
        for (ByteBuffer b : msgs) {
            int n = b.remaining();
            if (pos + n > scratch.capacity()) {
                return -Errno.EMSGSIZE;
            }
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
            n = C.recv(fd, scratchAddress, 16, LibC.MSG_PEEK | LibC.MSG_DONTWAIT);
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
        return scratch.order(java.nio.ByteOrder.LITTLE_ENDIAN).getInt(8);
    }

    /**
     * Receives the next datagram (whose size field said {@code size}) into {@code dst} from its position on.
     *
     * @return the length received, or a negated errno
     */
    public int receive(int fd, ByteBuffer dst, int size) {
        long n;
        if (dst.isDirect()) {
            long addr = MEMORY_IO.getDirectBufferAddress(dst) + dst.position();
            do {
                n = C.recv(fd, addr, size, LibC.MSG_DONTWAIT);
            } while (n < 0 && Posix.errno() == Errno.EINTR);
            return n < 0 ? -Posix.errno() : (int) n;
        }
        do {
            n = C.recv(fd, scratchAddress, size, LibC.MSG_DONTWAIT);
        } while (n < 0 && Posix.errno() == Errno.EINTR);
        if (n < 0) {
            return -Posix.errno();
        }
        dst.put(dst.position(), scratch, 0, (int) n);
        return (int) n;
    }

    /** Drops the next datagram. */
    public void discard(int fd) {
        C.recv(fd, scratchAddress, 16, LibC.MSG_DONTWAIT);
    }
}
