package io.jqb;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.jqb.internal.posix.LibC;
import io.jqb.internal.posix.Posix;
import io.jqb.testutil.EchoWire;
import io.jqb.testutil.ShmAssert;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The echo contract, as a jqb {@link Client} sees it, against whatever server a subclass runs (native libqb or jqb).
 * Every check names concrete values: lengths, header fields, every payload byte, the server's pid.
 */
abstract class ClientEchoContract extends ClientTestSupport {
    /** What the tests ask for: room for a 65536-byte echo payload plus headers, and the rings wrap often. */
    static final int MAX = 131_072;

    /** The service the subclass serves for the whole class. */
    abstract String service();

    /** The pid the handshake credentials must name. */
    abstract long serverPid();

    /** How many connections the server has right now. */
    abstract int serverConnections();

    // ------------------------------------------------------------------------------------------- handshake facts

    @Test
    void agreedBufferSizeIsWhatWeAskedForAndAtLeastTheResponseSize() throws Exception {
        assertEquals(MAX, connect(service(), MAX).bufferSize());
        // libqb clients never ask for less than sizeof(connection response) = 12328.
        assertEquals(12_328, connect(service(), 100).bufferSize());
        assertEquals(12_328, connect(service(), 0).bufferSize());
    }

    @Test
    void serverCredentialsNameTheServerProcess() throws Exception {
        Client c = connect(service(), MAX);
        Credentials cred = c.serverCredentials();
        assertNotNull(cred, "no SCM_CREDENTIALS from the server");
        assertEquals(serverPid(), cred.pid(), "server pid");
        assertEquals(Posix.C.getuid(), cred.uid(), "server uid");
        assertEquals(Posix.C.getgid(), cred.gid(), "server gid");
    }

    @Test
    void connectedStateServiceAndContext() throws Exception {
        Client c = connect(service(), MAX);
        assertTrue(c.isConnected());
        assertEquals(service(), c.service());
        assertTrue(c.fd() > 2, "fd " + c.fd());
        assertEquals(null, c.context());
        Object ctx = new Object();
        c.setContext(ctx);
        assertSame(ctx, c.context());
        c.close();
        assertFalse(c.isConnected(), "isConnected after close");
        c.close(); // idempotent
        ByteBuffer req = EchoWire.request(EchoWire.buffer(64), EchoWire.ECHO, 8);
        assertThrows(NotConnectedException.class, () -> c.send(req));
        assertThrows(NotConnectedException.class, () -> c.recv(EchoWire.buffer(64), 0));
        assertThrows(NotConnectedException.class, () -> c.eventRecv(EchoWire.buffer(64), 0));
    }

