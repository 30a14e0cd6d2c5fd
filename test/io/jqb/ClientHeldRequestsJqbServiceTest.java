package io.jqb;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.cli.EchoHandler;
import io.jqb.internal.client.ShmClientChannel;
import io.jqb.internal.wire.RingHeaderDescriptor;
import io.jqb.testutil.EchoWire;
import io.jqb.testutil.NativeServer;
import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/**
 * Held requests (see {@link ClientPipelineInteropTest} for the native server) against the jqb {@link Service} in this
 * JVM, whose rings do write_pt detection ("JQB2" both ways) and whose blocking loop reads by tokens. While its reader
 * says it is asleep (flag 0) with at least {@link ShmClientChannel#holdAt} posted requests, the client holds as
 * against libqb; the posts it makes later (the flag may have flipped to "awake" meanwhile: posts without bytes), the
 * tokens left behind for chunks the server found by write_pt and the tokens its loop takes before it sleeps must
 * neither lose a request nor answer one twice. A loop stuck in a handler advertises "awake" since it drains (no
 * doorbell needed): nothing is held then.
 */
class ClientHeldRequestsJqbServiceTest extends ClientTestSupport {
    private static final int OUTSTANDING = 700;

    /**
     * Flow control on (the loop reads nothing and says "asleep"): every send after the first holdAt is held (the
     * flusher is off, so only the client's own calls release them); then the server resumes, drains what is posted
     * and flips its flag while the rest is still held; the client's receive releases them, and every request is
     * answered once, in order.
     */
    @Test
    void heldRequestsReachAJqbServerThatSaysAsleepWithABacklogInOrderOnce() throws Exception {
        ClientPipelineInteropTest.withFlusherOff(this::asleepWithABacklog);
    }

    private void asleepWithABacklog() throws Exception {
        Service service = track(Service.create(NativeServer.uniqueName("jqbheldfc"), 0, TransportType.SHM,
                new EchoHandler()));
        service.run();
        Client c = connect(service.name(), 65_536);
        ShmClientChannel ch = ClientPipelineInteropTest.channel(c);
        echo(c, 1);
        c.fcEnableMax(0);
        service.requestRateLimit(RateLimit.OFF);
        // The loop lowers its flag when it goes back to sleep after the echo, on its own thread: until then it
        // advertises that it drains, and the burst would go out unheld (seen once on a loaded CI machine).
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (ch.serverReaderMode() != RingHeaderDescriptor.READER_ASLEEP) {
            assertTrue(System.nanoTime() < deadline, "the loop never said asleep: " + ch.serverReaderMode());
            java.util.concurrent.locks.LockSupport.parkNanos(1_000_000L); // polls a condition; not a sync sleep
        }
        final int burst = 200; // fewer than the doorbell socket holds: the first holdAt never wait
        assertEquals(burst, ClientPipelineInteropTest.within(() -> ClientPipelineInteropTest.sendAll(c, 0, burst),
                "the burst"));
        long held = ch.heldTotal();
        assertTrue(held > 0 && held <= burst - ShmClientChannel.holdAt(), "held " + held + " of " + burst);
        assertTrue(ch.heldNow() > 0, "still held: nothing but the client releases them");
        service.requestRateLimit(RateLimit.NORMAL);
        ClientPipelineInteropTest.receiveAll(c, 0, burst);
        echo(c, 100);
        assertEquals(0, ch.heldNow(), "nothing left held");
    }

    @Test
    void heldRequestsReachABlockedJqbServerInOrderOnce() throws Exception {
        AtomicBoolean pause = new AtomicBoolean();
        CountDownLatch resume = new CountDownLatch(1);
        CountDownLatch paused = new CountDownLatch(1);
        Service service = track(Service.create(NativeServer.uniqueName("jqbheld"), 0, TransportType.SHM,
                new EchoHandler() {
                    @Override
                    public int message(Connection c, ByteBuffer request) {
                        if (pause.get()) {
                            paused.countDown();
                            try {
                                resume.await(60, TimeUnit.SECONDS); // the loop thread reads nothing meanwhile
                            } catch (InterruptedException e) {
                                Thread.currentThread().interrupt();
                            }
                        }
                        return super.message(c, request);
                    }
                }));
        service.run();
        Client c = connect(service.name(), 65_536);
        ShmClientChannel ch = ClientPipelineInteropTest.channel(c);
        echo(c, 1);
        pause.set(true);
        ByteBuffer req = EchoWire.buffer(64);
        EchoWire.request(req, EchoWire.ECHO, 0, 0);
        assertEquals(EchoWire.REQUEST_HEADER, c.send(req), "the request the server stops on");
        assertEquals(true, paused.await(30, TimeUnit.SECONDS), "the server's loop is in the handler");
        pause.set(false);
        CompletableFuture<Integer> sender = CompletableFuture.supplyAsync(() -> {
            ByteBuffer r = EchoWire.buffer(64);
            for (int i = 1; i <= OUTSTANDING; i++) {
                EchoWire.request(r, EchoWire.ECHO, 0, i % EchoWire.MAX_SEED);
                int rc = c.send(r);
                if (rc != EchoWire.REQUEST_HEADER) {
                    return -1000 - i;
                }
            }
            return OUTSTANDING;
        });
        try {
            assertEquals(OUTSTANDING, sender.get(30, TimeUnit.SECONDS), "every send returned while the server's loop"
                    + " reads nothing");
        } catch (ExecutionException e) {
            throw new AssertionError("sender failed", e.getCause());
        } catch (TimeoutException e) {
            resume.countDown();
            sender.get(30, TimeUnit.SECONDS);
            throw new AssertionError("the sends waited for the server's loop");
        } finally {
            resume.countDown();
        }
        ByteBuffer resp = EchoWire.buffer(65_536);
        for (int i = 0; i <= OUTSTANDING; i++) {
            EchoWire.assertEcho(resp, c.recv(resp.clear(), TIMEOUT_MS), 0, i % EchoWire.MAX_SEED);
        }
        assertEquals(Errno.WOULD_BLOCK, c.recv(resp.clear(), 0), "one response per request");
        echo(c, 100);
        assertEquals(0, ch.heldNow(), "nothing left held");
        // A loop that says "asleep" (flag 0) while stuck: held as against libqb, every request after the first
        // holdAt; one that says "awake" needs no doorbell: nothing held.
        long held = ch.heldTotal();
        assertTrue(held == OUTSTANDING - ShmClientChannel.holdAt() || held == 0, "held " + held);    }
}
