package io.jqb.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.jqb.notify.Notification;
import io.jqb.notify.NotificationBroker;
import org.junit.jupiter.api.Test;

/** Runs the notification example of the README. */
class NotifyExampleTest {
    @Test
    void brokerDeliversTheBroadcastToTheRegisteredCallback() throws Exception {
        String service = "jqbn-example-" + ProcessHandle.current().pid();
        try (NotificationBroker b = NotifyExample.broker(service)) {
            Notification n = NotifyExample.roundTrip(service);
            assertEquals(new Notification("payments", "*", "config.changed", "{\"file\":\"/etc/pay.conf\"}", 0), n);
        }
    }
}
