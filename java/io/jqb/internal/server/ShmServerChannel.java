package io.jqb.internal.server;

import static io.jqb.internal.posix.Posix.C;

import io.jqb.Errno;
import io.jqb.IpcException;
import io.jqb.PollHandlers;
import io.jqb.internal.posix.LibC;
import io.jqb.internal.posix.Posix;
import io.jqb.internal.ring.ShmRing;
import io.jqb.internal.setup.UnixSocket;
import io.jqb.internal.wire.ConnectionResponseDescriptor;
import io.jqb.internal.wire.RingHeaderDescriptor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Server side of one SHM connection: the three rings it created and the setup socket that carries doorbell bytes.
 *
 * <p>Requests: the client commits a chunk, posts the request semaphore, then writes one byte. The loop serves as many
 * chunks as the semaphore shows (capped by priority) and drains as many bytes, so level-triggered readiness wakes
 * it again for whatever is left. Responses: commit and post, no byte. Events: commit, post, then one 0x00 byte
 * (counted when the socket is full, and resent on every later event send and on POLLOUT, as libqb does).</p>
 *
 * <p>Locks ({@link AbstractServerChannel}): {@code responseLock} serialises response writers, {@code eventLock} event
 * writers and the socket's lifetime (so no thread can write a doorbell into a closed, reused fd). The request ring is
 * the loop's alone.</p>
 */
public final class ShmServerChannel extends AbstractServerChannel {
    private static final int DRAIN = 256;
    /**
     * Doorbell bytes of served requests a native client's connection may leave unread while its ring still shows
     * requests ({@link #drain}): one recv per this many requests while the client pipelines. Small against the ≈ 278
     * one-byte sends a default stream socket holds, so the client keeps room to post.
     */
    static final int DEFER_DRAIN = 32;
    /** Most outstanding notification bytes sent by one send(2). */
    private static final int NOTIFY_CHUNK = 256;

    private final int fd;
    private final ShmRing request;
    private final ShmRing response;
    private final ShmRing event;
    private final RequestReader requestReader;
    private final AtomicInteger pendingNotifications = new AtomicInteger();
    /** Zero bytes for event notifications; another area for draining doorbells (loop thread only). */
    private final long notifyBytes;
    private final long drainBuf;
    private int owedBytes;
    /** Tests only: passes whose doorbell recv was deferred ({@link #drain}); loop thread only. */
    int deferredDrains;
    /** Notification bytes owed for events sent by {@link #sendEventDeferred}; guarded by eventLock. */
    private int deferredNotifications;
    /** The client is jqb and may skip doorbell bytes while we advertise that we poll; loop thread only. */
    private boolean jqbPeer;
    private boolean polled;
    /**
     * The loop advertises {@link RingHeaderDescriptor#READER_SPINNING} on the request ring: requests are found from
     * write_pt, not from the semaphore (a jqb client skips the post). Loop thread only.
     */
    private boolean spinningOnWritePt;
    /**
     * A blocking loop advertises {@link RingHeaderDescriptor#READER_POLLING} on the request ring while it drains it
     * ({@link #advertiseDraining()}, {@link #settleDraining()}). Loop thread only; the flag itself is never read
     * back (a client may scribble it: that only makes its own doorbells go missing or not).
     */
    private boolean drainAdvertised;

    private ShmServerChannel(int fd, ShmRing request, ShmRing response, ShmRing event, Owner owner) {
        super(owner);
        this.fd = fd;
        this.request = request;
        this.response = response;
        this.event = event;
        this.requestReader = new RequestReader();
        this.notifyBytes = Posix.allocate(NOTIFY_CHUNK);
        this.drainBuf = Posix.allocate(DRAIN);
    }

