package io.jqb.internal.server;

import io.jqb.Credentials;
import io.jqb.Errno;
import io.jqb.EventLoop;
import io.jqb.IpcException;
import io.jqb.PollHandlers;
import io.jqb.Priority;
import io.jqb.TransportType;
import io.jqb.internal.CancellableTask;
import io.jqb.internal.Logs;
import io.jqb.internal.log.RateLimitedLog;
import io.jqb.internal.posix.DirectoryFiles;
import io.jqb.internal.posix.LibC;
import io.jqb.internal.posix.Posix;
import io.jqb.internal.ring.ShmRing;
import io.jqb.internal.setup.SocketNames;
import io.jqb.internal.setup.UnixSocket;
import io.jqb.internal.wire.ChunkDescriptor;
import io.jqb.internal.wire.ConnectionRequestDescriptor;
import java.util.HashMap;
import java.util.Map;
import org.slf4j.Logger;

/**
 * The server side of connection set-up, as libqb keeps it in {@code ipc_setup.c}: the listening socket
 * ({@code qb_ipcs_us_publish} / {@code qb_ipcs_us_withdraw}), accepting, reading each client's 24-byte request and its
 * credentials without blocking ({@code qb_ipcs_uc_recv_and_auth}), and setting the connection up
 * ({@code handle_new_connection}): the buffer size, the per-connection directory, the service's accept check, the
 * transport's files or sockets, and the response. The service above ({@code io.jqb.Service}, libqb's {@code ipcs.c})
 * owns the established connections and the callbacks; it plugs in through {@link Host} and {@link Admission}.
 *
 * <p><b>One clean-up path.</b> A client between {@code accept(2)} and an established connection is a
 * {@link Handshake}, which records what has been made for it so far (its socket, its loop registration, its
 * directory, its admitted connection). Every way a set-up can end short of an established connection (garbage or
 * a hang-up, a time-out, no credentials, a buffer size over the limit, a failed {@code mkdtemp}, a refusal by the
 * accept check, a failed transport set-up, the service withdrawing) goes through {@link #release}, which sends the
 * refusal when libqb sends one and releases each of those in one place, as libqb's {@code send_response:} label
 * does. Once the connection is listed ({@link Admission#activate}) the connection owns the socket, the files and
 * the directory, and its own teardown releases them.</p>
 *
 * <p>Loop thread only, except {@link #publish}.</p>
 */
public final class Acceptor {
    private static final Logger LOG = Logs.get(Acceptor.class);
    private static final RateLimitedLog ACCEPT_LOG = new RateLimitedLog(LOG);
    /** Lines a connecting peer can trigger at will (garbage, half-open connects). */
    private static final RateLimitedLog HANDSHAKE_LOG = new RateLimitedLog(LOG, 10, 1_000);
    private static final int ENFILE = 23;
    private static final int EMFILE = 24;
    /** Largest buffer size a client may ask for: the double-mapped data area must fit a Java int. */
    public static final long MAX_BUFFER_SIZE = (Integer.MAX_VALUE / 2) - 2L * ChunkDescriptor.PAGE_SIZE;

    static {
        // Out of fds, the JVM cannot open a class file either (with a directory on the class path every class load
        // opens one; a failed load is remembered for good): load what the EMFILE path needs while it still can.
        Errno.describe(EMFILE);
        HandshakeTimer.class.getName();
    }

    /** What the acceptor needs of its service (libqb: {@code struct qb_ipcs_service}). */
    public interface Host {
        /** @return the service name (socket name, ring file names, log lines) */
        String name();

        /** @return the transport every connection gets */
        TransportType type();

        /** @return the loop the service runs on */
        PollHandlers poll();

        /** @return the loop priority of sockets in their handshake (the rate limit's) */
        Priority handshakePriority();

        /** @return the handshake time-out in milliseconds, 0 = none */
        long handshakeTimeoutMs();

        /** @return {@code qb_ipcs_enforce_buffer_size}'s minimum, 0 = none */
        int enforcedBufferSize();

