package io.jqb.internal.setup;

import static io.jqb.internal.posix.Posix.C;
import static io.jqb.internal.posix.Posix.MEM;

import io.jqb.Credentials;
import io.jqb.Errno;
import io.jqb.IpcException;
import io.jqb.internal.posix.LibC;
import io.jqb.internal.posix.Posix;
import io.jqb.internal.wire.MsgHdrDescriptor;
import io.jqb.internal.wire.SockAddrDescriptor;
import java.nio.charset.StandardCharsets;

/**
 * AF_UNIX socket operations the way libqb performs them: abstract names padded to the full {@code sun_path} with
 * addrlen 110, filesystem names with addrlen 2 + strlen, SCM_CREDENTIALS on the handshake.
 */
public final class UnixSocket {
    private UnixSocket() {
    }

    /** A native {@code sockaddr_un} and the addrlen to pass with it. Free with {@link #close()}. */
    public static final class Address implements AutoCloseable {
        final long address;
        final int length;
        /**
         * How {@link #toString()} shows it: {@code prefix + name + middle + last + suffix} (null parts empty), cut to
         * {@code maxBytes} UTF-8 bytes.
         */
        private final String prefix;
        private final String name;
        private final String middle;
        private final String last;
        private final String suffix;
        private final int maxBytes;

        private Address(long address, int length, String prefix, String name, String suffix, int maxBytes) {
            this(address, length, prefix, name, null, null, suffix, maxBytes);
        }

        private Address(long address, int length, String prefix, String name, String middle, String last,
                String suffix, int maxBytes) {
            this.address = address;
            this.length = length;
            this.prefix = prefix;
            this.name = name;
            this.middle = middle;
            this.last = last;
            this.suffix = suffix;
            this.maxBytes = maxBytes;
        }

        public long address() {
            return address;
        }

        public int length() {
            return length;
        }

        @Override
        public void close() {
            Posix.free(address, SockAddrDescriptor.LENGTH);
        }

        /** Built on demand (error messages only): a socket set-up makes no display string. */
        @Override
        public String toString() {
            String full = name + (middle == null ? "" : middle) + (last == null ? "" : last) + suffix;
            byte[] b = full.getBytes(StandardCharsets.UTF_8);
            return prefix + (b.length <= maxBytes ? full : new String(b, 0, maxBytes, StandardCharsets.UTF_8));
        }
    }

    /** {@code "\0" + name}, zero-padded to 108 bytes, addrlen 110 (names longer than 106 bytes are cut). */
    public static Address abstractAddress(String name) {
        return abstractAddress(name, "");
    }

    /**
     * {@link #abstractAddress(String)} of {@code name + suffix}, written into the address without making that
     * string (a SOCKET connection's four socket names share its base).
     */
    public static Address abstractAddress(String name, String suffix) {
        long a = Posix.allocate(SockAddrDescriptor.LENGTH);
        MEM.writeShort(a + SockAddrDescriptor.FAMILY_OFFSET, (short) LibC.AF_UNIX);
        Posix.putUtf8(a + SockAddrDescriptor.PATH_OFFSET + 1, name, suffix, SockAddrDescriptor.MAX_ABSTRACT_NAME);
        return new Address(a, SockAddrDescriptor.LENGTH, "@", name, suffix, SockAddrDescriptor.MAX_ABSTRACT_NAME);
    }

    /**
     * {@link #abstractAddress(String)} of {@code name + middle + last + suffix}, written into the address without
     * making that string: a SOCKET server's connection keeps its directory and the service name, not its sockets'
     * common base {@code dir + "/qb-" + service}.
     */
    public static Address abstractAddress(String name, String middle, String last, String suffix) {
        long a = Posix.allocate(SockAddrDescriptor.LENGTH);
        MEM.writeShort(a + SockAddrDescriptor.FAMILY_OFFSET, (short) LibC.AF_UNIX);
        Posix.putUtf8(a + SockAddrDescriptor.PATH_OFFSET + 1, name, middle, last, suffix,
                SockAddrDescriptor.MAX_ABSTRACT_NAME);
        return new Address(a, SockAddrDescriptor.LENGTH, "@", name, middle, last, suffix,
                SockAddrDescriptor.MAX_ABSTRACT_NAME);
    }

