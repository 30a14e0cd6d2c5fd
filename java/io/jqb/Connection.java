package io.jqb;

import io.jqb.internal.Logs;
import io.jqb.internal.Spinner;
import io.jqb.internal.log.RateLimitedLog;
import io.jqb.internal.server.HandshakeTimer;
import io.jqb.internal.server.SendBacklog;
import io.jqb.internal.server.ServerChannel;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
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
    private static final RateLimitedLog BACKLOG_LOG = new RateLimitedLog(LOG);
    /** Protocol violations and faults: one line per dropped connection, but peers can connect and break at will. */
    private static final RateLimitedLog PEER_LOG = new RateLimitedLog(LOG, 20, 1_000);

    enum State { HANDSHAKE, ESTABLISHED, SHUTTING_DOWN, CLOSED }

    private final Service service;
    private final long id;
    private final int pid;
    private final int uid;
    private final int gid;
    /** References ({@link #ref()}), through {@link #REFS}: an {@code AtomicInteger} was 16 more bytes each. */
    private volatile int refs = 1;
    /**
     * The statistics counters are plain volatile fields updated through these handles: seven {@code AtomicLong}s
     * were ~170 bytes of heap per connection (made at every connect).
     */
    private static final VarHandle REQUESTS;
    private static final VarHandle LOOP_RESPONSES;
    private static final VarHandle RESPONSES;
    private static final VarHandle EVENTS;
    private static final VarHandle SEND_RETRIES;
    private static final VarHandle RECV_RETRIES;
    private static final VarHandle FLOW_CONTROL_COUNT;
    private static final VarHandle REFS;
    private static final VarHandle FLUSH_SCHEDULED;

    static {
        MethodHandles.Lookup l = MethodHandles.lookup();
        try {
            REQUESTS = l.findVarHandle(Connection.class, "requests", long.class);
            LOOP_RESPONSES = l.findVarHandle(Connection.class, "loopResponses", long.class);
            RESPONSES = l.findVarHandle(Connection.class, "responses", long.class);
            EVENTS = l.findVarHandle(Connection.class, "events", long.class);
            SEND_RETRIES = l.findVarHandle(Connection.class, "sendRetries", long.class);
            RECV_RETRIES = l.findVarHandle(Connection.class, "recvRetries", long.class);
            FLOW_CONTROL_COUNT = l.findVarHandle(Connection.class, "flowControlCount", long.class);
            REFS = l.findVarHandle(Connection.class, "refs", int.class);
            FLUSH_SCHEDULED = l.findVarHandle(Connection.class, "flushScheduled", boolean.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /**
     * Requests dispatched: written by the loop thread only (a release store, no locked instruction on the hot path).
     * A clearing stats read, on any thread, moves {@link #requestsCleared} instead of writing it.
     */
    private volatile long requests;
    /**
     * Responses sent from the thread of an {@link EventLoop} that runs on its own thread (Service#onFixedLoopThread):
     * it is the only writer, as for {@link #requests}.
     */
    private volatile long loopResponses;
    /** Responses sent from any other thread (an atomic increment). */
    private volatile long responses;
    /** What the last clearing stats read saw of the single-writer counters; guarded by {@code callbacks}' monitor. */
    private long requestsCleared;
    private long loopResponsesCleared;
    private volatile long events;
    private volatile long sendRetries;
    private volatile long recvRetries;
    private volatile long flowControlCount;
    private volatile int flowControlState;
    /** libqb's {@code stats.flow_control_state}: set on each change, zeroed by a clearing read (unlike the state). */
    private volatile int statsFlowControlState;
    private volatile State state = State.HANDSHAKE;
    private volatile boolean closedPending;
    private volatile Object context;
    private volatile ServerChannel channel;
    private volatile Priority priority = Priority.MED;
    private volatile String directory;
    private int maxMsgSize;
    private long requestedBufferSize;
    private int authUid;
    private int authGid;
    private int authMode = 0600;
    /**
     * The send backlogs: {@link SendBacklog#NONE} until a message is first queued ({@link #backlog(boolean)}), so a
     * connection that never queues has none of its own.
     */
    private volatile SendBacklog responseBacklog = SendBacklog.NONE;
    private volatile SendBacklog eventBacklog = SendBacklog.NONE;
    /** A backlog flush is on the timer; through {@link #FLUSH_SCHEDULED} (was an {@code AtomicBoolean}). */
    private volatile boolean flushScheduled;
    private volatile int flushDelayMs = 1;
    private volatile long writableFlushes; // written on the loop only
    /**
     * A writability-triggered flush sent nothing (ENOBUFS reads as would-block): the POLLOUT interest for responses
     * stays off until the next timer flush, or a socket that keeps saying writable would spin the loop. Loop only.
     */
    private volatile boolean writableMuted;
    /** On the loop's list of connections owing event notifications ({@link EventLoop}; loop thread only). */
    boolean notificationsDeferred;
    /**
     * The blocking {@link EventLoop} that drains this (jqb SHM) connection's request ring with the flag raised, so the
     * client skips doorbells meanwhile; null for native clients, other transports, spinning loops (their spinners
     * advertise) and foreign {@link PollHandlers}. A foreign loop keeps the flag at ASLEEP: its only way to serve a
     * connection again without a readable fd is {@link PollHandlers#jobAdd}, and whether a job queued by a job runs
     * before that loop polls its fds again is its own choice (one that runs them in the same round would let one
     * pipelining client starve every other fd). Set before the fd is registered; loop thread only after that.
     */
    private EventLoop drainLoop;
    /**
     * Counted by a spinning {@link EventLoop} as a connection only epoll sees ready (SOCKET), so its spin asks epoll
     * on every pass; given back once, at teardown. Under this object's lock.
     */
    private boolean socketCounted;
    /** On {@link #drainLoop}'s draining list; served in the current pass (loop thread only). */
    boolean drainListed;
    boolean drainServed;
    /** The loop withdrew the flag because the connection was paused: re-check the ring when it is resumed. */
    private volatile boolean drainResume;
    /**
     * The loop's callbacks into this connection (fd readiness, requests, the spinner, the channel's owner, the
     * drain re-check job) are one object: six lambdas and anonymous classes were ~100 bytes of every connection.
     */
    private final Callbacks callbacks = new Callbacks();

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
     * <p>While earlier messages wait in this connection's send backlog (see {@link #queueResponse(ByteBuffer)}), the
     * message is queued behind them, so responses stay in order. On the SOCKET transport, a first send before the
     * client has bound its socket is queued too and sent by the loop once it has (libqb sleeps instead).</p>
     *
     * @param msg the message: the bytes between its position and limit (the position is not moved)
     * @return the length sent (or queued), or {@link Errno#WOULD_BLOCK} when the response ring is full (retry later)
     * @throws MessageTooLargeException when longer than {@link #bufferSize()}
     * @throws NotConnectedException when the connection is closed
     */
    public int sendResponse(ByteBuffer msg) {
        return send(false, false, msg, null, "response_send");
    }

    /**
     * Sends the concatenation of {@code msgs} as one response; see {@link #sendResponse(ByteBuffer)}.
     *
     * @param msgs the parts, sent as one message in this order (positions are not moved)
     * @return the length sent (or queued), or {@link Errno#WOULD_BLOCK} when the response ring is full
     */
    public int sendResponse(ByteBuffer... msgs) {
        return send(false, false, null, msgs, "response_sendv");
    }

    /**
     * Sends an event (server-initiated message) and notifies the client; queued like
     * {@link #sendResponse(ByteBuffer)} while the event backlog is not empty.
     *
     * @param msg the message: the bytes between its position and limit (the position is not moved)
     * @return the length sent (or queued), or {@link Errno#WOULD_BLOCK} when the event ring is full (the client is
     *         not reading)
     * @throws MessageTooLargeException when longer than {@link #bufferSize()}
     * @throws NotConnectedException when the connection is closed
     */
    public int sendEvent(ByteBuffer msg) {
        return send(true, false, msg, null, "event_send");
    }

    /**
     * Sends the concatenation of {@code msgs} as one event; see {@link #sendEvent(ByteBuffer)}.
     *
     * @param msgs the parts, sent as one message in this order (positions are not moved)
     * @return the length sent (or queued), or {@link Errno#WOULD_BLOCK} when the event ring is full
     */
    public int sendEvent(ByteBuffer... msgs) {
        return send(true, false, null, msgs, "event_sendv");
    }

    /**
     * Sends a response now, or, when the client's ring is full, copies it into this connection's bounded send
     * backlog, which the service's loop flushes as the client drains its ring: back-pressure that never blocks
     * the calling thread (use it from {@code message()} instead of retrying on {@link Errno#WOULD_BLOCK}).
     *
     * <p>While a backlog exists, the service reads no further requests from this client (its requests wait in its
     * ring, and its own sends eventually see a full ring): a client that does not read its answers stalls only
     * itself. The backlog holds at most {@link Service#sendBacklogLimit()} bytes (one message always fits); past
     * that, {@link Service#sendBacklogPolicy()} decides: {@link BacklogPolicy#FAIL_SEND} returns
     * {@link Errno#WOULD_BLOCK} (nothing queued), {@link BacklogPolicy#DISCONNECT} drops the connection and throws
     * {@link NotConnectedException}.</p>
     *
     * @param msg the message: the bytes between its position and limit (the position is not moved)
     * @return the length sent or queued, or {@link Errno#WOULD_BLOCK} when the backlog is full (FAIL_SEND)
     * @throws MessageTooLargeException when longer than {@link #bufferSize()}
     * @throws NotConnectedException when the connection is closed (or was dropped for a full backlog)
     */
    public int queueResponse(ByteBuffer msg) {
        return send(false, true, msg, null, "response_send");
    }

    /**
     * Queues the concatenation of {@code msgs} as one response; see {@link #queueResponse(ByteBuffer)}.
     *
     * @param msgs the parts, sent as one message in this order (positions are not moved)
     * @return the length sent or queued, or {@link Errno#WOULD_BLOCK} when the backlog is full (FAIL_SEND)
     */
    public int queueResponse(ByteBuffer... msgs) {
        return send(false, true, null, msgs, "response_sendv");
    }

    /**
     * Sends an event now or queues it in the event backlog; see {@link #queueResponse(ByteBuffer)}.
     *
     * @param msg the message: the bytes between its position and limit (the position is not moved)
     * @return the length sent or queued, or {@link Errno#WOULD_BLOCK} when the backlog is full (FAIL_SEND)
     */
    public int queueEvent(ByteBuffer msg) {
        return send(true, true, msg, null, "event_send");
    }

    /**
     * Queues the concatenation of {@code msgs} as one event; see {@link #queueResponse(ByteBuffer)}.
     *
     * @param msgs the parts, sent as one message in this order (positions are not moved)
     * @return the length sent or queued, or {@link Errno#WOULD_BLOCK} when the backlog is full (FAIL_SEND)
     */
    public int queueEvent(ByteBuffer... msgs) {
        return send(true, true, null, msgs, "event_sendv");
    }

    /** @return bytes waiting in this connection's send backlogs (responses and events) */
    public long backlogBytes() {
        return responseBacklog.bytes() + eventBacklog.bytes();
    }

    /**
     * One send path for the eight public methods: {@code one} or {@code many} is the message; {@code queue} makes
     * a full ring queue the message instead of returning WOULD_BLOCK. Allocation-free unless it queues.
     */
    private int send(boolean event, boolean queue, ByteBuffer one, ByteBuffer[] many, String op) {
        checkSize(one != null ? one.remaining() : total(many), op);
        ServerChannel ch = established(op);
        SendBacklog backlog = event ? eventBacklog : responseBacklog;
        if (backlog.isEmpty()) {
            int rc;
            try {
                if (event) {
                    rc = one == null ? ch.sendEvent(many)
                            : deferrable() ? ch.sendEventDeferred(one) : ch.sendEvent(one);
                } else {
                    announceOwedEvents(ch);
                    rc = one != null ? ch.sendResponse(one) : ch.sendResponse(many);
                }
            } catch (InternalError e) {
                throw sendFault(e, op);
            }
            if (rc != ServerChannel.NOT_YET_CONNECTED && (rc != Errno.WOULD_BLOCK || !queue)) {
                return event ? countEvent(rc, op) : countResponse(rc, op);
            }
        }
        return enqueue(event, one, many, op);
    }

    /** @return true when this event's notification may wait for the end of the loop's dispatch pass */
    private boolean deferrable() {
        return service.coalescesEventNotifications() && service.pollHandlers() instanceof EventLoop
                && ((EventLoop) service.pollHandlers()).deferNotifications(this);
    }

    /**
     * Before a response to a client that has nothing more queued (it waits for this answer, or is done sending):
     * announces the events its requests produced in this pass first. The response wakes the client, which then
     * competes for a CPU with the receivers; announcing the events at the pass's end would put them behind it. A
     * pipelining client's earlier responses leave the announcements coalesced.
     */
    private void announceOwedEvents(ServerChannel ch) {
        if (service.coalescesEventNotifications() && service.pollHandlers() instanceof EventLoop loop
                && loop.inLoop() && !ch.requestsQueued()) {
            loop.flushOwedNotifications();
        }
    }

    /** Sends the event notifications owed since the loop's dispatch pass began; loop thread only. */
    void flushDeferredNotifications() {
        ServerChannel ch = channel;
        if (ch != null) {
            ch.flushDeferredNotifications();
        }
    }

    /** @return the direction's backlog, made now if it is still {@link SendBacklog#NONE} */
    private SendBacklog backlog(boolean event) {
        SendBacklog b = event ? eventBacklog : responseBacklog;
        if (b != SendBacklog.NONE) {
            return b;
        }
        synchronized (callbacks) {
            b = event ? eventBacklog : responseBacklog;
            if (b == SendBacklog.NONE) {
                b = new SendBacklog();
                if (event) {
                    eventBacklog = b;
                } else {
                    responseBacklog = b;
                }
            }
            return b;
        }
    }

    private int enqueue(boolean event, ByteBuffer one, ByteBuffer[] many, String op) {
        SendBacklog backlog = backlog(event);
        long limit = service.sendBacklogLimit();
        boolean queued = one != null ? backlog.offer(limit, one) : backlog.offer(limit, many);
        if (!queued) {
            SEND_RETRIES.getAndAdd(this, 1L);
            if (service.sendBacklogPolicy() == BacklogPolicy.DISCONNECT) {
                BACKLOG_LOG.warn("connection {} (pid {}) does not read: send backlog over {} bytes; disconnecting it",
                        id, pid, limit);
                disconnect();
                throw new NotConnectedException(op, "connection " + id + ": send backlog full");
            }
            return Errno.WOULD_BLOCK;
        }
        updateInterest();
        scheduleFlush();
        return (int) (one != null ? one.remaining() : total(many));
    }

    /** @return true while responses or events wait: the connection's requests are not read meanwhile */
    boolean backlogged() {
        return !responseBacklog.isEmpty() || !eventBacklog.isEmpty();
    }

    private void scheduleFlush() {
        if (!FLUSH_SCHEDULED.compareAndSet(this, false, true)) {
            return;
        }
        PollHandlers p = service.pollHandlers();
        int delay = flushDelayMs;
        if (p instanceof EventLoop) {
            ((EventLoop) p).schedule(delay, this::flushBacklogs);
        } else {
            HandshakeTimer.schedule(delay, () -> p.jobAdd(Priority.HIGH, this::flushBacklogs));
        }
    }

    /**
     * On the loop: sends what the client's rings now take; while anything waits, again after a back-off (1 ms
     * doubling to 16 ms while the client makes no progress). The client does not tell the server when it drained a
     * ring (libqb's protocol has no such signal), so the loop looks. A SOCKET connection's responses are also sent
     * as soon as its socket is writable again ({@link ServerChannel#writableSignalsResponseRoom}); the timer stays
     * as the fallback.
     */
    private void flushBacklogs() {
        flushScheduled = false;
        long before = backlogBytes();
        boolean unmute = writableMuted;
        writableMuted = false;
        if (!flushNow()) {
            return;
        }
        if (unmute) {
            updateInterest(); // watch the socket for room again
        }
        flushDelayMs = backlogBytes() < before ? 1 : Math.min(flushDelayMs * 2, 16);
        scheduleFlush();
    }

    /**
     * Sends what the client now takes, in order (the body of {@link #flushBacklogs}, without its timer).
     *
     * @return true while something still waits (the connection is still established)
     */
    private boolean flushNow() {
        ServerChannel ch = channel;
        if (ch == null || state != State.ESTABLISHED) {
            responseBacklog.clear();
            eventBacklog.clear();
            return false;
        }
        boolean roomSignalled = ch.writableSignalsResponseRoom(); // SOCKET: false until a send connected it
        int r;
        try {
            r = responseBacklog.flush(m -> sent(ch.sendResponse(m), RESPONSES));
            if (r == 0 || r == Errno.WOULD_BLOCK) {
                int e = eventBacklog.flush(m -> sent(ch.sendEvent(m), EVENTS));
                r = e < 0 && e != Errno.WOULD_BLOCK ? e : r;
            }
        } catch (InternalError e) {
            sharedMemoryFault(e);
            return false;
        }
        if (r < 0 && r != Errno.WOULD_BLOCK) {
            BACKLOG_LOG.warn("connection {} (pid {}): queued send failed ({}); disconnecting it", id, pid,
                    Errno.name(r));
            disconnect();
            return false;
        }
        if (!backlogged()) {
            flushDelayMs = 1;
            updateInterest();
            return false;
        }
        if (responseBacklog.isEmpty() && ch.writableSignalsResponseRoom()) {
            updateInterest(); // only events wait: no POLLOUT interest for responses (it would fire for ever)
        } else if (!roomSignalled && ch.writableSignalsResponseRoom()) {
            updateInterest(); // this flush connected the socket and responses remain: watch it for room (POLLOUT)
        }
        return true;
    }

    /** Backlog flushes the socket's writability set off ({@link #onEvents}); loop thread only. For tests. */
    long writableFlushes() {
        return writableFlushes;
    }

    private int sent(int rc, VarHandle counter) {
        if (rc >= 0) {
            counter.getAndAdd(this, 1L);
            return rc;
        }
        return rc == ServerChannel.NOT_YET_CONNECTED ? Errno.WOULD_BLOCK : rc;
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

    private int countResponse(int rc, String op) {
        if (rc >= 0) {
            if (service.onFixedLoopThread()) {
                // single writer: no other thread runs this loop. Not inLoop(): an embedded loop's last driving
                // thread, sending outside it, and the next one inside it would both write (a lost count).
                LOOP_RESPONSES.setRelease(this, loopResponses + 1);
            } else {
                RESPONSES.getAndAdd(this, 1L);
            }
            return rc;
        }
        return failedSend(rc, op);
    }

    private int countEvent(int rc, String op) {
        if (rc >= 0) {
            EVENTS.getAndAdd(this, 1L);
            return rc;
        }
        return failedSend(rc, op);
    }

    private int failedSend(int rc, String op) {
        if (rc == Errno.WOULD_BLOCK) {
            SEND_RETRIES.getAndAdd(this, 1L);
            return rc;
        }
        if (rc == -Errno.EBADMSG) {
            PEER_LOG.warn("{}: connection {} (pid {}) corrupted its ring; disconnecting it", op, id, pid);
            disconnect();
        }
        throw IpcException.of(op, rc, "connection " + id);
    }

    // ------------------------------------------------------------------------------------------- loop side

    private void onEvents(int revents) {
        service.enterLoop();
        ServerChannel ch = channel;
        if (ch == null || state != State.ESTABLISHED) {
            return;
        }
        try {
            if ((revents & PollHandlers.POLLOUT) != 0 && ch.writableSignalsResponseRoom()) {
                if (!responseBacklog.isEmpty()) {
                    // The client took responses: send what waits now, not at the back-off timer (still pending).
                    // flushNow drops the POLLOUT interest once no response waits.
                    writableFlushes = writableFlushes + 1;
                    long before = responseBacklog.bytes();
                    if (flushNow() && !responseBacklog.isEmpty() && responseBacklog.bytes() == before) {
                        writableMuted = true; // writable yet nothing went (ENOBUFS): the timer retries
                        updateInterest();
                    }
                } else {
                    updateInterest(); // a stale interest (level-triggered): drop it, or the loop spins on it
                }
            }
            EventLoop dl = drainLoop;
            if (dl != null && (revents & PollHandlers.POLLIN) != 0 && flowControlState == 0 && !backlogged()) {
                // Flag READER_POLLING before the batch: requests the client writes meanwhile come without a
                // doorbell; the loop serves them again without epoll until a withdrawal finds the ring empty.
                ch.advertiseDraining();
                dl.drained(this);
            }
            ch.onEvents(revents, priority.requestsPerWake(), callbacks);
        } catch (InternalError e) {
            sharedMemoryFault(e);
        }
    }

    /** The blocking loop serves this connection again without a doorbell (see {@link #drainLoop}). */
    boolean drainPoll() {
        ServerChannel ch = channel;
        if (ch == null || state != State.ESTABLISHED) {
            return false;
        }
        try {
            return ch.pollRequests(priority.requestsPerWake(), callbacks);
        } catch (InternalError e) {
            sharedMemoryFault(e);
            return true;
        }
    }

    /**
     * The blocking loop's pass ends: true keeps this connection on its draining list (requests queued, the flag
     * still raised); false when the flag is withdrawn and the ring was found empty, or the connection is paused (it
     * is re-checked on resumption, {@link #updateInterest}) or closed.
     */
    boolean drainSettle() {
        ServerChannel ch = channel;
        if (ch == null || state != State.ESTABLISHED) {
            return false;
        }
        try {
            int s = ch.settleDraining();
            if (s != ServerChannel.DRAIN_PAUSED) {
                return s == ServerChannel.DRAIN_KEEP;
            }
            // Marker first, then the pause re-read (both volatile): a resumption on another thread either sees
            // the marker (and queues the re-check) or happened before this read (and the loop keeps serving).
            drainResume = true;
            return flowControlState == 0 && !backlogged();
        } catch (InternalError e) {
            sharedMemoryFault(e);
            return false;
        }
    }

    /** Loop job after a resumption: the ring may hold requests whose doorbells were skipped. */
    private void drainResumed() {
        EventLoop dl = drainLoop;
        if (dl != null && state == State.ESTABLISHED) {
            dl.drainAgain(this);
        }
    }

    /**
     * HotSpot reports a fault in a mapped file (the peer truncated it) as an InternalError: drop the connection.
     */
    private void sharedMemoryFault(InternalError e) {
        PEER_LOG.warn("connection {} (pid {}): fault accessing its shared memory ({}); disconnecting it", id, pid,
                e.getMessage());
        disconnect();
    }

    private void onLivenessEvents(int revents) {
        service.enterLoop();
        ServerChannel ch = channel;
        if (ch != null && state == State.ESTABLISHED) {
            ch.onLivenessEvents(revents);
        }
    }

    /** @return false to end the batch: a disconnect request, or a negative return (libqb's back-off) */
    private boolean dispatch(ByteBuffer request) {
        int msgId = request.getInt(request.position());
        if (msgId == io.jqb.internal.wire.MessageHeaderDescriptor.MSG_DISCONNECT) {
            disconnect();
            return false;
        }
        REQUESTS.setRelease(this, requests + 1); // single writer: the loop thread
        try {
            return service.handler().message(this, request) >= 0;
        } catch (InternalError e) {
            throw e;
        } catch (RuntimeException | Error e) {
            LOG.error("message handler failed on connection {}", id, e);
            return true;
        }
    }

    /**
     * Every callback the loop, the spinner and the channel make into this connection, in one object per connection.
     * Its monitor also guards the clearing stats read ({@link #stats}); nothing else locks it.
     */
    private final class Callbacks implements ServerChannel.Owner, ServerChannel.RequestSink, PollHandlers.FdHandler,
            Spinner, Runnable {
        // --- PollHandlers.FdHandler: the request fd, and the SOCKET setup socket watched for the hang-up

        @Override
        public void onEvents(int fd, int revents) {
            ServerChannel ch = channel;
            if (ch != null && fd == ch.livenessFd() && fd != ch.fd()) {
                onLivenessEvents(revents);
            } else {
                Connection.this.onEvents(revents);
            }
        }

        // --- ServerChannel.RequestSink

        @Override
        public boolean onRequest(ByteBuffer request) {
            return dispatch(request);
        }

        // --- Runnable: the loop job after a resumption (drainResumed)

        @Override
        public void run() {
            drainResumed();
        }

        // --- Spinner

        @Override
        public boolean poll() {
            ServerChannel ch = channel;
            try {
                return ch != null && state == State.ESTABLISHED && !backlogged()
                        && ch.pollRequests(priority.requestsPerWake(), this);
            } catch (InternalError e) {
                sharedMemoryFault(e);
                return true;
            }
        }

        @Override
        public boolean prepareSleep() {
            ServerChannel ch = channel;
            try {
                return ch != null && state == State.ESTABLISHED && ch.advertiseAwake(false);
            } catch (InternalError e) {
                sharedMemoryFault(e);
                return false;
            }
        }

        @Override
        public void awake() {
            ServerChannel ch = channel;
            if (ch != null && state == State.ESTABLISHED) {
                try {
                    ch.advertiseAwake(true);
                } catch (InternalError e) {
                    sharedMemoryFault(e);
                }
            }
        }

        // --- ServerChannel.Owner

        @Override
        public void interestChanged() {
            updateInterest();
        }

        @Override
        public void fail(String why) {
            if (LOG.isDebugEnabled()) { // no varargs array or boxed id per hang-up when DEBUG is off
                LOG.debug("connection {} (pid {}): {}", id, pid, why);
            }
            disconnect();
        }

        @Override
        public void violation(String why) {
            PEER_LOG.warn("connection {} (pid {}) broke the protocol: {}; disconnecting it", id, pid, why);
            disconnect();
        }

        @Override
        public void recvRetry() {
            RECV_RETRIES.getAndAdd(Connection.this, 1L);
        }

        @Override
        public boolean paused() {
            return backlogged();
        }
    }

    /** @return the channel's view of this connection */
    ServerChannel.Owner owner() {
        return callbacks;
    }

    /** Re-registers the fd with the interest the current flow control, priority and pending notifications need. */
    synchronized void updateInterest() {
        ServerChannel ch = channel;
        if (ch == null || state != State.ESTABLISHED) {
            return;
        }
        boolean roomSignal = !responseBacklog.isEmpty() && ch.writableSignalsResponseRoom() && !writableMuted;
        int ev = (flowControlState == 0 && !backlogged() ? PollHandlers.POLLIN : 0)
                | (ch.notificationsPending() || roomSignal ? PollHandlers.POLLOUT : 0);
        try {
            service.pollHandlers().dispatchMod(priority, ch.fd(), ev, callbacks);
        } catch (IpcException e) {
            LOG.debug("dispatch_mod on connection {}: {}", id, e.getMessage());
        }
        if ((ev & PollHandlers.POLLIN) != 0 && drainResume) {
            drainResume = false;
            service.pollHandlers().jobAdd(priority, callbacks);
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
        this.statsFlowControlState = flowControlState;
        ch.setFlowControl(rl.flowControl());
    }

    void markEstablished() {
        state = State.ESTABLISHED;
    }

    /**
     * Marks the connection established and starts watching the channel's fds (on the loop thread, after the
     * handshake response went out), with the interest the current flow control asks for.
     */
    synchronized void register() {
        state = State.ESTABLISHED;
        ServerChannel ch = channel;
        PollHandlers poll = service.pollHandlers();
        if (poll instanceof EventLoop loop && loop.drains() && ch.drainable()) {
            drainLoop = loop;
        }
        poll.dispatchAdd(priority, ch.fd(), flowControlState == 0 ? PollHandlers.POLLIN : 0, callbacks);
        if (ch.livenessFd() >= 0) {
            poll.dispatchAdd(priority, ch.livenessFd(), PollHandlers.POLLIN, callbacks);
        }
        if (poll instanceof EventLoop && ch.pollable()) {
            ((EventLoop) poll).addSpinner(callbacks);
        } else if (poll instanceof EventLoop loop && !socketCounted) {
            socketCounted = loop.addSocketConnection();
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
            statsFlowControlState = flowControlState;
            FLOW_CONTROL_COUNT.getAndAdd(this, 1L);
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
        ServerChannel ch = channel;
        // Under the lock updateInterest holds from its state check to its dispatchMod: an application thread that
        // passed that check must not re-register this fd after it was closed here, when a new connection may
        // already have been given the same number (its registration would get this connection's handler).
        synchronized (this) {
            if (state != State.SHUTTING_DOWN) {
                state = State.SHUTTING_DOWN;
            }
            if (ch != null) {
                if (service.pollHandlers() instanceof EventLoop) {
                    ((EventLoop) service.pollHandlers()).removeSpinner(callbacks);
                    if (socketCounted) {
                        ((EventLoop) service.pollHandlers()).removeSocketConnection();
                        socketCounted = false;
                    }
                    // A listed connection leaves the loop's draining list at the end of the pass (it is not
                    // ESTABLISHED any more); the list is not touched here, which may be another thread
                    // (Service.close).
                }
                service.pollHandlers().dispatchDel(ch.fd());
                if (ch.livenessFd() >= 0) {
                    service.pollHandlers().dispatchDel(ch.livenessFd());
                }
                ch.closeSocket();
            }
        }
        state = State.CLOSED;
        responseBacklog.clear();
        eventBacklog.clear();
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
                PEER_LOG.warn("connection {}: late shared-memory fault during teardown: {}", id, e.getMessage());
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
        REFS.getAndAdd(this, 1);
    }

    /** Takes a reference unless the last one is already gone (then destroying has begun). */
    boolean tryRef() {
        for (;;) {
            int r = refs;
            if (r <= 0) {
                return false;
            }
            if (REFS.compareAndSet(this, r, r + 1)) {
                return true;
            }
        }
    }

    /** Gives a reference back; the last one destroys the connection ({@code qb_ipcs_connection_unref}). */
    public void unref() {
        int left = (int) REFS.getAndAdd(this, -1) - 1;
        if (left == 0) {
            service.destroyConnection(this);
        } else if (left < 0) {
            REFS.getAndAdd(this, 1);
            LOG.warn("unref of connection {} without a reference", id);
        }
    }

    /** @return the current reference count */
    public int refCount() {
        return refs;
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
     *
     * @param uid the user id
     * @param gid the group id
     * @param mode the permission bits, e.g. {@code 0660}
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
     * @param clearAfterRead zero the statistics after reading, all but the client's pid, as libqb does (its
     *         {@code flowControlState} too: it reads 0 until the flag changes again; flow control itself stays)
     * @return the connection's counters
     */
    public ConnectionStats stats(boolean clearAfterRead) {
        synchronized (callbacks) {
            return readStats(clearAfterRead);
        }
    }

    private ConnectionStats readStats(boolean clearAfterRead) {
        ServerChannel ch = channel;
        long req = requests;
        long loopResp = loopResponses;
        // Counters any thread increments are read and zeroed in one atomic step when clearing: an increment landing
        // between a read and a separate zeroing store would be lost from both this read and the next.
        ConnectionStats s = new ConnectionStats(pid, req - requestsCleared,
                take(RESPONSES, clearAfterRead) + loopResp - loopResponsesCleared, take(EVENTS, clearAfterRead),
                take(SEND_RETRIES, clearAfterRead), take(RECV_RETRIES, clearAfterRead), statsFlowControlState,
                take(FLOW_CONTROL_COUNT, clearAfterRead), ch == null ? 0 : ch.eventQueueLength());
        if (clearAfterRead) {
            requestsCleared = req;
            loopResponsesCleared = loopResp;
            statsFlowControlState = 0;
        }
        return s;
    }

    /** @return the counter's value, zeroed in the same atomic step when {@code clear} */
    private long take(VarHandle counter, boolean clear) {
        return clear ? (long) counter.getAndSet(this, 0L) : (long) counter.getVolatile(this);
    }

    /**
     * @return the agreed buffer size: the largest message either side may send (already set in
     *         {@link ServiceHandler#accept})
     */
    public int bufferSize() {
        return maxMsgSize;
    }

    /**
     * @return the buffer size the client asked for in its connection request (the agreed {@link #bufferSize()} may
     *         be larger, {@link Service#enforceBufferSize}, or smaller, {@link Service#setMaxBufferSize})
     */
    public long requestedBufferSize() {
        return requestedBufferSize;
    }

    void setBufferSizes(long requested, int agreed) {
        this.requestedBufferSize = requested;
        this.maxMsgSize = agreed;
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

    /**
     * Attaches an application object to this connection ({@code qb_ipcs_context_set}).
     *
     * @param context any object, or {@code null}
     */
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