    /**
     * Creates the request, response and event rings under {@code dir} (in that order, as libqb does).
     */
    public static ShmServerChannel create(int fd, String dir, String service, int maxMsgSize, int uid, int gid,
            int mode, Owner owner) throws IpcException {
        String name = service.length() > 200 ? service.substring(0, 200) : service;
        ShmRing req = null;
        ShmRing resp = null;
        ShmRing ev = null;
        try {
            req = ShmRing.create(dir + "/qb-request-" + name, maxMsgSize, uid, gid, mode);
            resp = ShmRing.create(dir + "/qb-response-" + name, maxMsgSize, uid, gid, mode);
            ev = ShmRing.create(dir + "/qb-event-" + name, maxMsgSize, uid, gid, mode);
            return new ShmServerChannel(fd, req, resp, ev, owner);
        } catch (RuntimeException | Error e) {
            // Also an OutOfMemoryError: nothing of this connection may outlive a failed set-up.
            if (ev != null) {
                ev.close(true);
            }
            if (resp != null) {
                resp.close(true);
            }
            if (req != null) {
                req.close(true);
            }
            throw e;
        }
    }

    private static String base(ShmRing r) {
        String h = r.headerPath();
        return h.substring(0, h.length() - "-header".length());
    }

    @Override
    public int connectionType() {
        return ConnectionResponseDescriptor.TYPE_SHM;
    }

    @Override
    public String requestPath() {
        return base(request);
    }

    @Override
    public String responsePath() {
        return base(response);
    }

    @Override
    public String eventPath() {
        return base(event);
    }

    @Override
    public int fd() {
        return fd;
    }

    @Override
    int writeResponse(ByteBuffer msg) {
        return response.write(msg);
    }

    @Override
    int writeResponse(ByteBuffer[] msgs) {
        return response.write(msgs);
    }

    @Override
    int writeEvent(ByteBuffer msg) {
        return notified(event.write(msg));
    }

    @Override
    int writeEvent(ByteBuffer[] msgs) {
        return notified(event.write(msgs));
    }

    /**
     * Writes the event and posts it, but owes the notification byte: {@link #flushDeferredNotifications()} sends all
     * bytes owed in one send(2). A native client counts bytes, not send calls (the setup socket is a stream, and
     * libqb's {@code qb_ipcc_event_recv} reads one byte per event), so N events announced by one N-byte send are
     * what N single-byte sends would be; only the announcement comes at the end of the loop's dispatch pass.
     */
    @Override
    public int sendEventDeferred(ByteBuffer msg) {
        synchronized (eventLock) {
            if (!open) {
                return -Errno.ENOTCONN;
            }
            int rc = event.write(msg);
            if (rc >= 0) {
                deferredNotifications++;
            } else if (rc == Errno.WOULD_BLOCK) {
                // A full ring: the client must hear of what it holds now, or a caller that retries inside its
                // callback (the pass cannot end) would wait for a client asleep in poll (EventNotificationTest).
                flushDeferredLocked();
                if (pendingNotifications.get() > 0) {
                    resendNotifications();
                }
            }
            return rc;
        }
    }

    /**
     * Under {@code responseLock}, as a response send: a handler's thread asks this before its response while another
     * thread may {@link #destroy()} the connection (the rings unmapped: a read there would be a SIGSEGV, which the
     * guard does not repair).
     */
    @Override
    public boolean requestsQueued() {
        synchronized (responseLock) {
            return open && !destroyed && request.queued();
        }
    }

    @Override
    public void flushDeferredNotifications() {
        synchronized (eventLock) {
            flushDeferredLocked();
        }
    }

    /** Under eventLock: sends the deferred notification bytes, as many per send(2) as the socket takes. */
    private void flushDeferredLocked() {
        int owed = deferredNotifications;
        deferredNotifications = 0;
        if (owed == 0 || !open) {
            return;
        }
        if (pendingNotifications.get() == 0) {
            long n = C.send(fd, notifyBytes, Math.min(owed, NOTIFY_CHUNK), LibC.MSG_DONTWAIT | LibC.MSG_NOSIGNAL);
            owed -= n > 0 ? (int) n : 0;
            if (owed == 0) {
                return;
            }
        }
        // The socket is full (or took only part): the rest is owed as for a full socket, resent on every later
        // event send and on POLLOUT.
        if (pendingNotifications.getAndAdd(owed) == 0) {
            owner.interestChanged();
        }
        resendNotifications();
    }

