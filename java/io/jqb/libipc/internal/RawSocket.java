package io.jqb.libipc.internal;

import static io.jqb.internal.posix.Posix.C;
import static io.jqb.internal.posix.Posix.MEM;

import io.jqb.Errno;
import io.jqb.IpcException;
import io.jqb.internal.posix.LibC;
import io.jqb.internal.posix.Posix;
import io.jqb.internal.setup.UnixSocket;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.channels.ClosedChannelException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A client's connected AF_UNIX stream socket as a plain fd, driven through libc as the C client drives its own: a
 * receive is one blocking {@code recv} straight on the fd (no selector round, no NIO lock), a send one
 * {@code send(MSG_DONTWAIT | MSG_NOSIGNAL)}. So a lock-step request/response costs two system calls
 * (send, recv: one recv takes header and payload together), where a selector costs three.
 *
 * <p>The fd stays in blocking mode. {@link #read} waits as set by {@link #receiveWait}: 0 = no wait
 * ({@code MSG_DONTWAIT}), otherwise up to that many milliseconds through {@code SO_RCVTIMEO} (changed only when the
 * value changes). Sends never block: a full socket returns 0 and {@link #awaitWritable} polls for room.
 *
 * <p>Closing from any thread is safe: {@link #close} shuts the socket down (a thread blocked in {@code recv} returns
 * at once with end of stream) and the fd is closed only when no thread is inside a system call on it any more, so
 * a number reused by another open is never touched.
 */
public final class RawSocket implements ByteChannel {
    /** A system call failed: its errno. */
    public static final class Failure extends IOException {
        private static final long serialVersionUID = 1L;
        private final int errno;

        Failure(String op, int errno) {
            super(op + ": " + Errno.name(errno) + " (" + Errno.describe(errno) + ")");
            this.errno = errno;
        }

        /** @return the positive errno */
        public int errno() {
            return errno;
        }
    }

    private final int fd;
    private final long scratch;
    /** Threads inside a system call on fd, plus one while close() shuts it down. */
    private final AtomicInteger users = new AtomicInteger();
    private final AtomicBoolean released = new AtomicBoolean();
    private volatile boolean closed;
    /** Current SO_RCVTIMEO in ms (0: none set). Receiving thread only. */
    private int rcvTimeoutMs;
    /** recv flags for the next read: 0 (wait up to SO_RCVTIMEO) or MSG_DONTWAIT. Receiving thread only. */
    private int readFlags = LibC.MSG_DONTWAIT;
    private ByteBuffer readBuf;
    private long readAddress;
    private ByteBuffer writeBuf;
    private long writeAddress;

    private RawSocket(int fd) {
        this.fd = fd;
        this.scratch = Posix.allocate(RawSocketDescriptor.LENGTH);
    }

    /**
     * Connects a blocking, close-on-exec stream socket to {@code path} (waits while the server's backlog is full).
     *
     * @param path the socket file
     * @param op the operation named in an error
     * @return the connected socket
     * @throws IpcException with the errno (ENOENT, ECONNREFUSED, EACCES, ENAMETOOLONG...)
     */
    public static RawSocket connect(String path, String op) {
        try (UnixSocket.Address a = UnixSocket.filesystemAddress(path)) {
            int fd = C.socket(LibC.AF_UNIX, LibC.SOCK_STREAM | LibC.SOCK_CLOEXEC, 0);
            if (fd < 0) {
                throw IpcException.of(op, Posix.errno(), "socket");
            }
            int rc;
            do {
                rc = C.connect(fd, a.address(), a.length());
            } while (rc < 0 && Posix.errno() == Errno.EINTR);
            if (rc < 0) {
                int e = Posix.errno();
                C.close(fd);
                throw IpcException.of(op, e, null);
            }
            return new RawSocket(fd);
        }
    }

    /** @return the fd (for poll(2)); valid until {@link #close} */
    public int fd() {
        return fd;
    }

    /**
     * How the next {@link #read} waits. Receiving thread only.
     *
     * @param ms 0: not at all; otherwise at most that many milliseconds (positive)
     * @throws IOException when the option cannot be set
     */
    public void receiveWait(int ms) throws IOException {
        if (ms <= 0) {
            readFlags = LibC.MSG_DONTWAIT;
            return;
        }
        readFlags = 0;
        if (ms == rcvTimeoutMs) {
            return;
        }
        if (!enter()) {
            throw new ClosedChannelException();
        }
        try {
            long tv = scratch + RawSocketDescriptor.TIMEVAL;
            MEM.writeLong(tv + RawSocketDescriptor.TV_SEC, ms / 1000);
            MEM.writeLong(tv + RawSocketDescriptor.TV_USEC, (ms % 1000) * 1000L);
            if (C.setsockopt(fd, LibC.SOL_SOCKET, LibC.SO_RCVTIMEO, tv, RawSocketDescriptor.TIMEVAL_LENGTH) < 0) {
                throw new Failure("setsockopt(SO_RCVTIMEO)", Posix.errno());
            }
            rcvTimeoutMs = ms;
        } finally {
            exit();
        }
    }

    /**
     * One {@code recv} into {@code dst}'s remaining space, waiting as set by {@link #receiveWait}.
     *
     * @return bytes read; 0 when none came within the wait (or a signal interrupted it); -1 at end of stream
     * @throws IOException ECONNRESET and other failures ({@link Failure}); ClosedChannelException once closed
     */
    @Override
    public int read(ByteBuffer dst) throws IOException {
        int pos = dst.position();
        int len = dst.limit() - pos;
        if (dst != readBuf) {
            readAddress = Posix.bufferAddress(dst);
            readBuf = dst;
        }
        if (!enter()) {
            throw new ClosedChannelException();
        }
        try {
            long n = C.recv(fd, readAddress + pos, len, readFlags);
            if (n > 0) {
                dst.position(pos + (int) n);
                return (int) n;
            }
            if (n == 0) {
                return len == 0 ? 0 : -1;
            }
            int e = Posix.errno();
            if (e == Errno.EAGAIN || e == Errno.EINTR) {
                return 0;
            }
            throw new Failure("recv", e);
        } finally {
            exit();
        }
    }

    /**
     * One non-blocking {@code send} of {@code src}'s remaining bytes.
     *
     * @return bytes the socket took (0 when it is full)
     * @throws IOException EPIPE, ECONNRESET... ({@link Failure}); ClosedChannelException once closed
     */
    @Override
    public int write(ByteBuffer src) throws IOException {
        int pos = src.position();
        int len = src.limit() - pos;
        if (src != writeBuf) {
            writeAddress = Posix.bufferAddress(src);
            writeBuf = src;
        }
        if (!enter()) {
            throw new ClosedChannelException();
        }
        try {
            for (;;) {
                long n = C.send(fd, writeAddress + pos, len, LibC.MSG_DONTWAIT | LibC.MSG_NOSIGNAL);
                if (n >= 0) {
                    src.position(pos + (int) n);
                    return (int) n;
                }
                int e = Posix.errno();
                if (e == Errno.EAGAIN) {
                    return 0;
                }
                if (e != Errno.EINTR) {
                    throw new Failure("send", e);
                }
            }
        } finally {
            exit();
        }
    }

    /**
     * Waits until the socket takes more bytes. Writing threads only (serialised by the caller).
     *
     * @param ms at most this long
     * @return true when it does (or the socket failed: the next write says how)
     */
    public boolean awaitWritable(int ms) throws IOException {
        if (!enter()) {
            throw new ClosedChannelException();
        }
        try {
            return Posix.pollOne(fd, LibC.POLLOUT, ms, scratch + RawSocketDescriptor.POLLFD) != 0;
        } catch (IpcException e) {
            throw new Failure("poll", e.errno());
        } finally {
            exit();
        }
    }

    /**
     * SO_PEERCRED: the peer's credentials when it connected.
     *
     * @return {pid, uid, gid}
     */
    public synchronized int[] peerCredentials() throws IOException {
        if (!enter()) {
            throw new ClosedChannelException();
        }
        try {
            long u = scratch + RawSocketDescriptor.UCRED;
            long len = scratch + RawSocketDescriptor.OPTLEN;
            MEM.writeInt(len, RawSocketDescriptor.UCRED_LENGTH);
            if (C.getsockopt(fd, LibC.SOL_SOCKET, LibC.SO_PEERCRED, u, len) < 0) {
                throw new Failure("getsockopt(SO_PEERCRED)", Posix.errno());
            }
            return new int[] {MEM.readInt(u + RawSocketDescriptor.UCRED_PID),
                MEM.readInt(u + RawSocketDescriptor.UCRED_UID), MEM.readInt(u + RawSocketDescriptor.UCRED_GID)};
        } finally {
            exit();
        }
    }

    /** Ends both directions (the peer sees EOF; a blocked {@code recv} here returns end of stream). */
    public void shutdown() {
        if (enter()) {
            try {
                C.shutdown(fd, LibC.SHUT_RDWR);
            } finally {
                exit();
            }
        }
    }

    @Override
    public boolean isOpen() {
        return !closed;
    }

    /** Shuts the socket down and closes the fd once no thread uses it. Idempotent, any thread. */
    @Override
    public void close() {
        users.incrementAndGet();
        if (!closed) {
            closed = true;
            C.shutdown(fd, LibC.SHUT_RDWR);
        }
        exit();
    }

    private boolean enter() {
        users.incrementAndGet();
        if (closed) {
            exit();
            return false;
        }
        return true;
    }

    private void exit() {
        if (users.decrementAndGet() == 0 && closed && released.compareAndSet(false, true)) {
            C.close(fd);
            Posix.free(scratch, RawSocketDescriptor.LENGTH);
        }
    }

    @Override
    public String toString() {
        return "RawSocket[fd " + fd + (closed ? ", closed" : "") + "]";
    }
}
