package io.jqb.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.Service;
import io.jqb.testutil.EchoPinger;
import io.jqb.testutil.InteropTestBase;
import io.jqb.testutil.LeakProbe;
import io.jqb.testutil.NativeClient;
import io.jqb.testutil.RecordingHandler;
import io.jqb.testutil.ShmAssert;
import io.jqb.testutil.Soak;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Native libqb clients SIGKILLed at random points (before, during and after their handshake, in the middle of
 * request/response/event traffic) while a well-behaved jqb client keeps echoing: the server stays up, runs
 * {@code closed} and {@code destroyed} exactly once for every connection it accepted, removes every file, and the
 * well-behaved client is served throughout.
 */
@Timeout(value = 15, unit = TimeUnit.MINUTES)
class NativeClientKillTest extends InteropTestBase {
    private static final int PARALLEL = 4;

    @Test
    void sigkilledNativeClients() throws Exception {
        int kills = Soak.count("kills", 100, 2_000);
        long seed = Soak.seed(0x6b696c6cL);
        RecordingHandler h = new RecordingHandler();
        Service s = start(h);
        EchoPinger good = track(EchoPinger.start(s.name()));
        good.awaitProgress(10);
        LeakProbe.Snapshot before = LeakProbe.snapshot();
        List<Long> pids = Collections.synchronizedList(new ArrayList<>());
        AtomicInteger next = new AtomicInteger();
        long t0 = System.nanoTime();
        ExecutorService pool = Executors.newFixedThreadPool(PARALLEL);
        try {
            List<Future<?>> fs = new ArrayList<>();
            for (int w = 0; w < PARALLEL; w++) {
                fs.add(pool.submit(() -> {
                    for (int k; (k = next.getAndIncrement()) < kills;) {
                        pids.add(killOne(s.name(), new Random(seed + k)));
                        good.assertHealthy();
                    }
                    return null;
                }));
            }
            for (Future<?> f : fs) {
                f.get(10, TimeUnit.MINUTES);
            }
        } finally {
            pool.shutdownNow();
            pool.awaitTermination(30, TimeUnit.SECONDS);
        }
        long ms = (System.nanoTime() - t0) / 1_000_000;

        // Every accepted connection is destroyed once; every established one closed once.
        // The pinger's connection is accepted and created but neither closed nor destroyed yet: hence the -1s.
        waitUntil("destroyed == accepted - 1 (" + h.destroyed + " / " + h.accepts + ")",
                () -> h.destroyed.get() == h.accepts.get() - 1);
        NativeClient.sleep(100);
        assertEquals(h.accepts.get() - 1, h.destroyed.get(), "destroyed vs accepted");
        assertEquals(h.accepts.get() - 1, h.destroyedPerConnection.size(), "connections destroyed");
        assertTrue(h.closedPerConnection.values().stream().allMatch(v -> v.get() == 1),
                "closed ran more than once for a connection: " + h.closedPerConnection);
        assertTrue(h.destroyedPerConnection.values().stream().allMatch(v -> v.get() == 1),
                "destroyed ran more than once for a connection: " + h.destroyedPerConnection);
        long pinger = h.createdConnections.get(0).id();
        for (io.jqb.Connection c : h.createdConnections) {
            if (c.id() != pinger) {
                assertTrue(h.closedPerConnection.containsKey(c.id()), c + " was created but never closed");
            }
        }
        assertTrue(h.destroyedPerConnection.keySet().containsAll(h.closedPerConnection.keySet()),
                "closed but not destroyed: " + h.closedPerConnection.keySet());
        for (long pid : pids) {
            ShmAssert.assertNoneLeft(ShmAssert.ourPid(), pid);
        }
        assertEquals(1, s.stats(false).activeConnections(), "active connections: only the well-behaved client");
        good.awaitProgress(20);
        good.assertHealthy();
        LeakProbe.assertNoLeak("after " + kills + " SIGKILLed clients", before, Duration.ofSeconds(10));
        Soak.figure("NativeClientKillTest", "kills", kills);
        Soak.figure("NativeClientKillTest", "connectionsKilled", h.created.get() - 1);
        Soak.figure("NativeClientKillTest", "seed", seed);
        Soak.figure("NativeClientKillTest", "ms", ms);
        Soak.figure("NativeClientKillTest", "goodRoundTrips", good.roundTrips() + " worst " + good.worstMillis()
                + " ms");
    }

    /** Starts a native client, queues traffic, SIGKILLs it after a random delay. @return its pid */
    private static long killOne(String service, Random r) {
        NativeClient nc = NativeClient.drive(service);
        try {
            nc.write("connect");
            int cmds = r.nextInt(40);
            for (int i = 0; i < cmds; i++) {
                switch (r.nextInt(4)) {
                    case 0:
                    case 1:
                        nc.write("echo " + r.nextInt(60_000));
                        break;
                    case 2:
                        nc.write("send 2 " + r.nextInt(30_000));
                        nc.write("recv 1000");
                        nc.write("event 1000");
                        break;
                    default:
                        nc.write("connected");
                        break;
                }
            }
            int delay = r.nextInt(8) == 0 ? 0 : r.nextInt(40);
            if (delay > 0) {
                NativeClient.sleep(delay);
            }
            nc.kill();
            return nc.pid();
        } finally {
            nc.close();
        }
    }
}
