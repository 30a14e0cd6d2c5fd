package io.jqb.notify;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The broker's per-notification path allocates nothing: the bytes its loop thread allocates
 * ({@code com.sun.management.ThreadMXBean#getThreadAllocatedBytes}) while routing thousands of broadcasts from a
 * native C sender (pipelined, params {@code {"t":<ns>}} different every time) to native C receivers, after a
 * warm-up run. Measured on the broker's loop thread only: that thread reads each request, validates its params,
 * routes it and writes every receiver's event.
 */
class BrokerAllocationTest {
    private static final int RECEIVERS = 3;

    private static long loopThreadId(String service) {
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            if (t.getName().equals("jqb-" + service)) {
                return t.getId();
            }
        }
        throw new AssertionError("no loop thread jqb-" + service);
    }

    /**
     * Runs one pipelined broadcast of {@code count} notifications to the receivers; returns when the sender has
     * every result (the broker answers a NOTIFY after routing it). A receiver the loaded machine leaves behind may
     * miss events past its outbox's bound; that is the broker's documented behaviour, not this test's subject.
     */
    private static void broadcast(String service, int count) {
        List<LineProcess> receivers = new ArrayList<>();
        try {
            for (int i = 0; i < RECEIVERS; i++) {
                receivers.add(LineProcess.qbn("bench-recv", "--service", service, "--app", "r" + i, "--count",
                        Integer.toString(count), "--idle-ms", "30000", "--out", "/dev/null", "alloc").ready());
            }
            LineProcess sender = LineProcess.qbn("bench-send", "--service", service, "--app", "sender", "--to", "*",
                    "--count", Integer.toString(count), "--window", "32", "alloc");
            String line = sender.next();
            assertTrue(line.startsWith("sent=" + count) && line.endsWith("not_ok=0"), line);
            assertEquals(0, sender.exit());
        } finally {
            receivers.forEach(LineProcess::close);
        }
    }

    @Test
    void routingABroadcastAllocatesNothingOnTheBrokersLoopThread() throws Exception {
        com.sun.management.ThreadMXBean threads =
                (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        assertTrue(threads.isThreadAllocatedMemorySupported());
        threads.setThreadAllocatedMemoryEnabled(true);
        String service = NotifyTestSupport.uniqueService();
        try (NotificationBroker broker = NotificationBroker.start(service, null)) {
            long loop = loopThreadId(service);
            broadcast(service, 20_000); // warm-up: JIT, the name cache, the params parser's symbol table
            int count = 20_000;
            long bound = 1024 * 1024;
            // Connecting and registering a run's 4 clients allocate (a few KiB each: client state, registrations,
            // the handshake), and so does a receiver the machine leaves behind (its outbox copies the events its
            // ring cannot take: at most 1,024 per client, ~110 KiB each here), and so may code the JIT has just
            // deoptimised on a loaded machine; the 20,000 notifications (60,000 events) themselves must add nothing.
            // Up to 4 measured runs, the best one counts: an allocation per notification shows in every run (before
            // the change the loop thread allocated 1,546 B per notification: 30 MB per run; 52 B per notification
            // would already exceed the bound), a disturbed run does not fail the test.
            StringBuilder runs = new StringBuilder();
            long best = Long.MAX_VALUE;
            for (int run = 0; run < 4 && best >= bound; run++) {
                long before = threads.getThreadAllocatedBytes(loop);
                broadcast(service, count);
                long allocated = threads.getThreadAllocatedBytes(loop) - before;
                best = Math.min(best, allocated);
                runs.append(runs.length() == 0 ? "" : ", ").append(allocated);
            }
            assertNotNull(broker);
            assertTrue(best < bound, "the broker's loop thread allocated " + best + " bytes at best for " + count
                    + " notifications (" + (best / count) + " B each; runs: " + runs + " bytes; events dropped for "
                    + "slow receivers: " + broker.dropped() + ")");
        }
    }
}
