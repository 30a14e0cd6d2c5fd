package io.jqb.internal.ring;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.internal.posix.PointerStore;
import io.jqb.internal.posix.Posix;
import io.jqb.internal.wire.SemaphoreDescriptor;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The post side skips FUTEX_WAKE only where no sleeper can miss a token (SharedSemaphore.needsWake). */
class SharedSemaphoreWakeTest {
    private static final long ONE = 1L << 32;

    @Test
    void wakesFromZeroOrForSeveralWaitersOnly() {
        assertFalse(SharedSemaphore.needsWake(0), "no waiter");
        assertFalse(SharedSemaphore.needsWake(5), "no waiter, tokens");
        assertTrue(SharedSemaphore.needsWake(ONE), "one waiter, value 0: it may sleep");
        assertFalse(SharedSemaphore.needsWake(ONE | 1), "one waiter, a token there: the post that made it woke it");
        assertFalse(SharedSemaphore.needsWake(ONE | 0xffff_fff0L), "one waiter, value with the top bit (glibc unsigned)");
        assertTrue(SharedSemaphore.needsWake(2 * ONE), "two waiters, value 0");
        assertTrue(SharedSemaphore.needsWake(2 * ONE | 3), "two waiters: one may sleep although tokens are there");
    }

    /**
     * Waiter threads that sleep (await with a time-out) take every token a poster posts in bursts: a missed wake-up
     * would leave a waiter asleep with tokens there, and its await would time out (5 s) instead of returning 0.
     */
    @ParameterizedTest
    @ValueSource(ints = {1, 2, 3})
    void noWakeUpIsMissed(int waiters) throws Exception {
        int tokens = 20_000;
        long size = SemaphoreDescriptor.LENGTH;
        long mem = Posix.allocate(size + 16L * waiters);
        try {
            PointerStore store = new PointerStore(mem, size);
            SharedSemaphore post = new SharedSemaphore(store, 0, mem, mem + size, 0);
            post.init();
            AtomicInteger taken = new AtomicInteger();
            AtomicLong timeouts = new AtomicLong();
            List<Thread> threads = new ArrayList<>();
            for (int w = 0; w < waiters; w++) {
                SharedSemaphore s = new SharedSemaphore(store, 0, mem, mem + size + 16L * w, 0);
                Thread t = new Thread(() -> {
                    while (taken.get() < tokens) {
                        int rc = s.await(TimeUnit.SECONDS.toNanos(5));
                        if (rc == 0) {
                            taken.incrementAndGet();
                        } else if (taken.get() < tokens) {
                            timeouts.incrementAndGet();
                            return;
                        }
                    }
                }, "sem-waiter-" + w);
                threads.add(t);
                t.start();
            }
            for (int i = 0; i < tokens; i++) {
                assertEquals(0, post.post());
                if (i % 64 == 63) {
                    Thread.yield(); // bursts: the waiters go back to sleep between them
                }
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (taken.get() < tokens && timeouts.get() == 0 && System.nanoTime() < deadline) {
                Thread.onSpinWait();
            }
            assertEquals(0, timeouts.get(), "a waiter slept through tokens");
            assertEquals(tokens, taken.get());
            // Release waiters still in await (tokens == taken: they time out or see the count reached).
            for (int w = 0; w < waiters; w++) {
                post.post();
            }
            for (Thread t : threads) {
                t.join(TimeUnit.SECONDS.toMillis(10));
                assertFalse(t.isAlive());
            }
        } finally {
            Posix.free(mem, size + 16L * waiters);
        }
    }
}
