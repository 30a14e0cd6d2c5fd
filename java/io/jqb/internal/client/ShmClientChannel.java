package io.jqb.internal.client;

import static io.jqb.internal.posix.Posix.C;
import static io.jqb.internal.posix.Posix.MEM;

import io.jqb.Errno;
import io.jqb.IpcException;
import io.jqb.WaitStrategy;
import io.jqb.internal.Logs;
import io.jqb.internal.posix.LibC;
import io.jqb.internal.posix.Posix;
import io.jqb.internal.posix.Processes;
import io.jqb.internal.ring.SharedSemaphore;
import io.jqb.internal.ring.ShmRing;
import io.jqb.internal.setup.UnixSocket;
import io.jqb.internal.wire.RingHeaderDescriptor;
import java.io.IOException;
import java.nio.ByteBuffer;
import org.slf4j.Logger;

/**
 * Client side of one SHM connection: the three rings the server created, and the setup socket that carries our
 * request doorbells, the server's event notifications and the server's liveness.
 *
 * <p>Waiting: response waits sleep on the ring's shared semaphore in slices and poll the socket between slices, so
 * a dead server is noticed within the caller's timeout (libqb can hang here forever). Event waits poll the socket,
 * which becomes readable when the server commits an event or goes away.</p>
 */
public final class ShmClientChannel extends AbstractClientChannel {
    private static final Logger LOG = Logs.get(ShmClientChannel.class);

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
    /** Most doorbell bytes sent by one send(2) when held requests are released (their values mean nothing). */
    private static final int PAY_CHUNK = 256;
    /**
     * Hold requests back when the doorbell socket is full (default) rather than wait in poll for room, as jqb did
     * before; {@code -Djqb.client.holdRequests=false} restores the wait (for A/B comparisons).
     */
    private static final boolean HOLD = Boolean.parseBoolean(System.getProperty("jqb.client.holdRequests", "true"));
    /**
     * Held requests are released once the server has at most this many posted requests left to serve: enough work
     * to keep it busy until our next send, and their unread doorbells fill a small part of the socket's buffer.
     */
    private static final int RELEASE_BELOW = 64;
    /** How long {@link #close} waits for doorbell room to release held requests (a live server that does not read). */
    private static final long CLOSE_PAY_NANOS = 5_000_000_000L;
    private final long scratch;
    /** PAY_CHUNK bytes sent for released requests; used under doorbellLock. */
    private final long payBytes;
    /**
     * Requests committed but held back from the server (not posted, no doorbell byte) because the doorbell socket
     * was full: the request ring's {@link ShmRing#heldPosts}, mirrored here for a lock-free check. Released (posted,
     * then one send of as many bytes) at the next send once the socket has room, and before this client waits for
     * anything (response, event, close). See docs/DESIGN.md, "Held requests". Written under doorbellLock.
     */
    private volatile int held;
    /** Release attempts while held (every 64th asks the kernel); under doorbellLock. */
    private int releaseTries;
    private final Object doorbellLock = new Object();
    private int owedEventBytes;
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
        this.payBytes = Posix.allocate(PAY_CHUNK);
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
        if (held > 0) {
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
        if (held > 0) {
            return sendHeld(null, msgs);
        }
        rc = request.write(msgs);
        if (rc < 0) {
            return rc;
        }
        return doorbell((byte) rc) ? rc : -Errno.ENOTCONN;
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

    /**
     * A send while requests are held: first release them if the socket has room now, then write this one, held too
     * if they still are (it must stay behind them), else posted and rung as usual.
     */
    private int sendHeld(ByteBuffer msg, ByteBuffer[] msgs) {
        synchronized (doorbellLock) {
            if (!releaseHeld(0)) {
                return -Errno.ENOTCONN;
            }
            final boolean holding = held > 0;
            request.setHoldPosts(holding);
            int rc;
            try {
                rc = msg != null ? request.write(msg) : request.write(msgs);
            } finally {
                request.setHoldPosts(false);
            }
            held = request.heldPosts();
            if (rc < 0 || holding) {
                return rc;
            }
            return doorbell(msg != null ? (rc > 0 ? msg.get(msg.position()) : 0) : (byte) rc) ? rc : -Errno.ENOTCONN;
        }
    }

    /**
     * Writes the doorbell byte; the chunk is already committed and posted. When the socket is full, the post is
     * taken back (a token, from the semaphore) and the request is held ({@link #releaseHeld}) instead of waiting
     * for room: the server has hundreds of doorbells queued to read first.
     */
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
            break;
        }
        synchronized (doorbellLock) {
            if (HOLD && request.semaphore().tryWait()) {
                // One visible chunk fewer: the last one (a token reader reads in ring order) is now held.
                request.holdPostTakenBack();
                held = request.heldPosts();
                return true;
            }
            // The server holds every token (it is serving them all): this byte cannot be held back. Wait for room.
            return sendWaiting(scratch + DOORBELL_SLOT, 1, -1);
        }
    }

    /**
     * Releases the held requests: posts them, then one send of as many doorbell bytes (a libqb server reads one per
     * request it served, after serving it, so the posts go first, as for every request), waiting for room for that
     * send if need be: a post is never left without its byte on the way. Done once the socket has room: the server
     * has at most {@link #RELEASE_BELOW} visible requests left (each byte it has not read is a posted request it
     * has not served, give or take the 5 of a batch; no system call), or POLLOUT (the queue is at most a quarter
     * full: asked on every 64th try without waiting, and when waiting).
     *
     * @param waitNanos 0: only if there is room now; negative: wait for room (liveness slices) until released or
     *        aborted; positive: also give up after that long
     * @return false when the socket failed or the server is gone
     */
    private boolean releaseHeld(long waitNanos) {
        final long start = waitNanos > 0 ? System.nanoTime() : 0;
        while (held > 0) {
            boolean room = request.semaphore().value() <= RELEASE_BELOW;
            if (!room && (waitNanos != 0 || (++releaseTries & 63) == 0)) {
                int rev;
                try {
                    rev = Posix.pollOne(fd, LibC.POLLOUT, 0, scratch + SEND_POLL_SLOT);
                } catch (IpcException ex) {
                    connected = false;
                    return false;
                }
                if ((rev & DEAD) != 0) {
                    connected = false;
                    return false;
                }
                room = (rev & LibC.POLLOUT) != 0;
            }
            if (room) {
                int k = request.releaseHeldPosts();
                held = 0;
                while (k > 0) {
                    int m = Math.min(k, PAY_CHUNK);
                    if (!sendWaiting(payBytes, m, waitNanos > 0 ? waitNanos : -1)) {
                        return false;
                    }
                    k -= m;
                }
                return true;
            }
            if (waitNanos == 0) {
                return true; // still full: the server has a socket full of doorbells to read first
            }
            if (!waitForRoom(start, waitNanos)) {
                return !connected ? false : waitNanos > 0;
            }
        }
        return true;
    }

    /**
     * Sends {@code len} bytes at {@code address}, waiting for room as long as it takes (the chunks they ring for are
     * posted: their bytes must follow).
     *
     * @param waitNanos negative: until sent or aborted; positive: also give up after that long
     */
    private boolean sendWaiting(long address, int len, long waitNanos) {
        final long start = System.nanoTime();
        while (len > 0) {
            long n = C.send(fd, address, len, LibC.MSG_NOSIGNAL | LibC.MSG_DONTWAIT);
            if (n > 0) {
                address += n;
                len -= (int) n;
                continue;
            }
            int e = Posix.errno();
            if (e == Errno.EINTR) {
                continue;
            }
            if (e != Errno.EAGAIN) {
                connected = false;
                return false;
            }
            if (!waitForRoom(start, waitNanos)) {
                return false;
            }
        }
        return true;
    }

    /** One poll for POLLOUT (up to 100 ms). @return false when aborted, the server is gone, or time is up */
    private boolean waitForRoom(long start, long waitNanos) {
        if (waitNanos < 0 && aborted) {
            return false;
        }
        if (waitNanos > 0 && System.nanoTime() - start > waitNanos) {
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
        return true;
    }

    /**
     * A receive that found nothing: held requests are released first, or the server would never see them while we
     * wait for it. A receive that waits waits for doorbell room if need be; one that does not wait (a caller
     * polling with timeout 0) releases them if there is room now, so a polling loop releases them too.
     *
     * @return false when the server is gone
     */
    private boolean settleDoorbells(long timeoutNanos) {
        if (held == 0) {
            return true;
        }
        synchronized (doorbellLock) {
            return releaseHeld(timeoutNanos == 0 ? 0 : -1);
        }
    }

    /**
     * Each queued one-byte doorbell costs a unix stream socket's send buffer a whole kernel buffer (about 768 bytes),
     * so the default buffer (208 KiB) holds only ~278 of them, far fewer than a request ring holds small requests: a
     * client pipelining small requests finds it full all the time. It then holds requests back ({@link #ring}) until
     * the socket's queue is down to a quarter of the buffer (POLLOUT, ~70 doorbells). The first time the socket is
     * found full, its send buffer is doubled once: held requests are then released with twice as many doorbells
     * still queued, so the server does not run dry meanwhile. (Not more: a client whose queue of doorbells reaches its
     * whole window of outstanding requests waits on the response semaphore for every response instead.) Memory is
     * charged only for doorbells actually queued. Connections that never fill the socket pay nothing.
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
            LOG.debug("setsockopt(SO_SNDBUF, {}): errno {}", current, Posix.errno());
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
        if (!settleDoorbells(timeoutNanos)) {
            return -Errno.ENOTCONN;
        }
        final SharedSemaphore sem = response.semaphore();
        final long t0 = waitStrategy.spins() ? System.nanoTime() : 0;
        if (!spinFor(sem, timeoutNanos)) {
            long left = timeoutNanos <= 0 || t0 == 0 ? timeoutNanos
                    : Math.max(1, timeoutNanos - (System.nanoTime() - t0));
            rc = awaitToken(sem, left);
            if (rc < 0) {
                return rc;
            }
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
        if (!settleDoorbells(timeoutNanos)) {
            return -Errno.ENOTCONN;
        }
        if (timeoutNanos == 0) {
            return checkConnected() ? Errno.WOULD_BLOCK : -Errno.ENOTCONN;
        }
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
        final SharedSemaphore sem = event.semaphore();
        if (!settleDoorbells(timeoutNanos)) {
            return -Errno.ENOTCONN;
        }
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
            LOG.debug("event notification with no event queued: dropped");
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
        if (held > 0 && connected) {
            // Held requests were sent as far as the caller knows: the server gets them before the socket closes.
            // Bounded: a live server that never reads its doorbells again must not keep close() forever.
            synchronized (doorbellLock) {
                releaseHeld(CLOSE_PAY_NANOS);
            }
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
            LOG.debug("server pid {} is gone: removed {}", serverPid, directory);
        }
        Posix.free(scratch, SCRATCH_LENGTH);
        Posix.free(payBytes, PAY_CHUNK);
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
