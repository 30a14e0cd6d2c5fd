package io.jqb.notify;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.notify.internal.BrokerLink;
import io.jqb.notify.internal.Note;
import io.jqb.notify.internal.NoteCodec.Registration;
import io.jqb.notify.internal.NotifyMessageDescriptor;
import io.jqb.testutil.StderrCapture;
import org.junit.jupiter.api.Test;

/**
 * A client that reads its events in bursts starts one "not reading" episode of the broker's outbox after another
 * (here by notifying itself while its reader is held); what the broker logs about it stays a few lines, not two per
 * episode.
 */
class OutboxLogTest {
    private static final int EPISODES = 30;

    @Test
    void aClientReadingInBurstsDoesNotFloodTheBrokersLog() throws Exception {
        String service = NotifyTestSupport.uniqueService();
        Object gate = new Object();
        boolean[] held = {false};
        try (NotificationBroker broker = NotificationBroker.start(service, null);
                StderrCapture err = new StderrCapture()) {
            BrokerLink hog = new BrokerLink(service, "hog", new BrokerLink.Owner() {
                @Override
                public void connected() {
                }

                @Override
                public void event(int eventId, Note note) {
                    synchronized (gate) {
                        while (held[0]) {
                            try {
                                gate.wait();
                            } catch (InterruptedException e) {
                                return;
                            }
                        }
                    }
                }
            });
            try {
                assertEquals(NotifyResult.OK, hog.register(new Registration(1, 0,
                        NotifyMessageDescriptor.KIND_NOTIFICATION, "burst", "")).result());
                long t0 = System.nanoTime();
                for (int episode = 0; episode < EPISODES; episode++) {
                    synchronized (gate) {
                        held[0] = true;
                    }
                    long dropped = broker.dropped();
                    // its reader held, the client's ring fills, then its outbox, then events are dropped
                    for (int i = 0; broker.dropped() == dropped; i++) {
                        assertTrue(i < 100_000, "nothing dropped after " + i + " notifications");
                        assertEquals(NotifyResult.OK, hog.notify(new Note(0, 0, "", "hog", "burst", "{}")).result());
                    }
                    synchronized (gate) {
                        held[0] = false;
                        gate.notifyAll();
                    }
                    NotifyTestSupport.awaitTrue("caught up", 60_000, () -> broker.maxQueued() == 0);
                }
                long seconds = (System.nanoTime() - t0) / 1_000_000_000L;
                int notReading = err.lines("is not reading its events").size();
                int caughtUp = err.lines("caught up;").size();
                long bound = 5 * (seconds / 10 + 2);
                // the limiter is one per kind of line for the whole JVM: earlier lines of the same kind (other
                // tests) may have used up the current window, so only the bound is checked
                assertTrue(notReading <= bound && caughtUp <= bound, notReading + " + " + caughtUp + " lines for "
                        + EPISODES + " episodes in " + seconds + " s");
            } finally {
                synchronized (gate) {
                    held[0] = false;
                    gate.notifyAll();
                }
                hog.close();
            }
        }
    }
}
