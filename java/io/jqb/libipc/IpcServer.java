package io.jqb.libipc;

import io.jqb.internal.Logs;
import io.jqb.Errno;
import io.jqb.IpcException;
import io.jqb.internal.socket.SocketFiles;
import io.jqb.libipc.internal.Errors;
import io.jqb.libipc.internal.FrameDescriptor;
import io.jqb.libipc.internal.SocketFile;
import io.jqb.internal.log.RateLimitedLog;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ClosedSelectorException;
import java.nio.channels.SelectableChannel;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.UserPrincipal;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.UserPrincipalLookupService;
import java.nio.file.FileSystems;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import jdk.net.ExtendedSocketOptions;
import jdk.net.UnixDomainPrincipal;
import org.slf4j.Logger;

/**
 * A libipc service ({@code ipc_server_init} / {@code ipc_wait_event} / {@code ipc_server_close}): one AF_UNIX stream
 * socket at {@code <run dir>/<name>-<index>-<version>}, C libipc clients and {@link IpcClient}s connect to it.
 *
 * <!-- example: test/io/jqb/examples/LibipcPong.java#pong-loop -->
 * <pre>{@code
 * try (IpcServer server = IpcServer.builder(name).runDirectory(runDir).init()) {
 *     while (!stop.get()) {
 *         IpcEvent e = server.waitEvent(100);            // one event per call
 *         switch (e.type()) {
 *             case CONNECTION -> log.accept("connected: " + e.connection());
 *             case MESSAGE -> e.connection().write(e.message());   // same type, same payload
 *             case DISCONNECTION -> log.accept("gone: " + e.connection());   // already closed and removed
 *             case ERROR -> log.accept("error: " + e.cause().getMessage()); // e.g. a frame too large
 *             default -> { }                              // TIMEOUT, EXTRA_FD (nothing added here)
 *         }
 *     }
 * }   // removes the socket file
 * }</pre>
 *
 * <p>Differences from C libipc, on purpose: an existing socket file is probed and only a stale one (nobody answers)
 * is removed, a live server's is refused (EADDRINUSE); a missing run directory is created (mode 0755); a path that
 * does not fit a unix socket address is an error (ENAMETOOLONG), not a stack overflow; the socket is non-blocking
 * and every connection has its own reassembly buffer, so partial, coalesced, oversized or reset input only ever
 * affects the one connection that sent it. One thread drives {@link #waitEvent}; there is no thread per connection.
 */
public final class IpcServer implements AutoCloseable {
    private static final Logger LOG = Logs.get(IpcServer.class);
    /** Default largest payload accepted and sent: what a C libipc reader can take at all (7,999,990 bytes). */
    public static final int DEFAULT_MAX_PAYLOAD = FrameDescriptor.C_MAX_PAYLOAD;
    /** Hard cap of the largest payload (64 MiB), whatever is configured. */
    public static final int MAX_PAYLOAD_CAP = 64 << 20;
    /** Default write time-out: how long a client's write waits for a server that does not read. */
    public static final long DEFAULT_WRITE_TIMEOUT_MS = 5000;
    /** Default limit of the output queued for one client that does not read (4 MiB). */
    public static final int DEFAULT_MAX_PENDING_OUTPUT = 4 << 20;
    /** How long {@link #close()} lets queued output (and SERVER_CLOSE frames) leave, for all clients together. */
    public static final long CLOSE_DRAIN_MS = 1000;
    private static final int BACKLOG = 128;
    /** How long the listener is not watched after an accept failed (EMFILE...). */
    private static final long ACCEPT_PAUSE_MS = 100;

    private final String name;
    private final Path path;
    private final ServerSocketChannel listener;
    private final Object fileKey;
    private final EventSelector loop;
    private final Builder config;
    private final Set<IpcConnection> connections = ConcurrentHashMap.newKeySet();
    private final RateLimitedLog rejected = new RateLimitedLog(LOG, 1, 10_000);
    private final List<UserPrincipal> allowedUsers = new ArrayList<>();
    private final List<GroupPrincipal> allowedGroups = new ArrayList<>();
    private Selector acceptWait;
    private long accepted;
    /** The last {@link #acceptOne} failed (EMFILE...): {@link #accept(long)} pauses instead of polling at once. */
    private boolean acceptFailed;
    /** Set by {@link #close()}, read by {@link #accept(long)} on any thread. */
    private volatile boolean closed;

    /** Options for {@link #init(Builder)}. */
    public static final class Builder {
        private final EndpointPath endpoint;
        private Set<PosixFilePermission> socketMode;
        private final List<Integer> uids = new ArrayList<>();
        private final List<Integer> gids = new ArrayList<>();
        private int maxPayload = DEFAULT_MAX_PAYLOAD;
        private int maxPendingOutput = DEFAULT_MAX_PENDING_OUTPUT;
        private boolean serverCloseOnClose;

