package io.jqb;

import io.jqb.internal.Logs;
import io.jqb.internal.server.ServerChannel;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;

/**
 * One client's connection to a {@link Service} ({@code qb_ipcs_connection_t}).
 *
 * <p>Reference-counted: the service holds one reference from the handshake until the connection is closed; take
 * more with {@link #ref()} to keep it (and its files) alive beyond that, and give each back with {@link #unref()}.
 * When the last one goes, {@link ServiceHandler#destroyed} runs and the connection's files are removed.</p>
 *
 * <p>{@link #sendResponse} and {@link #sendEvent} may be called from any thread, concurrently: writers of each ring
 * are serialised (libqb leaves that to the application and corrupts the ring when it gets it wrong).</p>
 */
public final class Connection {
    private static final Logger LOG = Logs.get(Connection.class);

    enum State { HANDSHAKE, ESTABLISHED, SHUTTING_DOWN, CLOSED }

    private final Service service;
    private final long id;
    private final int pid;
    private final int uid;
    private final int gid;
    private final AtomicInteger refs = new AtomicInteger(1);
    private final AtomicLong requests = new AtomicLong();
    private final AtomicLong responses = new AtomicLong();
    private final AtomicLong events = new AtomicLong();
    private final AtomicLong sendRetries = new AtomicLong();
    private final AtomicLong recvRetries = new AtomicLong();
    private final AtomicLong flowControlCount = new AtomicLong();
    private volatile int flowControlState;
    private volatile State state = State.HANDSHAKE;
    private volatile boolean closedPending;
    private volatile Object context;
    private volatile ServerChannel channel;
    private volatile Priority priority = Priority.MED;
    private volatile String directory;
    private int maxMsgSize;
    private int authUid;
    private int authGid;
    private int authMode = 0600;
    private final ServerChannel.RequestSink sink = this::dispatch;
    private final PollHandlers.FdHandler fdHandler = this::onEvents;
    private final PollHandlers.FdHandler livenessHandler = this::onLivenessEvents;
    private final EventLoop.Spinner spinner = new EventLoop.Spinner() {
        @Override
        public boolean poll() {
            ServerChannel ch = channel;
            try {
                return ch != null && state == State.ESTABLISHED && ch.pollRequests(priority.requestsPerWake(), sink);
            } catch (InternalError e) {
                sharedMemoryFault(e);
                return true;
            }
        }

        @Override
        public boolean prepareSleep() {
            ServerChannel ch = channel;
            return ch != null && state == State.ESTABLISHED && ch.advertiseAwake(false);
        }

        @Override
        public void awake() {
            ServerChannel ch = channel;
            if (ch != null && state == State.ESTABLISHED) {
                ch.advertiseAwake(true);
            }
        }
    };

    Connection(Service service, long id, int pid, int uid, int gid) {
        this.service = service;
        this.id = id;
        this.pid = pid;
        this.uid = uid;
        this.gid = gid;
        this.authUid = uid;
        this.authGid = gid;
    }

    // ------------------------------------------------------------------------------------------- sending

    /**
     * Sends a response: the bytes between {@code msg}'s position and limit (its position is not changed).
     *
     * @return the length sent, or {@link Errno#WOULD_BLOCK} when the response ring is full (retry later)
     * @throws MessageTooLargeException when longer than {@link #bufferSize()}
     * @throws NotConnectedException when the connection is closed
     */
    public int sendResponse(ByteBuffer msg) throws IpcException {
        checkSize(msg.remaining(), "response_send");
        ServerChannel ch = established("response_send");
        int rc;
        try {
            rc = ch.sendResponse(msg);
        } catch (InternalError e) {
            throw sendFault(e, "response_send");
        }
        return countResponse(rc, "response_send");
    }

    /** Sends the concatenation of {@code msgs} as one response; see {@link #sendResponse(ByteBuffer)}. */
    public int sendResponse(ByteBuffer... msgs) throws IpcException {
        checkSize(total(msgs), "response_sendv");
        ServerChannel ch = established("response_sendv");
        int rc;
        try {
            rc = ch.sendResponse(msgs);
        } catch (InternalError e) {
            throw sendFault(e, "response_sendv");
        }
        return countResponse(rc, "response_sendv");
    }

