package io.jqb;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.testutil.EchoWire;
import io.jqb.testutil.NativeServer;
import io.jqb.testutil.ShmAssert;
import java.nio.ByteBuffer;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@link Client#close()} from another thread while a receive waits forever on a live but silent native server: the
 * receive must end with NotConnectedException and close must return promptly (no hang), and the live server then
 * cleans the connection up.
 */
class ClientCloseTest extends ClientTestSupport {
    private final ExecutorService pool = Executors.newCachedThreadPool();

    @AfterEach
    void stopPool() throws InterruptedException {
        pool.shutdownNow();
        assertTrue(pool.awaitTermination(10, TimeUnit.SECONDS), "a receive is still blocked");
    }

    private void assertCloseEndsBlockedCall(NativeServer server, Client c, Future<Integer> blocked) throws Exception {
        Thread.sleep(200);
        assertFalse(blocked.isDone(), "the receive returned early");
        long t0 = System.nanoTime();
        c.close();
        long closeMs = millisSince(t0);
        try {
            Integer rc = blocked.get(10, TimeUnit.SECONDS); // a receive close() does not wake fails here
            throw new AssertionError("the blocked receive returned " + rc + " instead of throwing");
        } catch (ExecutionException e) {
            assertTrue(e.getCause() instanceof NotConnectedException, "threw " + e.getCause());
        }
        // promptly: 50 of the receive's 100 ms liveness slices, room for a loaded machine
        assertTrue(millisSince(t0) < 5_000, "the receive ended " + millisSince(t0) + " ms after close");
        assertTrue(closeMs < 5_000, "close took " + closeMs + " ms");
        assertFalse(c.isConnected());
        ShmAssert.assertNoneLeft(server.pid(), OUR_PID);
        assertTrue(server.isAlive());
    }

    @Test
    @Timeout(value = 15, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void closeEndsARecvThatWaitsForever() throws Exception {
        NativeServer server = nativeServer("close-recv");
        Client c = connect(server.service(), 65_536);
        echo(c, 10);
        ByteBuffer buf = EchoWire.buffer(65_536);
        assertCloseEndsBlockedCall(server, c, pool.submit(() -> c.recv(buf, -1)));
    }

    @Test
    @Timeout(value = 15, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void closeEndsAnEventRecvThatWaitsForever() throws Exception {
        NativeServer server = nativeServer("close-event");
        Client c = connect(server.service(), 65_536);
        ByteBuffer buf = EchoWire.buffer(65_536);
        assertCloseEndsBlockedCall(server, c, pool.submit(() -> c.eventRecv(buf, -1)));
    }

    @Test
    @Timeout(value = 15, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void closeEndsASendRecvWithALongTimeout() throws Exception {
        NativeServer server = nativeServer("close-sendrecv");
        Client c = connect(server.service(), 65_536);
        server.expect("ratelimit off", "ok");
        c.fcEnableMax(0); // the request is queued but never read: no answer comes
        ByteBuffer req = EchoWire.request(EchoWire.buffer(100), EchoWire.ECHO, 10);
        ByteBuffer buf = EchoWire.buffer(100);
        assertCloseEndsBlockedCall(server, c, pool.submit(() -> c.sendRecv(req, buf, 60_000)));
        assertEquals("ok", server.command("ratelimit normal"));
    }
}
