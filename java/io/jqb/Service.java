package io.jqb;

import io.jqb.internal.Logs;
import io.jqb.internal.posix.DirectoryFiles;
import io.jqb.internal.posix.Posix;
import io.jqb.internal.server.Acceptor;
import io.jqb.internal.server.ServerChannel;
import io.jqb.internal.server.ShmDirectory;
import io.jqb.internal.server.StaleSweep;
import io.jqb.internal.setup.SocketNames;
import io.jqb.internal.wire.ChunkDescriptor;
import io.jqb.ops.internal.ServiceMonitor;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;

/**
 * An IPC service that native libqb clients (and jqb clients) connect to ({@code qb_ipcs_service_t}).
 *
 * <!-- example: test/io/jqb/examples/EchoService.java#service -->
 * <pre>{@code
 * Service service = Service.create(name, 0, TransportType.SHM, EchoService.handler(allowedUid));
 * service.run();      // binds the abstract socket; serves on its own event-loop thread
 * }</pre>
 *
 * <p>To run inside an existing loop, call {@link #setPollHandlers} before {@link #run()}; callbacks then run on that
 * loop's thread.</p>
 *
 * <p><b>Handshake time-out.</b> A client that connects and does not complete its 24-byte request within
 * {@link #handshakeTimeout()} (default {@value #DEFAULT_HANDSHAKE_TIMEOUT_MS} ms, see {@link #setHandshakeTimeout})
 * is dropped with a warning; until then it costs one fd and never blocks other clients (the handshake is read
 * without blocking). On jqb's {@link EventLoop} the time-out is a loop timer; with other {@link PollHandlers} a shared
 * daemon timer thread hands it to the loop with {@link PollHandlers#jobAdd}.</p>
 *
 * <p><b>Stale sweep.</b> {@link #run()} first removes {@code /dev/shm/qb-<pid>-<clientpid>-<fd>-XXXXXX} directories
 * that an earlier server <em>of this service name</em> left when it died without cleaning up (libqb #61), but only
 * those it can prove are its own and stale: every file in the directory is a libqb ring/control file named after this
 * service, the directory is a real directory owned by our effective uid, and {@code <pid>} and {@code <clientpid>}
 * are not ours and are gone ({@code kill(pid, 0)} gives ESRCH, or the process has exited unreaped). Other services'
 * directories are never touched by default: sweeping every service's is the explicit
 * {@link #sweepStaleDirectories(boolean)} (and {@code jqb sweep}). Disable the start-up sweep with
 * {@link #setStaleSweep(boolean)}. See docs/RELIABILITY.md.</p>
 */
public final class Service implements AutoCloseable {
    private static final Logger LOG = Logs.get(Service.class);
    private static final AtomicLong CONNECTION_IDS = new AtomicLong();

    /** Default of {@link #setMaxBufferSize}: 16 MiB, well above what libqb applications ask for (corosync 1 MiB). */
    public static final int DEFAULT_MAX_BUFFER_SIZE = 16 << 20;
    /** Default limit of {@link #setSendBacklog}: 1 MiB per connection and direction. */
    public static final long DEFAULT_SEND_BACKLOG_BYTES = 1 << 20;
    /** Default of {@link #setHandshakeTimeout}. */
    public static final long DEFAULT_HANDSHAKE_TIMEOUT_MS = 5_000;

