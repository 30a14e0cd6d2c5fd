package io.jqb.notify;

import static org.junit.jupiter.api.Assertions.fail;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

/** Private broker names and condition waits for the notification tests. */
final class NotifyTestSupport {
    private static final AtomicInteger N = new AtomicInteger();

    private NotifyTestSupport() {
    }

    /** @return a service name no other test run or real broker uses */
    static String uniqueService() {
        return "jqbn-t" + ProcessHandle.current().pid() + "-" + N.incrementAndGet();
    }

    /** Polls a condition (every 5 ms) until true; fails after {@code ms}. */
    static void awaitTrue(String what, long ms, BooleanSupplier c) {
        long end = System.nanoTime() + ms * 1_000_000;
        while (!c.getAsBoolean()) {
            if (System.nanoTime() > end) {
                fail("timed out after " + ms + " ms waiting for: " + what);
            }
            LockSupport.parkNanos(5_000_000);
        }
    }
}
