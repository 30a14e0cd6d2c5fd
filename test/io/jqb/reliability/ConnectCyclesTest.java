package io.jqb.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.Client;
import io.jqb.Errno;
import io.jqb.IpcException;
import io.jqb.Service;
import io.jqb.ServiceStats;
import io.jqb.testutil.EchoWire;
import io.jqb.testutil.InteropTestBase;
import io.jqb.testutil.LeakProbe;
import io.jqb.testutil.NativeClient;
import io.jqb.testutil.RecordingHandler;
import io.jqb.testutil.Soak;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Connect/disconnect cycles against a jqb server (libqb's {@code ipc_stress_connections}, libqb #61): afterwards the
 * server holds no more fds, threads or /dev/shm entries than before, every connection saw {@code closed} and
 * {@code destroyed} exactly once, and the service still serves.
 */
@Timeout(value = 15, unit = java.util.concurrent.TimeUnit.MINUTES)
class ConnectCyclesTest extends InteropTestBase {
    private static final int MAX = 65536;
    private static final Duration SETTLE_LEAKS = Duration.ofSeconds(10);

    @Test
    void jqbClientCycles() throws Exception {
        int cycles = Soak.count("cycles.jqb", 5_000, 50_000);
        RecordingHandler h = new RecordingHandler();
        Service s = start(h);
        ByteBuffer req = EchoWire.buffer(MAX);
        ByteBuffer resp = EchoWire.buffer(MAX);
        int warm = 50;
        for (int i = 0; i < warm; i++) {
            try (Client c = Client.connect(s.name(), MAX)) {
                echo(c, req, resp, i);
            }
        }
        assertCountSettles("destroyed after warm-up", h.destroyed, warm);
        LeakProbe.Snapshot before = LeakProbe.snapshot();

        long t0 = System.nanoTime();
        for (int i = 0; i < cycles; i++) {
            try (Client c = Client.connect(s.name(), MAX)) {
                if (i % 97 == 0) {
                    echo(c, req, resp, i);
                }
            }
        }
        long ms = (System.nanoTime() - t0) / 1_000_000;
        int total = warm + cycles;
        assertCountSettles("destroyed", h.destroyed, total);
        assertEachOnce(h, total);
        LeakProbe.Snapshot after = LeakProbe.assertNoLeak("jqb client cycles", before, SETTLE_LEAKS);
        ServiceStats st = s.stats(false);
        assertEquals(0, st.activeConnections(), "active connections after the cycles");
        assertEquals(total, st.closedConnections(), "closed connections");
        try (Client c = Client.connect(s.name(), MAX)) {
            echo(c, req, resp, 1);
        }
        Soak.figure("ConnectCyclesTest.jqbClientCycles", "cycles", cycles);
        Soak.figure("ConnectCyclesTest.jqbClientCycles", "ms", ms);
        Soak.figure("ConnectCyclesTest.jqbClientCycles", "leaks", "fds " + before.fds().size() + "->"
                + after.fds().size() + ", threads " + before.threads().size() + "->" + after.threads().size()
                + ", shm " + before.shm().size() + "->" + after.shm().size());
    }

    @Test
    void nativeClientCycles() throws Exception {
        int cycles = Soak.count("cycles.native", 5_000, 50_000);
        RecordingHandler h = new RecordingHandler();
        Service s = start(h);
        NativeClient nc = drive(s.name());
        nc.connect();
        nc.echo(100);
        nc.ok("disconnect");
        assertCountSettles("destroyed after warm-up", h.destroyed, 1);
        LeakProbe.Snapshot before = LeakProbe.snapshot();

        long t0 = System.nanoTime();
        int window = 50;
        for (int done = 0; done < cycles;) {
            int n = Math.min(window, cycles - done);
            for (int i = 0; i < n; i++) {
                nc.write("connect");
                if ((done + i) % 97 == 0) {
                    nc.write("echo " + ((done + i) % 1000));
                }
                nc.write("disconnect");
            }
            for (int i = 0; i < n; i++) {
                String a = nc.read();
                assertTrue(a.startsWith("ok bufsize="), "connect #" + (done + i) + ": " + a + nc.describe());
                if ((done + i) % 97 == 0) {
                    assertEquals("ok", nc.read(), "echo in cycle " + (done + i));
                }
                assertEquals("ok", nc.read(), "disconnect #" + (done + i));
            }
            done += n;
        }
        long ms = (System.nanoTime() - t0) / 1_000_000;
        int total = 1 + cycles;
        assertCountSettles("destroyed", h.destroyed, total);
        assertEachOnce(h, total);
        LeakProbe.Snapshot after = LeakProbe.assertNoLeak("native client cycles", before, SETTLE_LEAKS);
        assertEquals(0, s.stats(false).activeConnections(), "active connections after the cycles");
        nc.connect();
        nc.echo(1000);
        nc.ok("disconnect");
        Soak.figure("ConnectCyclesTest.nativeClientCycles", "cycles", cycles);
        Soak.figure("ConnectCyclesTest.nativeClientCycles", "ms", ms);
        Soak.figure("ConnectCyclesTest.nativeClientCycles", "leaks", "fds " + before.fds().size() + "->"
                + after.fds().size() + ", threads " + before.threads().size() + "->" + after.threads().size()
                + ", shm " + before.shm().size() + "->" + after.shm().size());
    }

    static void assertEachOnce(RecordingHandler h, int total) {
        assertEquals(total, h.closedPerConnection.size(), "connections that saw closed");
        assertEquals(total, h.destroyedPerConnection.size(), "connections that saw destroyed");
        assertEquals(0, h.closedPerConnection.values().stream().filter(v -> v.get() != 1).count(),
                "connections whose closed ran other than once: " + odd(h.closedPerConnection));
        assertEquals(0, h.destroyedPerConnection.values().stream().filter(v -> v.get() != 1).count(),
                "connections whose destroyed ran other than once: " + odd(h.destroyedPerConnection));
    }

    private static String odd(Map<Long, AtomicInteger> m) {
        StringBuilder b = new StringBuilder();
        m.forEach((k, v) -> {
            if (v.get() != 1 && b.length() < 400) {
                b.append(k).append('=').append(v.get()).append(' ');
            }
        });
        return b.toString();
    }

    static void echo(Client c, ByteBuffer req, ByteBuffer resp, int i) throws IpcException {
        int n = i % 1000;
        int seed = i % EchoWire.MAX_SEED;
        EchoWire.request(req, EchoWire.ECHO, n, seed);
        long deadline = System.nanoTime() + 5_000_000_000L;
        int rc;
        while ((rc = c.send(req)) == Errno.WOULD_BLOCK && System.nanoTime() < deadline) {
            Thread.yield();
        }
        assertEquals(EchoWire.REQUEST_HEADER + n, rc, "send");
        int len = c.recv(resp.clear(), 5000);
        EchoWire.assertEcho(resp, len, n, seed);
    }
}
