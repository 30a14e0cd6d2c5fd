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
public final class ShmClientChannel implements ClientChannel {
    private static final Logger LOG = Logs.get(ShmClientChannel.class);
    private static final int DEAD = LibC.POLLHUP | LibC.POLLERR | LibC.POLLNVAL;

    private final int fd;
    private final int serverPid;
    private final ShmRing request;
    private final ShmRing response;
    private final ShmRing event;
    private final String directory;
    /** Native scratch: [0] doorbell byte, [8] event byte sink, [16] pollfd for send, [24] recv, [32] event. */
    private final long scratch;
    private int owedEventBytes;
    private volatile boolean connected = true;
    /** Set by {@link #abort()}: the client is closing, every wait ends within one liveness slice. */
    private volatile boolean aborted;
    private boolean closed;
    /** The server is jqb: while its loop advertises that it polls our request ring, doorbells may be skipped. */
    private final boolean jqbServer;
    private volatile WaitStrategy waitStrategy = WaitStrategy.block();

    private ShmClientChannel(int fd, int serverPid, ShmRing request, ShmRing response, ShmRing event,
            boolean jqbServer) {
        this.fd = fd;
        this.serverPid = serverPid;
        this.jqbServer = jqbServer;
        this.request = request;
        this.response = response;
        this.event = event;
        String h = request.headerPath();
        this.directory = h.substring(0, Math.max(h.lastIndexOf('/'), 0));
        this.scratch = Posix.allocate(40);
    }

    /** Opens the three rings named in the connection response (request, response, event). */
    public static ShmClientChannel open(int fd, int serverPid, String requestBase, String responseBase,
            String eventBase, int maxMsgSize, boolean jqbServer) throws IpcException {
        ShmRing req = ShmRing.open(requestBase, maxMsgSize);
        ShmRing resp = null;
        try {
            resp = ShmRing.open(responseBase, maxMsgSize);
            ShmRing ev = ShmRing.open(eventBase, maxMsgSize);
            return new ShmClientChannel(fd, serverPid, req, resp, ev, jqbServer);
        } catch (RuntimeException e) {
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
        int fc = request.flowControl();
        if (fc > 0 && fc <= fcEnableMax) {
            return Errno.WOULD_BLOCK;
        }
        return 0;
    }

    @Override
    public int send(ByteBuffer msg, int fcEnableMax) {
        int rc = checkSendable(fcEnableMax);
        if (rc < 0) {
            return rc;
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
        rc = request.write(msgs);
        if (rc < 0) {
            return rc;
        }
        return doorbell((byte) rc) ? rc : -Errno.ENOTCONN;
    }

    /**
     * The semaphore post (a full fence) precedes this read of the consumer-awake flag, and a sleeping server
     * clears the flag before it re-checks the semaphore: one of the two always sees the other (Dekker), so a
     * skipped byte never leaves the server asleep with a request queued.
     */
    private boolean doorbell(byte b) {
        if (jqbServer && request.consumerAwake() == 1) {
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

    /** Writes the doorbell byte; the chunk is already committed and posted. */
    private boolean ring(byte b) {
        MEM.writeByte(scratch, b);
        for (;;) {
            long n = C.send(fd, scratch, 1, LibC.MSG_NOSIGNAL | LibC.MSG_DONTWAIT);
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
            // The server is not draining doorbells right now; its loop will. Wait for room.
            if (aborted) {
                return false;
            }
            try {
                if ((Posix.pollOne(fd, LibC.POLLOUT, 100, scratch + 16) & DEAD) != 0) {
                    connected = false;
                    return false;
                }
            } catch (IpcException ex) {
                connected = false;
                return false;
            }
        }
    }

    // ------------------------------------------------------------------------------------------- receiving

    @Override
    public int recv(ByteBuffer dst, long timeoutNanos) {
        final SharedSemaphore sem = response.semaphore();
        if (!sem.tryWait()) {
            final long t0 = waitStrategy.spins() ? System.nanoTime() : 0;
            if (spinFor(sem, timeoutNanos)) {
                return readChunk(response, dst);
            }
            long left = timeoutNanos <= 0 || t0 == 0 ? timeoutNanos
                    : Math.max(1, timeoutNanos - (System.nanoTime() - t0));
            int rc = awaitToken(sem, left);
            if (rc < 0) {
                return rc;
            }
        }
        return readChunk(response, dst);
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

    /** {@link #refusedLength}: [0] responses, [1] events; each written under its direction's lock. */
    private final int[] refused = {-1, -1};

    @Override
    public int refusedLength(boolean isEvent) {
        return refused[isEvent ? 1 : 0];
    }

    private int readChunk(ShmRing ring, ByteBuffer dst) {
        int len = ring.peekLength();
        if (len < 0) {
            ring.semaphore().post();
            return len;
        }
        if (len > dst.remaining()) {
            // Unlike libqb, keep the message and the connection: the caller can retry with a bigger buffer.
            ring.semaphore().post();
            refused[ring == event ? 1 : 0] = len;
            return -Errno.ENOBUFS;
        }
        dst.put(dst.position(), ring.view(), ring.payloadOffset(), len);
        ring.reclaim(len);
        return len;
    }

    @Override
    public int eventRecv(ByteBuffer dst, long timeoutNanos) {
        final SharedSemaphore sem = event.semaphore();
        drainOwedEventBytes();
        final long deadline = WaitSlices.deadline(timeoutNanos);
        if (timeoutNanos != 0 && sem.value() == 0 && spinFor(sem, timeoutNanos)) {
            int rc = readChunk(event, dst);
            if (rc >= 0) {
                consumeEventByte();
            }
            return rc;
        }
        for (;;) {
            if (sem.tryWait()) {
                int rc = readChunk(event, dst);
                if (rc >= 0) {
                    consumeEventByte();
                }
                return rc;
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
                rev = Posix.pollOne(fd, LibC.POLLIN, waitMs, scratch + 32);
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

    private void dropStrayByte() {
        long n = C.recv(fd, scratch + 8, 1, LibC.MSG_DONTWAIT);
        if (n == 0) {
            connected = false;
        } else if (n == 1) {
            LOG.debug("event notification with no event queued: dropped");
        }
    }

    /** One notification byte per event read, as libqb's client does. */
    private void consumeEventByte() {
        long n = C.recv(fd, scratch + 8, 1, LibC.MSG_DONTWAIT);
        if (n == 0) {
            connected = false;
        } else if (n < 0) {
            // The server sends the byte after committing: it can lag behind the chunk. Take it later.
            owedEventBytes++;
        }
    }

    private void drainOwedEventBytes() {
        while (owedEventBytes > 0) {
            long n = C.recv(fd, scratch + 8, 1, LibC.MSG_DONTWAIT);
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
            if ((Posix.pollOne(fd, 0, 0, pfd) & DEAD) != 0) {
                connected = false;
            }
        } catch (IpcException e) {
            connected = false;
        } finally {
            Posix.free(pfd, 8);
        }
        return connected;
    }

    @Override
    public void abort() {
        aborted = true;
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
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
        Posix.free(scratch, 40);
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