    /**
     * Sends an event (server-initiated message) and notifies the client.
     *
     * @return the length sent, or {@link Errno#WOULD_BLOCK} when the event ring is full (the client is not reading)
     * @throws MessageTooLargeException when longer than {@link #bufferSize()}
     * @throws NotConnectedException when the connection is closed
     */
    public int sendEvent(ByteBuffer msg) throws IpcException {
        checkSize(msg.remaining(), "event_send");
        ServerChannel ch = established("event_send");
        int rc;
        try {
            rc = ch.sendEvent(msg);
        } catch (InternalError e) {
            throw sendFault(e, "event_send");
        }
        return countEvent(rc, "event_send");
    }

    /** Sends the concatenation of {@code msgs} as one event; see {@link #sendEvent(ByteBuffer)}. */
    public int sendEvent(ByteBuffer... msgs) throws IpcException {
        checkSize(total(msgs), "event_sendv");
        ServerChannel ch = established("event_sendv");
        int rc;
        try {
            rc = ch.sendEvent(msgs);
        } catch (InternalError e) {
            throw sendFault(e, "event_sendv");
        }
        return countEvent(rc, "event_sendv");
    }

    private static long total(ByteBuffer[] msgs) {
        long t = 0;
        for (ByteBuffer b : msgs) {
            t += b.remaining();
        }
        return t;
    }

    private void checkSize(long len, String op) throws MessageTooLargeException {
        if (len > maxMsgSize) {
            throw new MessageTooLargeException(op, "length=" + len + " max=" + maxMsgSize);
        }
    }

    private ServerChannel established(String op) throws NotConnectedException {
        ServerChannel ch = channel;
        if (state != State.ESTABLISHED || ch == null) {
            throw new NotConnectedException(op, "state=" + state);
        }
        return ch;
    }

    /** A fault in the peer's (truncated) shared memory during a send: drop the connection. */
    private NotConnectedException sendFault(InternalError e, String op) {
        sharedMemoryFault(e);
        return new NotConnectedException(op, "connection " + id + ": shared memory fault");
    }

    private int countResponse(int rc, String op) throws IpcException {
        if (rc >= 0) {
            responses.incrementAndGet();
            return rc;
        }
        return failedSend(rc, op);
    }

    private int countEvent(int rc, String op) throws IpcException {
        if (rc >= 0) {
            events.incrementAndGet();
            return rc;
        }
        return failedSend(rc, op);
    }

    private int failedSend(int rc, String op) throws IpcException {
        if (rc == Errno.WOULD_BLOCK) {
            sendRetries.incrementAndGet();
            return rc;
        }
        if (rc == -Errno.EBADMSG) {
            LOG.warn("{}: connection {} (pid {}) corrupted its ring; disconnecting it", op, id, pid);
            disconnect();
        }
        throw IpcException.of(op, rc, "connection " + id);
    }

    // ------------------------------------------------------------------------------------------- loop side

    private void onEvents(int fd, int revents) {
        service.enterLoop();
        ServerChannel ch = channel;
        if (ch == null || state != State.ESTABLISHED) {
            return;
        }
        try {
            ch.onEvents(revents, priority.requestsPerWake(), sink);
        } catch (InternalError e) {
            sharedMemoryFault(e);
        }
    }

    /**
     * HotSpot reports a fault in a mapped file (the peer truncated it) as an InternalError: drop the connection.
     */
    private void sharedMemoryFault(InternalError e) {
        LOG.warn("connection {} (pid {}): fault accessing its shared memory ({}); disconnecting it", id, pid,
                e.getMessage());
        disconnect();
    }

    private void onLivenessEvents(int fd, int revents) {
        service.enterLoop();
        ServerChannel ch = channel;
        if (ch != null && state == State.ESTABLISHED) {
            ch.onLivenessEvents(revents);
        }
    }

    private void dispatch(ByteBuffer request) {
        int msgId = request.getInt(request.position());
        if (msgId == io.jqb.internal.wire.MessageHeaderDescriptor.MSG_DISCONNECT) {
            disconnect();
            return;
        }
        requests.incrementAndGet();
        try {
            service.handler().message(this, request);
        } catch (InternalError e) {
            throw e;
        } catch (RuntimeException | Error e) {
            LOG.error("message handler failed on connection {}", id, e);
        }
    }

    final ServerChannel.Owner owner = new ServerChannel.Owner() {
        @Override
        public void interestChanged() {
            updateInterest();
        }

        @Override
        public void fail(String why) {
            LOG.debug("connection {} (pid {}): {}", id, pid, why);
            disconnect();
        }

        @Override
        public void violation(String why) {
            LOG.warn("connection {} (pid {}) broke the protocol: {}; disconnecting it", id, pid, why);
            disconnect();
        }

        @Override
        public void recvRetry() {
            recvRetries.incrementAndGet();
        }
    };

