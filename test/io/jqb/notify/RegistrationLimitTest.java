package io.jqb.notify;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.jqb.notify.internal.BrokerLink;
import io.jqb.notify.internal.Note;
import io.jqb.notify.internal.NoteCodec.Registration;
import io.jqb.notify.internal.NotifyMessageDescriptor;
import org.junit.jupiter.api.Test;

/**
 * A client that registers without end (new regIds, over the wire as any libqb client can) costs the broker a
 * bounded routing table: past {@link NotifyMessageDescriptor#MAX_REGISTRATIONS} new registrations are refused with
 * LIMIT and not kept, while replacing, unregistering and other clients go on working.
 */
class RegistrationLimitTest {
    private static final int MAX = NotifyMessageDescriptor.MAX_REGISTRATIONS;

    private static Registration reg(long regId, int priority) {
        return new Registration(regId, priority, NotifyMessageDescriptor.KIND_NOTIFICATION, "id" + regId, "");
    }

    @Test
    void aClientCannotGrowTheBrokersRoutingTableWithoutBound() {
        String service = NotifyTestSupport.uniqueService();
        try (NotificationBroker broker = NotificationBroker.start(service, null)) {
            BrokerLink hog = new BrokerLink(service, "hog", new BrokerLink.Owner() {
                @Override
                public void connected() {
                }

                @Override
                public void event(int eventId, Note note) {
                }
            });
            try {
                for (int i = 1; i <= MAX; i++) {
                    assertEquals(NotifyResult.OK, hog.register(reg(i, 0)).result(), "registration " + i);
                }
                for (int i = 1; i <= 1000; i++) {
                    assertEquals(NotifyResult.LIMIT, hog.register(reg(MAX + i, 0)).result(), "registration " + i
                            + " past the limit");
                }
                assertEquals(MAX, broker.registrations());
                // replacing one it has is not a new registration; after an unregister a new one fits again
                assertEquals(NotifyResult.OK, hog.register(reg(1, 5)).result());
                assertEquals(NotifyResult.OK, hog.unregister(2).result());
                assertEquals(NotifyResult.OK, hog.register(reg(MAX + 5000, 0)).result());
                assertEquals(NotifyResult.LIMIT, hog.register(reg(MAX + 5001, 0)).result());
                assertEquals(MAX, broker.registrations());
                // other clients are not limited by it
                try (Notifications other = Notifications.open(service, "other")) {
                    assertEquals(NotifyResult.OK, other.register("x", n -> { }));
                    assertEquals(MAX + 1, broker.registrations());
                }
            } finally {
                hog.close();
            }
        }
    }
    @Test
    void aRegistrationRefusedWithLimitIsNotKeptByTheClient() {
        String service = NotifyTestSupport.uniqueService();
        NotificationBroker broker = NotificationBroker.start(service, null);
        try (Notifications n = Notifications.open(service, "many")) {
            NotificationCallback cb = x -> { };
            for (int i = 0; i < MAX; i++) {
                assertEquals(NotifyResult.OK, n.register("id" + i, cb));
            }
            assertEquals(NotifyResult.LIMIT, n.register("refused", cb));
            assertEquals(NotifyResult.OK, n.unregister("id0", cb, null));
            // a restarted broker gets what the client keeps: MAX - 1, not the refused one on top
            broker.close();
            broker = NotificationBroker.start(service, null);
            NotificationBroker b = broker;
            // connected: the broker answered the hello and every re-registration
            NotifyTestSupport.awaitTrue("re-registered", 60_000,
                    () -> n.isConnected() && b.registrations() >= MAX - 1);
            assertEquals(MAX - 1, b.registrations());
        } finally {
            broker.close();
        }
    }
}
