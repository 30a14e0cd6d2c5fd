package io.jqb.stream;

import static io.jqb.internal.posix.Posix.C;
import static io.jqb.internal.posix.Posix.MEM;

import io.jqb.Errno;
import io.jqb.IpcException;
import io.jqb.internal.posix.LibC;
import io.jqb.internal.posix.Posix;
import io.jqb.internal.wire.MsgHdrDescriptor;
import io.jqb.stream.internal.FdHandle;
import java.nio.ByteBuffer;

/**
 * What TCP and local pipes share: a non-blocking socket fd behind an {@link FdHandle}, reads as poll + recv,
 * writes as send (+ poll for room), accept with a time-out.
 */
abstract class SocketIpc extends Ipc {
    /** The socket; null when there is none (closed, or never connected). */
    volatile FdHandle handle;
    final boolean server;
    volatile String remote;

    SocketIpc(int fd, boolean server, String remote) {
        this.handle = fd >= 0 ? new FdHandle(fd) : null;
        this.server = server;
        this.remote = remote;
    }

    @Override
    FdHandle handle() {
        return handle;
    }

    @Override
    public int fd() {
        FdHandle h = handle;
        return h == null || h.isClosed() ? -1 : h.fd();
    }

    @Override
    public boolean isServer() {
        return server;
    }

    @Override
    public String remoteAddress() {
        return remote;
    }

    @Override
    public void close() {
        FdHandle h = handle;
        if (h != null) {
            h.close(true);
        }
        super.close();
    }

    /** Replaces the socket (vfiipc's setFD): the old one is closed, this end owns {@code fd} from now on. */
    void replaceFd(int fd) {
        FdHandle old = handle;
        handle = new FdHandle(fd);
        remote = "";
        if (old != null) {
            old.close(true);
        }
    }

    /**
     * Most bytes one fill of the receive buffer asks for: enough to take many small frames per system call, small
     * enough that most of a large frame is received straight into the caller's direct buffer (no copy).
     */
    static final int FILL_MAX = 16 * 1024;

    @Override
    int fillIn(ByteBuffer buf, long address, int timeoutMs) {
        // bytes already buffered: a frame is arriving, so try recv before poll
        int n = recvAt(address + buf.limit(), Math.min(buf.capacity() - buf.limit(), FILL_MAX), timeoutMs,
                buf.hasRemaining());
        if (n > 0) {
            buf.limit(buf.limit() + n);
        }
        return n;
    }

    /**
     * Receives into {@code buf} after its limit (at {@code address}), waiting up to {@code timeoutMs}.
     *
     * @return bytes received, 0 on time-out, -1 at end of stream
     */
    int recvInto(ByteBuffer buf, long address, int timeoutMs) {
        int n = recvAt(address + buf.limit(), buf.capacity() - buf.limit(), timeoutMs, false);
        if (n > 0) {
            buf.limit(buf.limit() + n);
        }
        return n;
    }

    @Override
    boolean direct() {
        return true;
    }

    @Override
    int recvDirect(long address, int len, int timeoutMs) {
        return recvAt(address, len, timeoutMs, true);
    }

    /**
     * Receives up to {@code space} bytes at {@code address}, waiting up to {@code timeoutMs}.
     *
     * @param optimistic try recv before poll (when data is probably there: the rest of a frame)
     * @return bytes received, 0 on time-out, -1 at end of stream
     */
    private int recvAt(long address, int space, int timeoutMs, boolean optimistic) {
        FdHandle h = handle;
        if (h == null || !h.acquire()) {
            throw closed("recv");
        }
        try {
            final int fd = h.fd();
            final long deadline = timeoutMs > 0 ? System.nanoTime() + timeoutMs * 1_000_000L : 0;
            boolean skipPoll = optimistic;
            for (;;) {
                if (timeoutMs != 0 && !skipPoll) {
                    int wait = timeoutMs < 0 ? -1 : msLeft(deadline);
                    if (wait == 0 || Posix.pollOne(fd, LibC.POLLIN, wait, h.readScratch()) == 0) {
                        if (timeoutMs < 0) {
                            continue;
                        }
                        return 0;
                    }
                }
                skipPoll = false;
                long n = C.recv(fd, address, space, LibC.MSG_DONTWAIT);
                if (n > 0) {
                    return (int) n;
                }
                if (n == 0) {
                    return -1;
                }
                int e = Posix.errno();
                if (e == Errno.EAGAIN) {
                    if (timeoutMs == 0) {
                        return 0;
                    }
                } else if (e != Errno.EINTR) {
                    if (h.isClosed()) {
                        return -1;
                    }
                    throw IpcException.of("recv(" + remote + ")", e, null);
                }
            }
        } finally {
            h.release();
        }
    }

