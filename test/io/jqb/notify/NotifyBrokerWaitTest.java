package io.jqb.notify;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * {@code bin/jqb notify-broker --wait STRATEGY}: a broker whose loop spins after each notification delivers as the
 * blocking one does, across real processes; a strategy it cannot parse is a usage error (exit 2), not a broker.
 */
class NotifyBrokerWaitTest {

    @Test
    void phasedBrokerDeliversUnicastAndBroadcast() {
        String service = NotifyTestSupport.uniqueService();
        try (LineProcess broker = LineProcess.jqb("notify-broker", "--service", service, "--wait", "phased:200:500")
                .ready();
                LineProcess pay = LineProcess.jqb("notify-listen", "--service", service, "--app", "pay", "cfg")
                        .ready()) {
            for (int i = 0; i < 3; i++) {
                LineProcess n = LineProcess.jqb("notify", "--service", service, "--from", "ops", "--to",
                        i == 1 ? "*" : "pay", "cfg", "{\"n\":" + i + "}");
                assertEquals(0, n.exit(), n.describe());
                assertEquals("from=ops to=" + (i == 1 ? "*" : "pay") + " id=cfg params={\"n\":" + i + "}",
                        pay.next(), broker.describe());
            }
        }
    }

    @Test
    void unknownWaitStrategyIsAUsageError() {
        LineProcess broker = LineProcess.jqb("notify-broker", "--service", NotifyTestSupport.uniqueService(),
                "--wait", "sometimes");
        try {
            assertEquals(2, broker.exit());
            assertTrue(broker.stderr().contains("wait strategy 'sometimes'"), broker.describe());
        } finally {
            broker.close();
        }
    }
}