    /**
     * Under eventLock, after an event write: one notification byte per event, as libqb 2.0.6 does it
     * ({@code new_event_notification} / {@code resend_event_notifications} in lib/ipcs.c). While any byte is
     * outstanding (the socket was full), every event send, successful or not, first tries to send all outstanding
     * bytes: a server that sends from inside a callback and retries on a full ring must not depend on the loop
     * dispatching POLLOUT, which it cannot do while that callback runs (the client would sleep in poll with its
     * ring full of events nobody told it about).
     */
    private int notified(int rc) {
        if (rc >= 0) {
            if (pendingNotifications.get() == 0
                    && C.send(fd, notifyBytes, 1, LibC.MSG_DONTWAIT | LibC.MSG_NOSIGNAL) == 1) {
                return rc;
            }
            if (pendingNotifications.getAndIncrement() == 0) {
                owner.interestChanged();
            }
            resendNotifications();
        } else if (rc == Errno.WOULD_BLOCK && pendingNotifications.get() > 0) {
            resendNotifications();
        }
        return rc;
    }

    /** Under eventLock: sends as many outstanding notification bytes as the socket takes. */
    private void resendNotifications() {
        int owed;
        while (open && (owed = pendingNotifications.get()) > 0) {
            long n = C.send(fd, notifyBytes, Math.min(owed, NOTIFY_CHUNK), LibC.MSG_DONTWAIT | LibC.MSG_NOSIGNAL);
            if (n <= 0) {
                return;
            }
            if (pendingNotifications.addAndGet((int) -n) == 0) {
                owner.interestChanged();
                return;
            }
        }
    }

    private void flushNotifications() {
        synchronized (eventLock) {
            resendNotifications();
        }
    }

    @Override
    public boolean notificationsPending() {
        return pendingNotifications.get() > 0;
    }

    @Override
    public boolean onEvents(int revents, int budget, RequestSink sink) {
        if ((revents & (PollHandlers.POLLHUP | PollHandlers.POLLERR | PollHandlers.POLLNVAL)) != 0) {
            owner.fail("socket hang-up");
            return false;
        }
        if ((revents & PollHandlers.POLLOUT) != 0) {
            flushNotifications();
        }
        if ((revents & PollHandlers.POLLIN) == 0) {
            return true;
        }
        if (flowControl != 0 || owner.paused()) {
            // Paused since epoll reported the doorbell (flow control, or a backlog, set in this pass or by another
            // thread; the fd's interest no longer has POLLIN): as libqb (protocol doc 5.2 step 3), read nothing.
            // The doorbells stay in the socket, so the resumption's POLLIN serves the requests they announce;
            // reading them here would leave those requests waiting for the client's next doorbell.
            return true;
        }
        boolean owed = owedBytes > 0;
        int served = serve(budget, sink);
        if (served == 0 && !owed && !request.headerAccessible()) {
            // A doorbell without a request, and the header is gone: the client truncated it. HotSpot skipped the
            // faulting loads (serve saw garbage, typically "nothing queued") and throws the InternalError only at
            // some later VM transition or safepoint, possibly never while the loop sleeps, or in unrelated code.
            // So check for ourselves, off the hot path: only on a doorbell that found no work (one syscall).
            owner.violation("request ring header unreadable (file truncated)");
            return false;
        }
        return served >= 0 && drain(served);
    }

    @Override
    public boolean pollable() {
        return true;
    }

    @Override
    public void setJqbPeer(boolean jqbPeer, boolean writePtDetect) {
        this.jqbPeer = jqbPeer;
        request.setDetect(writePtDetect);
        response.setDetect(writePtDetect);
    }

    @Override
    public boolean pollRequests(int budget, RequestSink sink) {
        polled = true;
        if (!open || flowControl != 0 || owner.paused()) {
            return false;
        }
        request.checkMapped();
        if (!spinningOnWritePt && request.semaphore().value() == 0) {
            return false;
        }
        int served = serve(budget, sink);
        if (served > 0 && !jqbPeer) {
            // A native client sends one byte per request; the loop drains them when epoll reports them.
            owedBytes += served;
        }
        return served > 0;
    }

