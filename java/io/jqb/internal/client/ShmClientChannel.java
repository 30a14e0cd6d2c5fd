package io.jqb.internal.client;

import static io.jqb.internal.posix.Posix.C;
import static io.jqb.internal.posix.Posix.MEM;

import io.jqb.Errno;
import io.jqb.IpcException;
import io.jqb.WaitStrategy;
import io.jqb.internal.LazyLogger;
import io.jqb.internal.posix.LibC;
import io.jqb.internal.posix.Posix;
import io.jqb.internal.posix.Processes;
import io.jqb.internal.ring.SharedSemaphore;
import io.jqb.internal.ring.ShmRing;
import io.jqb.internal.setup.UnixSocket;
import io.jqb.internal.wire.RingHeaderDescriptor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Client side of one SHM connection: the three rings the server created, and the setup socket that carries our
 * request doorbells, the server's event notifications and the server's liveness.
 *
 * <p>Waiting: response waits sleep on the ring's shared semaphore in slices and poll the socket between slices, so
 * a dead server is noticed within the caller's timeout (libqb can hang here forever). Event waits poll the socket,
 * which becomes readable when the server commits an event or goes away.</p>
 *
 * <p>Held requests (docs/DESIGN.md, "Doorbells batched while the server is busy"): while the server still has
 * {@link #HOLD_AT} or more posted requests to serve, a send commits its chunk without the post and without the
 * doorbell byte; the held requests are released (posts, then ONE send of as many bytes) once the server is down to
 * {@link #RELEASE_AT}, once {@link #BATCH} are held, before any wait of this client, and by the
 * {@link DoorbellFlusher} when the application stops calling.</p>
 */
public final class ShmClientChannel extends AbstractClientChannel {
    private static final LazyLogger LOG = new LazyLogger(ShmClientChannel.class);

    private final int fd;
    private final int serverPid;
    private final ShmRing request;
    private final ShmRing response;
    private final ShmRing event;
    /**
     * Native scratch slots, 8 bytes each (a pollfd is 8): the doorbell byte we send, the event byte we drain, the
     * pollfd of a send waiting for room, the int for setsockopt(SO_SNDBUF) (checkConnected runs on any thread: its
     * pollfd is its own), the pollfd of an event wait. Each slot is used under its direction's lock.
     */
    private static final int DOORBELL_SLOT = 0;
    private static final int EVENT_BYTE_SLOT = 8;
    private static final int SEND_POLL_SLOT = 16;
    private static final int SNDBUF_SLOT = 24;
    private static final int EVENT_POLL_SLOT = 32;
    private static final int SCRATCH_LENGTH = 40;
    private final long scratch;
    /*
     * H, L and B below were chosen by A/B runs (benchmarks/performance-notes.md, "doorbells batched"); the system
     * properties exist for such runs only (a quiet machine may pick other values), not as a user setting.
     */
    /** Start holding requests when the server has at least this many posted requests left to serve (H). */
    static final int HOLD_AT = Integer.getInteger("jqb.client.doorbellHoldAt", 16);
    /** Release held requests when the server is down to this many posted requests (L). */
    static final int RELEASE_AT = Integer.getInteger("jqb.client.doorbellReleaseAt", 4);
    /** Release held requests once this many are held (B): one doorbell send per BATCH requests at most. */
    static final int BATCH = Integer.getInteger("jqb.client.doorbellBatch", 64);
    /** How long a wait sleeps at most between release attempts while requests are held. */
    private static final long HELD_SLICE_NANOS = 1_000_000L;
    /** How long close waits for doorbell room for released requests (a live server that reads makes it at once). */
    private static final long CLOSE_PAY_NANOS = 1_000_000_000L;
    /** Doorbell bytes per send(2) of a release (their values mean nothing to the server). */
    private static final int PAY_BYTES = 512;
    /** PAY_BYTES zero bytes; used under the send lock. */
    private final long payBytes;
    /** The caller's send lock ({@link #attachSendLock}): held-request state is guarded by it. */
    private ReentrantLock sendLock;
    /** Requests committed without their post (= request.heldPosts()); written under the send lock. */
    private volatile int held;
    /** Requests posted whose doorbell byte did not fit and could not be taken back; written under the send lock. */
    private volatile int owed;
    /** System.nanoTime() when the oldest held request was held; written under the send lock. */
    private volatile long heldSince;
    /** Threads waiting for a response: a sender then releases what it holds (Dekker, see {@link #sendHeld}). */
    private final AtomicInteger waiting = new AtomicInteger();
    /** Watched by the {@link DoorbellFlusher}; written under its lock. */
    volatile boolean watched;
    /** The flusher's own: when this client last had requests held. */
    long lastPendingNanos;
    /** Requests ever held, and releases of held requests (tests, benchmarks); under the send lock. */
    private long heldTotal;
    private long releaseTotal;
    private int owedEventBytes;
    /** No flusher can run (its thread could not be started): this client never holds again. */
    private volatile boolean holdOff;
    private boolean closed;
    /** The doorbell socket's send buffer was enlarged ({@link #growDoorbellBuffer}); done at most once. */
    private boolean doorbellBufferGrown;
    /** The server is jqb: while its loop advertises that it polls our request ring, doorbells may be skipped. */
    private final boolean jqbServer;
    private volatile WaitStrategy waitStrategy = WaitStrategy.block();
    /** One reader per direction: a response and an event can be received at once on two threads. */
    private final Reader responseReader = new Reader(0);
    private final Reader eventReader = new Reader(1);
    /**
     * We advertise {@link RingHeaderDescriptor#READER_SPINNING} on the response ring (a jqb server then skips the
     * post): responses are found from write_pt until {@link ShmRing#prepareSleep} withdraws it. Under recvLock.
     */
    private boolean responseSpinning;

    private ShmClientChannel(int fd, int serverPid, ShmRing request, ShmRing response, ShmRing event,
            int jqbCapability) {
        super(request.headerPath());
        this.fd = fd;
        this.serverPid = serverPid;
        this.jqbServer = jqbCapability > 0;
        this.request = request;
        this.response = response;
        this.event = event;
        this.scratch = Posix.allocate(SCRATCH_LENGTH);
        this.payBytes = Posix.allocate(PAY_BYTES);
        // write_pt detection only when the server echoed "JQB2" (it detects too); "JQB1": doorbell elision only.
        request.setDetect(jqbCapability == 2);
        response.setDetect(jqbCapability == 2);
    }

    /**
     * Opens the three rings named in the connection response (request, response, event).
     *
     * @param jqbCapability what the server echoed: 0 libqb, 1 "JQB1", 2 "JQB2" ({@link ClientHandshake#jqbServer})
     */
    public static ShmClientChannel open(int fd, int serverPid, String requestBase, String responseBase,
            String eventBase, int maxMsgSize, int jqbCapability) throws IpcException {
        ShmRing req = ShmRing.open(requestBase, maxMsgSize);
        ShmRing resp = null;
        ShmRing ev = null;
        try {
            resp = ShmRing.open(responseBase, maxMsgSize);
            ev = ShmRing.open(eventBase, maxMsgSize);
            return new ShmClientChannel(fd, serverPid, req, resp, ev, jqbCapability);
        } catch (RuntimeException e) {
            if (ev != null) {
                ev.decrementRefCount();
                ev.close(false);
            }
            if (resp != null) {
                resp.decrementRefCount();
                resp.close(false);
            }
            req.decrementRefCount();
            req.close(false);
            throw e;
        }
    }

    @Override
    public int fd() {
        return fd;
    }

    // ------------------------------------------------------------------------------------------- requests

    private int checkSendable(int fcEnableMax) {
        if (!connected) {
            return -Errno.ENOTCONN;
        }
        // The server holds one reference and we hold one; anything else means it has let go of us.
        if (request.refCount() != 2) {
            connected = false;
            return -Errno.ENOTCONN;
        }
        return flowControlled(request.flowControl(), fcEnableMax);
    }

    @Override
    public int send(ByteBuffer msg, int fcEnableMax) {
        int rc = checkSendable(fcEnableMax);
        if (rc < 0) {
            return rc;
        }
        if ((held | owed) != 0 || shouldHold()) {
            return sendHeld(msg, null);
        }
        rc = request.write(msg);
        if (rc < 0) {
            return rc;
        }
        return doorbell(rc > 0 ? msg.get(msg.position()) : 0) ? rc : -Errno.ENOTCONN;
    }

    @Override
    public int send(ByteBuffer[] msgs, int fcEnableMax) {
        int rc = checkSendable(fcEnableMax);
        if (rc < 0) {
            return rc;
        }
        if ((held | owed) != 0 || shouldHold()) {
            return sendHeld(null, msgs);
        }
        rc = request.write(msgs);
        if (rc < 0) {
            return rc;
        }
        return doorbell((byte) rc) ? rc : -Errno.ENOTCONN;
    }

    @Override
    public void attachSendLock(ReentrantLock lock) {
        this.sendLock = lock;
    }

    /**
     * Whether this send should hold its request back: the server still has {@link #HOLD_AT} posted requests to serve
     * (a blocking round trip finds 0 and never holds), it needs doorbell bytes (libqb, or a jqb server whose loop is
     * asleep), and no thread of ours waits in a receive. A read of the semaphore's word (the post would write it
     * anyway) and, for a jqb server, of its reader-mode flag.
     */
    private boolean shouldHold() {
        return HOLD_AT > 0 && sendLock != null && !holdOff && request.semaphore().value() >= HOLD_AT && waiting.get() == 0
                && (!jqbServer || request.consumerAwake() == RingHeaderDescriptor.READER_ASLEEP);
    }

    /**
     * A send while holding: the chunk is committed without its post (it queues behind the held ones, a token reader
     * reads in ring order), then the held requests are released when the server is down to {@link #RELEASE_AT}
     * posted requests, when {@link #BATCH} are held, when a receiver of ours waits (it may wait for one of them:
     * the held count is stored before {@link #waiting} is read, a receiver increments it before it reads the held
     * count; one of the two sees the other), or when doorbell bytes are owed. A full request ring is returned as
     * usual, after the same check.
     */
    private int sendHeld(ByteBuffer msg, ByteBuffer[] msgs) {
        request.setHoldPosts(true);
        int rc;
        try {
            rc = msg != null ? request.write(msg) : request.write(msgs);
        } finally {
            request.setHoldPosts(false);
        }
        final int h = request.heldPosts();
        if (h != held) {
            if (held == 0) {
                heldSince = System.nanoTime();
            }
            held = h;
            heldTotal++;
            if (!watched && !DoorbellFlusher.watch(this)) {
                // No flusher: nothing would bound the hold. The request is committed, so this send succeeds:
                // release everything now and never hold again.
                return stopHolding() ? rc : -Errno.ENOTCONN;
            }
        }
        if (owed != 0 || h >= BATCH || waiting.get() > 0 || request.semaphore().value() <= RELEASE_AT) {
            if (!release(-1)) {
                return -Errno.ENOTCONN;
            }
        }
        return rc;
    }

    /**
     * Releases the held requests: their posts (full fences), then, unless a jqb server's loop is awake (read after
     * the posts, as {@link #doorbell} does), ONE non-blocking send of as many bytes plus any still owed. A libqb
     * server reads one byte per request it served, blocking, after serving it; so a post must never be left without
     * its byte coming. For bytes that did not fit, the posts are taken back ({@code sem_trywait}): the last chunks
     * are held again. A take-back that fails means the server already took that token and is (or will be) reading
     * for its byte: that byte is owed, and is sent as the server drains the socket, waiting for room as long as
     * {@code waitNanos} allows (0: not at all; the flusher and the next call go on with it).
     *
     * <p>Under the send lock. Allocates nothing.</p>
     *
     * @param waitNanos how long to wait for room for owed bytes: 0 not at all, negative until sent (or the server is
     *        gone, or the client aborted), positive at most that long
     * @return false when the socket failed (the connection is then marked disconnected)
     */
    private boolean release(long waitNanos) {
        final int k = request.releaseHeldPosts();
        int forPosts = 0;
        if (k > 0) {
            releaseTotal++;
            if (!jqbServer || request.consumerAwake() == RingHeaderDescriptor.READER_ASLEEP) {
                forPosts = k;
            }
        }
        final int need = owed + forPosts;
        final int sent = sendBytes(need);
        if (sent < 0) {
            if (k > 0) {
                held = 0; // every post went out
            }
            connected = false;
            return false;
        }
        int missing = need - sent;
        int takenBack = 0;
        while (takenBack < Math.min(missing, forPosts) && request.semaphore().tryWait()) {
            request.postTakenBack();
            takenBack++;
        }
        if (takenBack > 0) {
            heldSince = System.nanoTime();
        }
        if (k > 0) {
            // One store of what is held now (0 unless posts were taken back): a thread reading `held` without the
            // send lock (the flusher, a waiting receiver, tests) never sees a 0 that lasts only until the take-back.
            held = request.heldPosts();
        }
        // A jqb server whose token was taken back is awake (the taker: its loop, or prepareSleep before it sleeps,
        // which re-checks the ring) and counts no bytes: nothing is owed to it. Owing would make a sender wait for
        // room on the socket of a server paused on its response backlog (a single-threaded app: a deadlock).
        owed = jqbServer ? 0 : missing - takenBack;
        if ((held | owed) != 0 && !watched && !DoorbellFlusher.watch(this)) {
            // Taken back or owed after a hold too short for the flusher to have seen: watch them (stored first; the
            // flusher clears `watched` before it reads them: Dekker, as in sendHeld). No flusher: send them now.
            return stopHolding();
        }
        return owed == 0 || waitNanos == 0 || payOwed(waitNanos);
    }

    /**
     * No flusher can run: holding ends for this client. Posts what is held and sends every byte it needs (and those
     * owed), waiting for room as long as it takes (the server reads them as it serves those requests). Under the
     * send lock.
     *
     * @return false when the socket failed, the server is gone or the client aborted
     */
    private boolean stopHolding() {
        holdOff = true;
        final int k = request.releaseHeldPosts();
        if (k > 0) {
            held = 0;
            releaseTotal++;
            if (!jqbServer || request.consumerAwake() == RingHeaderDescriptor.READER_ASLEEP) {
                owed += k;
            }
        }
        return owed == 0 || payOwed(-1);
    }

    /** @return whether this client stopped holding for good (no flusher could run; tests) */
    public boolean holdingOff() {
        return holdOff;
    }

    /**
     * Sends up to {@code n} doorbell bytes without blocking.
     *
     * @return how many were sent, or -1 when the socket failed
     */
    private int sendBytes(int n) {
        int sent = 0;
        while (sent < n) {
            long r = C.send(fd, payBytes, Math.min(n - sent, PAY_BYTES), LibC.MSG_NOSIGNAL | LibC.MSG_DONTWAIT);
            if (r > 0) {
                sent += (int) r;
                continue;
            }
            int e = Posix.errno();
            if (e == Errno.EINTR) {
                continue;
            }
            return e == Errno.EAGAIN ? sent : -1;
        }
        return sent;
    }

    /**
     * Sends the owed doorbell bytes, waiting for room in poll slices (the server that took their tokens reads the
     * socket).
     *
     * @param waitNanos negative: until sent, the server is gone or the client aborted; positive: at most that long
     * @return false when the socket failed, the server is gone or (waiting without a bound) the client aborted
     */
    private boolean payOwed(long waitNanos) {
        final long deadline = WaitSlices.deadline(waitNanos);
        while (owed > 0) {
            int sent = sendBytes(owed);
            if (sent < 0) {
                connected = false;
                return false;
            }
            owed -= sent;
            if (owed == 0) {
                return true;
            }
            if (waitNanos < 0 && aborted) {
                return false;
            }
            int ms = WaitSlices.sliceMillis(waitNanos, deadline);
            if (ms < 0) {
                return true; // still owed: the flusher and the next call go on with it
            }
            try {
                if ((Posix.pollOne(fd, LibC.POLLOUT, ms, scratch + SEND_POLL_SLOT) & DEAD) != 0) {
                    connected = false;
                    return false;
                }
            } catch (IpcException ex) {
                connected = false;
                return false;
            }
        }
        return true;
    }

    /**
     * @return whether requests are held or doorbell bytes owed on a live connection (any thread; the flusher asks:
     *         a connection the server dropped is not worth its time)
     */
    boolean pending() {
        return (held | owed) != 0 && connected;
    }

    /**
     * Before a wait of this client (and between its slices): releases held requests if the send lock is free (a
     * sender that has it releases them itself when it sees {@link #waiting}, or this thread's next slice does), never
     * waiting for room. Not under the send lock.
     */
    private void settle() {
        if ((held | owed) == 0) {
            return;
        }
        final ReentrantLock lock = sendLock;
        if (lock != null && lock.tryLock()) {
            try {
                if (!closed && connected) {
                    release(0);
                }
            } finally {
                lock.unlock();
            }
        }
    }

    /**
     * The flusher's call: releases requests held longer than {@link DoorbellFlusher#FLUSH_AFTER_NANOS} (and owed
     * bytes at once) if the send lock is free; a sender that has it releases them itself.
     */
    void flushIfOverdue(long now) {
        if ((held | owed) == 0 || owed == 0 && now - heldSince < DoorbellFlusher.FLUSH_AFTER_NANOS) {
            return;
        }
        settle();
    }

    /** The flusher ended unexpectedly: releases what is held now if the send lock is free (any thread). */
    void flushNow() {
        settle();
    }

    /** The flusher's release failed with {@code e}: the connection is finished (its next call says ENOTCONN). */
    void flushFailed(Throwable e) {
        connected = false;
        LOG.get().debug("held requests of {} not released: {}", directory, e.toString());
    }

    /** @return requests ever held back (tests); read under the send lock or after the sends */
    public long heldTotal() {
        return heldTotal;
    }

    /** @return releases of held requests, each one doorbell send at most (tests); see {@link #heldTotal} */
    public long releaseTotal() {
        return releaseTotal;
    }

    /** @return the request ring's header file (tests read its semaphore from outside) */
    public String requestHeaderPath() {
        return request.headerPath();
    }

    /** @return the reader-mode flag a jqb server's loop advertises on the request ring now (tests) */
    public int serverReaderMode() {
        return request.consumerAwake();
    }

    /** @return {@link #HOLD_AT}: a send holds once the server has this many posted requests to serve (tests) */
    public static int holdAt() {
        return HOLD_AT;
    }

    /** @return requests held back right now (tests) */
    public int heldNow() {
        return held;
    }

    /**
     * A wait begins: count it (before the held count is read, see {@link #sendHeld}). The caller then releases
     * ({@link #settle}) inside the try whose finally calls {@link #endWait}: a release that throws (a truncated
     * ring) must not leave the count raised, or this client would never hold again.
     */
    private void beginWait() {
        waiting.incrementAndGet();
    }

    private void endWait() {
        waiting.decrementAndGet();
    }

    /**
     * The semaphore post (a full fence), or the fence of a skipped post ({@link ShmRing}'s commit), precedes this
     * read of the reader-mode flag, and a sleeping server clears the flag before it re-checks the ring: one of the
     * two always sees the other (Dekker), so a skipped byte never leaves the server asleep with a request queued.
     * Skipped while the server polls the semaphore (1) or spins on write_pt (2).
     */
    private boolean doorbell(byte b) {
        if (jqbServer && request.consumerAwake() != RingHeaderDescriptor.READER_ASLEEP) {
            return true;
        }
        return ring(b);
    }

    @Override
    public void setWaitStrategy(WaitStrategy strategy) {
        this.waitStrategy = strategy;
    }

    /**
     * Spins, then yields, as the wait strategy says, looking for a token.
     *
     * @return true when a token was taken
     */
    private boolean spinFor(SharedSemaphore sem, long timeoutNanos) {
        final WaitStrategy ws = waitStrategy;
        if (!ws.spins()) {
            return false;
        }
        final long start = System.nanoTime();
        final long limit = timeoutNanos < 0 ? Long.MAX_VALUE : timeoutNanos;
        long lastLiveness = start;
        for (int i = 0;; i++) {
            if (sem.tryWait()) {
                return true;
            }
            if ((i & 63) != 0) {
                Thread.onSpinWait();
                continue;
            }
            if ((held | owed) != 0) {
                settle(); // a sender of ours held requests while we spin
            }
            long now = System.nanoTime();
            long spent = now - start;
            if (spent >= limit) {
                return false;
            }
            if (now - lastLiveness > WaitSlices.SLICE_NANOS) {
                lastLiveness = now;
                if (aborted || !checkConnected()) {
                    return false;
                }
            }
            if (!ws.idle(spent)) {
                return false; // past the spin and yield windows: block
            }
        }
    }

    /** Writes the doorbell byte; the chunk is already committed and posted. */
    private boolean ring(byte b) {
        MEM.writeByte(scratch + DOORBELL_SLOT, b);
        for (;;) {
            long n = C.send(fd, scratch + DOORBELL_SLOT, 1, LibC.MSG_NOSIGNAL | LibC.MSG_DONTWAIT);
            if (n == 1) {
                return true;
            }
            int e = Posix.errno();
            if (e == Errno.EINTR) {
                continue;
            }
            if (e != Errno.EAGAIN) {
                connected = false;
                return false;
            }
            if (!doorbellBufferGrown) {
                doorbellBufferGrown = true;
                if (growDoorbellBuffer()) {
                    continue;
                }
            }
            // The server is not draining doorbells right now; its loop will. Wait for room.
            if (aborted) {
                return false;
            }
            try {
                if ((Posix.pollOne(fd, LibC.POLLOUT, 100, scratch + SEND_POLL_SLOT) & DEAD) != 0) {
                    connected = false;
                    return false;
                }
            } catch (IpcException ex) {
                connected = false;
                return false;
            }
        }
    }

    /**
     * Each queued one-byte doorbell costs a unix stream socket's send buffer a whole kernel buffer (about 768 bytes),
     * so the default buffer (208 KiB) holds only ~278 of them, far fewer than a request ring holds small requests: a
     * client pipelining small requests finds it full all the time and sleeps in poll, and the kernel wakes a stream
     * socket's writer only when its queue is down to a quarter of the buffer (~70 doorbells). If the wake-up takes
     * longer than the server needs for those, the server runs dry and every following doorbell has to wake it.
     * The first time the socket is found full, its send buffer is doubled once: the writer is then woken with twice
     * as many doorbells still queued. (Not more: a client whose queue of doorbells reaches its whole window of
     * outstanding requests waits on the response semaphore for every response instead.) Memory is charged only for
     * doorbells actually queued. Connections that never fill the socket pay nothing.
     *
     * @return true when the buffer grew (retry the send at once)
     */
    private boolean growDoorbellBuffer() {
        long v = scratch + SNDBUF_SLOT;
        int current;
        try {
            current = Posix.getIntOption(fd, LibC.SOL_SOCKET, LibC.SO_SNDBUF, "getsockopt(SO_SNDBUF)");
        } catch (IpcException e) {
            return false;
        }
        // The kernel doubles the value setsockopt is given (its bookkeeping) and caps it at net.core.wmem_max.
        MEM.writeInt(v, current);
        if (C.setsockopt(fd, LibC.SOL_SOCKET, LibC.SO_SNDBUF, v, 4) < 0) {
            LOG.get().debug("setsockopt(SO_SNDBUF, {}): errno {}", current, Posix.errno());
            return false;
        }
        return true;
    }

    // ------------------------------------------------------------------------------------------- receiving

    @Override
    public int recv(ByteBuffer dst, long timeoutNanos) {
        if (response.detect()) {
            return recvDetected(dst, timeoutNanos);
        }
        final Reader reader = responseReader;
        int rc = reader.read(response, dst, false);
        if (rc != Errno.WOULD_BLOCK) {
            return rc;
        }
        final SharedSemaphore sem = response.semaphore();
        beginWait();
        try {
            settle();
            final long t0 = waitStrategy.spins() ? System.nanoTime() : 0;
            if (!spinFor(sem, timeoutNanos)) {
                long left = timeoutNanos <= 0 || t0 == 0 ? timeoutNanos
                        : Math.max(1, timeoutNanos - (System.nanoTime() - t0));
                rc = awaitToken(sem, left);
                if (rc < 0) {
                    return rc;
                }
            }
        } finally {
            endWait();
        }
        return reader.read(response, dst, true);
    }

    /**
     * {@link #recv} from a jqb server with write_pt detection: while the wait strategy spins we advertise
     * {@link RingHeaderDescriptor#READER_SPINNING} and poll write_pt (the server skips its post: no CAS on the
     * semaphore line by either side); before blocking, {@link ShmRing#prepareSleep} withdraws it and re-checks, and
     * a token that finds no chunk (a stale post) is spurious: the wait goes on.
     */
    private int recvDetected(ByteBuffer dst, long timeoutNanos) {
        final Reader reader = responseReader;
        int rc = responseSpinning ? reader.readDetected(response, dst) : reader.read(response, dst, false);
        if (rc != Errno.WOULD_BLOCK) {
            return rc;
        }
        if (timeoutNanos == 0) {
            settle();
            return checkConnected() ? Errno.WOULD_BLOCK : -Errno.ENOTCONN;
        }
        beginWait();
        try {
            settle();
            return awaitDetected(reader, dst, timeoutNanos);
        } finally {
            endWait();
        }
    }

    /** The waiting part of {@link #recvDetected}. */
    private int awaitDetected(Reader reader, ByteBuffer dst, long timeoutNanos) {
        int rc;
        final long start = System.nanoTime();
        final long limit = timeoutNanos < 0 ? Long.MAX_VALUE : timeoutNanos;
        boolean blocking = false;
        for (;;) {
            if (!blocking && waitStrategy.spins()) {
                if (!responseSpinning) {
                    responseSpinning = true;
                    response.setConsumerAwake(RingHeaderDescriptor.READER_SPINNING);
                }
                rc = spinDetected(reader, dst, start, limit);
                if (rc != Errno.WOULD_BLOCK) {
                    return rc;
                }
            }
            blocking = true;
            if (responseSpinning) {
                responseSpinning = false;
                if (response.prepareSleep()) {
                    // A response whose post may have been skipped: read it by write_pt, spinning again.
                    responseSpinning = true;
                    response.setConsumerAwake(RingHeaderDescriptor.READER_SPINNING);
                    rc = reader.readDetected(response, dst);
                    if (rc != Errno.WOULD_BLOCK) {
                        return rc;
                    }
                    continue;
                }
            }
            long left = timeoutNanos < 0 ? timeoutNanos : timeoutNanos - (System.nanoTime() - start);
            if (timeoutNanos > 0 && left <= 0) {
                return checkConnected() ? Errno.TIMED_OUT : -Errno.ENOTCONN;
            }
            rc = awaitToken(response.semaphore(), left);
            if (rc < 0) {
                return rc;
            }
            rc = reader.read(response, dst, true);
            if (rc != Errno.WOULD_BLOCK) {
                return rc;
            }
            // A stale token (posted for a response already read by write_pt): wait again.
        }
    }

    /**
     * Polls write_pt as the wait strategy says (spin, then yield), checking liveness every slice.
     *
     * @return what the read returned, {@link Errno#TIMED_OUT} past the caller's limit, {@code -ENOTCONN}, or
     *         {@link Errno#WOULD_BLOCK} when the strategy says block
     */
    private int spinDetected(Reader reader, ByteBuffer dst, long start, long limit) {
        final WaitStrategy ws = waitStrategy;
        long lastLiveness = System.nanoTime();
        for (int i = 1;; i++) {
            int rc = reader.readDetected(response, dst);
            if (rc != Errno.WOULD_BLOCK) {
                return rc;
            }
            if ((i & 63) != 0) {
                Thread.onSpinWait();
                continue;
            }
            if ((held | owed) != 0) {
                settle();
            }
            long now = System.nanoTime();
            long spent = now - start;
            if (spent >= limit) {
                return checkConnected() ? Errno.TIMED_OUT : -Errno.ENOTCONN;
            }
            if (now - lastLiveness > WaitSlices.SLICE_NANOS) {
                lastLiveness = now;
                if (aborted || !checkConnected()) {
                    return -Errno.ENOTCONN;
                }
            }
            if (!ws.idle(spent)) {
                return Errno.WOULD_BLOCK; // past the spin and yield windows: block
            }
        }
    }

    private int awaitToken(SharedSemaphore sem, long timeoutNanos) {
        if (timeoutNanos == 0) {
            return checkConnected() ? Errno.WOULD_BLOCK : -Errno.ENOTCONN;
        }
        final long deadline = WaitSlices.deadline(timeoutNanos);
        for (;;) {
            long slice = WaitSlices.sliceNanos(timeoutNanos, deadline);
            if (slice < 0) {
                return checkConnected() ? Errno.TIMED_OUT : -Errno.ENOTCONN;
            }
            if ((held | owed) != 0) {
                // Never sleep long with requests held: the send lock may have been busy; try again each slice.
                settle();
                if ((held | owed) != 0) {
                    slice = Math.min(slice, HELD_SLICE_NANOS);
                }
            }
            if (sem.await(slice) == 0) {
                return 0;
            }
            if (aborted) {
                return -Errno.ENOTCONN;
            }
            if (!checkConnected()) {
                return sem.tryWait() ? 0 : -Errno.ENOTCONN;
            }
        }
    }

    /**
     * Copies a chunk into the caller's buffer; one per direction, made once, so reading allocates nothing. A buffer
     * that is too small refuses the chunk: unlike libqb, the message and the connection stay, and the caller can
     * retry with a bigger buffer ({@link #refusedLength}).
     */
    private final class Reader implements ShmRing.ChunkHandler {
        private final int direction;
        private ByteBuffer dst;

        Reader(int direction) {
            this.direction = direction;
        }

        /** @param taken the caller already holds the semaphore token ({@link ShmRing#readTaken}) */
        int read(ShmRing ring, ByteBuffer into, boolean taken) {
            dst = into;
            try {
                return taken ? ring.readTaken(this) : ring.read(this);
            } finally {
                dst = null;
            }
        }

        /** Reads a chunk found from write_pt ({@link ShmRing#readDetected}). */
        int readDetected(ShmRing ring, ByteBuffer into) {
            dst = into;
            try {
                return ring.readDetected(this);
            } finally {
                dst = null;
            }
        }

        @Override
        public int onChunk(ShmRing ring, int offset, int length) {
            if (length > dst.remaining()) {
                refused[direction] = length;
                return -Errno.ENOBUFS;
            }
            ring.copyTo(offset, dst, length);
            return length;
        }
    }

    @Override
    public int eventRecv(ByteBuffer dst, long timeoutNanos) {
        // Releases first, and in each slice while requests are held; not counted in `waiting`: an application's event
        // thread is often blocked here for good, and a sender must not stop holding for it. Requests held after this
        // thread went to sleep reach the server through the flusher.
        settle();
        final SharedSemaphore sem = event.semaphore();
        drainOwedEventBytes();
        final long deadline = WaitSlices.deadline(timeoutNanos);
        if (timeoutNanos != 0 && sem.value() == 0 && spinFor(sem, timeoutNanos)) {
            return eventRead(eventReader.read(event, dst, true));
        }
        for (;;) {
            int rc = eventReader.read(event, dst, false);
            if (rc != Errno.WOULD_BLOCK) {
                return eventRead(rc);
            }
            if (!connected || aborted) {
                return -Errno.ENOTCONN;
            }
            // Poll in liveness slices, not forever: abort() (a close from another thread) must end the wait.
            int waitMs = timeoutNanos == 0 ? 0 : WaitSlices.sliceMillis(timeoutNanos, deadline);
            if (waitMs < 0) {
                return Errno.TIMED_OUT;
            }
            if ((held | owed) != 0) {
                settle();
                if ((held | owed) != 0) {
                    waitMs = Math.min(waitMs, (int) (HELD_SLICE_NANOS / 1_000_000L));
                }
            }
            int rev;
            try {
                rev = Posix.pollOne(fd, LibC.POLLIN, waitMs, scratch + EVENT_POLL_SLOT);
            } catch (IpcException e) {
                connected = false;
                return -Errno.ENOTCONN;
            }
            if ((rev & LibC.POLLIN) != 0) {
                drainOwedEventBytes();
                if (owedEventBytes == 0 && sem.value() == 0 && (rev & DEAD) == 0) {
                    // A byte with no event behind it: either the event is being committed right now (the server
                    // posts before it sends the byte, so this is rare) or the server misbehaves. Give the
                    // commit a moment, then drop the stray byte rather than spin on it.
                    Thread.onSpinWait();
                    if (sem.value() == 0) {
                        dropStrayByte();
                    }
                }
            }
            if ((rev & DEAD) != 0 && sem.value() == 0) {
                connected = false;
                return -Errno.ENOTCONN;
            }
            if (timeoutNanos == 0 && sem.value() == 0) {
                return Errno.WOULD_BLOCK;
            }
        }
    }

    /** After an event chunk was read (or refused): an event read takes its notification byte. */
    private int eventRead(int rc) {
        if (rc >= 0) {
            consumeEventByte();
        }
        return rc;
    }

    private void dropStrayByte() {
        long n = C.recv(fd, scratch + EVENT_BYTE_SLOT, 1, LibC.MSG_DONTWAIT);
        if (n == 0) {
            connected = false;
        } else if (n == 1) {
            LOG.get().debug("event notification with no event queued: dropped");
        }
    }

    /** One notification byte per event read, as libqb's client does. */
    private void consumeEventByte() {
        long n = C.recv(fd, scratch + EVENT_BYTE_SLOT, 1, LibC.MSG_DONTWAIT);
        if (n == 0) {
            connected = false;
        } else if (n < 0) {
            // The server sends the byte after committing: it can lag behind the chunk. Take it later.
            owedEventBytes++;
        }
    }

    private void drainOwedEventBytes() {
        while (owedEventBytes > 0) {
            long n = C.recv(fd, scratch + EVENT_BYTE_SLOT, 1, LibC.MSG_DONTWAIT);
            if (n != 1) {
                if (n == 0) {
                    connected = false;
                }
                return;
            }
            owedEventBytes--;
        }
    }

    // ------------------------------------------------------------------------------------------- lifecycle

    @Override
    public boolean checkConnected() {
        if (!connected) {
            return false;
        }
        long pfd = Posix.allocate(8);
        try {
            return pollConnected(fd, pfd);
        } finally {
            Posix.free(pfd, 8);
        }
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        DoorbellFlusher.unwatch(this);
        if ((held | owed) != 0 && connected) {
            // Held requests were sent as far as the caller knows: posted, and their bytes sent before the socket
            // closes, waiting a bounded time for room. No take-back here: a libqb server that took a token whose
            // byte never came reads our close (EOF) instead and drops the connection, as it would anyway.
            owed += request.releaseHeldPosts();
            held = 0;
            payOwed(CLOSE_PAY_NANOS);
        }
        boolean serverDead = !checkConnected() && isDead(serverPid);
        UnixSocket.shutdownAndClose(fd);
        for (ShmRing r : new ShmRing[] {request, response, event}) {
            if (serverDead) {
                r.setRefCount(-1);
            } else {
                r.decrementRefCount();
            }
            r.close(serverDead);
        }
        if (serverDead) {
            // libqb's client leaves the directory behind; nobody else will remove it.
            C.rmdir(directory);
            LOG.get().debug("server pid {} is gone: removed {}", serverPid, directory);
        }
        Posix.free(scratch, SCRATCH_LENGTH);
        Posix.free(payBytes, PAY_BYTES);
    }

    /** The server cannot clean up: it no longer exists, or it is a zombie. Checked up to 4 times, 10 ms apart. */
    private static boolean isDead(int pid) {
        if (pid <= 0) {
            return false;
        }
        for (int i = 0; i < 4; i++) {
            if (C.kill(pid, 0) < 0 && Posix.errno() == Errno.ESRCH) {
                return true;
            }
            if (Processes.hasExited(pid)) {
                return true;
            }
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return false;
    }
}