        /** @return the largest buffer size a connection gets */
        int maxBufferSize();

        /** @return true once the service is destroyed (late timers do nothing) */
        boolean destroyed();

        /** Called first by every loop callback of the acceptor. */
        void enterLoop();

        /**
         * Makes the connection object for an authenticated request ({@code qb_ipcs_connection_alloc}).
         *
         * @param cred the client's credentials
         * @param requested the buffer size the client asked for
         * @param agreed the buffer size it gets
         * @param dir its directory under /dev/shm
         * @return the service's side of the connection being set up
         */
        Admission admit(Credentials cred, long requested, int agreed, String dir);
    }

    /** The service's side of one connection in set-up, in the order the acceptor calls it. */
    public interface Admission {
        /** @return the id sent to the client as its opaque connection handle */
        long id();

        /** @return the accept callback's answer: 0, or a negative errno the client gets */
        int accept();

        /** @return the owner of the connection's files, as the accept callback left it */
        int authUid();

        /** @return the group of the connection's files */
        int authGid();

        /** @return the mode of the connection's files */
        int authMode();

        /** @return the channel's link back to the connection */
        ServerChannel.Owner owner();

        /**
         * Lists the connection with its channel and counts it active; from here on the connection owns the socket,
         * the channel and the directory.
         *
         * @param ch the transport
         * @param agreedSize the buffer size
         */
        void activate(ServerChannel ch, int agreedSize);

        /** The response is out: the connection starts watching its fds. */
        void register();

        /** Runs the {@code created} callback. */
        void created();

        /** Refused before {@link #activate}: runs the {@code destroyed} callback (as libqb, never created/closed). */
        void refused();

        /** Failed after {@link #activate} (the response could not be sent): the connection tears itself down. */
        void abandon();
    }

    /** One client from {@code accept(2)} until it is established or released: what has been made for it. */
    /** One socket in the handshake; it is also the loop's handler of its fd (no lambda per connect). */
    private final class Handshake implements PollHandlers.FdHandler {
        final int fd;
        final HandshakeReader reader;
        /** Registered with the loop and listed in {@link #handshakes}. */
        boolean watched;
        String dir;
        Admission admission;
        /** The connection owns everything from here on. */
        boolean activated;
        /** The handshake time-out when accepted (0 = none) and its System.nanoTime() deadline. */
        long timeoutMs;
        long deadline;

        Handshake(int fd) {
            this.fd = fd;
            this.reader = new HandshakeReader(fd);
        }

        @Override
        public void onEvents(int f, int revents) {
            onReadable(this);
        }
    }

    private final Host host;
    /** Where this service's SOCKET connections receive their requests, one at a time on the loop thread. */
    private final SocketReceiveArea socketReceive = new SocketReceiveArea();
    /** Sockets still in the handshake. */
    private final Map<Integer, Handshake> handshakes = new HashMap<>();
    private final int pid = Posix.C.getpid();
    private int listenFd = -1;
    /** The filesystem socket path when the service runs in filesystem mode, else null. */
    private String socketPath;
    /** accept(2) failures for want of fds or memory in the current episode, its start, the back-off. */
    private int acceptFailures;
    private long acceptEpisodeStart;
    private int acceptBackoffMs;
    /** A timer for {@link #expireOverdue} is pending, due at {@link #expiryDue} (System.nanoTime()). */
    private boolean expiryArmed;
    private long expiryDue;

    /**
     * @param host the service
     */
    public Acceptor(Host host) {
        this.host = host;
    }

    // ------------------------------------------------------------------------------------------- the listener

