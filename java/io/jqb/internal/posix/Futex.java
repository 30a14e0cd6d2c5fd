package io.jqb.internal.posix;

/**
 * Shared (not process-private) futex operations on a 32-bit word in a shared mapping. The kernel keys a shared
 * futex by file and offset, so a waiter and a waker that map the same header file meet even at different
 * addresses, as glibc's process-shared semaphores require.
 */
public final class Futex {
    private Futex() {
    }

    /** Wakes up to {@code count} waiters; returns the number woken or -1 (errno set). */
    public static int wake(long address, int count) {
        return (int) Posix.C.syscall(LibC.SYS_futex, address, LibC.FUTEX_WAKE, count, 0, 0);
    }

    /**
     * Sleeps while the word at {@code address} equals {@code expected}.
     *
     * @param timespec address of a struct timespec holding the relative timeout, or 0 to wait forever
     * @return 0 when woken (or the value differed: EAGAIN), -1 with errno on timeout (ETIMEDOUT) or signal (EINTR)
     */
    public static int waitRelative(long address, int expected, long timespec) {
        return (int) Posix.C.syscall(LibC.SYS_futex, address, LibC.FUTEX_WAIT, expected, timespec, 0);
    }
}