    /** Waits (up to 5 s) until the server has exactly {@code n} connections; earlier tests' may still be closing. */
    void awaitServerConnections(int n) throws InterruptedException {
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (serverConnections() != n && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertEquals(n, serverConnections(), "server-side connections");
    }

    @Test
    void closedConnectionsLeaveNothingInDevShm() throws Exception {
        awaitServerConnections(0);
        ShmAssert.assertNoneLeft(serverPid(), OUR_PID);
        Client c = connect(service(), MAX);
        Client d = connect(service(), MAX);
        List<java.nio.file.Path> dirs = ShmAssert.entries(serverPid(), OUR_PID);
        assertEquals(2, dirs.size(), "connection directories while connected: " + dirs);
        for (java.nio.file.Path dir : dirs) {
            ShmAssert.assertSixFiles(dir, service());
        }
        c.close();
        d.close();
        ShmAssert.assertNoneLeft(serverPid(), OUR_PID);
    }

    // ------------------------------------------------------------------------------------------- echo

    @Test
    void echoesEverySizeByteForByte() throws Exception {
        Client c = connect(service(), MAX);
        int largest = c.bufferSize() - EchoWire.RESPONSE_HEADER;
        assertEquals(MAX - 24, largest);
        ByteBuffer req = EchoWire.buffer(c.bufferSize());
        ByteBuffer resp = EchoWire.buffer(c.bufferSize());
        int seed = 0;
        for (int n : new int[] {0, 1, 7, 8, 64, 4095, 4096, 4097, 65536, largest, 0, largest}) {
            echo(c, req, resp, n, seed++);
        }
        assertEquals(Errno.WOULD_BLOCK, c.recv(resp.clear(), 0), "a stray response");
    }

    @Test
    void twentyThousandMixedRoundTripsWrapTheRingsAndKeepEveryByte() throws Exception {
        Client c = connect(service(), MAX);
        final int largest = c.bufferSize() - EchoWire.RESPONSE_HEADER;
        ByteBuffer req = EchoWire.buffer(c.bufferSize());
        ByteBuffer resp = EchoWire.buffer(c.bufferSize());
        long seedOfRun = 0x5eed_0003L;
        Random rnd = new Random(seedOfRun);
        long bytes = 0;
        for (int i = 0; i < 20_000; i++) {
            int kind = rnd.nextInt(100);
            // mostly small, some medium, a few up to the very largest: every chunk offset, many wrap-arounds
            int n = kind < 80 ? rnd.nextInt(600) : kind < 97 ? rnd.nextInt(20_000) : largest - rnd.nextInt(64);
            int seed = i % EchoWire.MAX_SEED;
            EchoWire.request(req, EchoWire.ECHO, n, seed);
            int sent = send(c, req);
            if (sent != EchoWire.REQUEST_HEADER + n) {
                fail("round trip " + i + " (random seed " + seedOfRun + "): send of " + n + " returned " + sent);
            }
            int len = c.recv(resp.clear(), TIMEOUT_MS);
            String why = EchoWire.checkResponse(resp, 0, len, EchoWire.ECHO, n, 0, seed);
            if (why != null) {
                fail("round trip " + i + " (random seed " + seedOfRun + ", payload " + n + "): " + why);
            }
            bytes += n;
        }
        // 20,000 round trips move far more than the 135168-byte rings hold: they wrapped many times
        assertTrue(bytes > 50L * MAX, "payload bytes " + bytes);
        assertTrue(c.isConnected());
    }

    @Test
    void sendvConcatenatesItsBuffers() throws Exception {
        Client c = connect(service(), MAX);
        ByteBuffer resp = EchoWire.buffer(c.bufferSize());
        for (int n : new int[] {0, 1, 4097, 65536}) {
            ByteBuffer header = EchoWire.requestHeader(EchoWire.ECHO, n);
            ByteBuffer first = EchoWire.payload(n / 3, 9);
            ByteBuffer second = ByteBuffer.allocateDirect(n - n / 3);
            second.put(0, EchoWire.payload(n - n / 3, 9 + n / 3), 0, n - n / 3);
            assertEquals(EchoWire.REQUEST_HEADER + n, c.send(header, first, second));
            assertEquals(0, header.position(), "send moved a buffer's position");
            EchoWire.assertEcho(resp, c.recv(resp.clear(), TIMEOUT_MS), n, 9);
        }
    }

    @Test
    void sendRecvDoesBothHalves() throws Exception {
        Client c = connect(service(), MAX);
        ByteBuffer req = EchoWire.buffer(c.bufferSize());
        ByteBuffer resp = EchoWire.buffer(c.bufferSize());
        for (int n : new int[] {0, 100, 70_000}) {
            EchoWire.request(req, EchoWire.ECHO, n, 5);
            EchoWire.assertEcho(resp, sendRecv(c, req, resp.clear(), TIMEOUT_MS), n, 5);
        }
        // a request answered only with an event after its response: sendRecv returns the response, the event waits
        EchoWire.request(req, EchoWire.EVENT, 33, 1);
        EchoWire.assertHeaderOnly(resp, sendRecv(c, req, resp.clear(), TIMEOUT_MS), EchoWire.EVENT, 0);
        EchoWire.assertResponse(resp, c.eventRecv(resp.clear(), TIMEOUT_MS), EchoWire.EVENT, 33, 0, 1);
    }

    @Test
    void positionsAndLimitsAreRespectedAndNotMoved() throws Exception {
        Client c = connect(service(), MAX);
        ByteBuffer req = EchoWire.request(EchoWire.buffer(1000), EchoWire.ECHO, 50, 3);
        ByteBuffer shifted = ByteBuffer.allocate(1000);
        shifted.position(7);
        shifted.put(req.duplicate());
        shifted.position(7).limit(7 + 66);
        assertEquals(66, c.send(shifted));
        assertEquals(7, shifted.position());
        assertEquals(73, shifted.limit());
        ByteBuffer resp = ByteBuffer.allocate(200);
        resp.position(11);
        int len = c.recv(resp, TIMEOUT_MS);
        assertEquals(74, len);
        assertEquals(11, resp.position(), "recv moved the position");
        assertEquals(null, EchoWire.checkResponse(resp, 11, len, EchoWire.ECHO, 50, 0, 3));
    }

    // ------------------------------------------------------------------------------------------- events

    @Test
    void eventsArriveThroughEventRecv() throws Exception {
        Client c = connect(service(), MAX);
        int largest = c.bufferSize() - EchoWire.RESPONSE_HEADER;
        ByteBuffer req = EchoWire.buffer(c.bufferSize());
        ByteBuffer resp = EchoWire.buffer(c.bufferSize());
        int seed = 100;
        for (int n : new int[] {0, 1, 100, 4097, largest}) {
            EchoWire.request(req, EchoWire.EVENT, n, seed);
            assertEquals(EchoWire.REQUEST_HEADER + n, send(c, req));
            EchoWire.assertHeaderOnly(resp, c.recv(resp.clear(), TIMEOUT_MS), EchoWire.EVENT, 0);
            EchoWire.assertResponse(resp, c.eventRecv(resp.clear(), TIMEOUT_MS), EchoWire.EVENT, n, 0, seed);
            seed++;
        }
        assertEquals(Errno.WOULD_BLOCK, c.eventRecv(resp.clear(), 0), "a stray event");
    }

    @Test
    void eventsCanBeAwaitedByPollingTheFd() throws Exception {
        Client c = connect(service(), MAX);
        ByteBuffer req = EchoWire.buffer(4096);
        ByteBuffer resp = EchoWire.buffer(4096);
        assertEquals(0, poll(c.fd(), 0), "fd readable on an idle connection");
        for (int i = 0; i < 3; i++) {
            EchoWire.request(req, EchoWire.EVENT, 50 + i, i);
            EchoWire.assertHeaderOnly(resp, sendRecv(c, req, resp.clear(), TIMEOUT_MS), EchoWire.EVENT, 0);
        }
        for (int i = 0; i < 3; i++) {
            assertReadable(c.fd(), TIMEOUT_MS, "event " + i);
            EchoWire.assertResponse(resp, c.eventRecv(resp.clear(), 0), EchoWire.EVENT, 50 + i, 0, i);
        }
        // exactly one notification byte per event was consumed: nothing left to wake a poller
        assertNoNotificationLeft(c);
    }

    @Test
    void idleEventRecvGivesWouldBlockThenTimedOut() throws Exception {
        Client c = connect(service(), MAX);
        ByteBuffer resp = EchoWire.buffer(4096);
        long t0 = System.nanoTime();
        assertEquals(Errno.WOULD_BLOCK, c.eventRecv(resp, 0));
        assertTrue(millisSince(t0) < 1000, "eventRecv(0) took " + millisSince(t0) + " ms");
        t0 = System.nanoTime();
        assertEquals(Errno.TIMED_OUT, c.eventRecv(resp, 100));
        long took = millisSince(t0);
        assertTrue(took >= 100 && took < 2000, "eventRecv(100) returned after " + took + " ms");
        assertTrue(c.isConnected());
    }

    @Test
    void idleRecvGivesWouldBlockThenTimedOut() throws Exception {
        Client c = connect(service(), MAX);
        ByteBuffer resp = EchoWire.buffer(4096);
        assertEquals(Errno.WOULD_BLOCK, c.recv(resp, 0));
        long t0 = System.nanoTime();
        assertEquals(Errno.TIMED_OUT, c.recv(resp, 100));
        long took = millisSince(t0);
        assertTrue(took >= 100 && took < 2000, "recv(100) returned after " + took + " ms");
        echo(c, 10);
    }

    /**
     * No event queued and no notification byte left to wake a poller. The server sends an event's byte just after
     * committing it, so a fast reader can take the event before its byte arrives; the client then owes the byte and
     * takes it on its next eventRecv. Hence: let the bytes land, eventRecv once, then the fd must be quiet.
     */
    static void assertNoNotificationLeft(Client c) throws Exception {
        Thread.sleep(20);
        assertEquals(Errno.WOULD_BLOCK, c.eventRecv(EchoWire.buffer(c.bufferSize()), 0), "a stray event");
        assertEquals(0, poll(c.fd(), 0), "the fd is still readable after every event and its byte were consumed");
    }

    // ------------------------------------------------------------------------------------------- errors

    @Test
    void unknownIdIsAnsweredWithEinval() throws Exception {
        Client c = connect(service(), MAX);
        ByteBuffer req = EchoWire.buffer(4096);
        ByteBuffer resp = EchoWire.buffer(4096);
        for (int id : new int[] {99, 3, 12_345}) {
            EchoWire.request(req, id, 10, 0);
            assertEquals(26, c.send(req));
            EchoWire.assertHeaderOnly(resp, c.recv(resp.clear(), TIMEOUT_MS), id, -EchoWire.EINVAL);
        }
        echo(c, 10);
    }

    @Test
    void oversizeSendIsRefusedLocallyAndTheConnectionStaysUsable() throws Exception {
        Client c = connect(service(), MAX);
        int size = c.bufferSize();
        MessageTooLargeException e = assertThrows(MessageTooLargeException.class,
                () -> c.send(ByteBuffer.allocate(size + 1)));
        assertEquals("EMSGSIZE", e.errnoName());
        assertEquals(Errno.EMSGSIZE, e.errno());
        assertThrows(MessageTooLargeException.class,
                () -> c.send(ByteBuffer.allocate(size / 2), ByteBuffer.allocate(size - size / 2 + 1)));
        assertThrows(MessageTooLargeException.class,
                () -> c.sendRecv(ByteBuffer.allocate(size + 1), ByteBuffer.allocate(10), 100));
        assertTrue(c.isConnected());
        // nothing reached the server
        assertEquals(Errno.WOULD_BLOCK, c.recv(EchoWire.buffer(size), 0));
        echo(c, 10);
    }

    @Test
    void tooSmallBufferKeepsTheMessageAndTheConnection() throws Exception {
        Client c = connect(service(), MAX);
        ByteBuffer req = EchoWire.buffer(4096);
        ByteBuffer small = EchoWire.buffer(100);
        ByteBuffer big = EchoWire.buffer(4096);
        EchoWire.request(req, EchoWire.ECHO, 1000, 77);
        assertEquals(1016, c.send(req));
        BufferTooSmallException e = assertThrows(BufferTooSmallException.class, () -> c.recv(small, TIMEOUT_MS));
        assertEquals("ENOBUFS", e.errnoName());
        assertEquals(1024, e.neededSize(), "the response's length, so the caller can retry with a big enough buffer");
        assertEquals(100, e.availableSize());
        assertTrue(e.getMessage().contains("message of 1024 bytes, buffer has 100 remaining"), e.getMessage());
        assertThrows(BufferTooSmallException.class, () -> c.recv(small, 0), "the message must still be queued");
        assertTrue(c.isConnected(), "a too-small buffer must not mark the connection dead");
        EchoWire.assertEcho(big, c.recv(big.clear(), 0), 1000, 77);
        // the same for an event
        EchoWire.request(req, EchoWire.EVENT, 500, 78);
        EchoWire.assertHeaderOnly(big, sendRecv(c, req, big.clear(), TIMEOUT_MS), EchoWire.EVENT, 0);
        assertEquals(524, assertThrows(BufferTooSmallException.class, () -> c.eventRecv(small, TIMEOUT_MS))
                .neededSize());
        EchoWire.assertResponse(big, c.eventRecv(big.clear(), TIMEOUT_MS), EchoWire.EVENT, 500, 0, 78);
        assertNoNotificationLeft(c);
        echo(c, 4000);
    }

    // ------------------------------------------------------------------------------------------- concurrency

    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void sixtyFourConcurrentClients() throws Exception {
        final int clients = 64;
        final int roundTrips = 200;
        awaitServerConnections(0);
        CountDownLatch connected = new CountDownLatch(clients);
        CountDownLatch go = new CountDownLatch(1);
        ExecutorService pool = Executors.newFixedThreadPool(clients);
        try {
            List<Future<Integer>> results = new ArrayList<>();
            for (int t = 0; t < clients; t++) {
                final int id = t;
                results.add(pool.submit(() -> {
                    try (Client c = Client.connect(service(), 32_768)) {
                        connected.countDown();
                        assertTrue(go.await(30, TimeUnit.SECONDS), "never released");
                        ByteBuffer req = EchoWire.buffer(c.bufferSize());
                        ByteBuffer resp = EchoWire.buffer(c.bufferSize());
                        Random rnd = new Random(id);
                        for (int i = 0; i < roundTrips; i++) {
                            int n = rnd.nextInt(i % 10 == 0 ? 30_000 : 300);
                            int seed = (id * 31 + i) % EchoWire.MAX_SEED;
                            if (i % 25 == 7) {
                                EchoWire.request(req, EchoWire.EVENT, n, seed);
                                EchoWire.assertHeaderOnly(resp, sendRecv(c, req, resp.clear(), 10_000),
                                        EchoWire.EVENT, 0);
                                EchoWire.assertResponse(resp, c.eventRecv(resp.clear(), 10_000), EchoWire.EVENT,
                                        n, 0, seed);
                            } else {
                                EchoWire.request(req, EchoWire.ECHO, n, seed);
                                int len = sendRecv(c, req, resp.clear(), 10_000);
                                String why = EchoWire.checkResponse(resp, 0, len, EchoWire.ECHO, n, 0, seed);
                                if (why != null) {
                                    throw new AssertionError("client " + id + " round trip " + i + ": " + why);
                                }
                            }
                        }
                        assertEquals(serverPid(), c.serverCredentials().pid());
                        return roundTrips;
                    }
                }));
            }
            try {
                assertTrue(connected.await(30, TimeUnit.SECONDS), (clients - connected.getCount()) + " connected");
                // all 64 are connected at once: the server must list every one of them
                awaitServerConnections(clients);
            } finally {
                go.countDown();
            }
            int total = 0;
            for (Future<Integer> f : results) {
                total += f.get(60, TimeUnit.SECONDS);
            }
            assertEquals(clients * roundTrips, total);
        } finally {
            go.countDown();
            pool.shutdownNow();
            assertTrue(pool.awaitTermination(20, TimeUnit.SECONDS), "client threads did not finish");
        }
        awaitServerConnections(0);
        ShmAssert.assertNoneLeft(serverPid(), OUR_PID);
    }

    // ------------------------------------------------------------------------------------------- async connect

    @Test
    void asyncConnectThenPollThenComplete() throws Exception {
        Client.PendingConnection p = track(Client.connectAsync(service(), MAX));
        assertTrue(p.fd() > 2, "fd " + p.fd());
        int rev = Posix.pollOne(p.fd(), LibC.POLLIN, TIMEOUT_MS);
        assertTrue((rev & LibC.POLLIN) != 0, "the handshake socket never became readable: revents " + rev);
        Client c = track(p.complete(0));
        assertThrows(IllegalStateException.class, () -> p.complete(0), "completed twice");
        assertEquals(p.fd(), c.fd(), "the handshake socket becomes the connection's fd");
        assertEquals(MAX, c.bufferSize());
        assertEquals(serverPid(), c.serverCredentials().pid());
        echo(c, 4097);
        ByteBuffer req = EchoWire.request(EchoWire.buffer(100), EchoWire.EVENT, 20, 4);
        ByteBuffer resp = EchoWire.buffer(100);
        EchoWire.assertHeaderOnly(resp, sendRecv(c, req, resp, TIMEOUT_MS), EchoWire.EVENT, 0);
        EchoWire.assertResponse(resp, c.eventRecv(resp.clear(), TIMEOUT_MS), EchoWire.EVENT, 20, 0, 4);
    }

    @Test
    void abandonedAsyncConnectLeavesNothing() throws Exception {
        awaitServerConnections(0);
        Client.PendingConnection p = Client.connectAsync(service(), MAX);
        assertReadable(p.fd(), TIMEOUT_MS, "handshake");
        awaitServerConnections(1);
        p.close();
        awaitServerConnections(0);
        ShmAssert.assertNoneLeft(serverPid(), OUR_PID);
    }
}
