package io.jqb.notify;

import static io.jqb.notify.NotifyTestSupport.awaitTrue;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.notify.internal.Outbox;
import io.jqb.testutil.ShmAssert;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** Faults across processes: clients killed mid-delivery, a client that never reads, a broker killed and restarted. */
class NotifyFaultTest {
    private static final long WAIT_MS = 60_000;

    private static long shmDirsOf(long serverPid, long clientPid) throws IOException {
        try (Stream<Path> s = Files.list(Path.of("/dev/shm"))) {
            return s.filter(p -> p.getFileName().toString().startsWith("qb-" + serverPid + "-" + clientPid + "-"))
                    .count();
        }
    }

    @Test
    void aClientKilledMidDeliveryIsForgottenAtOnce() throws Exception {
        String service = NotifyTestSupport.uniqueService();
        long me = ProcessHandle.current().pid();
        try (NotificationBroker broker = NotificationBroker.start(service, null);
                Notifications jv = Notifications.open(service, "jv")) {
            AtomicInteger got = new AtomicInteger();
            jv.register("flood", n -> got.incrementAndGet(), 0, null);
            LineProcess victim = LineProcess.qbn("listen", "--service", service, "--app", "victim", "flood", "x",
                    "y").ready();
            assertEquals(4, broker.registrations());
            AtomicBoolean stop = new AtomicBoolean();
            Thread sender = new Thread(() -> {
                while (!stop.get()) {
                    jv.notify("*", "flood", "{\"pad\":\"" + "p".repeat(500) + "\"}");
                }
            });
            sender.start();
            try {
                victim.next();   // deliveries are flowing to it
                victim.kill();
                awaitTrue("the victim's registrations removed", WAIT_MS, () -> broker.registrations() == 1);
                awaitTrue("the victim's connection gone", WAIT_MS, () -> broker.clients() == 1);
                awaitTrue("the victim's ring files removed", WAIT_MS, () -> {
                    try {
                        return shmDirsOf(me, victim.pid()) == 0;
                    } catch (IOException e) {
                        return false;
                    }
                });
            } finally {
                stop.set(true);   // also when an assertion failed: no flooding thread outlives the test
                sender.join();
                victim.kill();
            }
            int before = got.get();
            assertEquals(NotifyResult.OK, jv.notify("jv", "flood", "{}"));
            awaitTrue("delivery goes on", WAIT_MS, () -> got.get() > before);
        }
    }

    @Test
    void aClientThatNeverReadsCostsTheBrokerABoundedQueue() throws Exception {
        String service = NotifyTestSupport.uniqueService();
        int count = 5_000;
        try (NotificationBroker broker = NotificationBroker.start(service, null);
                Notifications jv = Notifications.open(service, "jv")) {
            BlockingQueue<Notification> got = new LinkedBlockingQueue<>();
            jv.register("stall", got::add, 0, "*");
            try (LineProcess staller = LineProcess.qbn("listen", "--service", service, "--app", "staller", "--stall",
                    "stall").ready()) {
                // in batches the reading client keeps up with even on a loaded machine; the staller reads nothing
                for (int batch = 0; batch < count / 250; batch++) {
                    for (int i = batch * 250; i < (batch + 1) * 250; i++) {
                        assertEquals(NotifyResult.OK, jv.notify("*", "stall", "{\"i\":" + i + "}"));
                    }
                    for (int i = batch * 250; i < (batch + 1) * 250; i++) {
                        Notification n = got.poll(60, TimeUnit.SECONDS);
                        assertEquals("{\"i\":" + i + "}", n == null ? null : n.params(), "reader got all, in order");
                    }
                }
                // the staller's ring filled, then its outbox: exactly the bound, the rest dropped
                assertEquals(Outbox.MAX_EVENTS, broker.maxQueued());
                assertTrue(broker.dropped() > 0 && broker.dropped() < count - Outbox.MAX_EVENTS,
                        "dropped " + broker.dropped());
                staller.kill();
                awaitTrue("staller forgotten", WAIT_MS, () -> broker.clients() == 1 && broker.maxQueued() == 0);
                assertEquals(0, broker.dropped());
            }
        }
    }

    @Test
    void clientsNoticeABrokerKilledAndReRegisterWhenItReturns() throws Exception {
        String service = NotifyTestSupport.uniqueService();
        LineProcess broker = LineProcess.jqb("notify-broker", "--service", service).ready();
        long killedBroker = broker.pid();
        try (Notifications jv = Notifications.open(service, "jv")) {
            BlockingQueue<Notification> got = new LinkedBlockingQueue<>();
            assertEquals(NotifyResult.OK, jv.register("rs", got::add, 0, null));
            assertEquals(NotifyResult.OK, jv.notify("jv", "rs", "{\"n\":1}"));
            assertEquals("{\"n\":1}", got.poll(60, TimeUnit.SECONDS).params());
            broker.kill();
            awaitTrue("client noticed the broker's death", WAIT_MS, () -> !jv.isConnected());
            assertEquals(NotifyResult.SERVER, jv.notify("jv", "rs", "{\"n\":2}"));
            BlockingQueue<Notification> later = new LinkedBlockingQueue<>();
            assertEquals(NotifyResult.SERVER, jv.register("rs.later", later::add, 0, null));
            broker = LineProcess.jqb("notify-broker", "--service", service).ready();
            awaitTrue("client reconnected", WAIT_MS, jv::isConnected);
            LineProcess n = LineProcess.qbn("notify", "--service", service, "--app", "cn", "--to", "jv", "rs",
                    "{\"n\":3}");
            assertEquals(0, n.exit(), n.describe());
            assertEquals("{\"n\":3}", got.poll(60, TimeUnit.SECONDS).params(), "re-registered after restart");
            n = LineProcess.qbn("notify", "--service", service, "--app", "cn", "--to", "jv", "rs.later", "{}");
            assertEquals(0, n.exit(), n.describe());
            assertEquals("cn", later.poll(60, TimeUnit.SECONDS).from(), "made while down, active after restart");
            assertTrue(got.isEmpty(), "n=2 was never delivered: " + got);
        } finally {
            broker.terminate();
            assertEquals(0, broker.exit());
            // The client removes a dead server's directory only when it can tell the server is gone at close; a
            // JVM still exiting under load may not be, and a SIGKILLed server cannot: this test's own to remove.
            ShmAssert.removeAll(killedBroker);
        }
    }
}
