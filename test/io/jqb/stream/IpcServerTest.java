package io.jqb.stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.IpcException;
import io.jqb.testutil.JqbCliProcess;
import io.jqb.testutil.LeakProbe;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** IpcServer: 200 concurrent clients with their own service copies, stop / stopNow, overflow, failure(). */
@Timeout(180)
class IpcServerTest {
    static final int P = Frames.PREFIX;
    static final int CLIENTS = 200;

    /** Runs {@code server.run} on a thread; returns a holder for its result. */
    static Thread runInBackground(IpcServer<TagService> server, Ipc l, TagService proto,
            AtomicReference<Boolean> result) {
        Thread t = new Thread(() -> result.set(server.run(l, proto)), "test-server-run");
        t.start();
        return t;
    }

    @Test
    void twoHundredConcurrentClientsThenStopNow() throws Exception {
        PeerProcess.warmUp();
        LeakProbe.Snapshot before = LeakProbe.snapshot();
        IpcServer<TagService> server = new IpcServer<>("tag", 256, IpcServer.Overflow.WAIT);
        TcpIpc l = TcpIpc.listen(0, "127.0.0.1");
        int port = l.localPort();
        TagService proto = new TagService(60_000, 5000);
        AtomicReference<Boolean> result = new AtomicReference<>();
        Thread runner = runInBackground(server, l, proto, result);

        CyclicBarrier allConnected = new CyclicBarrier(CLIENTS + 1);
        CountDownLatch stopped = new CountDownLatch(1);
        Set<String> copies = Collections.synchronizedSet(new HashSet<>());
        List<Throwable> errors = Collections.synchronizedList(new ArrayList<>());
        List<Boolean> sawEof = Collections.synchronizedList(new ArrayList<>());
        List<Thread> clients = new ArrayList<>();
        for (int i = 0; i < CLIENTS; i++) {
            final int me = i;
            Thread t = new Thread(() -> {
                try (TcpIpc c = TcpIpc.connect("127.0.0.1", port, 20_000)) {
                    String copy = null;
                    for (int k = 0; k < 5; k++) {
                        c.writeMessage(P, k, "c" + me + "m" + k);
                        Message m = c.readMessage(P, 1000, 60_000);
                        assertNotNull(m, "client " + me);
                        assertEquals(k, m.msgId());
                        String[] parts = m.text().split(":", 2);
                        assertEquals("c" + me + "m" + k, parts[1]);
                        if (copy == null) {
                            copy = parts[0];
                        }
                        assertEquals(copy, parts[0], "one copy per connection");
                    }
                    copies.add(copy);
                    allConnected.await(60, TimeUnit.SECONDS);
                    stopped.await();
                    // the server closed our service: the next read sees the end of the stream
                    sawEof.add(c.readMessage(P, 1000, 30_000) == null && c.eof());
                } catch (Throwable e) {
                    errors.add(e);
                    allConnected.reset();
                }
            }, "test-client-" + i);
            clients.add(t);
            t.start();
        }
        allConnected.await(120, TimeUnit.SECONDS);
        assertEquals(CLIENTS, server.activeCount());
        assertEquals(CLIENTS, copies.size(), "every connection had its own service copy");
        assertEquals(CLIENTS, proto.copiesMade());

        server.stopNow();
        runner.join(30_000);
        assertFalse(runner.isAlive(), "run returned after stopNow");
        assertEquals(Boolean.TRUE, result.get());
        stopped.countDown();
        for (Thread t : clients) {
            t.join(30_000);
        }
        assertTrue(errors.isEmpty(), () -> errors.size() + " client errors, first: " + errors.get(0));
        assertEquals(CLIENTS, sawEof.stream().filter(b -> b).count());
        assertEquals(-1, l.fd(), "the listener is closed");
        LeakProbe.assertNoLeak("IpcServer after stopNow", before, Duration.ofSeconds(10));
    }

    @Test
    void gracefulStopLetsServicesFinish() throws Exception {
        IpcServer<TagService> server = new IpcServer<>("grace", 8, IpcServer.Overflow.WAIT);
        TcpIpc l = TcpIpc.listen(0, "127.0.0.1");
        int port = l.localPort();
        AtomicReference<Boolean> result = new AtomicReference<>();
        Thread runner = runInBackground(server, l, new TagService(60_000, 5000), result);
        try (TcpIpc c = TcpIpc.connect("127.0.0.1", port, 5000)) {
            c.writeMessage(P, 1, "before");
            assertNotNull(c.readMessage(P, 100, 10_000));
            server.stop();
            // the listener closes; the running service goes on serving
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (l.fd() >= 0 && System.nanoTime() < deadline) {
                Thread.onSpinWait();
            }
            assertEquals(-1, l.fd());
            c.writeMessage(P, 2, "after stop");
            assertEquals("after stop", c.readMessage(P, 100, 10_000).text().split(":", 2)[1]);
            assertTrue(runner.isAlive(), "run waits for running services");
            assertTrue(c.fd() >= 0);
        }
        runner.join(30_000);
        assertEquals(Boolean.TRUE, result.get());
        assertFalse(server.run(TcpIpc.listen(0, "127.0.0.1"), new TagService(1, 1)), "a stopped server stays stopped");
    }

