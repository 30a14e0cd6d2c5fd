package io.jqb.internal.wire;

/**
 * glibc 2.36's x86-64 {@code sem_t} (the "new" 64-bit layout), as embedded at
 * {@link RingHeaderDescriptor#SEMAPHORE_OFFSET}.
 *
 * <pre>
 *  +-------------------------------------------+
 *  | data u64: value (low 32) | nwaiters (high 32) |  0   futex word = the low 32 bits
 *  | private u32 (128 = process-shared)         |  8
 *  | zero                                       | 12..31
 *  +-------------------------------------------+ 32
 * </pre>
 */
public final class SemaphoreDescriptor {
    public static final int DATA_OFFSET = 0;
    public static final int PRIVATE_OFFSET = 8;
    public static final int LENGTH = 32;
    /** {@code private} value of a process-shared semaphore (FUTEX_PRIVATE_FLAG clear). */
    public static final int SHARED = 128;
    /** One waiter, added to {@code data}. */
    public static final long ONE_WAITER = 1L << 32;
    public static final long VALUE_MASK = 0xffff_ffffL;
    public static final int SEM_VALUE_MAX = Integer.MAX_VALUE;

    private SemaphoreDescriptor() {
    }
}
