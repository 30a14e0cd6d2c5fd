package io.jqb.notify.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.testutil.StderrCapture;
import org.junit.jupiter.api.Test;

/**
 * Notifications a peer sends outside the receive whitelist are counted, and logged a line now and then whatever their
 * number: any host can send them, as fast as its link goes.
 */
class RefusedFromPeersLogTest {
    private static final int COUNT = 50_000;

    @Test
    void refusedNotificationsAreCountedAndLoggedRarely() {
        BrokerCore core = new BrokerCore("refused-log-test", BrokerConfig.EMPTY, 0);
        try (StderrCapture err = new StderrCapture()) {
            long t0 = System.nanoTime();
            for (int i = 0; i < COUNT; i++) {
                core.fromPeer(new Note(0, 0, "peer", "*", "not.whitelisted", "{}"));
            }
            long seconds = (System.nanoTime() - t0) / 1_000_000_000L;
            assertEquals(COUNT, core.refusedFromPeers());
            int lines = err.lines("refused notification 'not.whitelisted' from a peer").size();
            // the limiter is one per kind of line for the whole JVM: earlier lines of the same kind (other
            // tests) may have used up the current window, so only the bound is checked
            assertTrue(lines <= seconds / 10 + 2, lines + " lines for " + COUNT + " refusals in " + seconds + " s");
        } finally {
            core.close();
        }
    }
}
