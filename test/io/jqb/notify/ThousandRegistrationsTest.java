package io.jqb.notify;

import static io.jqb.notify.NotifyTestSupport.awaitTrue;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** 1,000 registrations over 100 native client processes: routing, then cleanup when they all go. */
class ThousandRegistrationsTest {
    @Test
    void aThousandRegistrationsOverAHundredClients() {
        String service = NotifyTestSupport.uniqueService();
        List<LineProcess> clients = new ArrayList<>();
        try (NotificationBroker broker = NotificationBroker.start(service, null);
                Notifications sender = Notifications.open(service, "sender")) {
            for (int c = 0; c < 100; c++) {
                List<String> args = new ArrayList<>(List.of("listen", "--service", service, "--app", "app" + c));
                for (int i = 0; i < 10; i++) {
                    args.add("id" + i);
                }
                clients.add(LineProcess.qbn(args.toArray(String[]::new)));
            }
            clients.forEach(LineProcess::ready);
            assertEquals(1000, broker.registrations());
            assertEquals(101, broker.clients());
            assertEquals(NotifyResult.OK, sender.notify("*", "id7", "{\"k\":7}"));
            assertEquals(NotifyResult.OK, sender.notify("app42", "id3", "{\"only\":42}"));
            assertEquals(NotifyResult.OK, sender.notify("*", "id3", "{\"k\":3}"));
            for (int c = 0; c < 100; c++) {
                LineProcess p = clients.get(c);
                assertEquals("from=sender to=* id=id7 params={\"k\":7}", p.next());
                if (c == 42) {
                    assertEquals("from=sender to=app42 id=id3 params={\"only\":42}", p.next());
                }
                assertEquals("from=sender to=* id=id3 params={\"k\":3}", p.next(), "app" + c);
            }
            clients.forEach(LineProcess::kill);
            awaitTrue("every registration removed", 60_000, () -> broker.registrations() == 0);
            assertEquals(1, broker.clients());
        } finally {
            clients.forEach(LineProcess::close);
        }
    }
}
