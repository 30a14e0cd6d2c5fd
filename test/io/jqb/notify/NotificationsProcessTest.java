package io.jqb.notify;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The client API's semantics with the broker in another process ({@code bin/jqb notify-broker}) and native libqb
 * clients ({@code native/build/qbn-notify}) as the other applications.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class NotificationsProcessTest {
    private static final long WAIT = 30;
    private final String service = NotifyTestSupport.uniqueService();
    private LineProcess broker;
    private Notifications jv;

    @BeforeAll
    void start() {
        broker = LineProcess.jqb("notify-broker", "--service", service).ready();
        jv = Notifications.open(service, "jv");
        assertTrue(jv.isConnected());
    }

    @AfterAll
    void stop() {
        if (jv != null) {
            jv.close();
        }
        if (broker != null) {
            broker.close();
        }
    }

    private static Notification take(BlockingQueue<Notification> q) throws InterruptedException {
        Notification n = q.poll(WAIT, TimeUnit.SECONDS);
        assertTrue(n != null, "no notification within " + WAIT + " s");
        return n;
    }

    private LineProcess nativeNotify(String app, String to, String id, String json, String... extra) {
        String[] base = {"notify", "--service", service, "--app", app, "--to", to};
        String[] all = new String[base.length + extra.length + 2];
        System.arraycopy(base, 0, all, 0, base.length);
        System.arraycopy(extra, 0, all, base.length, extra.length);
        all[all.length - 2] = id;
        all[all.length - 1] = json;
        return LineProcess.qbn(all);
    }

    @Test
    void nativeAndJavaClientsExchangeNotificationsBothWays() throws Exception {
        BlockingQueue<Notification> got = new LinkedBlockingQueue<>();
        assertEquals(NotifyResult.OK, jv.register("both", got::add, 0, null));
        try (LineProcess cn = LineProcess.qbn("listen", "--service", service, "--app", "cn", "both").ready()) {
            LineProcess send = nativeNotify("cn", "jv", "both", "{\"from\": \"c\"}", "--flags", "7");
            assertEquals(0, send.exit(), send.describe());
            assertEquals("OK receivers=1", send.stdout().strip());
            Notification n = take(got);
            assertEquals(new Notification("cn", "jv", "both", "{\"from\":\"c\"}", 7), n);
            assertEquals("c", n.paramsJson().get("from").asText());
            assertEquals(NotifyResult.OK, jv.notify("cn", "both", "{\"from\":\"java\"}", 0, null));
            assertEquals("from=jv to=cn id=both params={\"from\":\"java\"}", cn.next());
        }
        LineProcess pp = LineProcess.qbn("pingpong", "--service", service, "--app", "cping", "ping", "{\"k\":1}");
        assertEquals(0, pp.exit(), pp.describe());
        assertEquals("from=cping to=cping id=ping params={\"k\":1}", pp.stdout().strip());
        jv.unregister("both", null, null);
    }

    @Test
    void reRegisteringTheSameCallbackReplacesIt() throws Exception {
        BlockingQueue<Notification> got = new LinkedBlockingQueue<>();
        NotificationCallback cb = got::add;
        assertEquals(NotifyResult.OK, jv.register("rep", cb, 1, null));
        try (LineProcess cn = LineProcess.qbn("listen", "--service", service, "--app", "cn", "--priority", "5",
                "rep").ready()) {
            assertEquals(NotifyResult.OK, jv.notify("1", "rep", "{\"n\":1}"));
            assertEquals("from=jv to=cn id=rep params={\"n\":1}", cn.next());
            assertEquals(NotifyResult.OK, jv.register("rep", cb, 9, null));   // replaces: priority 9
            assertEquals(NotifyResult.OK, jv.notify("1", "rep", "{\"n\":2}"));
            assertEquals("{\"n\":2}", take(got).params());
            assertEquals(NotifyResult.OK, jv.notify("*", "rep", "{\"n\":3}"));
            assertEquals("{\"n\":3}", take(got).params());
            assertEquals("from=jv to=* id=rep params={\"n\":3}", cn.next());
            assertEquals(NotifyResult.OK, jv.notify("*", "rep", "{\"n\":4}"));
            assertEquals("{\"n\":4}", take(got).params(), "one registration: n=3 came once");
        }
        jv.unregister("rep", cb, null);
    }

    @Test
    void unregisterWaitsForTheRunningCallback() throws Exception {
        CountDownLatch entered = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        AtomicBoolean finished = new AtomicBoolean();
        AtomicInteger calls = new AtomicInteger();
        NotificationCallback slow = n -> {
            calls.incrementAndGet();
            entered.countDown();
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            finished.set(true);
        };
        BlockingQueue<Notification> marker = new LinkedBlockingQueue<>();
        jv.register("uw", slow, 0, null);
        jv.register("uw", marker::add, 0, null);
        // sent by another process
        assertEquals(0, nativeNotify("cn", "jv", "uw", "{\"n\":1}").exit());
        assertTrue(entered.await(WAIT, TimeUnit.SECONDS));
        AtomicBoolean finishedAtReturn = new AtomicBoolean();
        Thread t = new Thread(() -> {
            jv.unregister("uw", slow, null);
            finishedAtReturn.set(finished.get());
        });
        t.start();
        NotifyTestSupport.awaitTrue("unregister waiting for the callback", WAIT * 1000,
                () -> !t.isAlive() || t.getState() == Thread.State.WAITING && java.util.Arrays.stream(
                        t.getStackTrace()).anyMatch(f -> f.getMethodName().equals("deactivate")));
        assertTrue(t.isAlive(), "unregister returned while the callback was running");
        release.countDown();
        t.join(WAIT * 1000);
        assertTrue(finishedAtReturn.get(), "unregister returned before the callback finished");
        take(marker);
        assertEquals(0, nativeNotify("cn", "jv", "uw", "{\"n\":2}").exit());
        assertEquals("{\"n\":2}", take(marker).params());
        assertEquals(1, calls.get(), "the unregistered callback ran again");
        jv.unregister("uw", null, null);
    }

    @Test
    void unregisterInsideTheCallbackTakesEffectWithoutDeadlock() throws Exception {
        AtomicInteger calls = new AtomicInteger();
        AtomicReference<NotifyResult> inside = new AtomicReference<>();
        CountDownLatch done = new CountDownLatch(1);
        NotificationCallback self = new NotificationCallback() {
            @Override
            public void onNotification(Notification n) {
                calls.incrementAndGet();
                inside.set(jv.unregister("ui", this, null));
                done.countDown();
            }
        };
        BlockingQueue<Notification> marker = new LinkedBlockingQueue<>();
        jv.register("ui", self, 0, null);
        jv.register("ui", marker::add, 0, null);
        jv.notify("jv", "ui", "{\"n\":1}");
        jv.notify("jv", "ui", "{\"n\":2}");
        assertTrue(done.await(WAIT, TimeUnit.SECONDS), "unregister inside the callback did not return");
        assertEquals(NotifyResult.OK, inside.get());
        take(marker);
        take(marker);
        jv.notify("jv", "ui", "{\"n\":3}");
        assertEquals("{\"n\":3}", take(marker).params());
        assertEquals(1, calls.get());
        jv.unregister("ui", null, null);
    }

    @Test
    void nullCallbackRemovesEveryRegistrationForTheId() throws Exception {
        BlockingQueue<Notification> a = new LinkedBlockingQueue<>();
        BlockingQueue<Notification> b = new LinkedBlockingQueue<>();
        BlockingQueue<Notification> other = new LinkedBlockingQueue<>();
        jv.register("nc", a::add, 0, null);
        jv.register("nc", b::add, 0, "*");
        jv.register("nc2", other::add, 0, null);
        assertEquals(NotifyResult.OK, jv.unregister("nc", null, null));
        jv.notify("*", "nc", "{}");
        jv.notify("*", "nc2", "{}");
        take(other);
        assertNull(a.poll());
        assertNull(b.poll());
        jv.unregister("nc2", null, null);
    }

    @Test
    void unicastErrorsFireForUnicastsOnlyAndObserversSeeEmptyTo() throws Exception {
        BlockingQueue<Notification> errors = new LinkedBlockingQueue<>();
        BlockingQueue<Notification> seen = new LinkedBlockingQueue<>();
        NotificationCallback err = errors::add;
        NotificationCallback obs = seen::add;
        jv.registerUnicastError(err);
        jv.registerObserver(obs);
        assertEquals(NotifyResult.OK, jv.notify("*", "ue.none", "{\"n\":1}"));
        assertEquals(NotifyResult.OK, jv.notify("nobody", "ue.none", "{\"n\":2}"));
        assertEquals(NotifyResult.OK, jv.notify("1", "ue.none", "{\"n\":3}"));
        Notification e = take(errors);
        assertEquals("{\"n\":2}", e.params(), "the broadcast raised no unicast error");
        assertEquals("nobody", e.to());
        assertEquals("1", take(errors).to());
        for (int i = 1; i <= 3; i++) {
            Notification o = take(seen);
            assertEquals("", o.to(), "observer: nobody received " + o);
            assertEquals("jv", o.from());
        }
        jv.unregisterUnicastError(err);
        jv.unregisterObserver(obs);
    }

    @Test
    void aSlowCallbackDoesNotDelayOthers() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        CountDownLatch slowEntered = new CountDownLatch(1);
        NotificationCallback slow = n -> {
            slowEntered.countDown();
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        };
        BlockingQueue<Notification> fast = new LinkedBlockingQueue<>();
        jv.register("slow", slow, 0, null);
        jv.register("fast", fast::add, 0, null);
        jv.notify("jv", "slow", "{}");
        assertTrue(slowEntered.await(WAIT, TimeUnit.SECONDS));
        for (int i = 0; i < 100; i++) {
            jv.notify("jv", "slow", "{}");
            jv.notify("jv", "fast", "{\"i\":" + i + "}");
        }
        for (int i = 0; i < 100; i++) {
            assertEquals("{\"i\":" + i + "}", take(fast).params());
        }
        release.countDown();
        jv.unregister("slow", slow, null);
        jv.unregister("fast", null, null);
    }

    @Test
    void aStuckCallbackHoldsAtMost1024AndTheRestIsDroppedForItAlone() throws Exception {
        CountDownLatch entered = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        AtomicInteger ran = new AtomicInteger();
        NotificationCallback stuck = n -> {
            entered.countDown();
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            ran.incrementAndGet();
        };
        BlockingQueue<Notification> other = new LinkedBlockingQueue<>();
        Notifications rx = Notifications.open(service, "rx");
        try {
            rx.register("stuck", stuck, 0, null);
            rx.register("stuck", other::add, 0, null);
            jv.notify("rx", "stuck", "{\"i\":0}");
            assertTrue(entered.await(WAIT, TimeUnit.SECONDS));
            assertEquals("{\"i\":0}", take(other).params());
            // in batches the receiving process keeps up with (the broker's own per-client bound is not the point)
            for (int batch = 0; batch < 10; batch++) {
                int from = Math.max(1, batch * 200);
                for (int i = from; i < (batch + 1) * 200; i++) {
                    assertEquals(NotifyResult.OK, jv.notify("rx", "stuck", "{\"i\":" + i + "}"));
                }
                for (int i = from; i < (batch + 1) * 200; i++) {
                    assertEquals("{\"i\":" + i + "}", take(other).params(), "the other registration got everything");
                }
            }
            assertEquals(2000 - 1 - 1024, rx.dropped(), "1 running + 1024 queued, the rest dropped");
            release.countDown();
            NotifyTestSupport.awaitTrue("the queued 1024 ran", WAIT * 1000, () -> ran.get() == 1025);
        } finally {
            release.countDown();   // close() waits for running callbacks
            rx.close();
        }
    }

    @Test
    void closeFromInsideACallbackReturns() throws Exception {
        CountDownLatch closed = new CountDownLatch(1);
        Notifications rx = Notifications.open(service, "closer");
        rx.register("close", n -> {
            rx.close();
            closed.countDown();
        }, 0, null);
        jv.notify("closer", "close", "{}");
        assertTrue(closed.await(WAIT, TimeUnit.SECONDS), "close() inside the callback did not return");
        assertTrue(!rx.isConnected());
    }

    @Test
    void foreignFromIsForRootAndTheBrokersUidOnly() throws Exception {
        BlockingQueue<Notification> got = new LinkedBlockingQueue<>();
        jv.register("ff", got::add, 0, null);
        assertEquals(NotifyResult.OK, jv.notify("jv", "ff", "{}", 0, "someone"));
        assertEquals("someone", take(got).from());
        assumeTrue(new com.sun.security.auth.module.UnixSystem().getUid() == 0, "needs root to run as nobody");
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/setpriv")), "needs setpriv");
        LineProcess asNobody = LineProcess.command("/usr/bin/setpriv", "--reuid=65534", "--regid=65534",
                "--clear-groups", LineProcess.nativeBinary().toAbsolutePath().toString(), "notify", "--service",
                service, "--app", "nob", "--to", "jv", "--from", "someone", "ff", "{}");
        assertEquals(1, asNobody.exit(), asNobody.describe());
        assertEquals("PERMISSION receivers=0", asNobody.stdout().strip());
        LineProcess ownName = LineProcess.command("/usr/bin/setpriv", "--reuid=65534", "--regid=65534",
                "--clear-groups", LineProcess.nativeBinary().toAbsolutePath().toString(), "notify", "--service",
                service, "--app", "nob", "--to", "jv", "--from", "nob", "ff", "{}");
        assertEquals(0, ownName.exit(), ownName.describe());
        assertEquals("nob", take(got).from());
        jv.unregister("ff", null, null);
    }

    @Test
    void badParamsAreRejectedOnBothClients() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> jv.notify("jv", "bp", "{\"a\":}"));
        assertTrue(e.getMessage().contains("not valid JSON"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> jv.notify("jv", "bp", "\"a string\""));
        assertThrows(IllegalArgumentException.class,
                () -> jv.notify("jv", "bp", "{\"x\":\"" + "y".repeat(40_000) + "\"}"));
        LineProcess n = nativeNotify("cn", "jv", "bp", "{not json");
        assertEquals(1, n.exit());
        assertEquals("EINVAL receivers=0", n.stdout().strip());
    }

    @Test
    void withoutAnAppIdCallsSayAppId() {
        String before = System.getProperty("jqb.notify.service");
        System.setProperty("jqb.notify.service", service);
        try {
            assumeTrue(Notifications.appId() == null, "another test set the process app ID");
            Notifications d = Notifications.instance();
            try {
                assertSame(d, Notifications.instance());
                assertEquals(NotifyResult.APP_ID, d.notify("x", "y", "{}"));
                assertEquals(NotifyResult.APP_ID, d.register("y", n -> { }));
            } finally {
                d.close();
            }
        } finally {
            if (before == null) {
                System.clearProperty("jqb.notify.service");
            } else {
                System.setProperty("jqb.notify.service", before);
            }
        }
    }

    @Test
    void callsReturnServerWithoutABroker() {
        try (Notifications none = Notifications.open(NotifyTestSupport.uniqueService(), "lonely")) {
            assertEquals(NotifyResult.SERVER, none.notify("*", "x", "{}"));
            assertEquals(NotifyResult.SERVER, none.register("x", n -> { }));
            CompletableFuture<NotifyResult> r = CompletableFuture.supplyAsync(() -> none.unregister("x", null, null));
            assertEquals(NotifyResult.SERVER, r.join());
        }
    }
}
