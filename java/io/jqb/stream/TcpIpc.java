package io.jqb.stream;

import static io.jqb.internal.posix.Posix.C;
import static io.jqb.internal.posix.Posix.MEM;

import io.jqb.Errno;
import io.jqb.IpcException;
import io.jqb.internal.posix.LibC;
import io.jqb.internal.posix.Posix;
import io.jqb.stream.internal.FdHandle;
import io.jqb.stream.internal.SockAddrInDescriptor;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnknownHostException;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/**
 * A TCP connection or listening socket (IPv4 and IPv6). Connections have TCP_NODELAY on.
 *
 * <!-- example: test/io/jqb/examples/StreamEcho.java#client -->
 * <pre>{@code
 * try (TcpIpc c = TcpIpc.connect(hostPort, 0, 2000)) {      // "host:port", "[v6]:port"; 2 s to connect
 *     c.writeMessage(PREFIX, 1, text);                       // prefix, id, UTF-8 payload
 *     Message m = c.readMessage(PREFIX, 1 << 20, 5000);      // size limit, 5 s for the first byte
 *     return m == null ? null : m.text();                   // null: nothing within 5 s (or peer closed)
 * }
 * }</pre>
 */
public final class TcpIpc extends SocketIpc {
    /** The listen backlog {@link #listen(int, String)} asks for (the kernel caps it at net.core.somaxconn). */
    public static final int DEFAULT_BACKLOG = 4096;

    private TcpIpc(int fd, boolean server, String remote) {
        super(fd, server, remote);
    }

    /** An endpoint without a socket, to be given one with {@link #adopt(int)}. */
    public TcpIpc() {
        this(-1, false, "");
    }

    /**
     * Connects.
     *
     * @param host {@code "name"}, {@code "name:port"}, {@code "a.b.c.d:port"}, {@code "[v6]:port"} (or a bare
     *     IPv6 literal)
     * @param port the port, or 0 when {@code host} carries it (a port in both places is an error)
     * @param timeoutMs connect time-out; negative = the operating system's own (minutes)
     * @throws IllegalArgumentException for a malformed host or port
     * @throws IpcException when it cannot connect (ETIMEDOUT, ECONNREFUSED, ...; ENOENT for an unknown name)
     * @return the connection
     */
    public static TcpIpc connect(String host, int port, int timeoutMs) {
        HostPort hp = HostPort.parse(host, port);
        InetAddress[] addrs;
        try {
            addrs = InetAddress.getAllByName(hp.host());
        } catch (UnknownHostException e) {
            throw new IpcException("connect(" + host + ")", Errno.ENOENT, "unknown host");
        }
        long deadline = timeoutMs > 0 ? System.nanoTime() + timeoutMs * 1_000_000L : 0;
        IpcException last = null;
        for (InetAddress a : addrs) {
            int t = timeoutMs <= 0 ? timeoutMs : Math.max(1, msLeft(deadline));
            try {
                return connectOne(new InetSocketAddress(a, hp.port()), t);
            } catch (IpcException e) {
                last = e;
                if (timeoutMs > 0 && msLeft(deadline) == 0) {
                    break;
                }
            }
        }
        throw last;
    }

    private static TcpIpc connectOne(InetSocketAddress to, int timeoutMs) {
        String shown = SockAddrInDescriptor.format(to);
        String op = "connect(" + shown + ")";
        long sa = Posix.allocate(SockAddrInDescriptor.STORAGE_LENGTH);
        int fd = -1;
        try {
            int len = SockAddrInDescriptor.write(sa, to);
            fd = Posix.check(C.socket(SockAddrInDescriptor.family(sa),
                    LibC.SOCK_STREAM | LibC.SOCK_NONBLOCK | LibC.SOCK_CLOEXEC, 0), "socket");
            Posix.setIntOption(fd, LibC.IPPROTO_TCP, LibC.TCP_NODELAY, 1, "setsockopt(TCP_NODELAY)");
            if (C.connect(fd, sa, len) < 0) {
                int e = Posix.errno();
                if (e != EINPROGRESS) {
                    throw IpcException.of(op, e, null);
                }
                int rev = Posix.pollOne(fd, LibC.POLLOUT, timeoutMs < 0 ? -1 : timeoutMs);
                if (rev == 0) {
                    throw new IpcException(op, Errno.ETIMEDOUT, "timeoutMs=" + timeoutMs);
                }
                int err = Posix.getIntOption(fd, LibC.SOL_SOCKET, LibC.SO_ERROR, "getsockopt(SO_ERROR)");
                if (err != 0) {
                    throw IpcException.of(op, err, null);
                }
            }
            TcpIpc c = new TcpIpc(fd, false, shown);
            fd = -1;
            return c;
        } finally {
            Posix.closeQuietly(fd);
            Posix.free(sa, SockAddrInDescriptor.STORAGE_LENGTH);
        }
    }