    @Override
    public boolean advertiseAwake(boolean awake) {
        if (!open) {
            return false;
        }
        request.checkMapped();
        if (awake) {
            spinningOnWritePt = request.detect();
            request.setConsumerAwake(spinningOnWritePt ? RingHeaderDescriptor.READER_SPINNING
                    : RingHeaderDescriptor.READER_POLLING);
            return false;
        }
        // A pending request does not keep the loop awake while the connection is paused (flow control, or its
        // response backlog: pollRequests reads nothing then, so "pending" would spin the loop at full CPU until the
        // client reads). The backlog's flush is a timer on this loop: it wakes the loop, and the loop polls again.
        if (request.detect()) {
            // Flag 0, fence, stale tokens taken, ring re-checked: a chunk whose post was skipped is seen here.
            spinningOnWritePt = false;
            return request.prepareSleep() && flowControl == 0 && !owner.paused();
        }
        request.setConsumerAwake(RingHeaderDescriptor.READER_ASLEEP);
        return flowControl == 0 && !owner.paused() && request.semaphore().value() > 0;
    }

    @Override
    public boolean drainable() {
        return jqbPeer;
    }

    @Override
    public void advertiseDraining() {
        if (!drainAdvertised && open) {
            request.checkMapped();
            request.setConsumerAwake(RingHeaderDescriptor.READER_POLLING);
            drainAdvertised = true;
            polled = true; // doorbells may be skipped from now on: drain whatever bytes are there, owe none
        }
    }

    @Override
    public int settleDraining() {
        if (!open) {
            drainAdvertised = false;
            return DRAIN_IDLE;
        }
        request.checkMapped();
        if (flowControl != 0 || owner.paused()) {
            // Not read meanwhile: a kept advertisement would spin the loop on requests it may not serve. The
            // connection re-checks the ring when it is resumed (its skipped doorbells make no fd readable).
            withdrawDraining();
            return DRAIN_PAUSED;
        }
        if (request.semaphore().value() > 0) {
            // Still busy (a batch cap, or requests posted while it was served): keep the flag, serve again.
            advertiseDraining();
            return DRAIN_KEEP;
        }
        // Dekker: the volatile store of ASLEEP is ordered before the semaphore's volatile read (a full fence).
        if (withdrawDraining()) {
            advertiseDraining();
            return DRAIN_KEEP;
        }
        return DRAIN_IDLE;
    }

    /** Flag {@code READER_ASLEEP} (a volatile store: full fence), then the semaphore. @return requests queued */
    private boolean withdrawDraining() {
        if (drainAdvertised) {
            drainAdvertised = false;
            request.setConsumerAwake(RingHeaderDescriptor.READER_ASLEEP);
            Runnable hook = withdrawHook;
            if (hook != null) {
                hook.run();
            }
        }
        return request.semaphore().value() > 0;
    }

    /**
     * Tests only: runs on the loop thread between a withdrawal's flag store and its semaphore read, where a test
     * posts a request as a client does that read the flag before the store (and so rang no doorbell); null: none.
     */
    static volatile Runnable withdrawHook;

    /** @return requests served (≥ 0), or -1 after {@link Owner#fail} */
    private int serve(int budget, RequestSink sink) {
        int served = 0;
        if (flowControl == 0) {
            request.checkMapped();
            final RequestReader reader = requestReader;
            final boolean byWritePt = spinningOnWritePt;
            int avail = byWritePt ? budget : Math.min(request.semaphore().value(), budget);
            for (; served < avail && open && !owner.paused(); served++) {
                int rc = reader.read(sink, byWritePt);
                if (rc == Errno.WOULD_BLOCK) {
                    if (!byWritePt && !request.detect()) {
                        owner.recvRetry(); // (between jqb ends a token without a chunk is a stale one, no retry)
                    }
                    break;
                }
                if (rc == RequestReader.BAD_HEADER) {
                    owner.violation(reader.badHeader());
                    return -1;
                }
                if (rc < 0) {
                    owner.violation("corrupt request ring (" + Errno.name(rc) + ")");
                    return -1;
                }
                if (rc == RequestReader.BACK_OFF) {
                    served++; // back-off, as libqb: this one is consumed, the rest waits for the next wake-up
                    break;
                }
            }
        }
        return served;
    }