    /** Re-registers the fd with the interest the current flow control, priority and pending notifications need. */
    synchronized void updateInterest() {
        ServerChannel ch = channel;
        if (ch == null || state != State.ESTABLISHED) {
            return;
        }
        int ev = (flowControlState == 0 ? PollHandlers.POLLIN : 0)
                | (ch.notificationsPending() ? PollHandlers.POLLOUT : 0);
        try {
            service.pollHandlers().dispatchMod(priority, ch.fd(), ev, fdHandler);
        } catch (IpcException e) {
            LOG.debug("dispatch_mod on connection {}: {}", id, e.getMessage());
        }
    }

    /**
     * Attaches the channel and applies the service's current rate limit. Synchronized with {@link #applyRateLimit}
     * and reading the limit only after the channel is set: a concurrent {@code requestRateLimit} either finds the
     * channel or its new limit is the one read here, so no change is lost.
     */
    synchronized void establish(ServerChannel ch, int agreedSize) {
        this.channel = ch;
        this.maxMsgSize = agreedSize;
        RateLimit rl = service.rateLimit();
        this.priority = rl.priority();
        this.flowControlState = rl.flowControl();
        ch.setFlowControl(rl.flowControl());
    }

    void markEstablished() {
        state = State.ESTABLISHED;
    }

    /**
     * Marks the connection established and starts watching the channel's fds (on the loop thread, after the
     * handshake response went out), with the interest the current flow control asks for.
     */
    synchronized void register() throws IpcException {
        state = State.ESTABLISHED;
        ServerChannel ch = channel;
        PollHandlers poll = service.pollHandlers();
        poll.dispatchAdd(priority, ch.fd(), flowControlState == 0 ? PollHandlers.POLLIN : 0, fdHandler);
        if (ch.livenessFd() >= 0) {
            poll.dispatchAdd(priority, ch.livenessFd(), PollHandlers.POLLIN, livenessHandler);
        }
        if (poll instanceof EventLoop && ch.pollable()) {
            ((EventLoop) poll).addSpinner(spinner);
        }
    }

    Priority priority() {
        return priority;
    }

    void setDirectory(String dir) {
        this.directory = dir;
    }

    String directory() {
        return directory;
    }

    ServerChannel channel() {
        return channel;
    }

    /**
     * Also applies to a connection still in its handshake (channel made, response maybe not yet sent): skipping it
     * would leave it without the flag for good. {@link #updateInterest} does nothing until {@link #register}.
     */
    synchronized void applyRateLimit(RateLimit rl) {
        ServerChannel ch = channel;
        State s = state;
        if (ch == null || s == State.SHUTTING_DOWN || s == State.CLOSED) {
            return;
        }
        if (flowControlState != rl.flowControl()) {
            flowControlState = rl.flowControl();
            flowControlCount.incrementAndGet();
            ch.setFlowControl(rl.flowControl());
        }
        priority = rl.priority();
        updateInterest();
    }

    /** Disconnect step 1, on the loop thread: stop I/O, count, run {@code closed}, drop the service's reference. */
    void teardown() {
        if (state == State.CLOSED) {
            return;
        }
        // Idempotent steps: an InternalError that HotSpot delivers late (a fault on a file the peer truncated
        // surfaces at the next native call) may interrupt this anywhere; teardownJob then runs it again.
        if (state != State.SHUTTING_DOWN) {
            state = State.SHUTTING_DOWN;
        }
        ServerChannel ch = channel;
        if (ch != null) {
            if (service.pollHandlers() instanceof EventLoop) {
                ((EventLoop) service.pollHandlers()).removeSpinner(spinner);
            }
            service.pollHandlers().dispatchDel(ch.fd());
            if (ch.livenessFd() >= 0) {
                service.pollHandlers().dispatchDel(ch.livenessFd());
            }
            ch.closeSocket();
        }
        state = State.CLOSED;
        service.connectionClosed(this, ch != null);
        closedPending = true;
        callClosed();
    }

    /** {@link #teardown()} now, on the loop thread, run again if a late fault interrupts it. */
    void teardownNow() {
        for (int attempt = 0; attempt < 10; attempt++) {
            try {
                teardown();
                return;
            } catch (InternalError e) {
                LOG.debug("connection {}: teardown interrupted by a late fault, again", id);
            }
        }
    }

