package io.jqb.notify;

import static io.jqb.notify.NotifyTestSupport.awaitTrue;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two brokers on two loopback ports stand in for two hosts: only whitelisted IDs cross, in each direction.
 * Host A sends {@code a.out} and {@code a.refused} and receives {@code b.out}; host B receives {@code a.out} and
 * sends {@code b.out} and {@code b.refused}.
 */
class CrossHostTest {
    @TempDir
    Path dir;

    private static Notification take(BlockingQueue<Notification> q) throws InterruptedException {
        Notification n = q.poll(60, TimeUnit.SECONDS);
        assertTrue(n != null, "nothing crossed");
        return n;
    }

    @Test
    void onlyWhitelistedIdsCrossHostsInEitherDirection() throws Exception {
        Path cb = Files.writeString(dir.resolve("b.conf"), String.join("\n",
                "# host B", "listen 127.0.0.1:0", "receive a.out", "send b.out", "send b.refused", ""));
        String sa = NotifyTestSupport.uniqueService();
        String sb = NotifyTestSupport.uniqueService();
        try (NotificationBroker b = NotificationBroker.start(sb, cb)) {
            Path ca = Files.writeString(dir.resolve("a.conf"), String.join("\n",
                    "listen 127.0.0.1:0", "send a.out", "send a.refused", "receive b.out",
                    "peer 127.0.0.1:" + b.tcpPort(), ""));
            try (NotificationBroker a = NotificationBroker.start(sa, ca);
                    Notifications onA = Notifications.open(sa, "appa");
                    Notifications onB = Notifications.open(sb, "appb")) {
                awaitTrue("link up", 60_000, () -> a.connectedPeers() == 1 && b.connectedPeers() == 1);
                BlockingQueue<Notification> atB = new LinkedBlockingQueue<>();
                BlockingQueue<Notification> atA = new LinkedBlockingQueue<>();
                for (String id : new String[] {"a.out", "a.refused", "a.local"}) {
                    onB.register(id, atB::add, 0, "*");
                }
                for (String id : new String[] {"b.out", "b.refused"}) {
                    onA.register(id, atA::add, 0, "*");
                }
                // A -> B: a.local is not in A's send list, a.refused not in B's receive list
                onA.notify("*", "a.local", "{\"n\":1}");
                onA.notify("*", "a.refused", "{\"n\":2}");
                onA.notify("appb", "a.out", "{\"n\":3}");
                Notification n = take(atB);
                assertEquals(new Notification("appa", "appb", "a.out", "{\"n\":3}", 0), n);
                assertEquals(1, b.refusedFromPeers());
                // B -> A over the same link: b.refused is sent by B, refused by A
                onB.notify("*", "b.refused", "{\"n\":4}");
                onB.notify("*", "b.out", "{\"n\":5}");
                assertEquals("{\"n\":5}", take(atA).params());
                assertEquals(1, a.refusedFromPeers());
                assertTrue(atA.isEmpty() && atB.isEmpty(), "nothing else crossed: " + atA + atB);
            }
        }
    }

    @Test
    void aBadConfigurationStopsTheBrokerWithItsLineNumber() throws Exception {
        Path bad = Files.writeString(dir.resolve("bad.conf"), "send a\nlisten nowhere:x\n");
        NotificationException e = assertThrows(NotificationException.class,
                () -> NotificationBroker.start(NotifyTestSupport.uniqueService(), bad));
        assertEquals(NotifyResult.CONFIG_SYNTAX, e.result());
        assertTrue(e.getMessage().contains("bad.conf:2:"), e.getMessage());
        NotificationException missing = assertThrows(NotificationException.class,
                () -> NotificationBroker.start(NotifyTestSupport.uniqueService(), dir.resolve("none.conf")));
        assertEquals(NotifyResult.CONFIG_FILE, missing.result());
    }
}