    @Test
    void stopWithGraceClosesLingeringServices() throws Exception {
        IpcServer<TagService> server = new IpcServer<>();
        TcpIpc l = TcpIpc.listen(0, "127.0.0.1");
        AtomicReference<Boolean> result = new AtomicReference<>();
        Thread runner = runInBackground(server, l, new TagService(60_000, 5000), result);
        try (TcpIpc c = TcpIpc.connect("127.0.0.1", l.localPort(), 5000)) {
            c.writeMessage(P, 1, "x");
            assertNotNull(c.readMessage(P, 100, 10_000));
            assertFalse(server.stop(200), "the service was still running at the deadline");
            runner.join(30_000);
            assertEquals(Boolean.TRUE, result.get());
            assertNull(c.readMessage(P, 100, 10_000));
            assertTrue(c.eof());
        }
    }

    @Test
    void refusePolicyPastMaxThreads() throws Exception {
        IpcServer<TagService> server = new IpcServer<>("refuse", 2, IpcServer.Overflow.REFUSE);
        TcpIpc l = TcpIpc.listen(0, "127.0.0.1");
        AtomicReference<Boolean> result = new AtomicReference<>();
        Thread runner = runInBackground(server, l, new TagService(60_000, 5000), result);
        try (TcpIpc a = TcpIpc.connect("127.0.0.1", l.localPort(), 5000);
                TcpIpc b = TcpIpc.connect("127.0.0.1", l.localPort(), 5000)) {
            for (TcpIpc c : new TcpIpc[] {a, b}) {
                c.writeMessage(P, 1, "x");
                assertNotNull(c.readMessage(P, 100, 10_000));
            }
            try (TcpIpc third = TcpIpc.connect("127.0.0.1", l.localPort(), 5000)) {
                byte[] buf = new byte[1];
                assertEquals(-1, third.read(buf, 1, 10_000), "refused: closed at once");
            }
        } finally {
            server.stopNow();
            runner.join(30_000);
        }
        assertEquals(Boolean.TRUE, result.get());
    }

    @Test
    void runReturnsFalseWithoutAListener() {
        IpcServer<TagService> server = new IpcServer<>();
        assertFalse(server.run(new TagService(1, 1)));
        TcpIpc closed = TcpIpc.listen(0, "127.0.0.1");
        closed.close();
        assertFalse(server.run(closed, new TagService(1, 1)));
    }

    @Test
    void failureIsAskedOnEmfileAndObeyed() throws Exception {
        try (PeerProcess child = PeerProcess.start(JqbCliProcess.java(), "-Xshare:auto", "-XX:TieredStopAtLevel=1",
                "-cp", JqbCliProcess.classPath(),
                "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn", FdLimitServerMain.class.getName())) {
            assertTrue(child.awaitText("limit", 30_000), child.describe() + child.stdoutText());
            String out = child.stdoutText();
            int port = Integer.parseInt(out.substring(out.indexOf("port ") + 5).split(" ")[0]);
            List<TcpIpc> conns = new ArrayList<>();
            try {
                // each accepted connection costs the child one fd; past its limit accept fails with EMFILE and
                // the connection is left unanswered in the backlog
                for (int i = 0; i < 100 && !child.stdoutText().contains("run="); i++) {
                    try {
                        TcpIpc c = TcpIpc.connect("127.0.0.1", port, 5000);
                        conns.add(c);
                        c.writeMessage(P, i, "x");
                        if (c.readMessage(P, 100, 3000) == null) {
                            break;
                        }
                    } catch (IpcException e) {
                        break; // the child gave up and exited
                    }
                }
                assertTrue(child.awaitText("run=false", 30_000), child.describe() + child.stdoutText());
            } finally {
                conns.forEach(TcpIpc::close);
            }
            String text = child.stdoutText();
            assertTrue(text.contains("failure 1 EMFILE"), text);
            assertTrue(text.contains("failure 2 EMFILE"), text);
            assertFalse(text.contains("failure 3"), "failure said give up: no third call\n" + text);
            assertEquals(Integer.valueOf(0), child.waitFor(30_000));
        }
    }
}
