package io.jqb.stream.internal;

import io.jqb.internal.posix.LibC;
import io.jqb.internal.posix.Posix;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An owned socket fd that any thread may close while another is blocked on it: {@link #close()} shuts the socket
 * down (which wakes a thread in poll, recv or accept) and the fd number is released to the kernel only when the last
 * user has left, so it can never be reused under a running call. Also owns two 8-byte {@code struct pollfd} scratch
 * areas (one for the reading side, one for the writing side), freed with the fd.
 */
public final class FdHandle {
    /** One reference for "open" plus one per running call; 0 = fd closed. */
    private final AtomicInteger users = new AtomicInteger(1);
    private final AtomicInteger closing = new AtomicInteger();
    private final int fd;
    private final long scratch;

    /** Takes ownership of {@code fd}. */
    public FdHandle(int fd) {
        this.fd = fd;
        this.scratch = Posix.allocate(SCRATCH);
    }

    /**
     * Bytes of scratch: read pollfd (16, room for two), write pollfd (8), a spare 16, then the writer's msghdr
     * (56) and two iovecs (32).
     */
    private static final int SCRATCH = 40 + 56 + 32;

    /** @return the fd number (valid between a successful {@link #acquire()} and {@link #release()}) */
    public int fd() {
        return fd;
    }

    /** The reading side's pollfd scratch (16 bytes: room for two). */
    public long readScratch() {
        return scratch;
    }

    /** The writing side's pollfd scratch (8 bytes). */
    public long writeScratch() {
        return scratch + 16;
    }

    /** 16 spare bytes for the owner's small native values (e.g. an eventfd counter). */
    public long spareScratch() {
        return scratch + 24;
    }

    /** The writing side's {@code struct msghdr} (56 bytes) followed by two {@code struct iovec} (32 bytes). */
    public long msgScratch() {
        return scratch + 40;
    }

    /** @return true when the caller may use the fd; pair with {@link #release()} */
    public boolean acquire() {
        for (;;) {
            int u = users.get();
            if (u <= 0 || closing.get() != 0) {
                return false;
            }
            if (users.compareAndSet(u, u + 1)) {
                return true;
            }
        }
    }

    /** Ends a use begun with {@link #acquire()}. */
    public void release() {
        if (users.decrementAndGet() == 0) {
            Posix.C.close(fd);
            Posix.free(scratch, SCRATCH);
        }
    }

    /** @return true once {@link #close()} was called */
    public boolean isClosed() {
        return closing.get() != 0;
    }

    /**
     * Shuts the socket down (waking blocked callers) and closes the fd once no call is running. Idempotent.
     *
     * @param shutdown false for a socket that must not be shut down (one whose other copy lives on elsewhere)
     */
    public void close(boolean shutdown) {
        if (!closing.compareAndSet(0, 1)) {
            return;
        }
        if (shutdown) {
            Posix.C.shutdown(fd, LibC.SHUT_RDWR);
        }
        release();
    }
}