    private final String name;
    private final int serviceId;
    private final TransportType type;
    private final ServiceHandler handler;
    /**
     * Established connections in the order they came. Not a CopyOnWriteArrayList: that copied the whole array on
     * every connect and disconnect (garbage growing with the number of connections: ~4 KB per connection at 1,000);
     * iteration is weakly consistent, which every loop over it tolerates (disconnecting while iterating included).
     */
    private final Collection<Connection> connections = new ConcurrentLinkedDeque<>();
    /** Listener and handshakes (loop thread only): libqb's ipc_setup.c. */
    private final Acceptor acceptor = new Acceptor(new AcceptorHost());
    private final AtomicInteger active = new AtomicInteger();
    private final AtomicInteger closedCount = new AtomicInteger();
    private final AtomicInteger refs = new AtomicInteger(1);
    private final int pid = Posix.C.getpid();
    private volatile PollHandlers poll;
    private EventLoop ownLoop;
    private volatile Object context;
    private volatile RateLimit rateLimit = RateLimit.NORMAL;
    private volatile boolean coalesceEventNotifications;
    private WaitStrategy waitStrategy = WaitStrategy.block();
    private volatile int enforcedBufferSize;
    private volatile int maxBufferSize = DEFAULT_MAX_BUFFER_SIZE;
    private volatile Thread loopThread;
    private volatile boolean running;
    private volatile boolean destroyed;
    private volatile long handshakeTimeoutMs = DEFAULT_HANDSHAKE_TIMEOUT_MS;
    private volatile boolean staleSweep = true;
    private volatile long sendBacklogLimit = DEFAULT_SEND_BACKLOG_BYTES;
    private volatile BacklogPolicy sendBacklogPolicy = BacklogPolicy.FAIL_SEND;

    private Service(String name, int serviceId, TransportType type, ServiceHandler handler) {
        this.name = name;
        this.serviceId = serviceId;
        this.type = type;
        this.handler = handler;
    }

    /**
     * Creates a service ({@code qb_ipcs_create}); nothing is bound until {@link #run()}.
     *
     * @param name the socket name clients connect to
     * @param serviceId an application-defined id ({@link #serviceId()})
     * @param type the transport offered to clients
     * @param handler the callbacks
     * @return the service, not yet running
     */
    public static Service create(String name, int serviceId, TransportType type, ServiceHandler handler) {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(handler, "handler");
        if (name.isEmpty() || name.indexOf('/') >= 0) {
            throw new IllegalArgumentException("name=" + name + " (must be non-empty, without '/')");
        }
        return new Service(name, serviceId, type, handler);
    }

    /**
     * Sets how the built-in loop waits when idle (used when {@link #run()} starts it; ignored with your own poll
     * handlers). A spinning loop polls its SHM connections directly; see {@link WaitStrategy}.
     *
     * @param strategy how to wait
     */
    public void setWaitStrategy(WaitStrategy strategy) {
        if (running) {
            throw new IllegalStateException("service " + name + " is already running");
        }
        this.waitStrategy = Objects.requireNonNull(strategy, "strategy");
    }

    /**
     * Runs the service on {@code handlers} instead of a built-in loop ({@code qb_ipcs_poll_handlers_set}).
     *
     * @param handlers the loop to run on
     */
    public void setPollHandlers(PollHandlers handlers) {
        if (running) {
            throw new IllegalStateException("service " + name + " is already running");
        }
        this.poll = Objects.requireNonNull(handlers, "handlers");
    }

    /**
     * Binds the listening socket and starts serving ({@code qb_ipcs_run}). Without poll handlers, starts a built-in
     * {@link EventLoop} thread named {@code jqb-<name>}.
     *
     * @throws IpcException e.g. EADDRINUSE when another server has the name
     */
    public synchronized void run() {
        if (running || destroyed) {
            throw new IllegalStateException("service " + name + (destroyed ? " is destroyed" : " is running"));
        }
        boolean filesystem = SocketNames.filesystemMode();
        if (filesystem && !java.nio.file.Files.isDirectory(java.nio.file.Path.of(SocketNames.socketDir()))) {
            throw new IpcException("run(" + name + ")", Errno.ENOENT,
                    "Required directory not present: " + SocketNames.socketDir());
        }
        if (staleSweep) {
            StaleSweep.sweep(StaleSweep.defaultRoot(), pid, StaleSweep.effectiveUid(), name, false);
        }
        if (poll == null) {
            ownLoop = new EventLoop("jqb-" + name, waitStrategy);
            poll = ownLoop;
        }
        try {
            acceptor.publish(filesystem);
        } catch (IpcException e) {
            if (ownLoop != null) {
                ownLoop.close();
                ownLoop = null;
                poll = null;
            }
            throw e;
        }
        running = true;
        ServiceMonitor.started(this);
        if (ownLoop != null) {
            ownLoop.start();
        }
        LOG.debug("service {} listening (pid {})", name, pid);
    }