    @Override
    void writeAll(ByteBuffer buf, long address) {
        try {
            sendAll(buf, address);
        } catch (IpcException e) {
            markError(e);
            throw e;
        }
    }

    /** Sends {@code buf}'s remaining bytes (at {@code address}), waiting for room up to the write time-out. */
    void sendAll(ByteBuffer buf, long address) {
        FdHandle h = handle;
        if (h == null || !h.acquire()) {
            throw closed("send");
        }
        try {
            final int fd = h.fd();
            int pos = buf.position();
            final int start = pos;
            final int end = buf.limit();
            final int timeoutMs = writeTimeoutMs;
            long deadline = 0;
            while (pos < end) {
                long n = C.send(fd, address + pos, end - pos, LibC.MSG_NOSIGNAL | LibC.MSG_DONTWAIT);
                if (n >= 0) {
                    pos += (int) n;
                    continue;
                }
                int e = Posix.errno();
                if (e == Errno.EINTR) {
                    continue;
                }
                if (e != Errno.EAGAIN) {
                    buf.position(pos);
                    throw IpcException.of("send(" + remote + ")", h.isClosed() ? Errno.ENOTCONN : e, null);
                }
                if (timeoutMs >= 0 && deadline == 0) {
                    deadline = System.nanoTime() + timeoutMs * 1_000_000L;
                }
                int wait = timeoutMs < 0 ? -1 : msLeft(deadline);
                if (wait == 0 || Posix.pollOne(fd, LibC.POLLOUT, wait, h.writeScratch()) == 0) {
                    buf.position(pos);
                    throw new IpcException("send(" + remote + ")", Errno.ETIMEDOUT,
                            "sent=" + (pos - start) + " writeTimeoutMs=" + timeoutMs);
                }
            }
            buf.position(pos);
        } finally {
            h.release();
        }
    }

    @Override
    void writeTwo(long a1, int l1, long a2, int l2) {
        try {
            sendTwo(a1, l1, a2, l2);
        } catch (IpcException e) {
            markError(e);
            throw e;
        }
    }

    /** Sends {@code l1} bytes at {@code a1} then {@code l2} at {@code a2} with sendmsg (no copy), all of them. */
    private void sendTwo(long a1, int l1, long a2, int l2) {
        FdHandle h = handle;
        if (h == null || !h.acquire()) {
            throw closed("send");
        }
        try {
            final int fd = h.fd();
            final long msg = h.msgScratch();
            final long iov = msg + MsgHdrDescriptor.MSGHDR_LENGTH;
            final int timeoutMs = writeTimeoutMs;
            long deadline = 0;
            long done = 0;
            final long total = (long) l1 + l2;
            while (done < total) {
                int cnt = 0;
                if (done < l1) {
                    MEM.writeLong(iov + MsgHdrDescriptor.IOV_BASE, a1 + done);
                    MEM.writeLong(iov + MsgHdrDescriptor.IOV_LEN, l1 - done);
                    MEM.writeLong(iov + MsgHdrDescriptor.IOVEC_LENGTH + MsgHdrDescriptor.IOV_BASE, a2);
                    MEM.writeLong(iov + MsgHdrDescriptor.IOVEC_LENGTH + MsgHdrDescriptor.IOV_LEN, l2);
                    cnt = 2;
                } else {
                    MEM.writeLong(iov + MsgHdrDescriptor.IOV_BASE, a2 + (done - l1));
                    MEM.writeLong(iov + MsgHdrDescriptor.IOV_LEN, total - done);
                    cnt = 1;
                }
                MEM.setMemory(msg, MsgHdrDescriptor.MSGHDR_LENGTH, (byte) 0);
                MEM.writeLong(msg + MsgHdrDescriptor.MSG_IOV, iov);
                MEM.writeLong(msg + MsgHdrDescriptor.MSG_IOVLEN, cnt);
                long n = C.sendmsg(fd, msg, LibC.MSG_NOSIGNAL | LibC.MSG_DONTWAIT);
                if (n >= 0) {
                    done += n;
                    continue;
                }
                int e = Posix.errno();
                if (e == Errno.EINTR) {
                    continue;
                }
                if (e != Errno.EAGAIN) {
                    throw IpcException.of("send(" + remote + ")", h.isClosed() ? Errno.ENOTCONN : e, null);
                }
                if (timeoutMs >= 0 && deadline == 0) {
                    deadline = System.nanoTime() + timeoutMs * 1_000_000L;
                }
                int wait = timeoutMs < 0 ? -1 : msLeft(deadline);
                if (wait == 0 || Posix.pollOne(fd, LibC.POLLOUT, wait, h.writeScratch()) == 0) {
                    throw new IpcException("send(" + remote + ")", Errno.ETIMEDOUT,
                            "sent=" + done + " writeTimeoutMs=" + timeoutMs);
                }
            }
        } finally {
            h.release();
        }
    }