    /**
     * Binds the service's socket and starts accepting on the host's loop ({@code qb_ipcs_us_publish}). On failure
     * nothing stays bound.
     *
     * @param filesystem bind {@code /var/run/<name>} (force-filesystem-sockets) instead of the abstract name
     * @throws IpcException e.g. EADDRINUSE when another server has the name
     */
    public void publish(boolean filesystem) {
        try (UnixSocket.Address addr = SocketNames.serviceAddress(host.name(), filesystem)) {
            if (filesystem) {
                // A stale socket from a dead server would make bind fail; libqb removes it the same way.
                Posix.C.unlink(addr.toString());
            }
            listenFd = UnixSocket.listen(addr);
            if (filesystem) {
                socketPath = addr.toString();
                Posix.C.chmod(socketPath, 0777);
            }
            host.poll().dispatchAdd(Priority.MED, listenFd, PollHandlers.POLLIN, this::onListenerReady);
        } catch (IpcException e) {
            Posix.closeQuietly(listenFd);
            listenFd = -1;
            if (socketPath != null) {
                Posix.C.unlink(socketPath);
                socketPath = null;
            }
            throw e;
        }
    }

    /**
     * Closes pending handshakes and the listening socket, unlinking its file in filesystem mode
     * ({@code qb_ipcs_us_withdraw}). Loop thread; idempotent.
     */
    public void withdraw() {
        for (Handshake h : handshakes.values().toArray(new Handshake[0])) {
            release(h, 0, false);
        }
        if (listenFd >= 0) {
            host.poll().dispatchDel(listenFd);
            UnixSocket.shutdownAndClose(listenFd);
            listenFd = -1;
            if (socketPath != null) {
                Posix.C.unlink(socketPath);
                socketPath = null;
            }
        }
    }

    /** @return sockets in their handshake now */
    public int pendingHandshakes() {
        return handshakes.size();
    }

    /**
     * One {@code accept(2)} per readiness, as libqb's {@code qb_ipcs_us_connection_acceptor}: the listener is
     * level-triggered, so the loop calls again while clients wait, and a lone connect costs no second
     * {@code accept} that fails with EAGAIN.
     */
    private void onListenerReady(int fd, int revents) {
        host.enterLoop();
        int cfd = UnixSocket.accept(fd);
        if (cfd < 0) {
            int e = -cfd;
            if (e == EMFILE || e == ENFILE || e == Errno.ENOBUFS || e == Errno.ENOMEM) {
                pauseAccepting(e);
            } else if (e != Errno.EAGAIN && e != Errno.EINTR) {
                ACCEPT_LOG.warn("accept on service {}: {}", host.name(), Errno.name(e));
            }
            return;
        }
        if (acceptFailures > 0) {
            LOG.warn("service {}: accepting again after {} failed accepts over {} ms", host.name(),
                    acceptFailures, (System.nanoTime() - acceptEpisodeStart) / 1_000_000);
            acceptFailures = 0;
            acceptBackoffMs = 0;
        }
        startHandshake(cfd);
    }

    /**
     * Out of fds (EMFILE/ENFILE) or kernel memory: the listener stays readable (level-triggered), so polling it
     * again at once would spin the loop and log a line per turn. Stop watching it for a back-off (10 ms doubling to
     * 500 ms) while connected clients go on being served; waiting clients stay in the listen backlog. One WARN line
     * when the episode starts and one with the count when it ends.
     */
    private void pauseAccepting(int errno) {
        if (acceptFailures++ == 0) {
            acceptEpisodeStart = System.nanoTime();
            LOG.warn("service {}: accept: {} ({}); pausing accepts until it recovers", host.name(), Errno.name(errno),
                    Errno.describe(errno));
        }
        acceptBackoffMs = acceptBackoffMs == 0 ? 10 : Math.min(acceptBackoffMs * 2, 500);
        PollHandlers p = host.poll();
        int fd = listenFd;
        try {
            p.dispatchMod(Priority.MED, fd, 0, this::onListenerReady);
        } catch (IpcException e) {
            LOG.debug("service {}: dispatch_mod on the listener: {}", host.name(), e.getMessage());
        }
        Runnable resume = () -> {
            if (!host.destroyed() && listenFd == fd) {
                try {
                    p.dispatchMod(Priority.MED, fd, PollHandlers.POLLIN, this::onListenerReady);
                } catch (IpcException e) {
                    LOG.debug("service {}: dispatch_mod on the listener: {}", host.name(), e.getMessage());
                }
            }
        };
        later(acceptBackoffMs, resume);
    }

