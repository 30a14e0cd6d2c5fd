package io.jqb.notify;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The CLI contract of issue 13 across real processes: {@code notify-broker}, {@code notify-listen},
 * {@code notify}, {@code notify-observe}, each in its own JVM, on a private service name.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class NotifyCliProcessTest {
    private final String service = NotifyTestSupport.uniqueService();
    private LineProcess broker;
    private LineProcess pay;
    private LineProcess ui;
    private LineProcess late;
    private LineProcess observer;

    @BeforeAll
    void start() {
        broker = LineProcess.jqb("notify-broker", "--service", service).ready();
        pay = LineProcess.jqb("notify-listen", "--service", service, "--app", "pay", "--priority", "1", "cfg");
        ui = LineProcess.jqb("notify-listen", "--service", service, "--app", "ui", "--priority", "5", "cfg");
        observer = LineProcess.jqb("notify-observe", "--service", service);
        pay.ready();
        ui.ready();
        observer.ready();
        // registered after ui with the same priority: loses ties
        late = LineProcess.jqb("notify-listen", "--service", service, "--app", "late", "--priority", "5", "cfg")
                .ready();
    }

    @AfterAll
    void stop() {
        for (LineProcess p : new LineProcess[] {pay, ui, late, observer, broker}) {
            if (p != null) {
                p.close();
            }
        }
    }

    private LineProcess notify(String to, String id, String json) {
        LineProcess p = LineProcess.jqb("notify", "--service", service, "--from", "ops", "--to", to, id, json);
        p.exit();
        return p;
    }

    @Test
    @Order(1)
    void secondBrokerRefusesToStart() {
        LineProcess second = LineProcess.jqb("notify-broker", "--service", service);
        assertNotEquals(0, second.exit());
        assertTrue(second.stderr().contains("another notification broker"), second.describe());
    }

    @Test
    @Order(2)
    void unicastReachesOnlyTheAddressedApplication() {
        assertEquals(0, notify("pay", "cfg", "{\"n\": 1}").exit());
        assertEquals("from=ops to=pay id=cfg params={\"n\":1}", pay.next());
        assertEquals("from=ops to=pay id=cfg params={\"n\":1}", observer.next());
        assertEquals(0, notify("*", "cfg", "{\"n\":2}").exit());
        // the broadcast is the next thing ui and late see: they never got the unicast
        assertEquals("from=ops to=* id=cfg params={\"n\":2}", ui.next());
        assertEquals("from=ops to=* id=cfg params={\"n\":2}", late.next());
        assertEquals("from=ops to=* id=cfg params={\"n\":2}", pay.next());
        assertEquals("from=ops to=* id=cfg params={\"n\":2}", observer.next());
    }

    @Test
    @Order(3)
    void anyOneGoesToTheHighestPriorityEarliestRegistered() {
        assertEquals(0, notify("1", "cfg", "{\"n\":3}").exit());
        assertEquals("from=ops to=ui id=cfg params={\"n\":3}", ui.next());
        assertEquals("from=ops to=ui id=cfg params={\"n\":3}", observer.next());
        assertEquals(0, notify("*", "cfg", "{\"n\":4}").exit());
        assertEquals("from=ops to=* id=cfg params={\"n\":4}", late.next(), "late (same priority) lost the tie");
        assertEquals("from=ops to=* id=cfg params={\"n\":4}", pay.next(), "pay (lower priority) lost");
        assertEquals("from=ops to=* id=cfg params={\"n\":4}", ui.next());
        assertEquals("from=ops to=* id=cfg params={\"n\":4}", observer.next());
    }

    @Test
    @Order(4)
    void observerSeesEmptyToWhenNobodyReceived() {
        assertEquals(0, notify("nobody", "cfg", "{}").exit());
        assertEquals("from=ops to= id=cfg params={}", observer.next());
    }

    @Test
    @Order(5)
    void malformedAndOversizeParamsAreRejectedClearly() {
        LineProcess bad = notify("pay", "cfg", "{\"n\":");
        assertEquals(2, bad.exit());
        assertTrue(bad.stderr().contains("params are not valid JSON"), bad.describe());
        LineProcess big = notify("pay", "cfg", "{\"x\":\"" + "y".repeat(33_000) + "\"}");
        assertEquals(2, big.exit());
        assertTrue(big.stderr().contains("more than the limit of 32768"), big.describe());
    }

    @Test
    @Order(6)
    void brokerConfigErrorsNameTheLineAndAWhitelistOpensTcp() throws Exception {
        java.nio.file.Path dir = java.nio.file.Files.createTempDirectory("jqbn-cfg");
        try {
            java.nio.file.Path bad = java.nio.file.Files.writeString(dir.resolve("bad.conf"), "send a\nsend\n");
            LineProcess p = LineProcess.jqb("notify-broker", "--service", NotifyTestSupport.uniqueService(),
                    "--config", bad.toString());
            assertEquals(1, p.exit());
            assertTrue(p.stderr().contains("CONFIG_SYNTAX: " + bad + ":2:"), p.describe());
            java.nio.file.Path good = java.nio.file.Files.writeString(dir.resolve("good.conf"),
                    "# loopback only in tests\nlisten 127.0.0.1:0\nsend a\n");
            try (LineProcess b = LineProcess.jqb("notify-broker", "--service", NotifyTestSupport.uniqueService(),
                    "--config", good.toString())) {
                String ready = b.await(l -> l.contains("ready"));
                assertTrue(ready.matches(".*tcp port [1-9][0-9]*\\).*"), ready);
                b.terminate();
                assertEquals(0, b.exit());
            }
        } finally {
            for (String f : new String[] {"bad.conf", "good.conf"}) {
                java.nio.file.Files.deleteIfExists(dir.resolve(f));
            }
            java.nio.file.Files.delete(dir);
        }
    }

    @Test
    @Order(7)
    void brokerExitsZeroOnSigtermAndNotifyThenSaysServer() {
        broker.terminate();
        assertEquals(0, broker.exit(), broker.describe());
        LineProcess p = notify("pay", "cfg", "{}");
        assertEquals(1, p.exit());
        assertEquals("SERVER", p.stdout().strip());
    }
}
