package io.jqb.testutil;

import io.jqb.internal.posix.LibC;
import io.jqb.internal.posix.Posix;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;

/** Looks at a service's loop from outside: the CPU its thread uses, the bytes waiting on one of its sockets. */
public final class LoopProbe {
    private static final int PEEK = 4096;

    private LoopProbe() {
    }

    /**
     * The CPU time, in ms, that the live thread named {@code threadName} uses during the next {@code ms}
     * milliseconds. The window is the measurement (an idle loop uses ~0 ms of it), not a synchronisation.
     */
    public static long cpuMillis(String threadName, long ms) {
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        Thread t = Thread.getAllStackTraces().keySet().stream().filter(x -> x.getName().equals(threadName))
                .findFirst().orElseThrow();
        long c0 = mx.getThreadCpuTime(t.getId());
        NativeClient.sleep(ms);
        return (mx.getThreadCpuTime(t.getId()) - c0) / 1_000_000;
    }

    /** Bytes waiting in {@code fd}'s receive queue, up to 4096 (read with MSG_PEEK: nothing consumed). */
    public static int queuedBytes(int fd) {
        long buf = Posix.allocate(PEEK);
        try {
            long n = Posix.C.recv(fd, buf, PEEK, LibC.MSG_PEEK | LibC.MSG_DONTWAIT);
            return n < 0 ? 0 : (int) n;
        } finally {
            Posix.free(buf, PEEK);
        }
    }
}
