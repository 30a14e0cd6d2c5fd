package io.jqb.stream;

import static io.jqb.internal.posix.Posix.C;
import static io.jqb.internal.posix.Posix.MEM;

import io.jqb.Credentials;
import io.jqb.Errno;
import io.jqb.IpcException;
import io.jqb.internal.posix.LibC;
import io.jqb.internal.posix.Posix;
import io.jqb.internal.setup.UnixSocket;
import io.jqb.internal.socket.SocketFiles;
import io.jqb.stream.internal.FdHandle;
import java.nio.file.Path;
import java.util.concurrent.locks.LockSupport;

/**
 * A local stream socket (AF_UNIX, SOCK_STREAM): a filesystem path, or a Linux abstract name written {@code "@name"}
 * (the form {@code ss} prints; socat's {@code ABSTRACT-CONNECT:name}). The accepting side can ask the kernel who
 * the peer is ({@link #peerCredentials()}).
 */
public final class PipeIpc extends SocketIpc {
    private final String path;
    /** A listener's filesystem path, removed on close if still its own socket ({@link #ownedKey}); null otherwise. */
    private final Path ownedPath;
    /** The file key of {@link #ownedPath} right after the bind. */
    private final Object ownedKey;

    private PipeIpc(int fd, boolean server, String path, String remote) {
        this(fd, server, path, remote, null);
    }

    private PipeIpc(int fd, boolean server, String path, String remote, Path ownedPath) {
        super(fd, server, remote);
        this.path = path;
        this.ownedPath = ownedPath;
        this.ownedKey = ownedPath == null ? null : SocketFiles.fileKey(ownedPath);
    }

    private static UnixSocket.Address address(String path) {
        if (path == null || path.isEmpty() || path.equals("@")) {
            throw new IllegalArgumentException("path=" + path);
        }
        return path.startsWith("@") ? UnixSocket.abstractAddressExact(path.substring(1))
                : UnixSocket.filesystemAddress(path);
    }

    /**
     * Listens on {@code path} (a filesystem path, or {@code "@name"} for an abstract name). A stale socket file
     * nobody listens on is replaced; the file is removed again on {@link #close()}, unless it is no longer this
     * listener's (removed and bound again by another listener meanwhile: that one's socket is left alone).
     * @param path a filesystem path, or {@code "@name"} for a Linux abstract name
     * @return the listening endpoint
     */
    public static PipeIpc listen(String path) {
        try (UnixSocket.Address a = address(path)) {
            Path file = path.startsWith("@") ? null : Path.of(path);
            int fd;
            try {
                fd = UnixSocket.listen(a);
            } catch (IpcException e) {
                if (e.errno() != Errno.EADDRINUSE || file == null || !SocketFiles.isStale(file)) {
                    throw e;
                }
                C.unlink(path);
                fd = UnixSocket.listen(a);
            }
            return new PipeIpc(fd, true, path, "", file);
        }
    }

    /**
     * Connects to {@code path}, retrying while nobody listens yet (ENOENT, ECONNREFUSED) or the backlog is full
     * (EAGAIN), up to {@code timeoutMs}.
     *
     * @param timeoutMs 0 = one attempt; negative = without limit
     * @param path a filesystem path, or {@code "@name"} for a Linux abstract name
     * @return the connection
     */
    public static PipeIpc connect(String path, int timeoutMs) {
        long deadline = timeoutMs > 0 ? System.nanoTime() + timeoutMs * 1_000_000L : 0;
        long backoffNs = 1_000_000;
        try (UnixSocket.Address a = address(path)) {
            for (;;) {
                try {
                    return new PipeIpc(UnixSocket.connect(a, path), false, path, path);
                } catch (IpcException e) {
                    int err = e.errno();
                    boolean retry = err == Errno.ENOENT || err == Errno.ECONNREFUSED || err == Errno.EAGAIN;
                    if (!retry || timeoutMs == 0 || timeoutMs > 0 && System.nanoTime() - deadline >= 0) {
                        throw e;
                    }
                }
                long park = timeoutMs > 0 ? Math.min(backoffNs, Math.max(0, deadline - System.nanoTime()))
                        : backoffNs;
                LockSupport.parkNanos(park);
                backoffNs = Math.min(backoffNs * 2, 50_000_000);
            }
        }
    }

    /**
     * A connected pair (socketpair(2)), e.g. for a parent and the thread or child it talks to.
     * @return the two connected ends
     */
    public static PipeIpc[] pair() {
        long sv = Posix.allocate(8);
        try {
            Posix.check(C.socketpair(LibC.AF_UNIX, LibC.SOCK_STREAM | LibC.SOCK_NONBLOCK | LibC.SOCK_CLOEXEC, 0, sv),
                    "socketpair");
            return new PipeIpc[] {new PipeIpc(MEM.readInt(sv), false, "", ""),
                new PipeIpc(MEM.readInt(sv + 4), true, "", "")};
        } finally {
            Posix.free(sv, 8);
        }
    }

    @Override
    public PipeIpc accept(int timeoutMs) {
        int fd = acceptFd(timeoutMs, 0, 0, 0);
        return fd < 0 ? null : new PipeIpc(fd, true, path, "");
    }

    @Override
    public String localAddress() {
        return server ? path : "";
    }

    /**
     * The peer process's credentials as the kernel recorded them when it connected (SO_PEERCRED).
     *
     * @return pid, uid and gid
     */
    public Credentials peerCredentials() {
        FdHandle h = handle;
        if (h == null || !h.acquire()) {
            throw closed("getsockopt(SO_PEERCRED)");
        }
        long buf = Posix.allocate(16);
        try {
            MEM.writeInt(buf + 12, 12);
            Posix.check(C.getsockopt(h.fd(), LibC.SOL_SOCKET, LibC.SO_PEERCRED, buf, buf + 12),
                    "getsockopt(SO_PEERCRED)");
            return new Credentials(MEM.readInt(buf), MEM.readInt(buf + 4), MEM.readInt(buf + 8));
        } finally {
            Posix.free(buf, 16);
            h.release();
        }
    }

    @Override
    public void close() {
        boolean wasOpen = handle != null && !handle.isClosed();
        super.close();
        if (wasOpen && ownedPath != null) {
            SocketFiles.removeIfSame(ownedPath, ownedKey);
        }
    }
}