    /**
     * {@code "\0" + name} with addrlen 3 + strlen(name), not padded: the form socat, {@code ss} and most programs
     * use for Linux abstract names (libqb's padded form is {@link #abstractAddress}).
     */
    public static Address abstractAddressExact(String name) throws IpcException {
        byte[] b = name.getBytes(StandardCharsets.UTF_8);
        if (b.length > SockAddrDescriptor.PATH_LENGTH - 1) {
            throw new IpcException("socket address(@" + name + ")", Errno.ENAMETOOLONG);
        }
        long a = Posix.allocate(SockAddrDescriptor.LENGTH);
        MEM.writeShort(a + SockAddrDescriptor.FAMILY_OFFSET, (short) LibC.AF_UNIX);
        MEM.copyMemory(b, 0, a + SockAddrDescriptor.PATH_OFFSET + 1, b.length);
        return new Address(a, SockAddrDescriptor.PATH_OFFSET + 1 + b.length, "@", name, "", Integer.MAX_VALUE);
    }

    /** A filesystem path, NUL-terminated, addrlen 2 + strlen(path). */
    public static Address filesystemAddress(String path) throws IpcException {
        byte[] b = path.getBytes(StandardCharsets.UTF_8);
        if (b.length >= SockAddrDescriptor.PATH_LENGTH) {
            throw new IpcException("socket address(" + path + ")", Errno.ENAMETOOLONG);
        }
        long a = Posix.allocate(SockAddrDescriptor.LENGTH);
        MEM.writeShort(a + SockAddrDescriptor.FAMILY_OFFSET, (short) LibC.AF_UNIX);
        MEM.copyMemory(b, 0, a + SockAddrDescriptor.PATH_OFFSET, b.length);
        return new Address(a, SockAddrDescriptor.PATH_OFFSET + b.length, "", path, "", Integer.MAX_VALUE);
    }

    /** A non-blocking, close-on-exec listening stream socket with SO_PASSCRED set, backlog 128. */
    public static int listen(Address addr) throws IpcException {
        int fd = Posix.check(C.socket(LibC.AF_UNIX, LibC.SOCK_STREAM | LibC.SOCK_NONBLOCK | LibC.SOCK_CLOEXEC, 0),
                "socket");
        try {
            Posix.setIntOption(fd, LibC.SOL_SOCKET, LibC.SO_PASSCRED, 1, "setsockopt(SO_PASSCRED)");
            Posix.check(C.bind(fd, addr.address, addr.length), "bind(" + addr + ")");
            Posix.check(C.listen(fd, 128), "listen(" + addr + ")");
            return fd;
        } catch (IpcException e) {
            C.close(fd);
            throw e;
        }
    }

    /** @return a non-blocking close-on-exec fd, or a negated errno (EAGAIN when nobody is waiting) */
    public static int accept(int listenFd) {
        int fd = C.accept4(listenFd, 0, 0, LibC.SOCK_NONBLOCK | LibC.SOCK_CLOEXEC);
        return fd >= 0 ? fd : -Posix.errno();
    }

    /** Connects a non-blocking stream socket; throws with the errno name (ECONNREFUSED when nobody listens). */
    public static int connect(Address addr, String service) throws IpcException {
        int fd = Posix.check(C.socket(LibC.AF_UNIX, LibC.SOCK_STREAM | LibC.SOCK_NONBLOCK | LibC.SOCK_CLOEXEC, 0),
                "socket");
        if (C.connect(fd, addr.address, addr.length) < 0) {
            int e = Posix.errno();
            C.close(fd);
            throw IpcException.of("connect(" + service + ")", e, addr.toString());
        }
        return fd;
    }

