package io.jqb.internal.ring;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.internal.posix.PointerStore;
import io.jqb.internal.posix.Posix;
import io.jqb.internal.wire.SemaphoreDescriptor;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

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
        assertTrue(SharedSemaphore.needsWake(ONE | 64), "one waiter, every 64th token: bounds a cancelled waiter's stall");
        assertTrue(SharedSemaphore.needsWake(2 * ONE), "two waiters, value 0");
        assertTrue(SharedSemaphore.needsWake(2 * ONE | 3), "two waiters: one may sleep although tokens are there");
    }

    /**
     * Rounds of: every waiter thread registered and asleep on value 0, then a burst of one post per waiter; each waiter
     * takes exactly one token and waits for the next round. A post that skipped a needed wake-up leaves a waiter
     * asleep (await without time-out) with its token there, and the round never completes. Both post paths:
     * libjqbguard's JNI call (a plain window) and the Java compare-and-set (a repaired window).
     */
    @ParameterizedTest
    @CsvSource({"1,false", "2,false", "3,false", "1,true", "2,true", "3,true"})
    void noWakeUpIsMissed(int waiters, boolean repaired) throws Exception {
        int rounds = 300;
        long size = SemaphoreDescriptor.LENGTH;
        long mem = Posix.allocate(size + 16L * waiters);
        try {
            PointerStore store = new PointerStore(mem, size, repaired);
            SharedSemaphore post = new SharedSemaphore(store, 0, mem, mem + size, 0);
            post.init();
            CyclicBarrier roundDone = new CyclicBarrier(waiters + 1);
            AtomicLong timeouts = new AtomicLong();
            List<Thread> threads = new ArrayList<>();
            for (int w = 0; w < waiters; w++) {
                SharedSemaphore s = new SharedSemaphore(store, 0, mem, mem + size + 16L * w, 0);
                Thread t = new Thread(() -> {
                    try {
                        for (int r = 0; r < rounds; r++) {
                            if (s.await(-1) != 0) {
                                timeouts.incrementAndGet();
                            }
                            roundDone.await(60, TimeUnit.SECONDS);
                        }
                    } catch (Exception e) {
                        timeouts.incrementAndGet();
                    }
                }, "sem-waiter-" + w);
                t.setDaemon(true);
                threads.add(t);
                t.start();
            }
            for (int r = 0; r < rounds; r++) {
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                while ((store.readVolatileLong(0) >>> 32) != waiters) { // all registered at value 0: they sleep
                    assertTrue(System.nanoTime() < deadline, "waiters did not register");
                    Thread.onSpinWait();
                }
                for (int w = 0; w < waiters; w++) {
                    assertEquals(0, post.post());
                }
                try {
                    roundDone.await(30, TimeUnit.SECONDS);
                } catch (TimeoutException e) {
                    for (int w = 0; w < waiters; w++) {
                        post.post(); // release the sleeper(s) so that the threads end
                    }
                    throw new AssertionError("a waiter slept through its token in round " + r, e);
                }
                assertEquals(0, timeouts.get());
            }
            for (Thread t : threads) {
                t.join(TimeUnit.SECONDS.toMillis(10));
                assertFalse(t.isAlive());
            }
            assertEquals(0, post.value());
        } finally {
            Posix.free(mem, size + 16L * waiters);
        }
    }
}
