package io.jqb;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.jqb.internal.client.ShmClientChannel;
import io.jqb.internal.wire.RingHeaderDescriptor;
import io.jqb.testutil.EchoWire;
import io.jqb.testutil.LeakProbe;
import io.jqb.testutil.NativeServer;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * A jqb client pipelining small requests to a native libqb server ({@code qbn-server}) over SHM. While the server
 * still has {@link ShmClientChannel#holdAt} posted requests to serve, a send commits its request without the
 * semaphore post and without the one-byte doorbell ("held"); held requests are released (posts, then one send of as
 * many bytes) when the server is nearly through its backlog, before any wait of the client, at close, and by the
 * {@code jqb-doorbell-flusher} thread when the application stops calling. A libqb server serves what is posted and
 * then reads one byte per request served, blocking: these tests check that nothing is lost or doubled, that no wait
 * of the client outlives its time-out or the server's draining, and that the server never waits for a token
 * (its {@code recv_retries} stay 0).
 */
class ClientPipelineInteropTest extends ClientTestSupport {
    /** More requests than the default doorbell socket buffer holds one-byte sends (~278). */
    private static final int OUTSTANDING = 700;
    /** Generous bound for anything that normally takes microseconds (the machine may be loaded). */
    private static final long BOUND_S = 30;

    @Test
    void aBurstWhileTheServerIsBusyIsHeldAndEveryRequestIsAnsweredOnceInOrder() throws Exception {
        NativeServer server = nativeServer("hold");
        Client c = connect(server.service(), 65_536);
        ShmClientChannel ch = channel(c);
        echo(c, 1);
        // The server stops serving requests (libqb: flow control on); fcEnableMax(0) lets sends through. Its
        // backlog then only grows: every send after the first holdAt is held, none waits for doorbell room.
        c.fcEnableMax(0);
        server.expect("ratelimit off", "ok");
        assertEquals(OUTSTANDING, within(() -> sendAll(c, 0, OUTSTANDING), "the sends"), "every send completed");
        assertEquals(OUTSTANDING - ShmClientChannel.holdAt(), ch.heldTotal(),
                "every request after the server's first " + ShmClientChannel.holdAt() + " was held");
        server.expect("ratelimit normal", "ok");
        receiveAll(c, 0, OUTSTANDING);
        echo(c, 100);
        assertNoRecvRetries(server);
    }

    @Test
    void aPipelinedRunAgainstAServingServerIsAnsweredInOrderWithFewerDoorbellSendsThanRequests() throws Exception {
        NativeServer server = nativeServer("holdrun");
        Client c = connect(server.service(), 65_536);
        ShmClientChannel ch = channel(c);
        echo(c, 1);
        final int count = 20_000;
        final int window = 500;
        ByteBuffer req = EchoWire.buffer(64);
        ByteBuffer resp = EchoWire.buffer(65_536);
        int sent = 0;
        int received = 0;
        while (received < count) {
            if (sent < count && sent - received < window) {
                EchoWire.request(req, EchoWire.ECHO, 0, sent % EchoWire.MAX_SEED);
                int rc = c.send(req);
                if (rc == EchoWire.REQUEST_HEADER) {
                    sent++;
                    continue;
                }
                assertEquals(Errno.WOULD_BLOCK, rc, "send " + sent);
            }
            EchoWire.assertEcho(resp, c.recv(resp.clear(), TIMEOUT_MS), 0, received % EchoWire.MAX_SEED);
            received++;
        }
        assertEquals(Errno.WOULD_BLOCK, c.recv(resp.clear(), 0), "one response per request");
        assertEquals("requests=" + (count + 1), field(server.command("connstats"), "requests"));
        assertNoRecvRetries(server);
        // Whether and how often the server lags behind depends on the machine; when it lagged often (a few spells of
        // one held request each are possible), held requests shared their doorbell sends.
        assertTrue(ch.heldTotal() < 200 || ch.releaseTotal() < ch.heldTotal(), "doorbell sends for held requests: "
                + ch.releaseTotal() + " releases of " + ch.heldTotal() + " held");
    }

    /**
     * Holding and releasing allocate nothing per request: the client thread's allocation over 20,000 pipelined
     * requests ({@code ThreadMXBean}), best of up to 4 measured runs after a warm-up run, under 64 KiB (a JIT
     * deoptimisation on a loaded machine passes; anything that allocates per request, 3 B or more, fails).
     */
    @Test
    void pipelinedRequestsWithHoldingAllocateNothing() throws Exception {
        com.sun.management.ThreadMXBean threads =
                (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        assertTrue(threads.isThreadAllocatedMemorySupported());
        threads.setThreadAllocatedMemoryEnabled(true);
        NativeServer server = nativeServer("holdal");
        Client c = connect(server.service(), 65_536);
        ShmClientChannel ch = channel(c);
        ByteBuffer req = EchoWire.buffer(64);
        EchoWire.request(req, EchoWire.ECHO, 0, 3);
        ByteBuffer resp = EchoWire.buffer(65_536);
        final long me = Thread.currentThread().getId();
        final int count = 20_000;
        final long bound = 64 * 1024;
        long best = Long.MAX_VALUE;
        StringBuilder runs = new StringBuilder();
        for (int run = 0; run < 5 && best >= bound; run++) {
            long held0 = ch.heldTotal();
            long a0 = threads.getThreadAllocatedBytes(me);
            int sent = 0;
            int received = 0;
            while (received < count) {
                if (sent < count && sent - received < 500) {
                    int rc = c.send(req);
                    if (rc == EchoWire.REQUEST_HEADER) {
                        sent++;
                        continue;
                    }
                    if (rc != Errno.WOULD_BLOCK) {
                        fail("send " + sent + ": " + rc);
                    }
                }
                int len = c.recv(resp.clear(), TIMEOUT_MS);
                if (len != EchoWire.RESPONSE_HEADER) {
                    fail("response " + received + ": " + len);
                }
                received++;
            }
            long bytes = threads.getThreadAllocatedBytes(me) - a0;
            if (run > 0) { // run 0 warms the JIT up
                best = Math.min(best, bytes);
            }
            runs.append(run == 0 ? "" : ", ").append(bytes).append(" B/").append(ch.heldTotal() - held0)
                    .append(" held");
        }
        System.out.println("[held alloc] client thread bytes per run of " + count + ": " + runs);
        assertTrue(ch.heldTotal() > 0, "the runs held requests: " + runs);
        assertTrue(best < bound, "allocated " + best + " bytes at best for " + count + " pipelined requests (" + runs
                + ")");
    }

    /**
     * Run with the flusher off (test-only mode). The fill loop below takes "held after a receive with time-out 0" as
     * the sign that the doorbell socket is full, and only the client's own calls keep that true: a flusher releasing
     * a request held past its bound holds the send lock during that receive, so the receive's own release is skipped
     * and the held count is read before the flusher's release (which finds room) sets it to 0. The socket was then
     * not full, and the receive below released everything (seen once in CI: "still held").
     */
    @Test
    void aReceiveWithATimeOutEndsOnTimeWhileHeldRequestsFindNoDoorbellRoomAndQueuedEventsAreRead()
            throws Exception {
        withFlusherOff(this::receiveWithATimeOutWhileHeldRequestsFindNoDoorbellRoom);
    }

    private void receiveWithATimeOutWhileHeldRequestsFindNoDoorbellRoom() throws Exception {
        NativeServer server = nativeServer("holdfc");
        Client c = connect(server.service(), 65_536);
        ShmClientChannel ch = channel(c);
        echo(c, 1);
        c.fcEnableMax(0);
        server.expect("ratelimit off", "ok");
        // The server reads nothing. Each send is held and each receive with time-out 0 releases it with its own
        // doorbell send (one kernel buffer each), until the doorbell socket is full: then a release takes its posts
        // back and the requests stay held.
        int sent = within(() -> {
            ByteBuffer req = EchoWire.buffer(64);
            ByteBuffer resp = EchoWire.buffer(256);
            for (int i = 0; i < OUTSTANDING; i++) {
                EchoWire.request(req, EchoWire.ECHO, 0, i % EchoWire.MAX_SEED);
                assertEquals(EchoWire.REQUEST_HEADER, c.send(req), "send " + i);
                assertEquals(Errno.WOULD_BLOCK, c.recv(resp.clear(), 0), "no response while the server reads nothing");
                if (ch.heldNow() > 0) {
                    return i + 1;
                }
            }
            return OUTSTANDING;
        }, "filling the doorbell socket");
        assertTrue(sent < OUTSTANDING, "the doorbell socket never filled");
        // Hang #1 of the reverted first version: this receive waited for doorbell room without a limit.
        ByteBuffer resp = EchoWire.buffer(65_536);
        long t0 = System.nanoTime();
        int rc = within(() -> c.recv(resp.clear(), 500), "recv(500 ms)");
        long ms = millisSince(t0);
        assertEquals(Errno.TIMED_OUT, rc);
        // The contract: it returns (does not hang) after its time-out; generous across a thread hand-off under load.
        assertTrue(ms >= 500 && ms <= 3_000, "recv(500 ms) took " + ms + " ms");
        assertTrue(ch.heldNow() > 0, "still held: the server has read no doorbell");
        server.expect("event 64", "ok sent=1");
        ByteBuffer ev = EchoWire.buffer(65_536);
        int len = within(() -> c.eventRecv(ev.clear(), TIMEOUT_MS), "eventRecv");
        assertEquals(EchoWire.RESPONSE_HEADER + 64, len, "the event queued while requests are held");
        server.expect("ratelimit normal", "ok");
        receiveAll(c, 0, sent);
        echo(c, 100);
        assertNoRecvRetries(server);
    }

    @Test
    void aBurstThenNoCallReachesTheServerWithinTheFlushBound() throws Exception {
        NativeServer server = nativeServer("holdff");
        Client c = connect(server.service(), 65_536);
        ShmClientChannel ch = channel(c);
        echo(c, 1);
        c.fcEnableMax(0);
        server.expect("ratelimit off", "ok");
        final int burst = 300;
        try (FileChannel header = FileChannel.open(Path.of(ch.requestHeaderPath()), StandardOpenOption.READ)) {
            assertEquals(burst, within(() -> sendAll(c, 0, burst), "the burst"));
            long t0 = System.nanoTime();
            assertEquals(burst - ShmClientChannel.holdAt(), ch.heldTotal(), "held while the server is busy");
            // No call of the client from here on: the flusher makes the held requests visible to the server
            // (posted), as seen from outside in the ring's semaphore. A bound of ~1 ms on a quiet machine; generous
            // here for a loaded one, and without the flusher it never happens.
            long deadline = t0 + TimeUnit.SECONDS.toNanos(BOUND_S);
            int posted;
            while ((posted = postedRequests(header)) < burst && System.nanoTime() < deadline) {
                Thread.onSpinWait();
            }
            long us = (System.nanoTime() - t0) / 1_000;
            assertEquals(burst, posted, "requests visible to the server after " + us + " us without a call");
            assertTrue(us < 2_000_000, "flushed after " + us + " us");
        }
        server.expect("ratelimit normal", "ok");
        receiveAll(c, 0, burst);
        assertNoRecvRetries(server);
    }

    /**
     * Hang #2 of the reverted first version: a sender holds while the other thread is about to block in recv(-1).
     * Run with the flusher off (test-only mode): the sender and the receiver's Dekker pair alone must release every
     * held request (with the flusher on, a broken pair would only show as ~0.5 ms of delay).
     */
    @Test
    void aReceiverBlockedWithoutTimeOutGetsEveryResponseWhileAnotherThreadSends() throws Exception {
        withFlusherOff(this::receiverBlockedWithoutTimeOut);
    }

    private void receiverBlockedWithoutTimeOut() throws Exception {
        NativeServer server = nativeServer("holdmt");
        Client c = connect(server.service(), 65_536);
        ShmClientChannel ch = channel(c);
        echo(c, 1);
        // Rounds until the sender held a few dozen requests (it holds only while the receiver is between two
        // receives and the server lags by holdAt), at least minRounds, at most maxRounds.
        final int minRounds = 300;
        final int maxRounds = 5_000;
        final int burst = 48;
        final AtomicInteger stopAt = new AtomicInteger(Integer.MAX_VALUE);
        Semaphore answered = new Semaphore(0);
        CompletableFuture<Integer> receiver = CompletableFuture.supplyAsync(() -> {
            ByteBuffer resp = EchoWire.buffer(65_536);
            int i = 0;
            while (i < stopAt.get()) {
                EchoWire.assertEcho(resp, c.recv(resp.clear(), -1), 0, i % EchoWire.MAX_SEED);
                i++;
                answered.release();
            }
            return i;
        });
        CompletableFuture<Integer> sender = CompletableFuture.supplyAsync(() -> {
            try {
                int r = 0;
                for (; r < maxRounds && (r < minRounds || ch.heldTotal() < 32); r++) {
                    // A burst, then this thread waits for its answers while the other one is blocked in recv(-1).
                    if (sendAll(c, r * burst, burst) != burst) {
                        return -1;
                    }
                    if (!answered.tryAcquire(burst, BOUND_S, TimeUnit.SECONDS)) {
                        return -1000 - r;
                    }
                }
                stopAt.set(r * burst + 1); // one last request ends the receiver
                return sendAll(c, r * burst, 1) == 1 ? r * burst + 1 : -3;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return -2;
            }
        });
        try {
            int total = sender.get(10 * BOUND_S, TimeUnit.SECONDS);
            assertTrue(total > 0, "every burst answered: " + total);
            assertEquals(total, receiver.get(BOUND_S, TimeUnit.SECONDS));
        } catch (TimeoutException e) {
            c.close(); // ends the receiver's recv(-1)
            throw new AssertionError("responses never came: held requests released by nobody", e);
        }
        System.out.println("[held mt] " + ch.heldTotal() + " held");
        assertTrue(ch.heldTotal() > 0, "the sender held requests (else this tests nothing)");
        assertNoRecvRetries(server);
    }

    /**
     * A flusher thread that cannot be started (thread limit; test-only mode {@code fail}): the send that would have
     * held returns normally, everything held is posted with its doorbell at once, and the client never holds
     * again, so no request waits for a call of the application.
     */
    @Test
    void whenTheFlusherCannotStartTheClientStopsHoldingAndPostsEverything() throws Exception {
        awaitNoFlusherThread();
        NativeServer server = nativeServer("holdnt");
        Client c = connect(server.service(), 65_536);
        ShmClientChannel ch = channel(c);
        echo(c, 1);
        c.fcEnableMax(0);
        server.expect("ratelimit off", "ok");
        final int burst = 100; // fewer than the doorbell socket holds: sends without holding never wait
        System.setProperty(FLUSHER_MODE, "fail");
        try (FileChannel header = FileChannel.open(Path.of(ch.requestHeaderPath()), StandardOpenOption.READ)) {
            assertEquals(burst, within(() -> sendAll(c, 0, burst), "the burst"), "every send returned normally");
            assertEquals(burst, postedRequests(header), "every request posted when the sends returned");
            assertEquals(0, ch.heldNow(), "nothing held");
            assertTrue(ch.holdingOff(), "the client stopped holding");
            assertEquals(1, ch.heldTotal(), "held once: the send that found no flusher");
        } finally {
            System.clearProperty(FLUSHER_MODE);
        }
        server.expect("ratelimit normal", "ok");
        receiveAll(c, 0, burst);
        echo(c, 100);
        assertEquals(1, ch.heldTotal(), "never held again");
        assertNoRecvRetries(server);
    }

    @Test
    void closeWithHeldRequestsPostsThemAndLeavesNoFdOrThread() throws Exception {
        NativeServer server = nativeServer("holdcl");
        LeakProbe.Snapshot before = LeakProbe.snapshot();
        Client c = Client.connect(server.service(), 65_536);
        try {
            ShmClientChannel ch = channel(c);
            echo(c, 1);
            c.fcEnableMax(0);
            server.expect("ratelimit off", "ok");
            final int burst = 300;
            try (FileChannel header = FileChannel.open(Path.of(ch.requestHeaderPath()), StandardOpenOption.READ)) {
                assertEquals(burst, within(() -> sendAll(c, 0, burst), "the burst"));
                c.close();
                assertEquals(burst, postedRequests(header), "every request posted by the time close returned");
            }
        } finally {
            c.close();
        }
        LeakProbe.assertNoLeak("close with held requests", before, Duration.ofSeconds(10));
    }

    @Test
    void aSecondClientIsServedWhileTheFirstHoldsRequests() throws Exception {
        NativeServer server = nativeServer("hold2");
        Client a = connect(server.service(), 65_536);
        echo(a, 1);
        a.fcEnableMax(0);
        server.expect("ratelimit off", "ok");
        assertEquals(OUTSTANDING, within(() -> sendAll(a, 0, OUTSTANDING), "the first client's burst"));
        assertTrue(channel(a).heldTotal() > 0, "the first client holds");
        Client b = connect(server.service(), 65_536);
        server.expect("ratelimit normal", "ok");
        // The first client makes no call meanwhile: the server must serve it (what it has posted) and the second.
        ByteBuffer req = EchoWire.buffer(EchoWire.REQUEST_HEADER + 32);
        ByteBuffer resp = EchoWire.buffer(EchoWire.RESPONSE_HEADER + 32);
        for (int i = 0; i < 200; i++) {
            echo(b, req, resp, 32, i);
        }
        assertEquals(0, channel(b).heldTotal(), "blocking round trips never hold");
        receiveAll(a, 0, OUTSTANDING);
        assertNoRecvRetries(server);
    }

    @Test
    void blockingRoundTripsNeverHold() throws Exception {
        NativeServer server = nativeServer("holdrt");
        Client c = connect(server.service(), 65_536);
        ByteBuffer req = EchoWire.buffer(EchoWire.REQUEST_HEADER + 64);
        ByteBuffer resp = EchoWire.buffer(EchoWire.RESPONSE_HEADER + 64);
        for (int i = 0; i < 2_000; i++) {
            echo(c, req, resp, 64, i % EchoWire.MAX_SEED);
        }
        // A shallow pipeline (4 outstanding) stays below the hold threshold too.
        for (int i = 0; i < 500; i++) {
            assertEquals(4, sendAll(c, 0, 4));
            receiveAll(c, 0, 4);
        }
        assertEquals(0, channel(c).heldTotal(), "requests held");
        assertEquals(0, channel(c).releaseTotal(), "releases");
    }

    // ------------------------------------------------------------------------------------------- helpers

    /** The flusher's test-only mode property ({@code off}: no thread, {@code fail}: its start fails). */
    static final String FLUSHER_MODE = "jqb.client.doorbellFlusher";

    /** A test body that may throw. */
    interface Body {
        void run() throws Exception;
    }

    /** Runs {@code body} with the flusher off (test-only mode): only the client's own calls release held requests. */
    static void withFlusherOff(Body body) throws Exception {
        System.setProperty(FLUSHER_MODE, "off");
        try {
            body.run();
        } finally {
            System.clearProperty(FLUSHER_MODE);
        }
    }

    /** Waits (bounded) until no flusher thread runs: it ends ~100 ms after its clients stopped holding. */
    static void awaitNoFlusherThread() {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(BOUND_S);
        while (Thread.getAllStackTraces().keySet().stream()
                .anyMatch(t -> t.getName().equals("jqb-doorbell-flusher"))) {
            assertTrue(System.nanoTime() < deadline, "a flusher thread still runs after " + BOUND_S + " s");
            java.util.concurrent.locks.LockSupport.parkNanos(1_000_000L); // polls a condition; not a sync sleep
        }
    }

    static ShmClientChannel channel(Client c) {
        return (ShmClientChannel) c.channel();
    }

    /** Sends {@code n} 64-byte-header echo requests with seeds first, first+1, ...; @return n, or -1000 - i */
    static int sendAll(Client c, int first, int n) {
        ByteBuffer req = EchoWire.buffer(64);
        for (int i = 0; i < n; i++) {
            EchoWire.request(req, EchoWire.ECHO, 0, (first + i) % EchoWire.MAX_SEED);
            if (c.send(req) != EchoWire.REQUEST_HEADER) {
                return -1000 - i;
            }
        }
        return n;
    }

    /** Receives the responses to {@link #sendAll}, in order, each once. */
    static void receiveAll(Client c, int first, int n) {
        ByteBuffer resp = EchoWire.buffer(65_536);
        for (int i = 0; i < n; i++) {
            EchoWire.assertEcho(resp, c.recv(resp.clear(), TIMEOUT_MS), 0, (first + i) % EchoWire.MAX_SEED);
        }
        assertEquals(Errno.WOULD_BLOCK, c.recv(resp.clear(), 0), "one response per request");
    }

    /** Runs {@code what} on another thread, failing instead of hanging when it does not end in time. */
    static <T> T within(Callable<T> what, String name) throws Exception {
        CompletableFuture<T> f = CompletableFuture.supplyAsync(() -> {
            try {
                return what.call();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        try {
            return f.get(BOUND_S, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof Error err) {
                throw err;
            }
            throw new AssertionError(name + " failed", cause);
        } catch (TimeoutException e) {
            throw new AssertionError(name + " did not end within " + BOUND_S + " s");
        }
    }

    /** The request ring's semaphore value (posted, unconsumed requests), read from its header file. */
    static int postedRequests(FileChannel header) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.nativeOrder());
        int n = header.read(b, RingHeaderDescriptor.SEMAPHORE_OFFSET);
        assertEquals(8, n, "semaphore word");
        return (int) b.getLong(0);
    }

    static String field(String connstats, String name) {
        Matcher m = Pattern.compile("\\b" + name + "=\\d+").matcher(connstats);
        assertTrue(m.find(), name + " in " + connstats);
        return m.group();
    }

    /** The libqb server never waited for a request whose token we took back (a 10 ms stall of its loop). */
    static void assertNoRecvRetries(NativeServer server) {
        assertEquals("recv_retries=0", field(server.command("connstats"), "recv_retries"));
    }
}