    /**
     * Sends all {@code len} bytes at {@code buf}, waiting for POLLOUT up to {@code timeoutMs} in all.
     */
    public static void sendFully(int fd, long buf, int len, int timeoutMs, String op) throws IpcException {
        long deadline = System.nanoTime() + timeoutMs * 1_000_000L;
        int done = 0;
        while (done < len) {
            long n = C.send(fd, buf + done, len - done, LibC.MSG_NOSIGNAL | LibC.MSG_DONTWAIT);
            if (n >= 0) {
                done += (int) n;
                continue;
            }
            int e = Posix.errno();
            if (e == Errno.EINTR) {
                continue;
            }
            if (e != Errno.EAGAIN) {
                throw IpcException.of(op, e, null);
            }
            int left = (int) ((deadline - System.nanoTime()) / 1_000_000L);
            if (left <= 0 || Posix.pollOne(fd, LibC.POLLOUT, left) == 0) {
                throw new IpcException(op, Errno.ETIMEDOUT, "sent " + done + " of " + len + " bytes");
            }
        }
    }

    /**
     * One non-blocking {@code recvmsg} of up to {@code len} bytes into {@code buf}, with room for one
     * SCM_CREDENTIALS message.
     *
     * @param scratch at least {@link #RECV_SCRATCH} bytes of native memory
     * @param creds receives the credentials when present (may stay untouched)
     * @return bytes received (0 = EOF), or a negated errno
     */
    public static long recvWithCredentials(int fd, long buf, int len, long scratch, Credentials[] creds) {
        long n = recvmsgCredentials(fd, buf, len, scratch);
        if (n >= 0 && receivedPid(scratch) != NO_CREDENTIALS) {
            long d = scratch + MsgHdrDescriptor.MSGHDR_LENGTH + MsgHdrDescriptor.IOVEC_LENGTH
                    + MsgHdrDescriptor.CMSG_DATA;
            creds[0] = new Credentials(MEM.readInt(d + MsgHdrDescriptor.UCRED_PID),
                    MEM.readInt(d + MsgHdrDescriptor.UCRED_UID), MEM.readInt(d + MsgHdrDescriptor.UCRED_GID));
        }
        return n;
    }

    /** What {@link #receivedPid} returns when no SCM_CREDENTIALS came with the data. */
    public static final int NO_CREDENTIALS = Integer.MIN_VALUE;

    /**
     * {@link #recvWithCredentials} without allocating: the credentials stay in {@code scratch}, read them with
     * {@link #receivedPid} and {@link #receivedUid}.
     *
     * @return bytes received (0 = EOF or an empty datagram), or a negated errno
     */
    public static long recvmsgCredentials(int fd, long buf, int len, long scratch) {
        long msg = scratch;
        long iov = scratch + MsgHdrDescriptor.MSGHDR_LENGTH;
        long ctl = iov + MsgHdrDescriptor.IOVEC_LENGTH;
        MEM.setMemory(scratch, RECV_SCRATCH, (byte) 0);
        MEM.writeLong(iov + MsgHdrDescriptor.IOV_BASE, buf);
        MEM.writeLong(iov + MsgHdrDescriptor.IOV_LEN, len);
        MEM.writeLong(msg + MsgHdrDescriptor.MSG_IOV, iov);
        MEM.writeLong(msg + MsgHdrDescriptor.MSG_IOVLEN, 1);
        MEM.writeLong(msg + MsgHdrDescriptor.MSG_CONTROL, ctl);
        MEM.writeLong(msg + MsgHdrDescriptor.MSG_CONTROLLEN, MsgHdrDescriptor.CMSG_UCRED_SPACE);
        long n;
        do {
            n = C.recvmsg(fd, msg, LibC.MSG_DONTWAIT);
        } while (n < 0 && Posix.errno() == Errno.EINTR);
        return n < 0 ? -Posix.errno() : n;
    }

    private static boolean hasCredentials(long scratch) {
        long ctl = scratch + MsgHdrDescriptor.MSGHDR_LENGTH + MsgHdrDescriptor.IOVEC_LENGTH;
        long ctlLen = MEM.readLong(scratch + MsgHdrDescriptor.MSG_CONTROLLEN);
        return ctlLen >= MsgHdrDescriptor.CMSG_UCRED_LEN
                && MEM.readLong(ctl + MsgHdrDescriptor.CMSG_LEN_OFFSET) >= MsgHdrDescriptor.CMSG_UCRED_LEN
                && MEM.readInt(ctl + MsgHdrDescriptor.CMSG_LEVEL) == LibC.SOL_SOCKET
                && MEM.readInt(ctl + MsgHdrDescriptor.CMSG_TYPE) == LibC.SCM_CREDENTIALS;
    }

