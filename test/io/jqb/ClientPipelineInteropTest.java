package io.jqb;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.testutil.EchoWire;
import io.jqb.testutil.NativeServer;
import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * A jqb client pipelining small requests to a native libqb server over SHM. Every request also sends a one-byte
 * doorbell on the setup socket, and a unix stream socket's default send buffer holds only about 278 of them (each
 * costs a whole kernel buffer) where the request ring holds thousands: a send then finds the doorbell socket full,
 * doubles its send buffer once (~556) and, when that is full too, waits in poll until the server drains it. Nothing
 * may be lost or doubled on the way, and the wait must end as soon as the server reads again.
 */
class ClientPipelineInteropTest extends ClientTestSupport {
    /** More doorbells than even the doubled send buffer holds (~556 where net.core.wmem_max is the default). */
    private static final int OUTSTANDING = 700;
    /** Sends done before the server reads again: most of a default doorbell buffer. */
    private static final int QUEUED_FIRST = 250;

    @Test
    void sendsWaitForDoorbellRoomAndEveryRequestIsAnsweredOnce() throws Exception {
        NativeServer server = nativeServer("pipe");
        Client c = connect(server.service(), 65_536);
        ByteBuffer resp = EchoWire.buffer(65_536);
        echo(c, 1);
        // The server stops reading requests and doorbells (libqb: flow control on); fcEnableMax(0) lets sends through.
        c.fcEnableMax(0);
        server.expect("ratelimit off", "ok");
        AtomicInteger progress = new AtomicInteger();
        CompletableFuture<Integer> sender = CompletableFuture.supplyAsync(() -> {
            ByteBuffer req = EchoWire.buffer(64);
            for (int i = 0; i < OUTSTANDING; i++) {
                EchoWire.request(req, EchoWire.ECHO, 0, i % EchoWire.MAX_SEED);
                int rc = c.send(req);
                if (rc != EchoWire.REQUEST_HEADER) {
                    return i == 0 ? rc : -1000 - i;
                }
                progress.incrementAndGet();
            }
            return OUTSTANDING;
        });
        // Most of the doorbell buffer is queued (the rest fills it, then the sender waits for room).
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (progress.get() < QUEUED_FIRST && !sender.isDone() && System.nanoTime() < deadline) {
            Thread.onSpinWait();
        }
        assertTrue(progress.get() >= QUEUED_FIRST, "sends queued while the server does not read: " + progress.get()
                + (sender.isDone() ? " (sender ended: " + sender.join() + ")" : ""));
        server.expect("ratelimit normal", "ok");
        try {
            assertEquals(OUTSTANDING, sender.get(30, TimeUnit.SECONDS), "every send completed");
        } catch (ExecutionException e) {
            throw new AssertionError("sender failed", e.getCause());
        }
        for (int i = 0; i < OUTSTANDING; i++) {
            EchoWire.assertEcho(resp, c.recv(resp.clear(), TIMEOUT_MS), 0, i % EchoWire.MAX_SEED);
        }
        assertEquals(Errno.WOULD_BLOCK, c.recv(resp.clear(), 0), "one response per request");
        echo(c, 100);
    }
}