    /** @return true on the thread that last ran the service's loop callbacks (see {@link #enterLoop()}) */
    boolean inLoop() {
        return loopThread == Thread.currentThread();
    }

    /**
     * @return true on the thread running the service's loop callbacks, when no other thread can: an {@link EventLoop}
     *         run on its own thread. False on an embedded loop ({@link EventLoop#runOnce}, whose driving thread may
     *         change between calls) and with your {@link PollHandlers}: {@link #inLoop()} may then be true on a thread
     *         that has left the loop while another runs its callbacks
     */
    boolean onFixedLoopThread() {
        return poll instanceof EventLoop l && l.onFixedThread();
    }

    void enterLoop() {
        if (loopThread != Thread.currentThread()) {
            loopThread = Thread.currentThread();
        }
    }

    /** The acceptor's view of this service: configuration, the loop, and making a connection for a request. */
    private final class AcceptorHost implements Acceptor.Host {
        @Override
        public String name() {
            return name;
        }

        @Override
        public TransportType type() {
            return type;
        }

        @Override
        public PollHandlers poll() {
            return poll;
        }

        @Override
        public Priority handshakePriority() {
            return rateLimit.priority();
        }

        @Override
        public long handshakeTimeoutMs() {
            return handshakeTimeoutMs;
        }

        @Override
        public int enforcedBufferSize() {
            return enforcedBufferSize;
        }

        @Override
        public int maxBufferSize() {
            return maxBufferSize;
        }

        @Override
        public boolean destroyed() {
            return destroyed;
        }

        @Override
        public void enterLoop() {
            Service.this.enterLoop();
        }

        @Override
        public Acceptor.Admission admit(Credentials cred, long requested, int agreed, String dir) {
            Connection c = new Connection(Service.this, CONNECTION_IDS.incrementAndGet(), cred.pid(), cred.uid(),
                    cred.gid());
            c.setBufferSizes(requested, agreed);
            c.setDirectory(dir);
            return new Admission(c);
        }
    }

    /** One connection in set-up, as the acceptor drives it: the callbacks and this service's bookkeeping. */
    private final class Admission implements Acceptor.Admission {
        private final Connection c;

        Admission(Connection c) {
            this.c = c;
        }

        @Override
        public long id() {
            return c.id();
        }

        @Override
        public int accept() {
            try {
                return handler.accept(c, c.clientUid(), c.clientGid());
            } catch (RuntimeException | Error e) {
                LOG.error("accept handler failed", e);
                return -Errno.EACCES;
            }
        }

        @Override
        public int authUid() {
            return c.authUid();
        }

        @Override
        public int authGid() {
            return c.authGid();
        }

        @Override
        public int authMode() {
            return c.authMode();
        }

        @Override
        public ServerChannel.Owner owner() {
            return c.owner();
        }

        @Override
        public void activate(ServerChannel ch, int agreedSize) {
            // Listed before the rate limit is read (in establish): a concurrent requestRateLimit reaches it either way.
            connections.add(c);
            c.establish(ch, agreedSize);
            active.incrementAndGet();
        }

        @Override
        public void register() {
            c.register();
        }

        @Override
        public void created() {
            try {
                handler.created(c);
            } catch (RuntimeException | Error e) {
                LOG.error("created handler failed on {}", c, e);
            }
            ServiceMonitor.connectionAdded(Service.this, c, c.directory());
        }

        @Override
        public void refused() {
            callDestroyed(c);
        }

