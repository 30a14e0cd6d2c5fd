package io.jqb.examples;

import io.jqb.notify.Notification;
import io.jqb.notify.NotificationBroker;
import io.jqb.notify.Notifications;
import io.jqb.notify.NotifyResult;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/** README example: a notification broker, a receiver and a sender. */
public final class NotifyExample {
    private NotifyExample() {
    }

    /** Starts a broker for {@code service} (the host-wide one is {@link NotificationBroker#defaultService()}). */
    public static NotificationBroker broker(String service) {
        // [broker]
        NotificationBroker broker = NotificationBroker.start(service, null);  // null: no config, nothing crosses hosts
        // [/broker]
        return broker;
    }

    /** Registers "payments" for config.changed, broadcasts one, and returns what the callback got. */
    public static Notification roundTrip(String service) throws InterruptedException {
        BlockingQueue<Notification> inbox = new LinkedBlockingQueue<>();
        // [notify]
        try (Notifications n = Notifications.open(service, "payments")) {   // or Notifications.instance()
            n.register("config.changed", inbox::add, 0, null);   // callbacks run on delivery threads
            NotifyResult r = n.notify("*", "config.changed", "{\"file\":\"/etc/pay.conf\"}", 0, null);
            if (r != NotifyResult.OK) {                            // SERVER when no broker runs
                throw new IllegalStateException("notify: " + r);
            }
            Notification got = inbox.poll(5, TimeUnit.SECONDS);    // from=payments to=* id=config.changed
            return got;
        }
        // [/notify]
    }
}
