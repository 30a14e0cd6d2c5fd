package io.jqb.notify;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.testutil.StderrCapture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A callback that throws on what senders send it: every notification still reaches it, and the client logs the
 * failure with its stack trace a few times a second, not once per notification.
 */
class CallbackFailureLogTest {
    private static final int COUNT = 300;

    @Test
    void aCallbackThatThrowsOnEveryNotificationDoesNotFloodTheLog() throws Exception {
        String service = NotifyTestSupport.uniqueService();
        CountDownLatch calls = new CountDownLatch(COUNT);
        try (NotificationBroker broker = NotificationBroker.start(service, null);
                Notifications fragile = Notifications.open(service, "fragile");
                Notifications sender = Notifications.open(service, "sender");
                StderrCapture err = new StderrCapture()) {
            assertEquals(NotifyResult.OK, fragile.register("bad", n -> {
                calls.countDown();
                throw new IllegalStateException("cannot handle " + n.params());
            }));
            long t0 = System.nanoTime();
            for (int i = 0; i < COUNT; i++) {
                assertEquals(NotifyResult.OK, sender.notify("fragile", "bad", "{\"i\":" + i + "}"));
            }
            assertTrue(calls.await(60, TimeUnit.SECONDS), "every notification reached the callback");
            long seconds = (System.nanoTime() - t0) / 1_000_000_000L;
            int lines = err.lines("notification callback for 'bad' failed").size();
            // the limiter is one per kind of line for the whole JVM: earlier lines of the same kind (other
            // tests) may have used up the current window, so only the bound is checked
            assertTrue(lines <= 5 * (seconds + 2) && lines < COUNT, lines + " lines for " + COUNT + " failures in "
                    + seconds + " s");
        }
    }
}