        @Override
        public void abandon() {
            c.markEstablished();
            c.teardownNow();
        }
    }

    private void callDestroyed(Connection c) {
        try {
            handler.destroyed(c);
        } catch (RuntimeException | Error e) {
            LOG.error("destroyed handler failed on {}", c, e);
        }
    }

    void connectionClosed(Connection c, boolean wasActive) {
        if (wasActive) {
            active.decrementAndGet();
        }
        closedCount.incrementAndGet();
    }

    void destroyConnection(Connection c) {
        // Off the list before destroyed() runs, as qb_ipcs_connection_unref does (qb_list_del, then
        // connection_destroyed): a handler that counts destroyed connections never still finds one listed.
        connections.remove(c);
        ServiceMonitor.connectionRemoved(this, c);
        callDestroyed(c);
        ServerChannel ch = c.channel();
        boolean gone = false;
        if (ch != null) {
            // One fd for the directory while the channel unlinks its files (see DirectoryFiles.hold). A libqb client
            // removes the directory itself when it disconnects: then there is nothing to unlink or remove.
            try (DirectoryFiles.Held held = DirectoryFiles.hold(c.directory())) {
                ch.destroy();
                gone = held.gone();
            }
        }
        if (!gone) {
            ShmDirectory.remove(c.directory());
        }
    }

    ServiceHandler handler() {
        return handler;
    }

    PollHandlers pollHandlers() {
        return poll;
    }

    // ------------------------------------------------------------------------------------------- public API

    /**
     * Sets the rate limit of every connection ({@code qb_ipcs_request_rate_limit}): loop priority and the
     * flow-control flag clients check before sending. Thread-safe; takes effect immediately.
     *
     * @param limit the new rate limit
     */
    public void requestRateLimit(RateLimit limit) {
        rateLimit = Objects.requireNonNull(limit, "limit");
        for (Connection c : connections) {
            c.applyRateLimit(limit);
        }
    }

    /**
     * Coalesces the notifications of events sent from this service's callbacks (default off). Over SHM each event
     * is announced to the client with one byte on its socket (libqb's protocol: a native client polls the socket,
     * then reads one event per byte). With this on, an event sent on the built-in {@link EventLoop}'s thread while
     * it dispatches (in {@link ServiceHandler#message} and the other callbacks) is written to the client's ring at
     * once, but its byte waits for the end of the loop's dispatch pass, when each connection gets the bytes of all
     * its events of the pass in one send(2): a server that fans events out to many clients per request (a
     * notification broker) makes one system call and one wake-up per client and pass instead of one per event.
     * Native clients see exactly what they would otherwise see, only the pass's announcements come together after
     * the callback returns. Sends from other threads, with a custom {@link PollHandlers}, or of several buffers are
     * announced at once as before.
     *
     * @param on true to coalesce
     */
    public void coalesceEventNotifications(boolean on) {
        coalesceEventNotifications = on;
    }

    /** @return true when event notifications are coalesced; see {@link #coalesceEventNotifications(boolean)} */
    public boolean coalescesEventNotifications() {
        return coalesceEventNotifications;
    }

    /** @return the current rate limit */
    public RateLimit rateLimit() {
        return rateLimit;
    }

    /**
     * Sets the smallest buffer size a connection gets, whatever the client asks for
     * ({@code qb_ipcs_enforce_buffer_size}).
     *
     * @param bytes the smallest buffer size every new connection gets
     */
    public void enforceBufferSize(int bytes) {
        if (bytes < 0) {
            throw new IllegalArgumentException("bytes=" + bytes);
        }
        this.enforcedBufferSize = bytes;
    }