    /**
     * Waits up to {@code timeoutMs} for a connection on this listening socket and accepts it.
     *
     * @param sockaddr native room for the peer's address (or 0)
     * @param lenPtr native socklen_t holding that room's size (or 0)
     * @return a non-blocking close-on-exec fd, or -1 on time-out
     */
    int acceptFd(int timeoutMs, long sockaddr, long lenPtr, int addrRoom) {
        FdHandle h = handle;
        if (h == null || !h.acquire()) {
            throw closed("accept");
        }
        try {
            final int fd = h.fd();
            final long deadline = timeoutMs > 0 ? System.nanoTime() + timeoutMs * 1_000_000L : 0;
            for (;;) {
                if (lenPtr != 0) {
                    io.jqb.internal.posix.Posix.MEM.writeInt(lenPtr, addrRoom);
                }
                int c = C.accept4(fd, sockaddr, lenPtr, LibC.SOCK_NONBLOCK | LibC.SOCK_CLOEXEC);
                if (c >= 0) {
                    return c;
                }
                int e = Posix.errno();
                if (e == Errno.EINTR || e == ECONNABORTED) {
                    continue;
                }
                if (e != Errno.EAGAIN) {
                    throw IpcException.of("accept(" + localAddress() + ")", h.isClosed() ? Errno.EBADF : e, null);
                }
                int wait = timeoutMs < 0 ? -1 : timeoutMs == 0 ? 0 : msLeft(deadline);
                if (wait == 0 || Posix.pollOne(fd, LibC.POLLIN, wait, h.readScratch()) == 0) {
                    if (timeoutMs < 0) {
                        continue;
                    }
                    return -1;
                }
                if (h.isClosed()) {
                    throw closed("accept");
                }
            }
        } finally {
            h.release();
        }
    }

    static final int ECONNABORTED = 103;
    static final int EINPROGRESS = 115;

    /** @return whole milliseconds left until {@code deadline}, rounded up, 0 when none */
    static int msLeft(long deadline) {
        long ns = deadline - System.nanoTime();
        return ns <= 0 ? 0 : (int) Math.min(Integer.MAX_VALUE, (ns + 999_999) / 1_000_000);
    }

    /** setsockopt with an int value on this socket. */
    void setOption(int level, int name, int value, String op) {
        FdHandle h = handle;
        if (h == null || !h.acquire()) {
            throw closed(op);
        }
        try {
            Posix.setIntOption(h.fd(), level, name, value, op);
        } finally {
            h.release();
        }
    }

    /** getsockopt with an int value on this socket. */
    int getOption(int level, int name, String op) {
        FdHandle h = handle;
        if (h == null || !h.acquire()) {
            throw closed(op);
        }
        try {
            return Posix.getIntOption(h.fd(), level, name, op);
        } finally {
            h.release();
        }
    }
}