    /** Runs {@code task} on the loop after {@code ms}: a loop timer on jqb's loop, else the shared timer thread. */
    private void later(long ms, Runnable task) {
        PollHandlers p = host.poll();
        if (p instanceof EventLoop) {
            ((EventLoop) p).schedule(ms, task);
        } else {
            HandshakeTimer.schedule(ms, () -> {
                if (!host.destroyed()) {
                    p.jobAdd(Priority.HIGH, task);
                }
            });
        }
    }

    // ------------------------------------------------------------------------------------------- the handshake

    private void startHandshake(int cfd) {
        Handshake h = new Handshake(cfd);
        try {
            Posix.setIntOption(cfd, LibC.SOL_SOCKET, LibC.SO_PASSCRED, 1, "setsockopt(SO_PASSCRED)");
            host.poll().dispatchAdd(host.handshakePriority(), cfd, PollHandlers.POLLIN, h);
            h.watched = true;
            handshakes.put(cfd, h);
            long ms = host.handshakeTimeoutMs();
            if (ms > 0) {
                h.timeoutMs = ms;
                h.deadline = System.nanoTime() + ms * 1_000_000L;
                armExpiry(h.deadline);
            }
        } catch (IpcException e) {
            HANDSHAKE_LOG.warn("service {}: new connection dropped: {}", host.name(), e.getMessage());
            release(h, 0, false);
        }
    }

    /**
     * One timer for all pending handshakes, armed for the earliest deadline: a timer per connection woke the loop
     * once per connect, time-out later, although nearly every handshake completes within microseconds (libqb has
     * no time-out, and no wake).
     */
    private void armExpiry(long due) {
        // A shorter time-out set since (setHandshakeTimeout) can make a later handshake's deadline the earliest:
        // an earlier timer then supersedes the pending one, which finds itself stale and does nothing.
        if (expiryArmed && expiryDue - due <= 0) {
            return;
        }
        expiryArmed = true;
        expiryDue = due;
        later(Math.max(1, (due - System.nanoTime() + 999_999) / 1_000_000), new Expiry(due));
    }

    /**
     * The expiry timer's task: moot once superseded or disarmed ({@link #unwatch}: no handshake left), so that jqb's
     * loop drops it instead of sleeping with a time-out and reading the clock on every pass until it is due (for
     * the whole handshake time-out after each connect: ≈ 0.1 µs per pipelined request of a client that connected
     * within the last 5 s, see PERFORMANCE.md).
     */
    private final class Expiry implements CancellableTask {
        private final long due;

        Expiry(long due) {
            this.due = due;
        }

        @Override
        public void run() {
            expireOverdue(due);
        }

        @Override
        public boolean cancelled() {
            return !expiryArmed || due != expiryDue;
        }
    }

    /** Drops every handshake past its deadline; re-arms for the earliest one left. */
    private void expireOverdue(long due) {
        if (!expiryArmed || due != expiryDue) {
            return; // superseded by an earlier timer, which has run and re-armed for what is left
        }
        expiryArmed = false;
        long now = System.nanoTime();
        long next = Long.MAX_VALUE;
        for (Handshake h : handshakes.values().toArray(new Handshake[0])) {
            if (h.timeoutMs == 0) {
                continue;
            }
            if (h.deadline - now <= 0) {
                // The loop reaches a time-out late when it was busy (a slow callback, a loaded machine): a request
                // that came meanwhile is waiting in the socket and is answered, as libqb (no time-out) would, not
                // dropped unread (the client saw ECONNRESET instead of its refusal or connection).
                HandshakeReader.Status st = h.reader.read();
                if (st != HandshakeReader.Status.INCOMPLETE) {
                    onRequest(h, st);
                    continue;
                }
                release(h, 0, false);
                HANDSHAKE_LOG.warn("service {}: client on fd {} did not complete its handshake within {} ms; "
                        + "dropped", host.name(), h.fd, h.timeoutMs);
            } else if (next == Long.MAX_VALUE || h.deadline - next < 0) {
                next = h.deadline;
            }
        }
        if (next != Long.MAX_VALUE) {
            armExpiry(next);
        }
    }