    /**
     * Caps the buffer size a client may ask for (default {@value #DEFAULT_MAX_BUFFER_SIZE} bytes); jqb's addition,
     * libqb has no upper bound. Each connection's rings take about three times its buffer size in {@code /dev/shm}
     * (RAM), so without a cap one unprivileged handshake could ask for a gigabyte. A larger request is served with
     * the capped size, which the client learns from the connection response (a libqb client sizes its buffers from
     * it, as it does after {@link #enforceBufferSize}); {@link ServiceHandler#accept} sees what was asked for
     * ({@link Connection#requestedBufferSize()}) and what it gets ({@link Connection#bufferSize()}) and may refuse.
     * The cap wins over {@link #enforceBufferSize}.
     *
     * @param bytes the largest buffer size a connection may get, at least one page
     */
    public void setMaxBufferSize(int bytes) {
        if (bytes < ChunkDescriptor.PAGE_SIZE) {
            throw new IllegalArgumentException("bytes=" + bytes + " (at least " + ChunkDescriptor.PAGE_SIZE + ")");
        }
        this.maxBufferSize = bytes;
    }

    /** @return the largest buffer size a connection gets; see {@link #setMaxBufferSize} */
    public int maxBufferSize() {
        return maxBufferSize;
    }

    /** @return the enforced minimum buffer size (0 = none) */
    public int enforcedBufferSize() {
        return enforcedBufferSize;
    }

    /**
     * Bounds each connection's send backlogs ({@link Connection#queueResponse}, {@link Connection#queueEvent}):
     * at most {@code limitBytes} queued per direction (one message always fits), and what happens past that.
     * Default {@value #DEFAULT_SEND_BACKLOG_BYTES} bytes, {@link BacklogPolicy#FAIL_SEND}. Thread-safe.
     *
     * @param limitBytes the most bytes queued per connection and direction
     * @param policy what a send does when the backlog is full
     */
    public void setSendBacklog(long limitBytes, BacklogPolicy policy) {
        if (limitBytes < 0) {
            throw new IllegalArgumentException("limitBytes=" + limitBytes);
        }
        this.sendBacklogPolicy = Objects.requireNonNull(policy, "policy");
        this.sendBacklogLimit = limitBytes;
    }

    /** @return the most bytes a connection queues per direction; see {@link #setSendBacklog} */
    public long sendBacklogLimit() {
        return sendBacklogLimit;
    }

    /** @return what a send past {@link #sendBacklogLimit()} does; see {@link #setSendBacklog} */
    public BacklogPolicy sendBacklogPolicy() {
        return sendBacklogPolicy;
    }

    /**
     * Sets how long a newly connected client may take to send its complete connection request before the service
     * drops it (default {@value #DEFAULT_HANDSHAKE_TIMEOUT_MS} ms; 0 = never). Applies to connections accepted from
     * then on. libqb has no such limit (PR #123/#352).
     *
     * @param millis the time-out in milliseconds
     */
    public void setHandshakeTimeout(long millis) {
        if (millis < 0) {
            throw new IllegalArgumentException("millis=" + millis);
        }
        this.handshakeTimeoutMs = millis;
    }

    /** @return the handshake time-out in milliseconds (0 = none) */
    public long handshakeTimeout() {
        return handshakeTimeoutMs;
    }

    /**
     * Removes the stale connection directories of <em>every</em> service from {@code /dev/shm}: those whose server and
     * client processes are provably gone, owned by our effective uid, holding only libqb ring/control files (see the
     * class comment). A service's own start-up sweep touches only directories of its own name; this is the explicit,
     * machine-wide clean-up ({@code jqb sweep}).
     *
     * @param dryRun decide and report, but remove nothing
     * @return each directory removed (or that would be), with the reason
     */
    public static List<StaleDirectory> sweepStaleDirectories(boolean dryRun) {
        return sweepStaleDirectories(StaleSweep.defaultRoot(), dryRun);
    }

