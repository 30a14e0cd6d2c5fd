package io.jqb.notify;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import io.jqb.notify.internal.BrokerLock;
import io.jqb.testutil.LeakProbe;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Brokers, clients and peer links leave no fd, thread, /dev/shm entry or lock file behind. */
class NotifyLeakTest {
    @TempDir
    Path dir;

    @Test
    void brokersClientsAndLinksLeaveNothingBehind() throws Exception {
        // warm up class loading and lazily made JDK threads outside the measured phase
        String warm = NotifyTestSupport.uniqueService();
        try (NotificationBroker b = NotificationBroker.start(warm, null);
                Notifications n = Notifications.open(warm, "warm")) {
            n.notify("*", "x", "{}");
        }
        LeakProbe.Snapshot before = LeakProbe.snapshot();
        for (int round = 0; round < 3; round++) {
            String sb = NotifyTestSupport.uniqueService();
            String sa = NotifyTestSupport.uniqueService();
            Path cb = Files.writeString(dir.resolve("b" + round), "listen 127.0.0.1:0\nreceive x\n");
            try (NotificationBroker b = NotificationBroker.start(sb, cb)) {
                Path ca = Files.writeString(dir.resolve("a" + round),
                        "listen 127.0.0.1:0\nsend x\npeer 127.0.0.1:" + b.tcpPort() + "\n");
                try (NotificationBroker a = NotificationBroker.start(sa, ca);
                        Notifications onA = Notifications.open(sa, "a");
                        Notifications onB = Notifications.open(sb, "b")) {
                    NotifyTestSupport.awaitTrue("link", 60_000, () -> b.connectedPeers() == 1);
                    BlockingQueue<Notification> got = new LinkedBlockingQueue<>();
                    onB.register("x", got::add, 0, "*");
                    onB.registerObserver(got::add);
                    assertEquals(NotifyResult.OK, onA.notify("*", "x", "{}"));
                    assertEquals("x", got.poll(60, TimeUnit.SECONDS).id());
                }
            }
            assertFalse(Files.exists(BrokerLock.pathFor(sb)), "lock file removed");
        }
        LeakProbe.assertNoLeak("3 rounds of two linked brokers and two clients", before, Duration.ofSeconds(10));
    }
}
