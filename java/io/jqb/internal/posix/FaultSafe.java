package io.jqb.internal.posix;

/**
 * Atomic updates of shared memory that a peer may have truncated under us.
 *
 * <p>A peer that owns a mapped file can {@code ftruncate} it; every later access to the vanished pages raises SIGBUS.
 * HotSpot turns SIGBUS in Unsafe loads and stores into an {@link InternalError}, but not in an interpreted Unsafe
 * compare-and-set, which runs in VM code: there it is a fatal error and the JVM dies (seen with a truncated ring
 * header: the teardown's {@code ref_count} decrement crashed the server). These updates are done by the kernel
 * instead ({@code futex(FUTEX_WAKE_OP)}, which applies an atomic operation to a word and wakes nobody), where a
 * vanished page is an EFAULT return, never a signal. Each costs a system call: use them off the hot path.</p>
 */
public final class FaultSafe {
    private static final int FUTEX_WAKE_OP = 5;
    private static final int FUTEX_OP_ADD = 1;

    private FaultSafe() {
    }

    /**
     * Atomically adds {@code delta} to the aligned 32-bit word at {@code address} (a process-shared mapping).
     *
     * @param delta -2048..2047
     * @return true when done, false when the memory is gone (EFAULT: the file was truncated)
     */
    public static boolean addInt(long address, int delta) {
        if (delta < -2048 || delta > 2047 || (address & 3) != 0) {
            throw new IllegalArgumentException("delta=" + delta + " address=" + address);
        }
        int op = (FUTEX_OP_ADD << 28) | ((delta & 0xfff) << 12);
        return Posix.C.syscall(LibC.SYS_futex, address, FUTEX_WAKE_OP, 0, 0, address, op) >= 0;
    }

    /** @return true when the word at {@code address} can be accessed (a kernel probe: never a signal) */
    public static boolean accessible(long address) {
        return Posix.C.syscall(LibC.SYS_futex, address & ~3L, LibC.FUTEX_WAKE, 0, 0, 0, 0) >= 0;
    }
}