    /**
     * {@link #sweepStaleDirectories(boolean)} of another directory than {@code /dev/shm}, e.g. a second shm mount.
     *
     * @param root the directory holding {@code qb-*} connection directories
     * @param dryRun decide and report, but remove nothing
     * @return each directory removed (or that would be), with the reason
     */
    public static List<StaleDirectory> sweepStaleDirectories(java.nio.file.Path root, boolean dryRun) {
        StaleSweep.Result r = StaleSweep.sweep(root, Posix.C.getpid(), StaleSweep.effectiveUid(), null, dryRun);
        List<StaleDirectory> out = new ArrayList<>();
        for (StaleSweep.Entry e : r.removed) {
            out.add(new StaleDirectory(e.dir, e.reason));
        }
        return out;
    }

    /**
     * Whether {@link #run()} removes directories in {@code /dev/shm} that provably belong to dead earlier servers of
     * this service name (default true; see the class comment). Call before {@link #run()}.
     *
     * @param enabled false to skip the sweep
     */
    public void setStaleSweep(boolean enabled) {
        this.staleSweep = enabled;
    }

    /**
     * Registers this service and each of its connections as JMX MBeans ({@code io.jqb:type=Service,name="<name>"},
     * {@code io.jqb:type=Connection,service="<name>",id=<id>}; see {@link io.jqb.ops.ServiceMXBean} and
     * {@link io.jqb.ops.ConnectionMXBean}) in the platform MBean server, until {@link #close()} (no effect after it).
     * The system property {@code jqb.jmx=true} does this for every service at {@link #run()}.
     */
    public void enableJmx() {
        if (!destroyed) {
            ServiceMonitor.of(this).enableJmx();
        }
    }

    /**
     * Service statistics ({@code qb_ipcs_stats_get}).
     *
     * @param clearAfterRead zero both counters after reading, as libqb does: from then on they count connections
     *         established and closed since this read, so {@code activeConnections} goes below 0 when connections
     *         that were open at the clearing read close (libqb's u32 wraps at the same point)
     * @return the service's counters
     */
    public ServiceStats stats(boolean clearAfterRead) {
        synchronized (active) {
            // Read and zeroed in one step each: the loop thread counts connects and closes meanwhile.
            return clearAfterRead ? new ServiceStats(active.getAndSet(0), closedCount.getAndSet(0))
                    : new ServiceStats(active.get(), closedCount.get());
        }
    }

    /**
     * Calls {@code action} for each established connection, holding a reference on it during the call, as libqb's
     * {@code qb_ipcs_connection_first_get/next_get} iteration does (each returned connection is referenced until
     * the next one is fetched): a connection that closes meanwhile is not destroyed (its {@code destroyed}
     * callback, its files) before {@code action} returns. {@link Connection#ref()} one to keep it longer.
     *
     * @param action called with each connection, on the calling thread
     */
    public void forEachConnection(java.util.function.Consumer<Connection> action) {
        for (Connection c : connections) {
            if (!c.tryRef()) {
                continue; // already destroyed: libqb's iteration skips it too
            }
            try {
                action.accept(c);
            } finally {
                c.unref();
            }
        }
    }

    /**
     * A snapshot of the service's connections. Unlike libqb's iteration it holds no references (a list cannot give
     * them back): use {@link #forEachConnection} to keep each alive while you use it, or {@link Connection#ref()}
     * any you keep beyond the current loop callback. A connection is listed
     * once its handshake response is out (sending to it works), until it is destroyed.
     *
     * @return the established connections
     */
    public List<Connection> connections() {
        List<Connection> l = new ArrayList<>(connections.size());
        for (Connection c : connections) {
            // Internally listed from before the response (so requestRateLimit reaches it), but an event sent then
            // would fail with ENOTCONN: the client may already have its response while the loop has not moved on.
            if (!c.inHandshake()) {
                l.add(c);
            }
        }
        return l;
    }

    /** @return the service name clients connect to */
    public String name() {
        return name;
    }

    /** @return the id given to {@link #create} ({@code qb_ipcs_service_id_get}) */
    public int serviceId() {
        return serviceId;
    }

    /** @return the transport offered to clients */
    public TransportType transportType() {
        return type;
    }