    private void onReadable(Handshake h) {
        host.enterLoop();
        HandshakeReader.Status st = h.reader.read();
        if (st == HandshakeReader.Status.INCOMPLETE) {
            return;
        }
        onRequest(h, st);
    }

    /** A complete request (or the end of the stream) has been read: answer it, or release the handshake. */
    private void onRequest(Handshake h, HandshakeReader.Status st) {
        unwatch(h);
        if (st == HandshakeReader.Status.CLOSED || h.reader.id() != ConnectionRequestDescriptor.MSG_AUTHENTICATE) {
            // libqb closes silently on anything but an AUTHENTICATE request.
            LOG.debug("service {}: handshake dropped ({})", host.name(),
                    st == HandshakeReader.Status.CLOSED ? "closed" : "id=" + h.reader.id());
            release(h, 0, false);
            return;
        }
        int res;
        try {
            res = setUp(h);
        } catch (IpcException e) {
            if (e.errno() == Errno.EPIPE || e.errno() == Errno.ECONNRESET) {
                LOG.debug("service {}: client went away during the handshake: {}", host.name(), e.getMessage());
            } else {
                HANDSHAKE_LOG.warn("service {}: handshake failed: {}", host.name(), e.getMessage());
            }
            release(h, 0, false);
            return;
        } catch (RuntimeException | Error e) {
            HANDSHAKE_LOG.warn("service {}: handshake failed: {}", host.name(), e.toString());
            release(h, 0, false);
            return;
        }
        if (res != 0) {
            release(h, res, true);
        }
    }

    /**
     * libqb's {@code handle_new_connection}, up to its {@code send_response:} label: each step either succeeds or
     * returns the (negative) errno the client is refused with; {@link #onReadable} hands a refusal to
     * {@link #release}. An exception is a failure of the socket itself (nothing to answer on).
     *
     * @return 0 when the connection is established and answered, else the refusal's negative errno
     */
    private int setUp(Handshake h) {
        Posix.setIntOption(h.fd, LibC.SOL_SOCKET, LibC.SO_PASSCRED, 0, "setsockopt(SO_PASSCRED)");
        Credentials cred = h.reader.credentials();
        if (cred == null) {
            return refusal(-Errno.EINVAL, "no SCM_CREDENTIALS");
        }
        long requested = h.reader.maxMsgSize();
        long size = Math.max(requested, host.enforcedBufferSize());
        if (size > MAX_BUFFER_SIZE) {
            return refusal(-Errno.EINVAL, "max_msg_size=" + size + " exceeds " + MAX_BUFFER_SIZE);
        }
        // The cap: the server decides the size and the client learns it from the response (libqb clients size
        // their buffers from it), as with enforceBufferSize; accept() sees both values and may refuse.
        int agreed = (int) Math.min(size, host.maxBufferSize());
        try {
            h.dir = ShmDirectory.create(pid, cred.pid(), h.fd);
        } catch (IpcException e) {
            return refusal(-e.errno(), e.getMessage());
        }
        // One fd for the directory's mode and owner and the six (SOCKET: one) files in it, opened while the
        // directory is still ours alone; libqb works by path, and opening the directory per file cost two system
        // calls more per file.
        try (DirectoryFiles.Held held = DirectoryFiles.hold(h.dir)) {
            ShmDirectory.chown(h.dir, cred.uid(), cred.gid(), 0770);
            return setUpIn(h, cred, requested, agreed);
        }
    }