    /** {@link #teardown()} as a loop job, run again (a few times) if a late fault interrupts it. */
    private void teardownJob(int attemptsLeft) {
        try {
            teardown();
        } catch (InternalError e) {
            if (state != State.CLOSED && attemptsLeft > 0) {
                service.pollHandlers().jobAdd(Priority.HIGH, () -> teardownJob(attemptsLeft - 1));
            } else {
                LOG.warn("connection {}: late shared-memory fault during teardown: {}", id, e.getMessage());
            }
        }
    }

    private void callClosed() {
        int rc;
        try {
            rc = service.handler().closed(this);
        } catch (RuntimeException e) {
            LOG.error("closed handler failed on connection {}", id, e);
            rc = 0;
        }
        if (rc != 0) {
            service.pollHandlers().jobAdd(Priority.LOW, this::callClosed);
        } else {
            closedPending = false;
            unref();
        }
    }

    /** @return true from teardown until {@code closed} returned 0 (its retries are still queued on the loop) */
    boolean closedPending() {
        return closedPending;
    }

    // ------------------------------------------------------------------------------------------- public API

    /** Takes a reference ({@code qb_ipcs_connection_ref}). */
    public void ref() {
        refs.incrementAndGet();
    }

    /** Gives a reference back; the last one destroys the connection ({@code qb_ipcs_connection_unref}). */
    public void unref() {
        int left = refs.decrementAndGet();
        if (left == 0) {
            service.destroyConnection(this);
        } else if (left < 0) {
            refs.incrementAndGet();
            LOG.warn("unref of connection {} without a reference", id);
        }
    }

    /** @return the current reference count */
    public int refCount() {
        return refs.get();
    }

    /**
     * Closes the connection ({@code qb_ipcs_disconnect}). Safe from any thread and from inside a callback: the
     * teardown runs on the loop thread after the current callback returns. The client sees ENOTCONN.
     */
    public void disconnect() {
        State s = state;
        if (s == State.CLOSED || s == State.SHUTTING_DOWN) {
            return;
        }
        state = State.SHUTTING_DOWN;
        service.pollHandlers().jobAdd(Priority.HIGH, () -> teardownJob(10));
    }

    boolean inHandshake() {
        return state == State.HANDSHAKE;
    }

    /** @return true from the handshake's end until {@link #disconnect()} or a client hang-up */
    public boolean isConnected() {
        return state == State.ESTABLISHED;
    }

    /**
     * Sets the owner and mode of the connection's directory and files; call it from
     * {@link ServiceHandler#accept} ({@code qb_ipcs_connection_auth_set}). Default: the client's uid/gid, 0600.
     */
    public void authSet(int uid, int gid, int mode) {
        this.authUid = uid;
        this.authGid = gid;
        this.authMode = mode;
    }

    int authUid() {
        return authUid;
    }

    int authGid() {
        return authGid;
    }

    int authMode() {
        return authMode;
    }

    /**
     * Statistics ({@code qb_ipcs_connection_stats_get_2}).
     *
     * @param clearAfterRead zero the counters (not the pid) after reading
     */
    public ConnectionStats stats(boolean clearAfterRead) {
        ServerChannel ch = channel;
        ConnectionStats s = new ConnectionStats(pid, requests.get(), responses.get(), events.get(),
                sendRetries.get(), recvRetries.get(), flowControlState, flowControlCount.get(),
                ch == null ? 0 : ch.eventQueueLength());
        if (clearAfterRead) {
            requests.set(0);
            responses.set(0);
            events.set(0);
            sendRetries.set(0);
            recvRetries.set(0);
            flowControlCount.set(0);
        }
        return s;
    }

    /** @return the agreed buffer size: the largest message either side may send */
    public int bufferSize() {
        return maxMsgSize;
    }

    /** @return the client's pid from its credentials */
    public int clientPid() {
        return pid;
    }

    /** @return the client's uid from its credentials */
    public int clientUid() {
        return uid;
    }

    /** @return the client's gid from its credentials */
    public int clientGid() {
        return gid;
    }

    /** @return a number unique within this process, also sent to the client as the opaque connection id */
    public long id() {
        return id;
    }

    /** Attaches an application object to this connection ({@code qb_ipcs_context_set}). */
    public void setContext(Object context) {
        this.context = context;
    }

    /** @return the object set with {@link #setContext} ({@code qb_ipcs_context_get}), or null */
    public Object context() {
        return context;
    }

    /** @return the service this connection belongs to */
    public Service service() {
        return service;
    }

    /** @return the service's context ({@code qb_ipcs_connection_service_context_get}) */
    public Object serviceContext() {
        return service.context();
    }

    @Override
    public String toString() {
        return "Connection[id=" + id + ", pid=" + pid + ", state=" + state + "]";
    }
}
