package io.jqb;

import static io.jqb.internal.posix.Posix.C;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.internal.posix.LibC;
import io.jqb.internal.posix.Posix;
import io.jqb.internal.wire.RingHeaderDescriptor;
import io.jqb.testutil.NativeClient;
import io.jqb.testutil.NativeServer;
import io.jqb.testutil.ShmAssert;
import io.jqb.testutil.LoopProbe;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A blocking loop (the echo-server's default) advertises {@code READER_POLLING} on a jqb SHM client's request ring
 * while it drains it, so a pipelining jqb client skips the doorbell byte; the loop serves what was written without
 * a doorbell again without waiting for epoll, withdraws the flag (Dekker re-check) before it blocks, and never spins
 * on a connection it may not read. Run with the service's own loop ({@link Service#run()}, {@code "run"}) and with a
 * loop embedded through {@link EventLoop#runOnce} ({@code "runOnce"}).
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class BlockingDrainTest {
    private static final int ECHO = 1;
    private static final int MAX = 16384;
    /** Generous: a time-out here is a lost wake-up, not a slow machine. */
    private static final int RECV_MS = 15_000;

    private final List<AutoCloseable> closing = new ArrayList<>();

    @AfterEach
    void tearDown() throws Exception {
        for (int i = closing.size() - 1; i >= 0; i--) {
            closing.get(i).close();
        }
        ShmAssert.assertNoneLeft();
    }

    // ------------------------------------------------------------------------------------------- servers

    /** Echoes {id, 24 + n, 0} + payload; a test may hold the loop inside one request and see each request's flag. */
    private static final class Handler implements ServiceHandler {
        final AtomicInteger requests = new AtomicInteger();
        /** The request number (0-based) whose handling waits for {@link #release}; -1 for none. */
        volatile int holdAt = -1;
        final CountDownLatch held = new CountDownLatch(1);
        final CountDownLatch release = new CountDownLatch(1);
        /** Response size for every request (0: the echo's own), to fill the response ring on purpose. */
        volatile int responseSize;
        /** Queue responses (backlog) instead of sending them. */
        volatile boolean queue;
        final AtomicReference<Connection> last = new AtomicReference<>();
        /** Request-ring flag values seen while requests were served, per connection id. */
        final ConcurrentHashMap<Long, int[]> flagsSeen = new ConcurrentHashMap<>();
        final ConcurrentHashMap<Long, MappedByteBuffer> headers = new ConcurrentHashMap<>();
        /** The request number (0-based) whose handling throws instead of answering; -1 for none. */
        volatile int throwAt = -1;
        /** Runs on the loop thread before each request is answered, with the request's number (0-based). */
        volatile java.util.function.IntConsumer onRequest = i -> { };

        @Override
        public int message(Connection c, ByteBuffer req) {
            last.set(c);
            int flag = requestFlag(c);
            flagsSeen.computeIfAbsent(c.id(), k -> new int[3])[flag]++;
            int index = requests.getAndIncrement();
            if (index == holdAt) {
                held.countDown();
                try {
                    assertTrue(release.await(60, TimeUnit.SECONDS), "not released");
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            onRequest.accept(index);
            if (index == throwAt) {
                throw new IllegalStateException("test: the handler fails on request " + index);
            }
            int id = req.getInt(req.position());
            int n = req.remaining() - 16;
            int size = responseSize > 0 ? responseSize : 24 + n;
            ByteBuffer resp = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
            resp.putInt(0, id).putInt(8, size).putInt(16, 0);
            resp.put(24, req, req.position() + 16, Math.min(n, size - 24));
            int rc = queue ? c.queueResponse(resp) : c.sendResponse(resp);
            assertTrue(rc >= 0, "response: " + Errno.name(rc));
            return 0;
        }

        /** The reader-mode flag of {@code c}'s request ring, read from the mapped header (loop thread). */
        int requestFlag(Connection c) {
            MappedByteBuffer m = headers.computeIfAbsent(c.id(), k -> {
                Path p = Path.of(c.channel().requestPath() + "-header");
                try (FileChannel fc = FileChannel.open(p, StandardOpenOption.READ)) {
                    MappedByteBuffer b = fc.map(FileChannel.MapMode.READ_ONLY, 0, RingHeaderDescriptor.STRUCT_LENGTH);
                    b.order(ByteOrder.LITTLE_ENDIAN);
                    return b;
                } catch (IOException e) {
                    throw new IllegalStateException(e);
                }
            });
            return m.getInt(RingHeaderDescriptor.CONSUMER_AWAKE_OFFSET);
        }
    }

    /**
     * A service on a blocking loop: its own ({@code run}) or an {@link EventLoop} driven by runOnce on a thread
     * ({@code runOnce}; {@code runOnceSpin}: the embedded loop was made with a busy-spinning strategy, which an
     * embedded loop cannot honour: its connections drain as a blocking loop's; {@code runOnceFd}: the embedder waits
     * in poll(2) on {@link EventLoop#fd()} alone, with no time-out, then calls {@code runOnce(0)}).
     */
    private Service serve(String mode, String name, Handler h) throws Exception {
        closing.add(h.release::countDown); // closed last-in first: a failed test never leaves the loop held
        if (mode.equals("run")) {
            Service s = Service.create(name, 0, TransportType.SHM, h);
            s.run();
            closing.add(s::close);
            return s;
        }
        CompletableFuture<Service> ready = new CompletableFuture<>();
        AtomicBoolean stop = new AtomicBoolean();
        AtomicReference<EventLoop> loopRef = new AtomicReference<>();
        Thread t = new Thread(() -> {
            try (EventLoop loop = mode.equals("runOnceSpin") ? new EventLoop("x", WaitStrategy.busySpin())
                    : new EventLoop()) {
                loopRef.set(loop);
                Service s = Service.create(name, 0, TransportType.SHM, h);
                s.setPollHandlers(loop);
                s.run();
                ready.complete(s);
                long pollfd = io.jqb.internal.posix.Posix.allocate(8);
                while (!stop.get()) {
                    if (mode.equals("runOnceFd")) {
                        // An embedder that waits for fd() alone, ignoring timeoutMs(): the loop must make its fd
                        // readable while requests wait that came without a doorbell.
                        io.jqb.internal.posix.Posix.pollOne(loop.fd(), LibC.POLLIN, -1, pollfd);
                        loop.runOnce(0);
                    } else {
                        loop.runOnce(-1); // waits in epoll only when no connection is listed as draining
                    }
                }
                io.jqb.internal.posix.Posix.free(pollfd, 8);
                s.close();
            } catch (Throwable e) {
                ready.completeExceptionally(e);
            }
        }, "jqb-" + name);
        t.start();
        Service s = ready.get(30, TimeUnit.SECONDS);
        closing.add(() -> {
            stop.set(true);
            loopRef.get().stop(); // wakes runOnce
            t.join(30_000);
            assertFalse(t.isAlive(), "embedded loop thread ended");
        });
        return s;
    }

    // ------------------------------------------------------------------------------------------- wire

    private static ByteBuffer request(int n, int seed) {
        ByteBuffer b = ByteBuffer.allocateDirect(16 + n).order(ByteOrder.LITTLE_ENDIAN);
        new RequestHeader().wrap(b, 0).set(ECHO, RequestHeader.LENGTH + n);
        for (int i = 0; i < n; i++) {
            b.put(16 + i, (byte) (i * 31 + seed));
        }
        return b;
    }

    private static void recvEcho(Client c, ByteBuffer resp, int n, int seed, String what) {
        int len = c.recv(resp, RECV_MS);
        assertTrue(len >= 0, what + ": " + Errno.name(len));
        assertEquals(24 + n, len, what + ": length");
        assertEquals(ECHO, resp.getInt(0), what + ": id");
        for (int i = 0; i < n; i++) {
            assertEquals((byte) (i * 31 + seed), resp.get(24 + i), what + ": payload byte " + i);
        }
    }

    // ------------------------------------------------------------------------------------------- tests

    /**
     * The skip: the loop is held inside the first request (so it is "draining" for certain); the client pipelines
     * 60 more. They must come without doorbell bytes (main: one byte each), and all 61 be answered in order once the
     * loop goes on, though no doorbell makes the socket readable for them; then the flag goes back to ASLEEP.
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"run", "runOnce", "runOnceSpin", "runOnceFd"})
    void aPipeliningJqbClientSkipsDoorbellsWhileTheLoopDrains(String mode) throws Exception {
        String name = NativeServer.uniqueName("drain-skip");
        Handler h = new Handler();
        h.holdAt = 0;
        serve(mode, name, h);
        int more = 60;
        try (Client c = Client.connect(name, MAX)) {
            ByteBuffer resp = ByteBuffer.allocateDirect(c.bufferSize()).order(ByteOrder.LITTLE_ENDIAN);
            sendWhileTheLoopHoldsTheFirst(c, h, more);
            Connection conn = h.last.get();
            int bytes = LoopProbe.queuedBytes(conn.channel().fd());
            int flag = h.requestFlag(conn);
            h.release.countDown();
            // Only the first request's doorbell (sent before the loop woke) may be there: not one per request.
            assertTrue(bytes <= 1, bytes + " doorbell bytes queued for " + (more + 1) + " requests");
            assertEquals(RingHeaderDescriptor.READER_POLLING, flag, "flag while draining");
            for (int i = 0; i <= more; i++) {
                recvEcho(c, resp, 8, i, "response " + i);
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (h.requestFlag(conn) != RingHeaderDescriptor.READER_ASLEEP) {
                assertTrue(System.nanoTime() < deadline, "flag not withdrawn when idle");
                Thread.onSpinWait();
            }
            assertEquals(more + 1, h.requests.get());
        }
    }

    /**
     * No lost wake-up: four clients at once, each 400 rounds of a burst of 1-40 pipelined requests (then it blocks
     * in recv for each answer) or one request and a blocking recv, with pauses of 0-400 µs between rounds that let
     * the loop withdraw and sleep in between. Every request is answered once, in order.
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"run", "runOnce", "runOnceSpin", "runOnceFd"})
    void burstsAndPausesFromSeveralClientsLoseNoRequest(String mode) throws Exception {
        String name = NativeServer.uniqueName("drain-stress");
        Handler h = new Handler();
        serve(mode, name, h);
        int clients = 4;
        int rounds = 400;
        List<CompletableFuture<Integer>> all = new ArrayList<>();
        for (int k = 0; k < clients; k++) {
            final int seedBase = k;
            all.add(CompletableFuture.supplyAsync(() -> {
                Random rnd = new Random(1234 + seedBase);
                int done = 0;
                try (Client c = Client.connect(name, MAX)) {
                    ByteBuffer resp = ByteBuffer.allocateDirect(c.bufferSize()).order(ByteOrder.LITTLE_ENDIAN);
                    for (int r = 0; r < rounds; r++) {
                        int burst = rnd.nextInt(4) == 0 ? 1 : 1 + rnd.nextInt(40);
                        int[] sizes = new int[burst];
                        for (int i = 0; i < burst; i++) {
                            sizes[i] = rnd.nextInt(200);
                            int rc = c.send(request(sizes[i], (r + i) & 0x7f));
                            assertEquals(16 + sizes[i], rc, "client " + seedBase + " round " + r + " send " + i);
                        }
                        for (int i = 0; i < burst; i++) {
                            recvEcho(c, resp, sizes[i], (r + i) & 0x7f,
                                    "client " + seedBase + " round " + r + " response " + i);
                            done++;
                        }
                        if (rnd.nextBoolean()) {
                            LockSupport.parkNanos(rnd.nextInt(400_000)); // pacing only: lets the loop go idle
                        }
                    }
                }
                return done;
            }));
        }
        int total = 0;
        for (CompletableFuture<Integer> f : all) {
            total += f.get(150, TimeUnit.SECONDS);
        }
        assertEquals(total, h.requests.get(), "every request served once");
    }

    /**
     * Fairness: while one client pipelines without pause (it stays on the loop's draining list, served every pass
     * without epoll), a second client's round trips are all answered and a repeating 5 ms timer keeps firing.
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"run", "runOnce"})
    void aFloodingClientStarvesNeitherOthersNorTimers(String mode) throws Exception {
        String name = NativeServer.uniqueName("drain-fair");
        Handler h = new Handler();
        Service s = serve(mode, name, h);
        EventLoop loop = (EventLoop) s.pollHandlers();
        AtomicInteger ticks = new AtomicInteger();
        AtomicBoolean flooding = new AtomicBoolean(true);
        Runnable[] tick = new Runnable[1];
        tick[0] = () -> {
            ticks.incrementAndGet();
            if (flooding.get()) {
                loop.schedule(5, tick[0]);
            }
        };
        loop.schedule(5, tick[0]);
        AtomicInteger flooded = new AtomicInteger();
        CompletableFuture<Integer> flooder = CompletableFuture.supplyAsync(() -> {
            try (Client a = Client.connect(name, MAX)) {
                ByteBuffer resp = ByteBuffer.allocateDirect(a.bufferSize()).order(ByteOrder.LITTLE_ENDIAN);
                ByteBuffer req = request(8, 3);
                while (flooding.get()) {
                    for (int i = 0; i < 30; i++) {
                        assertEquals(24, a.send(req), "flood send");
                    }
                    for (int i = 0; i < 30; i++) {
                        recvEcho(a, resp, 8, 3, "flood response");
                        flooded.incrementAndGet();
                    }
                }
            }
            return flooded.get();
        });
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (flooded.get() < 3000) {
                assertTrue(System.nanoTime() < deadline && !flooder.isDone(), "flood did not start");
                Thread.onSpinWait();
            }
            try (Client b = Client.connect(name, MAX)) {
                ByteBuffer resp = ByteBuffer.allocateDirect(b.bufferSize()).order(ByteOrder.LITTLE_ENDIAN);
                for (int i = 0; i < 200; i++) {
                    assertEquals(16 + 32, b.send(request(32, i & 0x7f)));
                    recvEcho(b, resp, 32, i & 0x7f, "other client's round trip " + i);
                }
            }
            int t0 = ticks.get();
            while (ticks.get() < t0 + 3) {
                assertTrue(System.nanoTime() < deadline + TimeUnit.SECONDS.toNanos(30), "timer starved");
                Thread.onSpinWait();
            }
            assertFalse(flooder.isDone(), "the flood ended early");
        } finally {
            flooding.set(false);
        }
        assertTrue(flooder.get(60, TimeUnit.SECONDS) >= 3000);
    }

    /**
     * Native clients never read the flag, so the loop never raises it on their rings: a libqb client's requests are
     * all served with the flag at ASLEEP, and its echo contract and a pipelined run pass against the blocking loop.
     */
    @Test
    void nativeClientsAreServedAsBefore() throws Exception {
        String name = NativeServer.uniqueName("drain-native");
        Handler h = new Handler();
        serve("run", name, h);
        Process p = new ProcessBuilder(NativeClient.clientBinary().toString(), "bench", "--service", name, "--count",
                "20000", "--size", "64", "--max", String.valueOf(MAX), "--warmup", "0", "--pipeline")
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "native pipelined bench did not end");
        assertEquals(0, p.exitValue(), out);
        assertTrue(out.contains("msgs_per_s="), out);
        assertEquals(20000, h.requests.get(), "every pipelined request served");
        assertEquals(1, h.flagsSeen.size());
        int[] flags = h.flagsSeen.values().iterator().next();
        assertEquals(20000, flags[RingHeaderDescriptor.READER_ASLEEP], "flag raised on a native client's ring: "
                + flags[RingHeaderDescriptor.READER_POLLING] + " times");
        String echo = NativeServer.uniqueName("drain-native-echo");
        Service e = Service.create(echo, 0, TransportType.SHM, new io.jqb.cli.EchoHandler());
        e.run();
        closing.add(e::close);
        NativeClient.CheckResult r = NativeClient.check(echo, 65536, Duration.ofMinutes(2));
        assertEquals(0, r.exitCode(), r.stdout() + r.stderr());
    }

    /**
     * Flow control switched on while the loop holds a request, with more requests written meanwhile without
     * doorbells: the loop withdraws (no spinning on requests it may not read: its CPU stays low), answers nothing
     * more, and serves every held request once flow control is off again (no doorbell will ever come for them).
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"run", "runOnce"})
    void flowControlStopsTheDrainAndItsEndResumesIt(String mode) throws Exception {
        String name = NativeServer.uniqueName("drain-fc");
        Handler h = new Handler();
        h.holdAt = 0;
        Service s = serve(mode, name, h);
        int more = 20;
        try (Client c = Client.connect(name, MAX)) {
            ByteBuffer resp = ByteBuffer.allocateDirect(c.bufferSize()).order(ByteOrder.LITTLE_ENDIAN);
            sendWhileTheLoopHoldsTheFirst(c, h, more);
            s.requestRateLimit(RateLimit.OFF);
            h.release.countDown();
            recvEcho(c, resp, 8, 0, "the held request");
            long cpu = LoopProbe.cpuMillis("jqb-" + name, 1_000);
            assertTrue(cpu < 300, "loop used " + cpu + " ms of CPU in 1 s on a flow-controlled connection");
            assertEquals(1, h.requests.get(), "served under flow control");
            s.requestRateLimit(RateLimit.NORMAL);
            for (int i = 1; i <= more; i++) {
                recvEcho(c, resp, 8, i, "response " + i);
            }
        }
    }

    /**
     * A doorbell that the loop sees while the connection is paused stays in the socket (libqb's server does not read
     * on POLLIN under flow control either), and the resumption serves the requests it announced. The client has been
     * served once (its ring was drained with the flag raised) and is idle (flag withdrawn, not listed); the loop is
     * held in another client's request while a third client's request pauses the whole service (from a callback, on
     * the loop thread) and the idle client sends two requests: the pause comes in the same pass, before the loop
     * gets to the idle client's POLLIN. Before the fix that POLLIN read (and dropped) both doorbells and nothing
     * re-checked the ring on resumption: the two requests waited for a third that never came.
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"run", "runOnce", "runOnceFd"})
    void aDoorbellSeenWhilePausedIsServedOnResumption(String mode) throws Exception {
        String name = NativeServer.uniqueName("drain-pausedpollin");
        Handler h = new Handler();
        Service s = serve(mode, name, h);
        CountDownLatch passDone = new CountDownLatch(1);
        try (Client x = Client.connect(name, MAX); Client a = Client.connect(name, MAX);
                Client c = Client.connect(name, MAX)) {
            ByteBuffer resp = ByteBuffer.allocateDirect(c.bufferSize()).order(ByteOrder.LITTLE_ENDIAN);
            assertEquals(24, c.send(request(8, 0)));
            recvEcho(c, resp, 8, 0, "the idle client's first request");
            Connection cConn = h.last.get();
            h.holdAt = 1; // x's request holds the loop
            h.onRequest = i -> {
                if (i == 2) { // a's request: pause everyone, then mark the end of this pass's dispatch
                    s.requestRateLimit(RateLimit.OFF);
                    s.pollHandlers().jobAdd(Priority.LOW, passDone::countDown); // jobs run after every fd's
                }
            };
            assertEquals(24, x.send(request(8, 1)));
            assertTrue(h.held.await(30, TimeUnit.SECONDS), "x's request not served");
            assertEquals(24, a.send(request(8, 2)));
            assertEquals(24, c.send(request(8, 3)));
            assertEquals(24, c.send(request(8, 4)));
            h.release.countDown();
            recvEcho(x, resp, 8, 1, "x");
            recvEcho(a, resp, 8, 2, "a");
            assertTrue(passDone.await(30, TimeUnit.SECONDS), "the pausing pass did not end");
            assertEquals(3, h.requests.get(), "served while paused");
            assertTrue(LoopProbe.queuedBytes(cConn.channel().fd()) > 0, "the paused connection's doorbells were consumed");
            s.requestRateLimit(RateLimit.NORMAL);
            recvEcho(c, resp, 8, 3, "the first request sent while paused");
            recvEcho(c, resp, 8, 4, "the second request sent while paused");
            assertEquals(5, h.requests.get());
        }
    }

    /**
     * The same for a native libqb client (its doorbell is one byte per request; libqb's server reads none on
     * POLLIN under flow control): its only request, whose doorbell the loop sees in the pass that pauses the
     * service, is served on resumption. (Before drain7 the loop read one byte there and this request waited; the
     * native client is never listed, so only the doorbell left in the socket brings it back.)
     */
    @Test
    void aNativeClientsDoorbellSeenWhilePausedIsServedOnResumption() throws Exception {
        String name = NativeServer.uniqueName("drain-pausednative");
        Handler h = new Handler();
        Service s = serve("run", name, h);
        CountDownLatch passDone = new CountDownLatch(1);
        h.holdAt = 0; // x's request holds the loop
        h.onRequest = i -> {
            if (i == 1) { // a's request: pause everyone, then mark the end of this pass's dispatch
                s.requestRateLimit(RateLimit.OFF);
                s.pollHandlers().jobAdd(Priority.LOW, passDone::countDown);
            }
        };
        try (Client x = Client.connect(name, MAX); Client a = Client.connect(name, MAX);
                NativeClient c = NativeClient.drive(name, MAX)) {
            c.connect();
            ByteBuffer resp = ByteBuffer.allocateDirect(x.bufferSize()).order(ByteOrder.LITTLE_ENDIAN);
            assertEquals(24, x.send(request(8, 1)));
            assertTrue(h.held.await(30, TimeUnit.SECONDS), "x's request not served");
            assertEquals(24, a.send(request(8, 2))); // a's doorbell before c's: a is dispatched first
            c.ok("send 5 8"); // flow control still off: the native client sends
            h.release.countDown();
            recvEcho(x, resp, 8, 1, "x");
            recvEcho(a, resp, 8, 2, "a");
            assertTrue(passDone.await(30, TimeUnit.SECONDS), "the pausing pass did not end");
            assertEquals(2, h.requests.get(), "served while paused");
            s.requestRateLimit(RateLimit.NORMAL);
            NativeClient.Msg m = c.receive("recv 8000");
            assertEquals(5, m.id(), m.toString());
            assertEquals(24 + 8, m.size(), m.toString());
            assertEquals(3, h.requests.get());
        }
    }

    /** Waits (bounded) until the loop withdrew {@code conn}'s flag: it left the draining list. */
    private static void awaitWithdrawn(Handler h, Connection conn) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (h.requestFlag(conn) != RingHeaderDescriptor.READER_ASLEEP) {
            assertTrue(System.nanoTime() < deadline, "flag not withdrawn when idle");
            Thread.onSpinWait();
        }
    }

    /**
     * A connection dropped (from another thread) while it is on the draining list with requests queued leaves the
     * list: the loop goes back to sleep (no 100 % CPU on a connection that is gone) and serves other clients.
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"run", "runOnce"})
    void aConnectionDroppedWhileListedLeavesTheListAndTheLoopSleeps(String mode) throws Exception {
        String name = NativeServer.uniqueName("drain-drop");
        Handler h = new Handler();
        h.holdAt = 0;
        serve(mode, name, h);
        int more = 30;
        try (Client c = Client.connect(name, MAX)) {
            ByteBuffer resp = ByteBuffer.allocateDirect(c.bufferSize()).order(ByteOrder.LITTLE_ENDIAN);
            sendWhileTheLoopHoldsTheFirst(c, h, more);
            Connection conn = h.last.get();
            assertEquals(RingHeaderDescriptor.READER_POLLING, h.requestFlag(conn), "listed while held");
            conn.disconnect(); // not the loop thread: the loop is inside this connection's request
            h.release.countDown();
            int served = h.requests.get();
            int len = 0;
            try {
                while (len >= 0) { // the held request's answer may have gone out; then the end
                    len = c.recv(resp, RECV_MS);
                }
                assertTrue(len != Errno.WOULD_BLOCK && len != -Errno.ETIMEDOUT, "no disconnect: " + Errno.name(len));
            } catch (NotConnectedException expected) {
                // the server's end is closed
            }
            long cpu = LoopProbe.cpuMillis("jqb-" + name, 1_000);
            assertTrue(cpu < 300, "loop used " + cpu + " ms of CPU in 1 s after the drop");
            assertTrue(h.requests.get() <= served + 1, "requests of a dropped connection served");
        }
        try (Client d = Client.connect(name, MAX)) {
            ByteBuffer resp = ByteBuffer.allocateDirect(d.bufferSize()).order(ByteOrder.LITTLE_ENDIAN);
            assertEquals(24, d.send(request(8, 7)));
            recvEcho(d, resp, 8, 7, "another client after the drop");
        }
    }

    /**
     * A handler that throws in the middle of a drain costs that request only (libqb: logged, no answer): the rest
     * of the pipelined requests, sent without doorbells, are answered in order and the flag is withdrawn after.
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"run", "runOnce"})
    void aHandlerThrowingMidDrainCostsOnlyThatRequest(String mode) throws Exception {
        String name = NativeServer.uniqueName("drain-throw");
        Handler h = new Handler();
        h.holdAt = 0;
        h.throwAt = 7;
        serve(mode, name, h);
        int more = 20;
        try (Client c = Client.connect(name, MAX)) {
            ByteBuffer resp = ByteBuffer.allocateDirect(c.bufferSize()).order(ByteOrder.LITTLE_ENDIAN);
            sendWhileTheLoopHoldsTheFirst(c, h, more);
            Connection conn = h.last.get();
            h.release.countDown();
            for (int i = 0; i <= more; i++) {
                if (i != 7) {
                    recvEcho(c, resp, 8, i, "response " + i);
                }
            }
            awaitWithdrawn(h, conn);
            assertEquals(more + 1, h.requests.get());
        }
    }

    /**
     * A priority change while the connection is listed (SLOW: LOW priority, one request per wake-up; then FAST)
     * moves it to that priority's turn in the pass: every request sent without a doorbell is still answered, in
     * order, and the flag is withdrawn after.
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"run", "runOnce"})
    void aPriorityChangeWhileListedLosesNoRequest(String mode) throws Exception {
        String name = NativeServer.uniqueName("drain-prio");
        Handler h = new Handler();
        h.holdAt = 0;
        Service s = serve(mode, name, h);
        int more = 40;
        try (Client c = Client.connect(name, MAX)) {
            ByteBuffer resp = ByteBuffer.allocateDirect(c.bufferSize()).order(ByteOrder.LITTLE_ENDIAN);
            sendWhileTheLoopHoldsTheFirst(c, h, more);
            Connection conn = h.last.get();
            h.onRequest = i -> {
                if (i == 20) {
                    s.requestRateLimit(RateLimit.FAST); // on the loop thread, mid-drain
                }
            };
            s.requestRateLimit(RateLimit.SLOW); // another thread, while the loop holds the first request
            h.release.countDown();
            for (int i = 0; i <= more; i++) {
                recvEcho(c, resp, 8, i, "response " + i);
            }
            awaitWithdrawn(h, conn);
            assertEquals(more + 1, h.requests.get());
            assertEquals(Priority.HIGH, conn.priority());
        }
    }

    /**
     * The connection's response backlog pauses it (each answer is 4 KiB, the client reads none while the loop
     * holds the first request and it pipelines 30 more without doorbells): the loop must sleep meanwhile, and as the
     * client reads, the backlog drains and the loop resumes the skipped requests by itself, until all are answered.
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"run", "runOnce"})
    void aBackloggedConnectionIsNotSpunOnAndIsResumed(String mode) throws Exception {
        String name = NativeServer.uniqueName("drain-backlog");
        Handler h = new Handler();
        h.holdAt = 0;
        h.queue = true;
        h.responseSize = 4096;
        serve(mode, name, h);
        int more = 30;
        try (Client c = Client.connect(name, MAX)) {
            ByteBuffer resp = ByteBuffer.allocateDirect(c.bufferSize()).order(ByteOrder.LITTLE_ENDIAN);
            sendWhileTheLoopHoldsTheFirst(c, h, more);
            h.release.countDown();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (h.last.get().backlogBytes() == 0) {
                assertTrue(System.nanoTime() < deadline, "no backlog");
                Thread.onSpinWait();
            }
            int servedWhenPaused = h.requests.get();
            assertTrue(servedWhenPaused < more + 1, "all served before the backlog");
            long cpu = LoopProbe.cpuMillis("jqb-" + name, 1_000);
            assertTrue(cpu < 300, "loop used " + cpu + " ms of CPU in 1 s on a paused connection");
            for (int i = 0; i <= more; i++) {
                int len = c.recv(resp, RECV_MS);
                assertEquals(4096, len, "response " + i + " (" + h.requests.get() + " served)");
                assertEquals(ECHO, resp.getInt(0));
                for (int j = 0; j < 8; j++) {
                    assertEquals((byte) (j * 31 + i), resp.get(24 + j), "response " + i + " byte " + j);
                }
            }
            assertEquals(more + 1, h.requests.get());
        }
    }

    /**
     * The drain allocates nothing per request: 20,000 pipelined requests (bursts of 50) against the blocking loop
     * with the allocation-free echo handler, the loop thread measured with {@code ThreadMXBean#getThreadAllocatedBytes}
     * (best of up to 4 runs after a warm-up; 64 KiB lets a JIT deoptimisation pass, 4 B per request does not).
     */
    @Test
    void theDrainAllocatesNothingPerRequest() throws Exception {
        com.sun.management.ThreadMXBean threads =
                (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        threads.setThreadAllocatedMemoryEnabled(true);
        String name = NativeServer.uniqueName("drain-alloc");
        Service s = Service.create(name, 0, TransportType.SHM, new io.jqb.cli.EchoHandler());
        s.run();
        closing.add(s::close);
        long loop = Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().equals("jqb-" + name))
                .findFirst().orElseThrow().getId();
        try (Client c = Client.connect(name, MAX)) {
            ByteBuffer req = request(64, 5);
            ByteBuffer resp = ByteBuffer.allocateDirect(c.bufferSize()).order(ByteOrder.LITTLE_ENDIAN);
            int count = 20_000;
            long bound = 64 * 1024;
            long best = Long.MAX_VALUE;
            StringBuilder runs = new StringBuilder();
            for (int run = 0; run < 5 && best >= bound; run++) {
                long loop0 = threads.getThreadAllocatedBytes(loop);
                for (int i = 0; i < count; i += 50) {
                    for (int k = 0; k < 50; k++) {
                        assertEquals(16 + 64, c.send(req), "send");
                    }
                    for (int k = 0; k < 50; k++) {
                        int len = c.recv(resp, RECV_MS);
                        assertEquals(24 + 64, len, "response " + (i + k) + ": " + Errno.name(len));
                    }
                }
                long server = threads.getThreadAllocatedBytes(loop) - loop0;
                if (run > 0) { // run 0 warms the JIT up
                    best = Math.min(best, server);
                }
                runs.append(run == 0 ? "" : ", ").append(server);
            }
            assertTrue(best < bound, "loop thread allocated " + best + " bytes at best for " + count
                    + " pipelined requests (per run: " + runs + ")");
        }
    }

    /**
     * Request 0, which the handler holds (the loop stays in it), then requests 1..{@code more} written meanwhile:
     * the loop advertises itself awake, so they go without doorbells.
     */
    private static void sendWhileTheLoopHoldsTheFirst(Client c, Handler h, int more) throws InterruptedException {
        assertEquals(24, c.send(request(8, 0)));
        assertTrue(h.held.await(30, TimeUnit.SECONDS), "first request not served");
        for (int i = 1; i <= more; i++) {
            assertEquals(24, c.send(request(8, i)), "send " + i);
        }
    }
}