    /**
     * Hands each request chunk to the connection's sink as a read-only view (no copy); made once per channel, the
     * loop thread's alone, so serving allocates nothing.
     */
    private final class RequestReader implements ShmRing.ChunkHandler {
        /** The sink asked to end the batch (libqb's back-off); the request is consumed. */
        static final int BACK_OFF = 0;
        static final int MORE = 1;
        /** The request header's size does not fit the chunk: the chunk stays, the connection is dropped. */
        static final int BAD_HEADER = Integer.MIN_VALUE;
        private final ByteBuffer view = request.view().asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
        private RequestSink sink;
        private int badLength;
        private int badOffset;

        /** @param byWritePt find the chunk from write_pt ({@link ShmRing#readDetected}) instead of a token */
        int read(RequestSink to, boolean byWritePt) {
            sink = to;
            try {
                return byWritePt ? request.readDetected(this) : request.read(this);
            } finally {
                sink = null;
            }
        }

        @Override
        public int onChunk(ShmRing ring, int offset, int length) {
            view.clear();
            int size = requestSize(view, offset, length);
            if (size < 0) {
                badOffset = offset;
                badLength = length;
                return BAD_HEADER;
            }
            view.position(offset).limit(offset + size);
            return sink.onRequest(view) ? MORE : BACK_OFF;
        }

        /** Why the last {@link #BAD_HEADER} was refused (the chunk is still in the ring: its header is readable). */
        String badHeader() {
            return badRequest("chunk", view, badOffset, badLength);
        }
    }

    /**
     * Reads the doorbell bytes owed for served chunks (at least one, to notice EOF), or for a native client with
     * requests still posted defers them (fewer than {@link #DEFER_DRAIN} owed). Never more than owed: the bytes of
     * requests not yet served stay, and keep the fd readable for them. A jqb client skips bytes while a spinning or
     * draining loop polls its ring, so for it whatever is there is drained and nothing is owed.
     */
    private boolean drain(int served) {
        if (jqbPeer && polled) {
            owedBytes = DRAIN;
        } else {
            owedBytes += served;
            if (served > 0 && owedBytes < DEFER_DRAIN && flowControl == 0 && !owner.paused()
                    && request.semaphore().value() > 0) {
                // Requests are still posted, so a doorbell byte is in the socket or coming (a client posts, then
                // sends its byte): epoll reports the fd again and the next pass serves on. The bytes owed for the
                // requests served so far are read later in one recv, with those of the next batches: a pipelining
                // native client keeps the loop at one recv per DEFER_DRAIN requests instead of one per batch.
                deferredDrains++;
                return true;
            }
        }
        int want = Math.min(Math.max(owedBytes, 1), DRAIN);
        long n = C.recv(fd, drainBuf, want, LibC.MSG_DONTWAIT);
        if (n == 0) {
            owner.fail("client closed the socket");
            return false;
        }
        if (n > 0) {
            owedBytes = (int) Math.max(0, owedBytes - n);
            return true;
        }
        int e = Posix.errno();
        if (e == Errno.EAGAIN || e == Errno.EINTR) {
            return true;
        }
        owner.fail("recv: " + Errno.name(e));
        return false;
    }

    @Override
    void publishFlowControl(int value) {
        request.setFlowControl(value);
    }

    @Override
    int queuedEvents() {
        try {
            event.checkMapped(); // stats() may run on any thread: a truncated header must not fault later there
            return event.semaphore().value();
        } catch (InternalError e) {
            return 0;
        }
    }

    @Override
    void closeFds() {
        UnixSocket.shutdownAndClose(fd);
    }

    @Override
    void release() {
        // libqb's order: response, event, request; each data then header. ref_count ends at 0.
        for (ShmRing r : new ShmRing[] {response, event, request}) {
            r.decrementRefCount();
            r.close(true);
        }
        Posix.free(notifyBytes, NOTIFY_CHUNK);
        Posix.free(drainBuf, DRAIN);
    }
}
