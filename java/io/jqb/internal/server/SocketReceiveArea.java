package io.jqb.internal.server;

import io.jqb.internal.posix.Posix;
import io.jqb.internal.setup.UnixSocket;
import io.jqb.internal.socket.Datagrams;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The receive memory one service's SOCKET connections share: the buffer a request datagram is received into, the
 * {@code recvmsg} scratch (msghdr, iovec, SCM_CREDENTIALS), the few bytes a hang-up check reads, and the copy area
 * of heap and gathered sends ({@link #tryAcquireSendScratch()}). The loop thread
 * reads one connection at a time and a request is consumed before the next is received (the handler sees it only
 * during its call), so one area serves them all: a connection costs no receive memory of its own (it cost a
 * buffer of the agreed size each, and the page its first request touched).
 *
 * <p>Made on the first request and grown to the largest agreed size among the connections that received one;
 * malloc'd, not zero-filled, so only the pages the largest request touched cost RAM. Each channel holds a reference
 * from its creation to its {@code release()}; the last one frees the memory.</p>
 *
 * <p>Threads: {@link #ensure}, {@link #buffer()}, {@link #view()}, {@link #address()} and the recvmsg scratch are
 * the loop thread's; the send scratch is whichever sender's holds it ({@link #tryAcquireSendScratch()}); {@link #acquire()} (loop thread) and {@link #release()} (any thread, under the channel's locks) are
 * synchronized, and the memory is freed only when no channel is left to use it.</p>
 */
final class SocketReceiveArea {
    /** Bytes of {@link #livenessScratch()}. */
    static final int LIVENESS_SCRATCH = 16;
    private static final VarHandle SEND_SCRATCH_HELD;

    static {
        try {
            SEND_SCRATCH_HELD = MethodHandles.lookup().findVarHandle(SocketReceiveArea.class, "sendScratchHeld",
                    boolean.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private int users;
    private long address;
    private int capacity;
    private ByteBuffer buffer;
    private ByteBuffer view;
    private long credScratch;
    private long livenessScratch;
    /** {@link #controlName}'s cache: the service it was made for and the name. */
    private String controlService;
    private String controlName;
    /**
     * The copy area for heap and gathered sends (made on first use by the Datagrams, grown to the largest send);
     * used only by the sender that set {@link #sendScratchHeld}.
     */
    private Datagrams sendScratch;
    /** True while a sender uses {@link #sendScratch} (taken by CAS, given back by a release store). */
    private volatile boolean sendScratchHeld;

    /** A channel starts using the area (loop thread, at its creation). */
    synchronized void acquire() {
        if (credScratch == 0) {
            long cred = Posix.allocate(UnixSocket.RECV_SCRATCH);
            try {
                livenessScratch = Posix.allocate(LIVENESS_SCRATCH);
            } catch (RuntimeException | Error e) {
                Posix.free(cred, UnixSocket.RECV_SCRATCH);
                throw e;
            }
            credScratch = cred;
        }
        users++; // only once nothing can fail: a failed set-up holds no reference
    }

    /** A channel is done with the area; the last one frees it. */
    synchronized void release() {
        if (--users > 0) {
            return;
        }
        users = 0;
        if (address != 0) {
            Posix.MEM.freeMemory(address, capacity);
            address = 0;
            capacity = 0;
            buffer = null;
            view = null;
        }
        if (sendScratch != null) {
            sendScratch.close();
            sendScratch = null;
        }
        Posix.free(credScratch, UnixSocket.RECV_SCRATCH);
        Posix.free(livenessScratch, LIVENESS_SCRATCH);
        credScratch = 0;
        livenessScratch = 0;
    }

    /**
     * Makes the receive buffer hold at least {@code size} bytes (loop thread, between requests).
     *
     * @throws OutOfMemoryError when malloc fails; the area is unchanged
     */
    void ensure(int size) {
        int want = Math.max(size, 16);
        if (want <= capacity) {
            return;
        }
        long a = Posix.MEM.allocate(want);
        ByteBuffer b;
        ByteBuffer v;
        try {
            b = Posix.directBuffer(a, want);
            v = b.asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
        } catch (RuntimeException | Error e) {
            Posix.MEM.freeMemory(a, want); // the area stays as it was
            throw e;
        }
        if (address != 0) {
            Posix.MEM.freeMemory(address, capacity);
        }
        address = a;
        capacity = want;
        buffer = b;
        view = v;
    }

    /** @return the receive buffer (little-endian, writable), valid until the next {@link #ensure} */
    ByteBuffer buffer() {
        return buffer;
    }

    /** @return a read-only view of {@link #buffer()}, handed to handlers */
    ByteBuffer view() {
        return view;
    }

    /** @return the receive buffer's address */
    long address() {
        return address;
    }

    /**
     * The name of a SOCKET connection's control file, {@code "qb-control-" + service}, made once for the service
     * instead of a path string per connection.
     *
     * @return the name
     */
    synchronized String controlName(String service) {
        if (controlName == null || !service.equals(controlService)) {
            controlName = "qb-control-" + service;
            controlService = service;
        }
        return controlName;
    }

    /**
     * Takes the area a heap or gathered response or event is copied into to be sent, shared by the service's
     * connections (each sender passes its own agreed size as the limit), unless another sender holds it. Sharing is
     * decided by this one compare-and-set, not by which thread calls: the thread that runs the loop's callbacks may
     * change between passes ({@code EventLoop.runOnce} from a pool, a custom {@code PollHandlers}), and a thread
     * that ran the last callback may be sending outside the loop while another runs the next. Only a channel that
     * holds a reference calls it (so the area is not freed meanwhile); a non-null result is given back with
     * {@link #releaseSendScratch()} in a {@code finally}.
     *
     * @return the shared send scratch, now this caller's; or null when another sender holds it (the caller uses
     *         its connection's own)
     */
    Datagrams tryAcquireSendScratch() {
        if (sendScratchHeld || !SEND_SCRATCH_HELD.compareAndSet(this, false, true)) {
            return null;
        }
        Datagrams d = sendScratch;
        if (d == null) {
            d = new Datagrams(Integer.MAX_VALUE); // allocates nothing yet: its area is malloc'd on the first send
            sendScratch = d;
        }
        return d;
    }

    /** Gives back the send scratch {@link #tryAcquireSendScratch()} returned; its writes are visible to the next. */
    void releaseSendScratch() {
        SEND_SCRATCH_HELD.setRelease(this, false);
    }

    /** @return the recvmsg scratch ({@link UnixSocket#RECV_SCRATCH} bytes) */
    long credScratch() {
        return credScratch;
    }

    /** @return {@link #LIVENESS_SCRATCH} bytes for the hang-up check's reads */
    long livenessScratch() {
        return livenessScratch;
    }
}
