package io.jqb;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.jqb.cli.EchoHandler;
import io.jqb.internal.ring.ShmRing;
import io.jqb.internal.wire.ConnectionRequestDescriptor;
import io.jqb.internal.wire.RingHeaderDescriptor;
import io.jqb.internal.wire.SemaphoreDescriptor;
import io.jqb.testutil.JqbCliProcess;
import io.jqb.testutil.NativeClient;
import io.jqb.testutil.NativeServer;
import io.jqb.testutil.RawShmPeer;
import io.jqb.testutil.ShmAssert;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * write_pt detection between two jqb ends (docs/DESIGN.md, "Waiting, and two jqb ends"): a reader spinning on
 * write_pt makes a jqb writer skip the semaphore post, and no hand-over between spinning, phased and blocking waits on
 * either side ever loses a message; native peers keep every post.
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class WritePtDetectTest {
    /** Answered with two responses (an echo each), so the second one waits in the ring while the client looks. */
    static final int TWICE = 40;
    /** Blocks the loop in the callback until the test releases it, then echoes. */
    static final int HOLD = 41;

    private Service service;

    @AfterEach
    void tearDown() {
        if (service != null) {
            service.close();
        }
        ShmAssert.assertNoneLeft();
    }

    private Service start(String name, WaitStrategy ws, ServiceHandler h) throws IpcException {
        service = Service.create(name, 0, TransportType.SHM, h);
        service.setWaitStrategy(ws);
        service.run();
        return service;
    }

    static ByteBuffer request(int id, int n, int seed) {
        ByteBuffer b = ByteBuffer.allocateDirect(16 + n).order(ByteOrder.LITTLE_ENDIAN);
        new RequestHeader().wrap(b, 0).set(id, RequestHeader.LENGTH + n);
        for (int i = 0; i < n; i++) {
            b.put(16 + i, (byte) (i * 31 + seed));
        }
        return b;
    }

    /** Waits until {@code deadline} for the raw peer's next response and checks it echoes request {@code i}. */
    private static void awaitRawEcho(RawShmPeer p, long deadline, int n, int i) {
        byte[] got;
        while ((got = p.response.readChunk()) == null) {
            assertTrue(System.nanoTime() < deadline, "no echo " + i);
            Thread.onSpinWait();
        }
        ByteBuffer g = ByteBuffer.allocateDirect(got.length).order(ByteOrder.LITTLE_ENDIAN);
        g.put(0, got);
        assertEcho(g, got.length, EchoHandler.ECHO, n, i & 0x7f, "echo " + i);
    }

    static void assertEcho(ByteBuffer resp, int len, int id, int n, int seed, String what) {
        assertEquals(24 + n, len, what + ": response length (" + (len < 0 ? Errno.name(len) : "") + ")");
        ResponseHeader h = new ResponseHeader().wrap(resp, 0);
        assertEquals(id, h.id(), what + ": id");
        assertEquals(24 + n, h.size(), what + ": size");
        assertEquals(0, h.error(), what + ": error");
        for (int i = 0; i < n; i++) {
            if (resp.get(24 + i) != (byte) (i * 31 + seed)) {
                assertEquals((byte) (i * 31 + seed), resp.get(24 + i), what + ": payload byte " + i);
            }
        }
    }

    /** The header file of the connection's ring {@code kind} (request, response, event), mapped read-write. */
    static MappedByteBuffer header(String service, String kind, long clientPid) throws IOException {
        return header(service, kind, ProcessHandle.current().pid(), clientPid);
    }

    /** As {@link #header(String, String, long)} for a server in process {@code serverPid}. */
    static MappedByteBuffer header(String service, String kind, long serverPid, long clientPid) throws IOException {
        String prefix = "qb-" + serverPid + "-" + clientPid + "-";
        List<Path> dirs;
        try (Stream<Path> s = Files.list(ShmAssert.SHM)) {
            dirs = s.filter(p -> p.getFileName().toString().startsWith(prefix)).collect(Collectors.toList());
        }
        assertEquals(1, dirs.size(), "connection directories " + dirs);
        Path h = dirs.get(0).resolve("qb-" + kind + "-" + service + "-header");
        try (FileChannel fc = FileChannel.open(h, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            MappedByteBuffer m = fc.map(FileChannel.MapMode.READ_WRITE, 0, RingHeaderDescriptor.STRUCT_LENGTH);
            m.order(ByteOrder.LITTLE_ENDIAN);
            return m;
        }
    }

    static int semValue(MappedByteBuffer m) {
        return m.getInt(RingHeaderDescriptor.SEMAPHORE_OFFSET + SemaphoreDescriptor.DATA_OFFSET);
    }

    static boolean chunkQueued(MappedByteBuffer m) {
        return m.getInt(RingHeaderDescriptor.WRITE_PT_OFFSET) != m.getInt(RingHeaderDescriptor.READ_PT_OFFSET);
    }

    /**
     * An empty ring (write_pt == read_pt) whose semaphore holds a token: what a writer using libqb's free-space rule
     * takes for a FULL ring. Read as write_pt, read_pt, semaphore, write_pt, read_pt: with both pointers unchanged
     * around the semaphore read, the ring was empty when the token was there (a reader that takes the token before
     * the chunk, as libqb's, never shows this).
     */
    static boolean emptyWithToken(ByteBuffer m) {
        int w = m.getInt(RingHeaderDescriptor.WRITE_PT_OFFSET);
        int r = m.getInt(RingHeaderDescriptor.READ_PT_OFFSET);
        if (w != r) {
            return false;
        }
        int sem = m.getInt(RingHeaderDescriptor.SEMAPHORE_OFFSET + SemaphoreDescriptor.DATA_OFFSET);
        return sem > 0 && m.getInt(RingHeaderDescriptor.WRITE_PT_OFFSET) == w
                && m.getInt(RingHeaderDescriptor.READ_PT_OFFSET) == r;
    }

    /**
     * A jqb writer that says only "JQB1" (a jqb from before write_pt detection, or one run with
     * {@code -Djqb.spin.writeptDetect=false}; here a {@link RawShmPeer} doing exactly that: it posts every chunk and
     * uses libqb's free-space rule, w == r with a token is FULL) against a busy-spinning detecting server: the
     * server must not read its ring by write_pt (a post landing after the chunk was taken that way leaves a token on
     * an empty ring: "full"). 20,000 sends without a retry, each on a ring the previous echo emptied, never see
     * WOULD_BLOCK; the ring is never seen empty with a token; the loop never says 2 (spinning on write_pt) to it.
     */
    @Test
    void aWriterSayingOnlyJqb1NeverFindsItsEmptyRingFull() throws Exception {
        String name = NativeServer.uniqueName("wpt-jqb1w");
        start(name, WaitStrategy.busySpin(), new EchoHandler());
        try (RawShmPeer p = RawShmPeer.connect(name, 16384, ConnectionRequestDescriptor.JQB_CAPABILITY)) {
            ByteBuffer reqHdr = p.request.header.duplicate().order(ByteOrder.LITTLE_ENDIAN);
            int count = 20_000;
            int wouldBlock = 0;
            int stale = 0;
            int spinningFlag = 0;
            for (int i = 0; i < count; i++) {
                int n = (i * 37) % 1500;
                ByteBuffer req = request(EchoHandler.ECHO, n, i & 0x7f);
                byte[] b = new byte[16 + n];
                req.get(0, b);
                if (!p.request.writeChunk(b.length, b, b.length, RawShmPeer.MAGIC_COMMITTED)) {
                    wouldBlock++; // on a ring the last echo emptied: libqb's rule read w == r with a token
                    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                    while (!p.request.writeChunk(b.length, b, b.length, RawShmPeer.MAGIC_COMMITTED)) {
                        assertTrue(System.nanoTime() < deadline, "request " + i + ": no room for 10 s");
                        Thread.onSpinWait();
                    }
                }
                assertTrue(p.doorbell(), "doorbell");
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                awaitRawEcho(p, deadline, n, i);
                stale += emptyWithToken(reqHdr) ? 1 : 0;
                spinningFlag += p.request.hdr(RingHeaderDescriptor.CONSUMER_AWAKE_OFFSET)
                        == RingHeaderDescriptor.READER_SPINNING ? 1 : 0;
            }
            System.out.println("[JQB1 writer] of " + count + " sends: WOULD_BLOCK " + wouldBlock
                    + ", empty ring with a token " + stale + ", loop flag 2 seen " + spinningFlag);
            assertEquals(0, wouldBlock + stale + spinningFlag, "of " + count + " sends on an emptied ring: "
                    + wouldBlock + " WOULD_BLOCK, " + stale + " times empty with a token, " + spinningFlag
                    + " times the loop's flag at 2 (reading by write_pt)");
            assertTrue(!p.closedByServer(0), "dropped");
        }
    }

    /**
     * The reverse pairing: a jqb server run with {@code -Djqb.spin.writeptDetect=false} (a child JVM: the switch is
     * process-wide) answers "JQB1" and posts every response with libqb's free-space rule; a busy-spinning client
     * here (detection on, it says "JQB2") must then read by tokens: after each of 20,000 echoes its response ring is
     * never empty with a token (what the server's next send would take for full and retry on), and it never
     * advertises 2 on it.
     */
    @Test
    void aServerWithoutDetectionIsReadByTokens() throws Exception {
        assumeTrue(ShmRing.WRITEPT_DETECT, "write_pt detection is off here (-Djqb.spin.writeptDetect=false)");
        String name = NativeServer.uniqueName("wpt-jqb1s");
        try (JqbCliProcess srv = JqbCliProcess.start(Map.of("JAVA_TOOL_OPTIONS", "-Djqb.spin.writeptDetect=false"),
                "echo-server", "--service", name, "--wait", "busy-spin")) {
            String line;
            do {
                line = srv.nextLine(60_000);
                assertTrue(line != null, "no ready line from the child server: " + srv.describe());
            } while (!line.contains("ready"));
            try (Client c = Client.connect(name, 16384)) {
                c.setWaitStrategy(WaitStrategy.busySpin());
                MappedByteBuffer respHdr = header(name, "response", srv.pid(), ProcessHandle.current().pid());
                ByteBuffer resp = ByteBuffer.allocateDirect(c.bufferSize());
                int count = 20_000;
                int stale = 0;
                int spinningFlag = 0;
                for (int i = 0; i < count; i++) {
                    int n = (i * 37) % 1500;
                    assertEcho(resp, c.sendRecv(request(EchoHandler.ECHO, n, i & 0x7f), resp, 10_000),
                            EchoHandler.ECHO, n, i & 0x7f, "echo " + i);
                    stale += emptyWithToken(respHdr) ? 1 : 0;
                    spinningFlag += respHdr.getInt(RingHeaderDescriptor.CONSUMER_AWAKE_OFFSET)
                            == RingHeaderDescriptor.READER_SPINNING ? 1 : 0;
                }
                System.out.println("[JQB1 server] of " + count + " echoes: empty response ring with a token "
                        + stale + ", client flag 2 seen " + spinningFlag);
                assertEquals(0, stale + spinningFlag, "of " + count + " echoes: " + stale
                        + " times the response ring empty with a token, " + spinningFlag + " times our flag at 2");
            }
            // SIGTERM, not close()'s SIGKILL: the server removes the connection's /dev/shm files as it exits
            srv.terminate();
            assertEquals(Integer.valueOf(0), srv.waitFor(30_000), "echo-server exits 0 on SIGTERM" + srv.describe());
        }
    }

    /**
     * Both directions skip the post while the reader spins: a response written while the client spins on write_pt,
     * and a request written while the server's loop spins on write_pt, sit in their rings with the semaphore at 0,
     * and are still read. With the detection off (or broken) the semaphore would count them.
     */
    @Test
    void spinningReadersMakeJqbWritersSkipThePost() throws Exception {
        assumeTrue(ShmRing.WRITEPT_DETECT, "write_pt detection is off (-Djqb.spin.writeptDetect=false)");
        String name = NativeServer.uniqueName("wpt-skip");
        CountDownLatch held = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        EchoHandler echo = new EchoHandler();
        ServiceHandler h = (c, req) -> {
            int id = req.getInt(req.position());
            if (id == HOLD) {
                held.countDown();
                try {
                    release.await(60, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                return echo.message(c, req);
            }
            if (id == TWICE) {
                // Two echoes of a request whose id is TWICE: EchoHandler answers unknown ids with an error, so
                // send the answers here.
                int n = req.remaining() - 16;
                ByteBuffer hdr = ByteBuffer.allocateDirect(24).order(ByteOrder.LITTLE_ENDIAN);
                new ResponseHeader().wrap(hdr, 0).set(TWICE, 24 + n, 0);
                ByteBuffer payload = req.duplicate().position(req.position() + 16);
                for (int i = 0; i < 2; i++) {
                    assertEquals(24 + n, c.sendResponse(hdr.duplicate(), payload.duplicate()));
                }
                return 0;
            }
            return echo.message(c, req);
        };
        start(name, WaitStrategy.busySpin(), h);
        try (Client c = Client.connect(name, 16384)) {
            c.setWaitStrategy(WaitStrategy.busySpin());
            ByteBuffer resp = ByteBuffer.allocateDirect(c.bufferSize());
            long me = ProcessHandle.current().pid();
            MappedByteBuffer reqHdr = header(name, "request", me);
            MappedByteBuffer respHdr = header(name, "response", me);
            // One spinning round trip: the client's recv leaves its flag at 2 on the response ring.
            assertEcho(resp, c.sendRecv(request(EchoHandler.ECHO, 8, 1), resp, 10_000), EchoHandler.ECHO, 8, 1,
                    "warm-up");
            assertEquals(RingHeaderDescriptor.READER_SPINNING, respHdr.getInt(RingHeaderDescriptor.CONSUMER_AWAKE_OFFSET),
                    "client flag after a spinning recv");

            // Responses: the second answer waits in the ring, unposted.
            assertEcho(resp, c.sendRecv(request(TWICE, 100, 2), resp, 10_000), TWICE, 100, 2, "first of two");
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (!chunkQueued(respHdr) && System.nanoTime() < deadline) {
                Thread.onSpinWait();
            }
            assertTrue(chunkQueued(respHdr), "second response in the ring");
            assertEquals(0, semValue(respHdr), "response semaphore: the post was skipped");
            assertEcho(resp, c.recv(resp, 10_000), TWICE, 100, 2, "second of two, found from write_pt");

            // Requests: the loop is held inside a callback with its flag at 2; the next request is not posted.
            assertEquals(RingHeaderDescriptor.READER_SPINNING, reqHdr.getInt(RingHeaderDescriptor.CONSUMER_AWAKE_OFFSET),
                    "busy-spinning loop's flag");
            assertTrue(c.send(request(HOLD, 16, 3)) > 0);
            assertTrue(held.await(30, TimeUnit.SECONDS), "the loop took the HOLD request");
            assertTrue(c.send(request(EchoHandler.ECHO, 300, 4)) > 0);
            assertTrue(chunkQueued(reqHdr), "request in the ring");
            assertEquals(0, semValue(reqHdr), "request semaphore: the post was skipped");
            release.countDown();
            // EchoHandler answers an id it does not know with a bare header and -EINVAL.
            assertEquals(24, c.recv(resp, 10_000), "answer to the held request");
            assertEquals(HOLD, new ResponseHeader().wrap(resp, 0).id());
            assertEcho(resp, c.recv(resp, 10_000), EchoHandler.ECHO, 300, 4, "request found from write_pt");
        } finally {
            release.countDown();
        }
    }

    /**
     * The write_pt path allocates nothing per message: both ends busy-spinning (readers on write_pt, writers skipping
     * the post), 20,000 echoes on the client thread and the server's loop thread measured with
     * {@code ThreadMXBean#getThreadAllocatedBytes}. The bound (64 KiB for 20,000 round trips, best of up to 4 runs)
     * lets a JIT deoptimisation on a loaded machine pass and fails anything that allocates per message (4 B each).
     */
    @Test
    void spinningRoundTripsAllocateNothing() throws Exception {
        com.sun.management.ThreadMXBean threads =
                (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        assertTrue(threads.isThreadAllocatedMemorySupported());
        threads.setThreadAllocatedMemoryEnabled(true);
        String name = NativeServer.uniqueName("wpt-alloc");
        start(name, WaitStrategy.busySpin(), new EchoHandler());
        long loop = Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().equals("jqb-" + name))
                .findFirst().orElseThrow().getId();
        long me = Thread.currentThread().getId();
        try (Client c = Client.connect(name, 16384)) {
            c.setWaitStrategy(WaitStrategy.busySpin());
            ByteBuffer req = request(EchoHandler.ECHO, 64, 5);
            ByteBuffer resp = ByteBuffer.allocateDirect(c.bufferSize());
            int count = 20_000;
            long bound = 64 * 1024;
            long best = Long.MAX_VALUE;
            StringBuilder runs = new StringBuilder();
            for (int run = 0; run < 5 && best >= bound; run++) {
                long client0 = threads.getThreadAllocatedBytes(me);
                long loop0 = threads.getThreadAllocatedBytes(loop);
                for (int i = 0; i < count; i++) {
                    int len = c.sendRecv(req, resp, 10_000);
                    if (len != 24 + 64) {
                        assertEcho(resp, len, EchoHandler.ECHO, 64, 5, "echo " + i);
                    }
                }
                long client = threads.getThreadAllocatedBytes(me) - client0;
                long server = threads.getThreadAllocatedBytes(loop) - loop0;
                if (run > 0) { // run 0 warms the JIT up
                    best = Math.min(best, Math.max(client, server));
                }
                runs.append(run == 0 ? "" : ", ").append(client).append('/').append(server);
            }
            System.out.println("[write_pt alloc] client/loop thread bytes per run of " + count + ": " + runs);
            assertTrue(best < bound, "allocated " + best + " bytes at best for " + count
                    + " spinning round trips (client/loop thread per run: " + runs + ")");
        }
    }

    /**
     * A writer that says "JQB2" but posts every chunk and never reads the flag (a misbehaving one; a real "JQB1"
     * writer never gets detection, see {@link #aWriterSayingOnlyJqb1NeverFindsItsEmptyRingFull}; here a
     * {@link RawShmPeer}) against a busy-spinning server that reads by write_pt: every request is served, the posts
     * it makes are taken as stale tokens (they do not pile up: the semaphore drains to 0), and the writer's own
     * free-space rule (w == r with tokens means "full") never blocks it for good (it only delays itself).
     */
    @Test
    void anAlwaysPostingJqbWriterIsServedAndItsTokensDoNotPileUp() throws Exception {
        String name = NativeServer.uniqueName("wpt-oldw");
        start(name, WaitStrategy.busySpin(), new EchoHandler());
        try (RawShmPeer p = RawShmPeer.connect(name, 16384,
                ConnectionRequestDescriptor.JQB_WRITEPT_CAPABILITY)) {
            for (int i = 0; i < 2000; i++) {
                int n = (i * 37) % 1500;
                ByteBuffer req = request(EchoHandler.ECHO, n, i & 0x7f);
                byte[] b = new byte[16 + n];
                req.get(0, b);
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                while (!p.request.writeChunk(b.length, b, b.length, RawShmPeer.MAGIC_COMMITTED)) {
                    assertTrue(System.nanoTime() < deadline, "request " + i + ": no room for 10 s (sem "
                            + p.request.sem() + ")");
                    Thread.onSpinWait();
                }
                assertTrue(p.doorbell(), "doorbell");
                awaitRawEcho(p, deadline, n, i);
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while ((int) p.request.sem() != 0 && System.nanoTime() < deadline) {
                Thread.onSpinWait();
            }
            assertEquals(0, (int) p.request.sem(), "request semaphore after 2000 posted requests");
            assertTrue(!p.closedByServer(0), "dropped");
        }
    }

    static WaitStrategy strategy(int k) {
        switch (k) {
            case 0:
                return WaitStrategy.block();
            case 1:
                return WaitStrategy.busySpin();
            default:
                // Short windows: the client falls asleep and wakes up all the time.
                return WaitStrategy.phased(Duration.ofNanos(20_000 + 20_000 * (k - 2)), Duration.ofNanos(30_000));
        }
    }

    /**
     * Lost wake-ups: a jqb client and a jqb server switching between spinning on write_pt, phased waits (spin, yield,
     * block: the hand-over every time) and blocking, thousands of times under traffic, in both directions: reader in
     * each mode, writer in each mode. The client switches its strategy every few messages and pauses at random across
     * the server's windows; bursts put several chunks in a ring at a hand-over; sizes wrap the 16 KiB rings. A lost
     * wake-up is a recv that times out (10 s: a hang, not a slow machine); every echo is checked byte for byte.
     *
     * @param server the server's strategy: 0 block, 1 busy-spin, 2 phased with short windows
     */
    @ParameterizedTest(name = "server strategy {0}")
    @ValueSource(ints = {0, 1, 2})
    void handOversBetweenSpinPhasedAndBlockingLoseNothing(int server) throws Exception {
        String name = NativeServer.uniqueName("wpt-mix" + server);
        start(name, server == 2 ? WaitStrategy.phased(Duration.ofNanos(30_000), Duration.ofNanos(20_000))
                : strategy(server), new EchoHandler());
        Random rnd = new Random(0x5eed + server);
        int rounds = 4000;
        try (Client c = Client.connect(name, 16384)) {
            ByteBuffer resp = ByteBuffer.allocateDirect(c.bufferSize());
            int[] sizes = new int[4];
            int[] seeds = new int[4];
            for (int i = 0; i < rounds; i++) {
                if (i % 7 == 0) {
                    c.setWaitStrategy(strategy(rnd.nextInt(4)));
                }
                if (rnd.nextInt(4) == 0) {
                    // 0..150 µs: on both sides of the phased windows (client 20-60 µs spin, server 30 µs).
                    TimeUnit.NANOSECONDS.sleep(rnd.nextInt(150_000));
                }
                int burst = rnd.nextInt(8) == 0 ? 1 + rnd.nextInt(4) : 1;
                for (int k = 0; k < burst; k++) {
                    sizes[k] = rnd.nextInt(8) == 0 ? rnd.nextInt(3000) : rnd.nextInt(200);
                    seeds[k] = (i * 4 + k) & 0x7f;
                    int rc = c.send(request(EchoHandler.ECHO, sizes[k], seeds[k]));
                    assertEquals(16 + sizes[k], rc, "send " + i + "." + k);
                }
                for (int k = 0; k < burst; k++) {
                    int len = c.recv(resp, 10_000);
                    assertTrue(len >= 0, "round trip " + i + "." + k + " (client " + c + ", server strategy "
                            + server + "): " + Errno.name(len));
                    assertEcho(resp, len, EchoHandler.ECHO, sizes[k], seeds[k], "round trip " + i + "." + k);
                }
            }
            // Nothing left over on either side: no response the client did not ask for, no request unserved.
            assertEquals(Errno.WOULD_BLOCK, c.recv(resp, 0), "a response nobody asked for");
        }
    }

    /**
     * A native libqb client never sets the flag, so a jqb server posts every response for it, even when something
     * writes 2 into its response ring's flag (a hostile client can do that to itself, but not to a native peer, whose
     * handshake did not say "JQB1"): every echo still wakes the native client, which blocks in sem_timedwait.
     */
    @ParameterizedTest(name = "server strategy {0}")
    @ValueSource(ints = {1, 2})
    void nativeClientGetsEveryPostEvenWithTheFlagForcedTo2(int server) throws Exception {
        String name = NativeServer.uniqueName("wpt-native" + server);
        start(name, server == 2 ? WaitStrategy.phased(Duration.ofNanos(30_000), Duration.ofNanos(20_000))
                : strategy(server), new EchoHandler());
        try (NativeClient nc = NativeClient.drive(name)) {
            nc.connect();
            MappedByteBuffer respHdr = header(name, "response", nc.pid());
            MappedByteBuffer reqHdr = header(name, "request", nc.pid());
            respHdr.putInt(RingHeaderDescriptor.CONSUMER_AWAKE_OFFSET, RingHeaderDescriptor.READER_SPINNING);
            for (int i = 0; i < 300; i++) {
                nc.echo(i % 5 == 0 ? 3000 : i % 100);
            }
            assertEquals(RingHeaderDescriptor.READER_SPINNING, respHdr.getInt(RingHeaderDescriptor.CONSUMER_AWAKE_OFFSET));
            // A native client is no jqb peer: the loop never advertises write_pt spinning on its request ring.
            assertNotEquals(RingHeaderDescriptor.READER_SPINNING,
                    reqHdr.getInt(RingHeaderDescriptor.CONSUMER_AWAKE_OFFSET));
        }
    }
}
