package io.jqb.notify.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.notify.Notification;
import io.jqb.testutil.StderrCapture;
import java.util.ArrayDeque;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * A sender that fills a registration's delivery queue, lets it drain and fills it again starts one "not keeping up"
 * episode after another; what the client logs about it stays a few lines, not one per episode. The delivery
 * executor is run by hand here, so the queue fills and drains exactly when the test says.
 */
class DeliveryLogTest {
    private static final int EPISODES = 30;

    @Test
    void aSenderStartingEpisodeAfterEpisodeDoesNotFloodTheLog() {
        String id = "delivery-log-" + System.nanoTime();
        ArrayDeque<Runnable> tasks = new ArrayDeque<>();
        AtomicLong delivered = new AtomicLong();
        Delivery d = new Delivery(1, NotifyMessageDescriptor.KIND_NOTIFICATION, id, "", 0,
                n -> delivered.incrementAndGet(), tasks::add);
        Notification n = new Notification("sender", "", id, "{}", 0);
        try (StderrCapture err = new StderrCapture()) {
            long t0 = System.nanoTime();
            for (int episode = 0; episode < EPISODES; episode++) {
                // the callback does not run meanwhile: the queue fills and one more is dropped
                for (int i = 0; i <= Delivery.LIMIT; i++) {
                    d.offer(n);
                }
                assertEquals(episode + 1, d.dropped());
                while (!tasks.isEmpty()) {
                    tasks.poll().run();   // drains the queue: the episode ends
                }
            }
            assertEquals((long) EPISODES * Delivery.LIMIT, delivered.get());
            long seconds = (System.nanoTime() - t0) / 1_000_000_000L;
            int lines = err.lines("callback for '" + id + "' is not keeping up").size();
            // the limiter is one for the whole JVM: earlier lines of the same kind (other tests) may have used up
            // the current window, so only the bound is checked
            assertTrue(lines <= 5 * (seconds / 10 + 2), lines + " lines for " + EPISODES + " episodes in " + seconds
                    + " s");
        }
    }
}
