package io.jqb;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.cli.EchoHandler;
import io.jqb.internal.ring.ShmRing;
import io.jqb.internal.wire.RingHeaderDescriptor;
import io.jqb.testutil.NativeClient;
import io.jqb.testutil.NativeServer;
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
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Spin/yield/block waiting: two spinning jqb ends skip doorbells and futex wake-ups without ever losing a request,
 * and native peers are unaffected.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class WaitStrategyTest {

    private Service service;

    @AfterEach
    void tearDown() {
        if (service != null) {
            service.close();
        }
        ShmAssert.assertNoneLeft();
    }

    private Service spinningService(String name, WaitStrategy ws) throws IpcException {
        service = Service.create(name, 0, TransportType.SHM, new EchoHandler());
        service.setWaitStrategy(ws);
        service.run();
        return service;
    }

    private static ByteBuffer request(int id, int n, int seed) {
        ByteBuffer b = ByteBuffer.allocateDirect(16 + n).order(ByteOrder.LITTLE_ENDIAN);
        new RequestHeader().wrap(b, 0).set(id, RequestHeader.LENGTH + n);
        for (int i = 0; i < n; i++) {
            b.put(16 + i, (byte) (i * 31 + seed));
        }
        return b;
    }

    private static void assertEcho(ByteBuffer resp, int len, int n, int seed) {
        assertEquals(24 + n, len, "response length");
        ResponseHeader h = new ResponseHeader().wrap(resp, 0);
        assertEquals(EchoHandler.ECHO, h.id());
        assertEquals(24 + n, h.size());
        assertEquals(0, h.error());
        for (int i = 0; i < n; i++) {
            assertEquals((byte) (i * 31 + seed), resp.get(24 + i), "payload byte " + i);
        }
    }

    /**
     * Requests spaced around the server's spin window make it fall asleep and wake up over and over; with the
     * doorbell skipped while it advertises that it polls, any lost wake-up would show as a time-out here.
     */
    @Test
    void phasedEndsNeverLoseARequestAcrossSleepAndWake() throws Exception {
        String name = NativeServer.uniqueName("wait-phased");
        spinningService(name, WaitStrategy.phased(Duration.of(200, java.time.temporal.ChronoUnit.MICROS), Duration.of(100, java.time.temporal.ChronoUnit.MICROS)));
        Random rnd = new Random(7);
        try (Client c = Client.connect(name, 16384)) {
            c.setWaitStrategy(WaitStrategy.phased(Duration.of(200, java.time.temporal.ChronoUnit.MICROS), Duration.of(100, java.time.temporal.ChronoUnit.MICROS)));
            ByteBuffer resp = ByteBuffer.allocateDirect(c.bufferSize());
            for (int i = 0; i < 3000; i++) {
                int n = rnd.nextInt(200);
                int seed = i & 0x7f;
                if ((i & 3) == 0) {
                    // 0..600 µs: on both sides of the server's 300 µs spin+yield window.
                    TimeUnit.MICROSECONDS.sleep(rnd.nextInt(600));
                }
                assertEquals(16 + n, c.send(request(EchoHandler.ECHO, n, seed)));
                int len = c.recv(resp, 2000);
                assertTrue(len >= 0, "round trip " + i + " got " + Errno.name(len));
                assertEcho(resp, len, n, seed);
            }
        }
    }

    @Test
    void spinningServerAdvertisesAwakeAndWithdrawsItBeforeSleeping() throws Exception {
        String name = NativeServer.uniqueName("wait-flag");
        spinningService(name, WaitStrategy.phased(Duration.ofMillis(1000), Duration.ZERO));
        try (Client c = Client.connect(name, 16384)) {
            ByteBuffer resp = ByteBuffer.allocateDirect(c.bufferSize());
            Path header = requestHeader(name);
            try (FileChannel fc = FileChannel.open(header, StandardOpenOption.READ)) {
                MappedByteBuffer m = fc.map(FileChannel.MapMode.READ_ONLY, 0, RingHeaderDescriptor.STRUCT_LENGTH);
                m.order(ByteOrder.LITTLE_ENDIAN);
                for (int round = 0; round < 3; round++) {
                    c.send(request(EchoHandler.ECHO, 8, round));
                    assertEcho(resp, c.recv(resp, 2000), 8, round);
                    // After serving, the loop spins for 1 s with the flag up (it raises it as it leaves epoll).
                    // A jqb client: the loop spins on write_pt (2); with -Djqb.spin.writeptDetect=false it polls
                    // the semaphore (1).
                    int awake = ShmRing.WRITEPT_DETECT ? RingHeaderDescriptor.READER_SPINNING
                            : RingHeaderDescriptor.READER_POLLING;
                    assertEquals(awake, awaitFlag(m, awake, 500), "awake while spinning");
                    assertEquals(0, awaitFlag(m, 0, 5000), "asleep when idle");
                }
            }
        }
    }

    @Test
    @Timeout(value = 6, unit = TimeUnit.MINUTES)
    void nativeClientPassesTheEchoContractAgainstABusySpinningServer() throws Exception {
        String name = NativeServer.uniqueName("wait-native-cli");
        spinningService(name, WaitStrategy.busySpin());
        // Correctness, not speed: the check's ~20,000 round trips against a server that spins on one of two vCPUs
        // take seconds on a quiet machine and minutes on a loaded one; the bound only catches a hang.
        NativeClient.CheckResult r = NativeClient.check(name, 65536, Duration.ofMinutes(5));
        assertEquals(0, r.exitCode(), r.stdout() + r.stderr());
        assertTrue(r.stdout().contains(" 0 failed"), r.stdout());
    }

    @Test
    void spinningClientWorksAgainstNativeServerAndNoticesItsDeath() throws Exception {
        try (NativeServer ns = NativeServer.start(NativeServer.uniqueName("wait-native-srv"))) {
            Client c = Client.connect(ns.service(), 16384);
            try {
                c.setWaitStrategy(WaitStrategy.busySpin());
                ByteBuffer resp = ByteBuffer.allocateDirect(c.bufferSize());
                for (int i = 0; i < 2000; i++) {
                    c.send(request(EchoHandler.ECHO, i % 100, i & 0x7f));
                    assertEcho(resp, c.recv(resp, 2000), i % 100, i & 0x7f);
                }
                // The time-out is honoured: never early; late only by what a loaded machine adds (a 10x unit
                // error, 5 s, or a spin that never looks at the clock still fails).
                long t0 = System.nanoTime();
                assertEquals(Errno.TIMED_OUT, c.recv(resp, 500));
                long waited = (System.nanoTime() - t0) / 1_000_000;
                assertTrue(waited >= 500 && waited < 500 + 4_000, "busy-spin recv(500 ms) timed out after "
                        + waited + " ms");
                // The death is noticed, not waited out: a recv with a long time-out fails with NotConnected (a
                // spinning client that did not notice would return TIMED_OUT after 60 s) well before its time-out.
                ns.kill();
                long t1 = System.nanoTime();
                assertThrows(NotConnectedException.class, () -> c.recv(resp, 60_000));
                long noticed = (System.nanoTime() - t1) / 1_000_000;
                assertTrue(noticed < 30_000, "server death noticed after " + noticed + " ms");
            } finally {
                c.close();
            }
            assertEquals(List.of(), ShmAssert.entries(ns.pid()), "client cleaned up after the dead server");
        }
    }

    private static int awaitFlag(MappedByteBuffer m, int want, long ms) throws InterruptedException {
        long deadline = System.nanoTime() + ms * 1_000_000L;
        int v;
        while ((v = m.getInt(RingHeaderDescriptor.CONSUMER_AWAKE_OFFSET)) != want && System.nanoTime() < deadline) {
            Thread.sleep(0, 100_000);
        }
        return v;
    }

    private static Path requestHeader(String service) throws IOException {
        String prefix = "qb-" + ProcessHandle.current().pid() + "-";
        try (Stream<Path> s = Files.list(ShmAssert.SHM)) {
            List<Path> dirs = s.filter(p -> p.getFileName().toString().startsWith(prefix)).collect(Collectors.toList());
            assertEquals(1, dirs.size(), "connection directories " + dirs);
            return dirs.get(0).resolve("qb-request-" + service + "-header");
        }
    }
}