        private Builder(String name) {
            this.endpoint = new EndpointPath(name);
        }

        /**
         * @param dir the run directory (default: system property {@code jqb.libipc.rundir}, else {@code IPC_RUNDIR},
         *        else {@code /run/ipc/})
         * @return this
         */
        public Builder runDirectory(String dir) {
            endpoint.runDirectory = dir;
            return this;
        }

        /**
         * @param index the path's index field (C: {@code srv->index}, 0 in every libipc program)
         * @return this
         */
        public Builder index(int index) {
            endpoint.index = index;
            return this;
        }

        /**
         * @param version the path's version field (C: {@code srv->version}, 0 in every libipc program)
         * @return this
         */
        public Builder version(int version) {
            endpoint.version = version;
            return this;
        }

        /**
         * @param mode the socket file's permissions, e.g. {@code "rw-rw----"} (default: as the umask leaves them,
         *        like C: 0777 &amp; ~umask). Connecting needs write permission.
         * @return this
         */
        public Builder socketMode(String mode) {
            this.socketMode = java.nio.file.attribute.PosixFilePermissions.fromString(mode);
            return this;
        }

        /**
         * Accepts only peers whose SO_PEERCRED uid is {@code uid} (or whose uid/gid matches another allowed one).
         * Without any {@code allowUid}/{@code allowGid}, everybody who can open the socket is accepted (as C).
         *
         * @param uid an allowed user id
         * @return this
         */
        public Builder allowUid(int uid) {
            uids.add(uid);
            return this;
        }

        /**
         * Accepts peers whose SO_PEERCRED gid is {@code gid}; see {@link #allowUid}.
         *
         * @param gid an allowed group id
         * @return this
         */
        public Builder allowGid(int gid) {
            gids.add(gid);
            return this;
        }

        /**
         * @param max largest payload accepted from a peer and allowed in a write (default
         *        {@link #DEFAULT_MAX_PAYLOAD}, at most {@link #MAX_PAYLOAD_CAP}); a peer announcing more is
         *        disconnected with an ERROR event
         * @return this
         */
        public Builder maxPayload(int max) {
            if (max < 0 || max > MAX_PAYLOAD_CAP) {
                throw new IllegalArgumentException("maxPayload=" + max + " (0.." + MAX_PAYLOAD_CAP + ")");
            }
            this.maxPayload = max;
            return this;
        }

        /**
         * @param bytes how much output may queue for one client that does not read (default
         *        {@link #DEFAULT_MAX_PENDING_OUTPUT}); a write beyond it shuts that connection down and throws ENOBUFS
         * @return this
         */
        public Builder maxPendingOutput(int bytes) {
            if (bytes <= 0) {
                throw new IllegalArgumentException("maxPendingOutput=" + bytes);
            }
            this.maxPendingOutput = bytes;
            return this;
        }

        /**
         * @param on send SERVER_CLOSE (type 0, empty) to every client at {@link #close()} (default off: C never
         *        does)
         * @return this
         */
        public Builder serverCloseOnClose(boolean on) {
            this.serverCloseOnClose = on;
            return this;
        }

        /** @return the listening server */
        public IpcServer init() {
            return IpcServer.init(this);
        }
    }

    /**
     * @param name the service name
     * @return options; finish with {@link Builder#init()}
     */
    public static Builder builder(String name) {
        return new Builder(name);
    }

    /**
     * {@code ipc_server_init}: listens at the path rule's socket with default options.
     *
     * @param name the service name
     * @return the listening server
     * @throws IpcException EADDRINUSE when a live server has the socket, ENAMETOOLONG when the path does not fit,
     *         others when the directory or socket cannot be made
     */
    public static IpcServer init(String name) {
        return init(new Builder(name));
    }

    /**
     * Listens with {@code b}'s options.
     *
     * @param b the options
     * @return the listening server
     */
    public static IpcServer init(Builder b) {
        return new IpcServer(b);
    }

