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
}
