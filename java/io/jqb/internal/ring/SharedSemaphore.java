package io.jqb.internal.ring;

import static io.jqb.internal.wire.SemaphoreDescriptor.ONE_WAITER;
import static io.jqb.internal.wire.SemaphoreDescriptor.SEM_VALUE_MAX;

import io.jqb.Errno;
import io.jqb.internal.posix.FaultSafe;
import io.jqb.internal.posix.Futex;
import io.jqb.internal.posix.Guard;
import io.jqb.internal.posix.PointerStore;
import io.jqb.internal.posix.Posix;
import io.jqb.internal.wire.SemaphoreDescriptor;
import io.jqb.internal.wire.TimespecDescriptor;

/**
 * A glibc-compatible process-shared POSIX semaphore living in a ring header (see {@link SemaphoreDescriptor}).
 * Native peers use {@code sem_post}/{@code sem_timedwait} on the same 32 bytes; this class follows glibc's
 * protocol so that either side can post or wait: post is a CAS on the 64-bit word plus a shared FUTEX_WAKE when a
 * registered waiter may be asleep ({@link #needsWake}); wait registers as a waiter before sleeping on the low 32 bits.
 *
 * <p>Waiting needs a small native scratch area (a timespec); callers serialise waits on one instance (each ring has a
 * single consumer). Posting is thread-safe.</p>
 */
public final class SharedSemaphore {
    /** Failed compare-and-sets in a row before {@link #casFailed} asks the kernel whether the memory is still there. */
    private static final int PROBE_EVERY = 64;

    private final PointerStore mem;
    private final long offset;
    private final long futexAddress;
    private final long timespec;
    /**
     * Post and try-wait go through libjqbguard's JNI calls (a fault is a return code there): only when the header is
     * not a {@linkplain PointerStore#repaired repaired} window. In one (the usual case) a fault is repaired where it
     * happens, so post and try-wait are plain Unsafe loads and compare-and-sets, and a try-wait on an empty
     * semaphore (every idle spin of a polling reader) is a single load, no JNI call, no locked instruction.
     */
    private final boolean guarded;
    /** The ring's fault flag (libjqbguard sets it when it repairs a fault in the ring), 0 when not repaired. */
    private final long faultFlag;

    /**
     * @param mem the mapped header
     * @param offset offset of the sem_t within {@code mem}
     * @param address native address of the sem_t
     * @param timespec 16 bytes of native scratch memory owned by the caller
     * @param faultFlag address of the ring's fault flag when {@code mem} is {@linkplain PointerStore#repaired
     *        repaired}, else 0
     */
    SharedSemaphore(PointerStore mem, long offset, long address, long timespec, long faultFlag) {
        this.mem = mem;
        this.offset = offset;
        this.futexAddress = address + SemaphoreDescriptor.DATA_OFFSET;
        this.timespec = timespec;
        this.guarded = Guard.AVAILABLE && !mem.repaired();
        this.faultFlag = mem.repaired() ? faultFlag : 0;
    }

    /**
     * After a fault was repaired in the ring, the semaphore lives on a private zero page: report it as the guarded
     * calls do (an InternalError, at once, in the caller's thread) instead of waiting on a page nobody posts to.
     */
    private void checkRepaired() {
        if (faultFlag != 0 && Posix.MEM.readVolatileInt(faultFlag) != 0) {
            throw new InternalError("semaphore memory is gone (the peer truncated the ring header)");
        }
    }

    /** Writes the state {@code sem_init(sem, 1, 0)} leaves. */
    void init() {
        for (int i = 0; i < SemaphoreDescriptor.LENGTH; i += 8) {
            mem.writeLong(offset + i, 0L);
        }
        mem.writeInt(offset + SemaphoreDescriptor.PRIVATE_OFFSET, SemaphoreDescriptor.SHARED);
        mem.writeVolatileLong(offset + SemaphoreDescriptor.DATA_OFFSET, 0L);
    }

    /** @return the current value (queued chunks); never negative */
    public int value() {
        int v = (int) mem.readVolatileLong(offset);
        return v < 0 ? SEM_VALUE_MAX : v;
    }

    /** @return true when a native or Java waiter is registered */
    public boolean hasWaiters() {
        return (mem.readVolatileLong(offset) >>> 32) != 0;
    }

    /**
     * {@code sem_post}.
     *
     * @return 0, or -EOVERFLOW when the value is at its maximum (a hostile peer inflated it)
     */
    public int post() {
        if (guarded) {
            int r = Guard.semPost(futexAddress);
            if (r == -1) {
                throw new InternalError("semaphore memory is gone (the peer truncated the ring header)");
            }
            if (r == -2) {
                return -75; // EOVERFLOW
            }
            if (r == 1) {
                Futex.wake(futexAddress, 1);
            }
            return 0;
        }
        long d;
        int failures = 0;
        for (;;) {
            d = mem.readVolatileLong(offset);
            if ((int) d == SEM_VALUE_MAX || (int) d < 0) {
                return -75; // EOVERFLOW
            }
            if (mem.compareAndSwapLong(offset, d, d + 1)) {
                break;
            }
            casFailed(++failures);
        }
        checkRepaired();
        if (needsWake(d)) {
            Futex.wake(futexAddress, 1);
        }
        return 0;
    }