    /**
     * Listens.
     *
     * @param port the port; 0 = any free one ({@link #localAddress()} tells which)
     * @param address the local address to bind, e.g. {@code "127.0.0.1"} for loopback only; null = all interfaces
     *     (IPv6 and IPv4 when the host has IPv6)
     * @return the listening endpoint
     */
    public static TcpIpc listen(int port, String address) {
        return listen(port, address, DEFAULT_BACKLOG);
    }

    /**
     * {@link #listen(int, String)} with an explicit listen backlog.
     * @param port the port; 0 = any free one
     * @param address the local address to bind; null = all interfaces
     * @param backlog the listen backlog
     * @return the listening endpoint
     */
    public static TcpIpc listen(int port, String address, int backlog) {
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port=" + port);
        }
        if (address == null) {
            try {
                return listenOn(new InetSocketAddress(InetAddress.getByName("::"), port), backlog, true);
            } catch (UnknownHostException | IpcException e) {
                return listenOn(new InetSocketAddress(port), backlog, false);
            }
        }
        InetAddress a;
        try {
            a = InetAddress.getByName(address.startsWith("[") && address.endsWith("]")
                    ? address.substring(1, address.length() - 1) : address);
        } catch (UnknownHostException e) {
            throw new IpcException("listen(" + address + ")", Errno.ENOENT, "unknown host");
        }
        return listenOn(new InetSocketAddress(a, port), backlog, false);
    }

    private static TcpIpc listenOn(InetSocketAddress at, int backlog, boolean dualStack) {
        String op = "listen(" + SockAddrInDescriptor.format(at) + ")";
        long sa = Posix.allocate(SockAddrInDescriptor.STORAGE_LENGTH);
        int fd = -1;
        try {
            int len = SockAddrInDescriptor.write(sa, at);
            fd = Posix.check(C.socket(SockAddrInDescriptor.family(sa),
                    LibC.SOCK_STREAM | LibC.SOCK_NONBLOCK | LibC.SOCK_CLOEXEC, 0), "socket");
            Posix.setIntOption(fd, LibC.SOL_SOCKET, LibC.SO_REUSEADDR, 1, "setsockopt(SO_REUSEADDR)");
            if (dualStack) {
                Posix.setIntOption(fd, LibC.IPPROTO_IPV6, LibC.IPV6_V6ONLY, 0, "setsockopt(IPV6_V6ONLY)");
            }
            Posix.check(C.bind(fd, sa, len), "bind" + op.substring(6));
            Posix.check(C.listen(fd, backlog), op);
            TcpIpc l = new TcpIpc(fd, true, "");
            fd = -1;
            return l;
        } finally {
            Posix.closeQuietly(fd);
            Posix.free(sa, SockAddrInDescriptor.STORAGE_LENGTH);
        }
    }

    /** {@inheritDoc} The new connection has TCP_NODELAY on. */
    @Override
    public TcpIpc accept(int timeoutMs) {
        long sa = Posix.allocate(SockAddrInDescriptor.STORAGE_LENGTH + 8);
        try {
            long lenPtr = sa + SockAddrInDescriptor.STORAGE_LENGTH;
            int fd = acceptFd(timeoutMs, sa, lenPtr, SockAddrInDescriptor.STORAGE_LENGTH);
            if (fd < 0) {
                return null;
            }
            InetSocketAddress peer = SockAddrInDescriptor.read(sa);
            TcpIpc c = new TcpIpc(fd, true, peer == null ? "" : SockAddrInDescriptor.format(peer));
            try {
                c.setOption(LibC.IPPROTO_TCP, LibC.TCP_NODELAY, 1, "setsockopt(TCP_NODELAY)");
            } catch (IpcException e) {
                c.close();
                throw e;
            }
            return c;
        } finally {
            Posix.free(sa, SockAddrInDescriptor.STORAGE_LENGTH + 8);
        }
    }

    @Override
    public String localAddress() {
        FdHandle h = handle;
        if (h == null || !h.acquire()) {
            return "";
        }
        long sa = Posix.allocate(SockAddrInDescriptor.STORAGE_LENGTH + 8);
        try {
            long lenPtr = sa + SockAddrInDescriptor.STORAGE_LENGTH;
            MEM.writeInt(lenPtr, SockAddrInDescriptor.STORAGE_LENGTH);
            if (C.getsockname(h.fd(), sa, lenPtr) < 0) {
                return "";
            }
            InetSocketAddress a = SockAddrInDescriptor.read(sa);
            return a == null ? "" : SockAddrInDescriptor.format(a);
        } finally {
            Posix.free(sa, SockAddrInDescriptor.STORAGE_LENGTH + 8);
            h.release();
        }
    }

    /** @return the local port, or -1 */
    public int localPort() {
        String a = localAddress();
        int c = a.lastIndexOf(':');
        return c < 0 ? -1 : Integer.parseInt(a.substring(c + 1));
    }

    /**
     * Takes ownership of a connected socket fd (vfiipc's {@code setFD}): closes this end's previous socket; the
     * remote address is empty afterwards. The fd is made non-blocking.
     * @param fd a connected stream socket fd
     */
    public void adopt(int fd) {
        if (fd < 0) {
            throw new IllegalArgumentException("fd=" + fd);
        }
        Posix.setNonBlocking(fd);
        replaceFd(fd);
        try {
            setOption(LibC.IPPROTO_TCP, LibC.TCP_NODELAY, 1, "setsockopt(TCP_NODELAY)");
        } catch (IpcException e) {
            // not a TCP socket (a test may hand over any stream socket): keep it as it is
        }
    }

    /**
     * Takes over a connected {@link SocketChannel}: its socket is duplicated into this end (found by its local and
     * remote addresses, since the JDK does not expose the fd), then the channel is closed. As {@link #adopt(int)}.
     *
     * @throws IpcException ENOENT when the channel's socket cannot be found among this process's fds
     * @param channel a connected TCP channel
     */
    public void adopt(SocketChannel channel) {
        int fd = findFd(channel);
        int dup = Posix.check(C.fcntl(fd, LibC.F_DUPFD_CLOEXEC, 0), "fcntl(F_DUPFD_CLOEXEC)");
        try {
            channel.close();
        } catch (IOException e) {
            Posix.closeQuietly(dup);
            throw new IpcException("adopt: close channel", Errno.EIO, e.getMessage());
        }
        adopt(dup);
    }

    private static int findFd(SocketChannel channel) {
        SocketAddress local;
        SocketAddress peer;
        try {
            local = channel.getLocalAddress();
            peer = channel.getRemoteAddress();
        } catch (IOException e) {
            throw new IpcException("adopt", Errno.ENOTCONN, e.getMessage());
        }
        if (!(local instanceof InetSocketAddress) || !(peer instanceof InetSocketAddress)) {
            throw new IpcException("adopt", Errno.ENOTCONN, "channel not connected over TCP");
        }
        long sa = Posix.allocate(SockAddrInDescriptor.STORAGE_LENGTH + 8);
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            for (Path p : (Iterable<Path>) fds::iterator) {
                int fd;
                try {
                    fd = Integer.parseInt(p.getFileName().toString());
                    if (!Files.readSymbolicLink(p).toString().startsWith("socket:")) {
                        continue;
                    }
                } catch (IOException | NumberFormatException e) {
                    continue;
                }
                if (local.equals(name(fd, sa, true)) && peer.equals(name(fd, sa, false))) {
                    return fd;
                }
            }
        } catch (IOException e) {
            throw new IpcException("adopt: list /proc/self/fd", Errno.EIO, e.getMessage());
        } finally {
            Posix.free(sa, SockAddrInDescriptor.STORAGE_LENGTH + 8);
        }
        throw new IpcException("adopt", Errno.ENOENT, "channel's socket not found");
    }

    private static InetSocketAddress name(int fd, long sa, boolean local) {
        long lenPtr = sa + SockAddrInDescriptor.STORAGE_LENGTH;
        MEM.writeInt(lenPtr, SockAddrInDescriptor.STORAGE_LENGTH);
        int rc = local ? C.getsockname(fd, sa, lenPtr) : C.getpeername(fd, sa, lenPtr);
        return rc < 0 ? null : SockAddrInDescriptor.read(sa);
    }

    /**
     * Turns on TCP keepalive: TCP_KEEPCNT = {@code count}, TCP_KEEPIDLE = TCP_KEEPINTVL = {@code intervalSeconds},
     * and TCP_USER_TIMEOUT = count * interval * 1000 ms, so a dead peer is noticed within about twice that time.
     * {@code count} or {@code intervalSeconds} 0 turns keepalive and the user time-out off.
     * @param count keepalive probes before the peer is declared dead (TCP_KEEPCNT)
     * @param intervalSeconds idle seconds before the first probe and between probes
     */
    public void setKeepalive(int count, int intervalSeconds) {
        if (count < 0 || intervalSeconds < 0) {
            throw new IllegalArgumentException("count=" + count + " intervalSeconds=" + intervalSeconds);
        }
        if (count == 0 || intervalSeconds == 0) {
            setOption(LibC.SOL_SOCKET, LibC.SO_KEEPALIVE, 0, "setsockopt(SO_KEEPALIVE)");
            setOption(LibC.IPPROTO_TCP, LibC.TCP_USER_TIMEOUT, 0, "setsockopt(TCP_USER_TIMEOUT)");
            return;
        }
        setOption(LibC.IPPROTO_TCP, LibC.TCP_KEEPCNT, count, "setsockopt(TCP_KEEPCNT)");
        setOption(LibC.IPPROTO_TCP, LibC.TCP_KEEPIDLE, intervalSeconds, "setsockopt(TCP_KEEPIDLE)");
        setOption(LibC.IPPROTO_TCP, LibC.TCP_KEEPINTVL, intervalSeconds, "setsockopt(TCP_KEEPINTVL)");
        setOption(LibC.IPPROTO_TCP, LibC.TCP_USER_TIMEOUT, (int) Math.min(Integer.MAX_VALUE,
                (long) count * intervalSeconds * 1000), "setsockopt(TCP_USER_TIMEOUT)");
        setOption(LibC.SOL_SOCKET, LibC.SO_KEEPALIVE, 1, "setsockopt(SO_KEEPALIVE)");
    }

    /** {@code "host"} and the port, from the forms {@link TcpIpc#connect} takes. */
    record HostPort(String host, int port) {
        static HostPort parse(String spec, int port) {
            if (spec == null || spec.isEmpty()) {
                throw new IllegalArgumentException("host is empty");
            }
            String host = spec;
            int inSpec = -1;
            if (spec.startsWith("[")) {
                int close = spec.indexOf(']');
                if (close < 0) {
                    throw new IllegalArgumentException("host=" + spec + ": no closing ]");
                }
                host = spec.substring(1, close);
                String rest = spec.substring(close + 1);
                if (rest.startsWith(":")) {
                    inSpec = parsePort(spec, rest.substring(1));
                } else if (!rest.isEmpty()) {
                    throw new IllegalArgumentException("host=" + spec + ": text after ]");
                }
            } else {
                int c = spec.indexOf(':');
                if (c >= 0 && spec.indexOf(':', c + 1) < 0) {
                    host = spec.substring(0, c);
                    inSpec = parsePort(spec, spec.substring(c + 1));
                }
            }
            if (inSpec >= 0 && port > 0) {
                throw new IllegalArgumentException("host=" + spec + " port=" + port + ": port given twice");
            }
            int p = inSpec >= 0 ? inSpec : port;
            if (p <= 0 || p > 65535) {
                throw new IllegalArgumentException("host=" + spec + " port=" + port + ": no valid port");
            }
            if (host.isEmpty()) {
                throw new IllegalArgumentException("host=" + spec + ": no host name");
            }
            return new HostPort(host, p);
        }

        private static int parsePort(String spec, String s) {
            try {
                int p = Integer.parseInt(s);
                if (p <= 0 || p > 65535) {
                    throw new NumberFormatException();
                }
                return p;
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("host=" + spec + ": bad port '" + s + "'");
            }
        }
    }
}