    private IpcServer(Builder b) {
        this.config = b;
        this.name = b.endpoint.name;
        String op = "init(" + name + ")";
        this.path = b.endpoint.socketPath(op);
        Path dir = path.toAbsolutePath().getParent();
        if (dir != null) {
            SocketFile.ensureDirectory(op, dir);
        }
        SocketFile.claim(op, path);
        resolvePrincipals(op, b);
        ServerSocketChannel l = null;
        EventSelector sel = null;
        try {
            l = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
            l.bind(UnixDomainSocketAddress.of(path), BACKLOG);
            if (b.socketMode != null) {
                Files.setPosixFilePermissions(path, b.socketMode);
            }
            l.configureBlocking(false);
            sel = new EventSelector(false);
            sel.listen(l, this::acceptOne);
        } catch (IOException | RuntimeException e) {
            if (sel != null) {
                sel.close();
            }
            if (l != null) {
                boolean bound;
                try {
                    bound = l.getLocalAddress() != null;
                } catch (IOException x) {
                    bound = false;
                }
                try {
                    l.close();
                } catch (IOException x) {
                    e.addSuppressed(x);
                }
                if (bound) {
                    try {
                        Files.deleteIfExists(path);
                    } catch (IOException x) {
                        e.addSuppressed(x);
                    }
                }
            }
            if (e instanceof IOException) {
                throw Errors.of(op + ": bind " + path, (IOException) e);
            }
            throw (RuntimeException) e;
        }
        this.listener = l;
        this.loop = sel;
        this.fileKey = SocketFiles.fileKey(path);
    }

    private void resolvePrincipals(String op, Builder b) {
        if (b.uids.isEmpty() && b.gids.isEmpty()) {
            return;
        }
        // Numeric lookups: the JDK falls back to the number itself, and compares principals by id.
        UserPrincipalLookupService lookup = FileSystems.getDefault().getUserPrincipalLookupService();
        try {
            for (int uid : b.uids) {
                allowedUsers.add(lookup.lookupPrincipalByName(Integer.toString(uid)));
            }
            for (int gid : b.gids) {
                allowedGroups.add(lookup.lookupPrincipalByGroupName(Integer.toString(gid)));
            }
        } catch (IOException e) {
            throw Errors.of(op + ": resolving allowed ids", e);
        }
    }

    /** Non-blocking accept of one pending connection; null when none is pending or it was refused. */
    private IpcConnection acceptOne() {
        acceptFailed = false;
        SocketChannel ch;
        try {
            ch = listener.accept();
        } catch (ClosedChannelException e) {
            return null; // closed: accept(timeout) says so; waitEvent no longer watches the listener
        } catch (IOException e) {
            int errno = Errors.errno(e);
            // EMFILE and friends (decided by type, not by the JDK's text, which follows the locale): the connection
            // waits in the backlog; retry later rather than spin on it
            rejected.warn("libipc {}: accept: {} ({}); accepting again in {} ms", name, Errno.name(errno),
                    e.getMessage(), ACCEPT_PAUSE_MS);
            loop.pauseAccepts(ACCEPT_PAUSE_MS);
            acceptFailed = true;
            return null;
        }
        if (ch == null) {
            return null;
        }
        try {
            ch.configureBlocking(false);
            if (!allowed(ch)) {
                ch.close();
                return null;
            }
        } catch (IOException e) {
            closeQuietly(ch);
            return null;
        }
        IpcConnection c = new IpcConnection(ch, config.maxPayload, DEFAULT_WRITE_TIMEOUT_MS,
                config.maxPendingOutput, name + "#" + (++accepted));
        c.onClose = connections::remove;
        connections.add(c);
        return c;
    }

    private boolean allowed(SocketChannel ch) throws IOException {
        if (allowedUsers.isEmpty() && allowedGroups.isEmpty()) {
            return true;
        }
        UnixDomainPrincipal peer = ch.getOption(ExtendedSocketOptions.SO_PEERCRED);
        if (allowedUsers.contains(peer.user()) || allowedGroups.contains(peer.group())) {
            return true;
        }
        rejected.warn("libipc {}: refused a client of user {}, group {} (not allowed)", name, peer.user().getName(),
                peer.group().getName());
        return false;
    }

    private static void closeQuietly(SocketChannel ch) {
        try {
            ch.close();
        } catch (IOException e) {
            // closing
        }
    }

