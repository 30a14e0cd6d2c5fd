package io.jqb.notify.internal;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * The broker's flusher never forgets an outbox that was woken: an outbox whose backlog refills right after a flush
 * found it empty (the loop thread queues behind a full ring and calls {@code wake} while the flusher is still
 * finishing that flush) is retried again.
 */
class FlusherTest {
    @Test
    void aWakeRightAfterAFlushFoundNothingLeftIsNotLost() throws Exception {
        Flusher flusher = new Flusher("flusher-test");
        CountDownLatch retried = new CountDownLatch(1);
        AtomicInteger flushes = new AtomicInteger();
        Flusher.Flushable outbox = new Flusher.Flushable() {
            @Override
            public boolean flush() {
                if (flushes.incrementAndGet() == 1) {
                    // empty now; before the flusher acts on that, the backlog refills and the sender wakes it
                    Thread sender = new Thread(() -> flusher.wake(this), "flusher-test-sender");
                    sender.start();
                    try {
                        sender.join();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    return true;
                }
                retried.countDown();
                return true;
            }
        };
        try {
            flusher.wake(outbox);
            assertTrue(retried.await(30, TimeUnit.SECONDS), "the refilled outbox was never flushed again ("
                    + flushes.get() + " flush)");
        } finally {
            flusher.stop();
        }
    }
    /** A never-finishing outbox with a chosen hash code: two of them share a bin of the flusher's set. */
    private static final class Stuck implements Flusher.Flushable {
        private final int hash;
        final AtomicInteger flushes = new AtomicInteger();

        Stuck(int hash) {
            this.hash = hash;
        }

        @Override
        public boolean flush() {
            flushes.incrementAndGet();
            return false;
        }

        @Override
        public int hashCode() {
            return hash;
        }

        @Override
        public boolean equals(Object o) {
            return this == o;
        }
    }

    /**
     * Two outboxes that stay full and share a hash bin do not keep the flusher's pass to themselves: an outbox in
     * another bin is retried too (before, re-adding each one during the pass put it behind the iterator, and the
     * pass never ended).
     */
    @Test
    void twoStuckOutboxesInOneBinDoNotStarveTheOthers() throws Exception {
        Flusher flusher = new Flusher("flusher-test-bins");
        Stuck a = new Stuck(1);
        Stuck b = new Stuck(1);
        CountDownLatch thirdRetried = new CountDownLatch(3);
        Flusher.Flushable c = new Flusher.Flushable() {
            @Override
            public boolean flush() {
                thirdRetried.countDown();
                return false;
            }

            @Override
            public int hashCode() {
                return 2;
            }
        };
        try {
            flusher.wake(a);
            flusher.wake(b);
            flusher.wake(c);
            assertTrue(thirdRetried.await(30, TimeUnit.SECONDS), "the outbox in another bin was retried "
                    + (3 - thirdRetried.getCount()) + " times while the two in one bin were flushed " + a.flushes.get()
                    + " and " + b.flushes.get() + " times");
        } finally {
            flusher.stop();
        }
    }
}
