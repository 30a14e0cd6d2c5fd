package io.jqb.reliability;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.Client;
import io.jqb.IpcException;
import io.jqb.NotConnectedException;
import io.jqb.testutil.ChildJvmServer;
import io.jqb.testutil.EchoWire;
import io.jqb.testutil.InteropTestBase;
import io.jqb.testutil.NativeServer;
import io.jqb.testutil.ShmAssert;
import io.jqb.testutil.Soak;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The server is SIGKILLed (a native libqb server, and a jqb server in a child JVM) while jqb clients are connected,
 * some of them blocked in "wait forever" receives (libqb #27/#37/#481: clients hung): every client reports
 * {@link NotConnectedException} within its timeout (a blocked one within a bounded time), and {@code close()} removes
 * the connection's files and directory, which nobody else would.
 */
class ServerKillTest extends InteropTestBase {
    /**
     * How long a client may take to notice the server's death: its liveness slice is 100 ms, so this is 50 slices,
     * room for a loaded machine; a client that does not look at all hangs and fails.
     */
    private static final long NOTICE_MS = 5_000;

    @Test
    void nativeServerSigkilled() throws Exception {
        NativeServer server = track(NativeServer.start(NativeServer.uniqueName("kill")));
        check(server.service(), server.pid(), server::kill, "native");
    }

    @Test
    void jqbServerInChildJvmSigkilled() throws Exception {
        ChildJvmServer server = track(ChildJvmServer.start(serviceName()));
        check(serviceName(), server.pid(), server::kill, "jqb");
    }

    interface Killer {
        void kill() throws Exception;
    }

    private void check(String service, long serverPid, Killer killer, String what) throws Exception {
        List<Client> clients = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            Client c = track(Client.connect(service, 65536));
            ConnectCyclesTest.echo(c, EchoWire.buffer(65536), EchoWire.buffer(65536), i);
            clients.add(c);
        }
        List<Path> dirs = ShmAssert.entries(serverPid, ShmAssert.ourPid());
        assertTrue(dirs.size() == 4, "connection directories: " + dirs);
        // Two clients wait forever, one for a response, one for an event.
        CompletableFuture<Long> recvForever = blockedCall(() -> clients.get(0).recv(EchoWire.buffer(65536), -1));
        CompletableFuture<Long> eventForever = blockedCall(() -> clients.get(1).eventRecv(EchoWire.buffer(65536),
                -1));
        Thread.sleep(200);
        assertFalse(recvForever.isDone() || eventForever.isDone(), "blocked calls returned early");

        long t0 = System.nanoTime();
        killer.kill();
        long recvMs = (recvForever.get(30, TimeUnit.SECONDS) - t0) / 1_000_000;
        long eventMs = (eventForever.get(30, TimeUnit.SECONDS) - t0) / 1_000_000;
        assertTrue(recvMs < NOTICE_MS, "recv(-1) noticed after " + recvMs + " ms");
        assertTrue(eventMs < NOTICE_MS, "eventRecv(-1) noticed after " + eventMs + " ms");
        // A receive with a timeout reports not-connected (not TIMED_OUT), and does not overrun its timeout by more
        // than a loaded machine adds.
        long r0 = System.nanoTime();
        assertThrows(NotConnectedException.class, () -> clients.get(2).recv(EchoWire.buffer(65536), 1_000));
        long timedMs = (System.nanoTime() - r0) / 1_000_000;
        assertTrue(timedMs < 1_000 + NOTICE_MS, "recv(1000) took " + timedMs + " ms");
        assertThrows(NotConnectedException.class, () -> {
            ByteBuffer req = EchoWire.request(EchoWire.buffer(64), EchoWire.ECHO, 8, 0);
            for (int i = 0; i < 10; i++) { // the first write may still land in the ring; the doorbell fails
                clients.get(3).send(req);
            }
        });
        for (Client c : clients) {
            assertFalse(c.isConnected());
        }
        long noticedMs = (System.nanoTime() - t0) / 1_000_000;
        for (Client c : clients) {
            c.close();
        }
        for (Path d : dirs) {
            assertFalse(Files.exists(d), d + " left after close()");
        }
        ShmAssert.assertNoneLeft(serverPid);
        Soak.figure("ServerKillTest." + what, "noticedMs", "recv(-1) " + recvMs + ", eventRecv(-1) " + eventMs
                + ", recv(1000) " + timedMs + ", all " + noticedMs);
        assertThrows(IpcException.class, () -> Client.connect(service, 65536).close(), "the service is gone");
    }

    interface Call {
        int call() throws Exception;
    }

    /** Runs {@code call} on a thread; completes with System.nanoTime() when it throws NotConnectedException. */
    private static CompletableFuture<Long> blockedCall(Call call) {
        CompletableFuture<Long> f = new CompletableFuture<>();
        Thread t = new Thread(() -> {
            try {
                int rc = call.call();
                f.completeExceptionally(new AssertionError("returned " + rc + " instead of throwing"));
            } catch (NotConnectedException e) {
                f.complete(System.nanoTime());
            } catch (Throwable e) {
                f.completeExceptionally(e);
            }
        }, "blocked-forever");
        t.setDaemon(true);
        t.start();
        return f;
    }
}