    /** {@link #setUp} once the directory exists: the accept check, the transport, the response. */
    private int setUpIn(Handshake h, Credentials cred, long requested, int agreed) {
        Admission a = host.admit(cred, requested, agreed, h.dir);
        h.admission = a;
        int rc = a.accept();
        if (rc != 0) {
            return refusal(rc, "accept callback");
        }
        if (a.authUid() != cred.uid() || a.authGid() != cred.gid()) {
            ShmDirectory.chown(h.dir, a.authUid(), a.authGid()); // auth_set chose another owner
        }
        ServerChannel ch;
        try {
            ch = host.type() == TransportType.SOCKET
                    ? SocketServerChannel.create(h.fd, h.dir, host.name(), agreed, a.authUid(), a.authGid(),
                            a.authMode(), a.owner(), cred.pid(), cred.uid(), socketReceive)
                    : ShmServerChannel.create(h.fd, h.dir, host.name(), agreed, a.authUid(), a.authGid(),
                            a.authMode(), a.owner());
        } catch (RuntimeException | Error e) {
            // An Error too (OutOfMemoryError for the buffers): the client gets a clean refusal, nothing leaks.
            if (!(e instanceof IpcException)) {
                HANDSHAKE_LOG.warn("service {}: connection set-up failed: {}", host.name(), e.toString());
                return refusal(-Errno.ENOMEM, e.toString());
            }
            return refusal(-((IpcException) e).errno(), e.getMessage());
        }
        // A jqb client ("JQB1" or "JQB2"): doorbell elision; write_pt detection on its rings only when it said "JQB2"
        // and detection is on here too (an end that says "JQB1" posts every chunk and takes w == r with a token for
        // a full ring, which a reader by write_pt leaves behind). Set before any chunk; the reply echoes the choice.
        final int cap = h.reader.jqbCapability();
        final boolean detect = cap == 2 && ShmRing.WRITEPT_DETECT;
        ch.setJqbPeer(cap > 0, detect);
        // Listed before the rate limit is read: a concurrent requestRateLimit reaches it either way.
        a.activate(ch, agreed);
        h.activated = true;
        try {
            ConnectionResponse.send(h.fd, ch, agreed, a.id(),
                    detect ? ConnectionRequestDescriptor.JQB_WRITEPT_CAPABILITY
                            : cap > 0 ? ConnectionRequestDescriptor.JQB_CAPABILITY : 0);
            a.register();
        } catch (RuntimeException | Error e) {
            HANDSHAKE_LOG.warn("service {}: connection {} failed during handshake: {}", host.name(), a.id(),
                    e.getMessage());
            release(h, 0, false);
            return 0;
        }
        h.reader.close();
        a.created();
        return 0;
    }

    private int refusal(int errno, String why) {
        LOG.debug("service {}: refusing connection: {} ({})", host.name(), Errno.name(errno), why);
        return errno;
    }

    private void unwatch(Handshake h) {
        if (h.watched) {
            h.watched = false;
            handshakes.remove(h.fd);
            if (handshakes.isEmpty() && host.poll() instanceof EventLoop) {
                // Nothing left to time out: jqb's loop drops the pending timer as moot (Expiry.cancelled). Not on
                // your PollHandlers: its timer thread runs every task, so a disarmed expiry would make each connect
                // into an empty set arm one more task, each a wake-up of your loop, where one covers a whole window.
                expiryArmed = false;
            }
            host.poll().dispatchDel(h.fd);
        }
    }

    /**
     * The one clean-up path of a set-up that did not end in an established connection: answers {@code res} when
     * {@code respond} (libqb answers every refusal after a complete request and closes silently otherwise), then
     * releases what was made, in reverse order: the loop registration, the socket, the directory, the admitted
     * connection ({@code destroyed} callback). After {@link Admission#activate} the connection owns all of it and
     * {@link Admission#abandon} tears it down.
     */
    private void release(Handshake h, int res, boolean respond) {
        unwatch(h);
        h.reader.close();
        if (h.activated) {
            h.admission.abandon();
            return;
        }
        if (respond) {
            try {
                ConnectionResponse.send(h.fd, res, 0, 0, 0, null, null, null);
            } catch (IpcException e) {
                LOG.debug("service {}: refusal not delivered: {}", host.name(), e.getMessage());
            }
        }
        UnixSocket.shutdownAndClose(h.fd);
        ShmDirectory.remove(h.dir);
        h.dir = null;
        if (h.admission != null) {
            Admission a = h.admission;
            h.admission = null;
            a.refused();
        }
    }
}