    /** @return the sender's pid from the last {@link #recvmsgCredentials} into {@code scratch}, or NO_CREDENTIALS */
    public static int receivedPid(long scratch) {
        return hasCredentials(scratch) ? MEM.readInt(scratch + MsgHdrDescriptor.MSGHDR_LENGTH
                + MsgHdrDescriptor.IOVEC_LENGTH + MsgHdrDescriptor.CMSG_DATA + MsgHdrDescriptor.UCRED_PID)
                : NO_CREDENTIALS;
    }

    /** @return the sender's uid from the last {@link #recvmsgCredentials} into {@code scratch}, or NO_CREDENTIALS */
    public static int receivedUid(long scratch) {
        return hasCredentials(scratch) ? MEM.readInt(scratch + MsgHdrDescriptor.MSGHDR_LENGTH
                + MsgHdrDescriptor.IOVEC_LENGTH + MsgHdrDescriptor.CMSG_DATA + MsgHdrDescriptor.UCRED_UID)
                : NO_CREDENTIALS;
    }

    /** Native scratch bytes {@link #recvWithCredentials} needs. */
    public static final int RECV_SCRATCH = MsgHdrDescriptor.MSGHDR_LENGTH + MsgHdrDescriptor.IOVEC_LENGTH
            + MsgHdrDescriptor.CMSG_UCRED_SPACE;

    /** A non-blocking, close-on-exec datagram socket. */
    public static int datagramSocket() throws IpcException {
        return Posix.check(C.socket(LibC.AF_UNIX, LibC.SOCK_DGRAM | LibC.SOCK_NONBLOCK | LibC.SOCK_CLOEXEC, 0),
                "socket(SOCK_DGRAM)");
    }

    /**
     * A non-blocking datagram socket bound to the abstract name {@code name}, with SO_SNDBUF/SO_RCVBUF raised to
     * {@code size} (the SOCKET transport's sockets, both sides).
     */
    public static int boundDatagram(String name, int size) throws IpcException {
        return boundDatagram(name, "", size);
    }

    /** {@link #boundDatagram(String, int)} of {@code name + suffix} (see {@link #abstractAddress(String, String)}). */
    public static int boundDatagram(String name, String suffix, int size) throws IpcException {
        return boundDatagram(name, null, null, suffix, size);
    }

    /** {@link #boundDatagram(String, int)} of {@code name + middle + last + suffix} (see {@link #abstractAddress}). */
    public static int boundDatagram(String name, String middle, String last, String suffix, int size)
            throws IpcException {
        int fd = datagramSocket();
        try (Address a = abstractAddress(name, middle, last, suffix)) {
            bind(fd, a);
            setBufferSizes(fd, size);
            return fd;
        } catch (IpcException e) {
            C.close(fd);
            throw e;
        }
    }

    public static void bind(int fd, Address addr) throws IpcException {
        Posix.check(C.bind(fd, addr.address, addr.length), "bind(", addr); // addr's text only on failure
    }

    /** @return 0, or a negated errno */
    public static int connectRaw(int fd, Address addr) {
        return C.connect(fd, addr.address, addr.length) < 0 ? -Posix.errno() : 0;
    }

    /** Raises SO_SNDBUF and SO_RCVBUF to {@code size} when they are not larger, as libqb does. */
    public static void setBufferSizes(int fd, int size) throws IpcException {
        raiseBufferSize(fd, LibC.SO_SNDBUF, size);
        raiseBufferSize(fd, LibC.SO_RCVBUF, size);
    }

    private static void raiseBufferSize(int fd, int opt, int size) throws IpcException {
        int cur = Posix.getIntOption(fd, LibC.SOL_SOCKET, opt, "getsockopt");
        if (cur <= size) {
            Posix.setIntOption(fd, LibC.SOL_SOCKET, opt, size, "setsockopt(SO_SNDBUF/SO_RCVBUF)");
        }
    }

    /** shutdown(SHUT_RDWR) and close, ignoring errors. */
    public static void shutdownAndClose(int fd) {
        if (fd >= 0) {
            C.shutdown(fd, LibC.SHUT_RDWR);
            C.close(fd);
        }
    }
}
