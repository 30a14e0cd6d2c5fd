package io.jqb;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.testutil.EchoWire;
import io.jqb.testutil.LeakProbe;
import io.jqb.testutil.NativeServer;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Test;

/**
 * A jqb client pipelining small requests to a native libqb server over SHM. Every request also sends a one-byte
 * doorbell on the setup socket, and a unix stream socket's default send buffer holds only about 278 of them (each
 * costs a whole kernel buffer) where the request ring holds thousands: a send then finds the doorbell socket full,
 * doubles its send buffer once (~556) and, when that is full too, holds its request back (committed, not posted, no
 * byte) instead of waiting for room; held requests are released (posted, then one send of as many bytes) at the next
 * send that finds room, and before the client waits for anything. Nothing may be lost or doubled on the way, the
 * server must not wait on a byte that never comes, and close must hand everything over.
 */
class ClientPipelineInteropTest extends ClientTestSupport {
    /** More doorbells than even the doubled send buffer holds (~556 where net.core.wmem_max is the default). */
    private static final int OUTSTANDING = 700;

    /**
     * Sends OUTSTANDING echo requests while the server reads nothing (libqb: rate limit off; fcEnableMax(0) lets
     * sends through): every send must return, none may wait for the server.
     */
    private static void sendAllWhileServerPaused(NativeServer server, Client c) throws Exception {
        c.fcEnableMax(0);
        server.expect("ratelimit off", "ok");
        CompletableFuture<Integer> sender = CompletableFuture.supplyAsync(() -> {
            ByteBuffer req = EchoWire.buffer(64);
            for (int i = 0; i < OUTSTANDING; i++) {
                EchoWire.request(req, EchoWire.ECHO, 0, i % EchoWire.MAX_SEED);
                int rc = c.send(req);
                if (rc != EchoWire.REQUEST_HEADER) {
                    return i == 0 ? rc : -1000 - i;
                }
            }
            return OUTSTANDING;
        });
        try {
            // Before the change, the sends past the doorbell socket's capacity waited for the server: this timed out.
            assertEquals(OUTSTANDING, sender.get(30, TimeUnit.SECONDS), "every send returned while the server reads"
                    + " nothing");
        } catch (ExecutionException e) {
            throw new AssertionError("sender failed", e.getCause());
        } catch (TimeoutException e) {
            server.expect("ratelimit normal", "ok");
            sender.get(30, TimeUnit.SECONDS);
            throw new AssertionError("the sends waited for the server to read doorbells again");
        }
    }

    private static void receiveAllInOrder(Client c) {
        ByteBuffer resp = EchoWire.buffer(65_536);
        for (int i = 0; i < OUTSTANDING; i++) {
            EchoWire.assertEcho(resp, c.recv(resp.clear(), TIMEOUT_MS), 0, i % EchoWire.MAX_SEED);
        }
        assertEquals(Errno.WOULD_BLOCK, c.recv(resp.clear(), 0), "one response per request");
    }

    @Test
    void sendsDoNotWaitForDoorbellRoomAndEveryRequestIsAnsweredOnceInOrder() throws Exception {
        NativeServer server = nativeServer("pipe");
        Client c = connect(server.service(), 65_536);
        echo(c, 1);
        sendAllWhileServerPaused(server, c);
        server.expect("ratelimit normal", "ok");
        // Only receives from here on: the first wait releases what is held.
        receiveAllInOrder(c);
        echo(c, 100);
    }

    /**
     * A libqb server reads exactly one doorbell byte per request it served, blocking, and its loop serves every
     * client: a request it can see must have its byte coming. Held requests are invisible to it, so while this
     * client does nothing at all (no send, no receive) the server serves everything it can see and goes on serving
     * others.
     */
    @Test
    void theServerServesOthersWhileAClientIdlesWithRequestsHeld() throws Exception {
        NativeServer server = nativeServer("pipeidle");
        Client c = connect(server.service(), 65_536);
        echo(c, 1);
        sendAllWhileServerPaused(server, c);
        server.expect("ratelimit normal", "ok");
        Client other = connect(server.service(), 65_536);
        for (int i = 0; i < 200; i++) {
            echo(other, i % 300);
        }
        assertEquals(Errno.WOULD_BLOCK, other.recv(EchoWire.buffer(1024), 0), "no stray response");
        receiveAllInOrder(c);
        echo(c, 10);
    }

    /**
     * Closing with requests held hands them over first (waiting, bounded, for the server to read doorbells again),
     * then leaves no fd, thread or /dev/shm entry behind, and the server stays healthy.
     */
    @Test
    void closeWithRequestsHeldReleasesThemAndLeaksNothing() throws Exception {
        NativeServer server = nativeServer("pipeclose");
        LeakProbe.Snapshot before = LeakProbe.snapshot();
        Client c = Client.connect(server.service(), 65_536);
        CompletableFuture<Void> closer;
        try {
            echo(c, 1);
            sendAllWhileServerPaused(server, c);
        } finally {
            closer = CompletableFuture.runAsync(c::close);
        }
        server.expect("ratelimit normal", "ok");
        closer.get(30, TimeUnit.SECONDS);
        LeakProbe.assertNoLeak("client closed with requests held", before, Duration.ofSeconds(10));
        Client after = connect(server.service(), 65_536);
        echo(after, 64);
        String stats = server.command("connstats");
        assertTrue(stats.startsWith("ok conns=1 "), "only the new connection is left: " + stats);
    }
}