    /**
     * Whether a post that found the semaphore word {@code before} must wake a sleeper. glibc's {@code sem_post}
     * wakes whenever a waiter is registered; that includes a waiter already woken by an earlier post that has not
     * run yet (a pipelining client whose responses arrive while it is being scheduled: every post of the batch was
     * a FUTEX_WAKE system call for nobody, 0.77 per notification in the broker). A waiter only sleeps when the value
     * is 0 (FUTEX_WAIT with expected value 0, glibc and {@link #await} alike), so when the value was already
     * non-zero and exactly one waiter is registered, that waiter is awake or will find a token without sleeping:
     * the post that raised the value from 0 woke it. With two or more waiters, or from 0, this wakes as glibc does.
     * One case breaks the premise: a glibc waiter (before glibc 2.41) that is woken and then cancelled before it
     * takes its token leaves the token and a count of one waiter behind while another thread of that peer sleeps.
     * So a post also wakes whenever the value it found is a multiple of 64: such a sleeper waits at most 64 posts
     * (and its own time-out) instead of forever, for one extra wake-up per 64 posts in a burst.
     */
    static boolean needsWake(long before) {
        long waiters = before >>> 32;
        return waiters > 1 || (waiters == 1 && ((int) before & 63) == 0);
    }

    /**
     * {@code sem_trywait}: takes one token if there is one. Like glibc, any non-zero 32-bit value counts as tokens
     * (glibc treats it as unsigned), so a corrupt "negative" value written by a hostile peer is consumed like any
     * other and the reader goes on to validate the chunk (and drops the peer) instead of finding work it can never
     * take: that made a spinning server loop burn a core for as long as the connection lived.
     */
    public boolean tryWait() {
        if (guarded) {
            int r = Guard.semTryWait(futexAddress);
            if (r < 0) {
                throw new InternalError("semaphore memory is gone (the peer truncated the ring header)");
            }
            return r == 1;
        }
        int failures = 0;
        for (;;) {
            long d = mem.readVolatileLong(offset);
            if ((int) d == 0) {
                checkRepaired();
                return false;
            }
            if (mem.compareAndSwapLong(offset, d, d - 1)) {
                return true;
            }
            casFailed(++failures);
        }
    }

    /**
     * After a failed compare-and-set. When the peer truncated the header, HotSpot skips each faulting load and CAS in
     * compiled code (the CAS "fails", the load leaves a stale value) and delivers the InternalError only at a later
     * safepoint: a retry loop then spins on SIGBUS for as long as no safepoint comes (seen: seconds, the connection
     * never dropped). So every {@value #PROBE_EVERY}th failure in a row, a kernel probe (one syscall; real
     * contention almost never gets there) turns a vanished page into an InternalError now.
     */
    private void casFailed(int failures) {
        if (failures % PROBE_EVERY == 0 && !FaultSafe.accessible(futexAddress)) {
            throw new InternalError("semaphore memory is gone (the peer truncated the ring header)");
        }
    }

    /**
     * {@code sem_timedwait} with a relative timeout.
     *
     * @param timeoutNanos 0 = try once, negative = forever
     * @return 0 when a token was taken, {@link Errno#WOULD_BLOCK} for a failed try, {@link Errno#TIMED_OUT}
     */
    public int await(long timeoutNanos) {
        if (tryWait()) {
            return 0;
        }
        if (timeoutNanos == 0) {
            return Errno.WOULD_BLOCK;
        }
        long deadline = timeoutNanos > 0 ? System.nanoTime() + timeoutNanos : 0;
        addWaiters(ONE_WAITER);
        int failures = 0;
        for (;;) {
            long d = mem.readVolatileLong(offset);
            if ((int) d != 0) {
                if (mem.compareAndSwapLong(offset, d, d - 1 - ONE_WAITER)) {
                    return 0;
                }
                casFailed(++failures);
                continue;
            }
            checkRepaired();
            long ts = 0;
            if (timeoutNanos > 0) {
                long remaining = deadline - System.nanoTime();
                if (remaining <= 0) {
                    addWaiters(-ONE_WAITER);
                    return Errno.TIMED_OUT;
                }
                Posix.MEM.writeLong(timespec + TimespecDescriptor.SEC_OFFSET, remaining / 1_000_000_000L);
                Posix.MEM.writeLong(timespec + TimespecDescriptor.NSEC_OFFSET, remaining % 1_000_000_000L);
                ts = timespec;
            }
            Futex.waitRelative(futexAddress, 0, ts);
        }
    }

    private void addWaiters(long delta) {
        int failures = 0;
        for (;;) {
            long d = mem.readVolatileLong(offset);
            if (mem.compareAndSwapLong(offset, d, d + delta)) {
                return;
            }
            casFailed(++failures);
        }
    }
}