    /**
     * Attaches an application object to the service ({@code qb_ipcs_service_context_set}).
     *
     * @param context any object, or {@code null}
     */
    public void setContext(Object context) {
        this.context = context;
    }

    /** @return the object set with {@link #setContext} ({@code qb_ipcs_service_context_get}), or null */
    public Object context() {
        return context;
    }

    /** @return true between {@link #run()} and {@link #destroy()} */
    public boolean isRunning() {
        return running;
    }

    /** Takes a reference on the service ({@code qb_ipcs_ref}). */
    public void ref() {
        refs.incrementAndGet();
    }

    /** Gives a reference back ({@code qb_ipcs_unref}); the last one destroys the service. */
    public void unref() {
        if (refs.decrementAndGet() == 0) {
            destroyNow();
        }
    }

    /**
     * {@code qb_ipcs_destroy}, as libqb 2.0.6: disconnects every client and withdraws the listening socket (and its
     * file in filesystem mode), then gives back the creation reference. When that was the last reference, the
     * service is gone (its loop stopped, every file removed) when this returns; when {@link #ref()} references are
     * still held, the service accepts and serves nobody from now on and ends at the last {@link #unref()}. With the
     * built-in loop, safe from any thread; with your own poll handlers, call it from your loop's thread.
     */
    public void destroy() {
        if (refs.get() > 1 && running && !destroyed) {
            onLoop(this::withdraw);
        }
        unref();
    }

    /** Runs {@code step} on the loop thread and waits for it (built-in loop), or runs it here (your loop's thread). */
    private void onLoop(Runnable step) {
        EventLoop own = ownLoop;
        if (own == null || own.inLoop()) {
            step.run();
            return;
        }
        CompletableFuture<Void> done = new CompletableFuture<>();
        own.jobAdd(Priority.HIGH, () -> {
            try {
                step.run();
            } finally {
                done.complete(null);
            }
        });
        try {
            done.get(10, TimeUnit.SECONDS);
        } catch (Exception e) {
            LOG.warn("service {}: loop did not run the step: {}", name, e.toString());
        }
    }

    /** Loop thread: disconnects everyone and closes the listener and pending handshakes; the loop keeps running. */
    private void withdraw() {
        for (Connection c : connections) {
            c.disconnect();
        }
        acceptor.withdraw();
    }

    @Override
    public void close() {
        destroy();
    }

    private void destroyNow() {
        if (destroyed) {
            return;
        }
        destroyed = true;
        EventLoop own = ownLoop;
        if (own != null && running && !own.inLoop()) {
            CompletableFuture<Void> done = new CompletableFuture<>();
            own.jobAdd(Priority.HIGH, () -> {
                teardownAll();
                afterClosedCallbacks(own, () -> done.complete(null));
            });
            try {
                done.get(10, TimeUnit.SECONDS);
            } catch (Exception e) {
                LOG.warn("service {}: loop did not finish teardown: {}", name, e.toString());
            }
            own.close();
        } else if (own != null && running) {
            teardownAll();
            afterClosedCallbacks(own, own::close);
        } else {
            teardownAll();
            if (own != null) {
                own.close();
            }
        }
        ServiceMonitor.closed(this);
    }

    /**
     * Runs {@code then} on the built-in loop once no {@code closed} callback asks to be called again: those retries
     * are loop jobs, and stopping the loop before they end would skip {@code destroyed} and leak the files.
     */
    private void afterClosedCallbacks(EventLoop loop, Runnable then) {
        if (connections.stream().noneMatch(Connection::closedPending)) {
            then.run();
        } else {
            loop.schedule(1, () -> afterClosedCallbacks(loop, then));
        }
    }

    private void teardownAll() {
        for (Connection c : connections) {
            c.teardownNow();
        }
        acceptor.withdraw();
        running = false;
        LOG.debug("service {} destroyed", name);
    }
}