    /**
     * {@code ipc_accept}: waits for one client and returns its connection, already watched by {@link #waitEvent}
     * (no CONNECTION event is reported for it).
     *
     * @param timeoutMs how long to wait (negative: forever)
     * @return the connection, or null after the time-out
     */
    public IpcConnection accept(long timeoutMs) {
        long deadline = System.nanoTime() + timeoutMs * 1_000_000L;
        try {
            for (;;) {
                if (closed) {
                    throw IpcException.of("accept(" + name + ")", Errno.ENOTCONN, "the server is closed");
                }
                IpcConnection c = acceptOne();
                if (c != null) {
                    loop.add(c);
                    return c;
                }
                long left = (deadline - System.nanoTime()) / 1_000_000L;
                if (timeoutMs >= 0 && left <= 0) {
                    return null;
                }
                if (acceptFailed) {
                    acceptFailed = false;
                    long pause = timeoutMs < 0 ? ACCEPT_PAUSE_MS : Math.min(ACCEPT_PAUSE_MS, left);
                    java.util.concurrent.locks.LockSupport.parkNanos(pause * 1_000_000L);
                    continue;
                }
                if (acceptWait == null) {
                    Selector sel = Selector.open();
                    try {
                        listener.register(sel, SelectionKey.OP_ACCEPT);
                    } catch (IOException | RuntimeException e) {
                        sel.close();
                        throw e;
                    }
                    acceptWait = sel;
                }
                acceptWait.select(timeoutMs < 0 ? 0 : Math.max(1, left));
                acceptWait.selectedKeys().clear();
            }
        } catch (ClosedSelectorException e) {
            // close() on another thread while this one waited
            throw IpcException.of("accept(" + name + ")", Errno.ENOTCONN, "the server is closed");
        } catch (IOException e) {
            throw Errors.of("accept(" + name + ")", e);
        }
    }

    /**
     * {@code ipc_wait_event}: the next event, one per call. See {@link IpcEventType}. The returned object is reused
     * by the next call.
     *
     * @param timeoutMs how long to wait: negative forever, 0 only what is ready now
     * @return the event (TIMEOUT when nothing happened in time; ERROR with EINTR while the thread is interrupted)
     */
    public IpcEvent waitEvent(long timeoutMs) {
        return loop.waitEvent(timeoutMs);
    }

    /**
     * {@code ipc_add}: watches {@code c} again after {@link #del}.
     *
     * @param c an open connection of this server
     */
    public void add(IpcConnection c) {
        loop.add(c);
    }

    /**
     * {@code ipc_del}: stops watching {@code c}; it stays open and yours (write to it, close it, or add it back).
     *
     * @param c the connection
     * @return false when it was not watched
     */
    public boolean del(IpcConnection c) {
        return loop.del(c);
    }

    /**
     * {@code ipc_add_fd}, working: reports EXTRA_FD whenever {@code channel} is readable. Read it yourself (until
     * then it is reported again). The channel is made non-blocking.
     *
     * @param channel any selectable channel (pipe, socket, ...)
     */
    public void addFd(SelectableChannel channel) {
        loop.addFd(channel);
    }

    /**
     * {@code ipc_add_fd} for a raw file descriptor: reports EXTRA_FD with {@link IpcEvent#fd()} whenever it is
     * readable (or at EOF/error). Raw fds are polled by one helper thread (a Selector cannot hold them); see
     * docs/LIBIPC.md.
     *
     * @param fd an open file descriptor you keep owning
     */
    public void addFd(int fd) {
        loop.addFd(fd);
    }

    /**
     * Stops watching a channel added with {@link #addFd(SelectableChannel)} (it stays open).
     *
     * @param channel the channel
     * @return false when it was not added
     */
    public boolean delFd(SelectableChannel channel) {
        return loop.delFd(channel);
    }

    /**
     * Stops watching a raw fd; when this returns, nothing polls it any more, so you may close it.
     *
     * @param fd the fd
     * @return false when it was not added
     */
    public boolean delFd(int fd) {
        return loop.delFd(fd);
    }

    /** @return the open connections (a copy) */
    public List<IpcConnection> connections() {
        return new ArrayList<>(connections);
    }

    /** @return the socket path */
    public Path path() {
        return path;
    }

    /** @return the service name */
    public String name() {
        return name;
    }

    /**
     * {@code ipc_server_close}, and more: sends SERVER_CLOSE to every client if configured, lets queued output leave
     * (at most {@link #CLOSE_DRAIN_MS} for all clients together), closes every connection,
     * the listener and the selector, and removes the socket file if it is still this server's. Idempotent.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        List<IpcConnection> all = new ArrayList<>(connections);
        if (config.serverCloseOnClose) {
            for (IpcConnection c : all) {
                try {
                    c.write(IpcMessage.SERVER_CLOSE, null);
                } catch (IpcException e) {
                    // that client is gone or stuck: closing it anyway
                }
            }
        }
        long deadline = System.nanoTime() + CLOSE_DRAIN_MS * 1_000_000L;
        for (IpcConnection c : all) {
            c.drain(Math.max(1, (deadline - System.nanoTime()) / 1_000_000L));
            c.close();
        }
        try {
            listener.close();
        } catch (IOException e) {
            // closing
        }
        if (acceptWait != null) {
            try {
                acceptWait.close();
            } catch (IOException e) {
                // closing
            }
        }
        loop.close();
        SocketFiles.removeIfSame(path, fileKey);
    }

    @Override
    public String toString() {
        return "IpcServer[" + path + "]";
    }
}
