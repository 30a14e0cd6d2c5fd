package io.jqb;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.cli.EchoHandler;
import io.jqb.testutil.NativeClient;
import io.jqb.testutil.NativeServer;
import io.jqb.testutil.ShmAssert;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.IntSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A spinning loop asks epoll on every spin while it has SOCKET connections (their requests are seen through epoll
 * alone; at the SHM cadence of one epoll_wait(0) per 50 µs each socket request waited up to 50 µs): the loop counts
 * exactly its established SOCKET connections, gives each back once at teardown, counts no SHM connection and
 * nothing on a blocking loop; and libqb's own client passes the echo contract against it.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class SpinningSocketLoopTest {
    private Service service;

    @AfterEach
    void tearDown() {
        if (service != null) {
            service.close();
        }
        ShmAssert.assertNoneLeft();
    }

    private EventLoop serve(String name, TransportType t, WaitStrategy ws) throws IpcException {
        service = Service.create(name, 0, t, new EchoHandler());
        service.setWaitStrategy(ws);
        service.run();
        return (EventLoop) service.pollHandlers();
    }

    /** One echo round trip of 8 payload bytes, checked byte for byte (the client tests' shared echo). */
    private static void echo(Client c) throws IpcException {
        ClientTestSupport.echo(c, 8);
    }

    /** Waits (bounded) for a count the loop thread updates; a condition, not a sleep. */
    private static void awaitCount(int expected, IntSupplier count, String what) throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (count.getAsInt() != expected && System.nanoTime() < end) {
            Thread.sleep(5);
        }
        assertEquals(expected, count.getAsInt(), what);
    }

    @Test
    void aSpinningLoopCountsItsSocketConnectionsAndGivesEachBackOnce() throws Exception {
        EventLoop loop = serve(NativeServer.uniqueName("spin-sock"), TransportType.SOCKET,
                WaitStrategy.phased(Duration.ofMillis(200), Duration.ZERO));
        try (Client a = Client.connect(service.name(), 4096); Client b = Client.connect(service.name(), 4096)) {
            echo(a);
            echo(b);
            assertEquals(2, loop.socketConnections(), "both established SOCKET connections counted");
            a.close();
            awaitCount(1, loop::socketConnections, "a's connection given back at its teardown (loop thread)");
            echo(b);
            // b's connection is torn down by Service.close on this thread, then again as its socket closes: once.
            service.close();
            assertEquals(0, loop.socketConnections(), "b's count given back by the closing thread");
            b.close();
            awaitCount(0, () -> service.connections().size(), "both connections gone");
            assertEquals(0, loop.socketConnections(), "no count given back twice");
        }
    }

    @Test
    void shmConnectionsAndBlockingLoopsAreNotCounted() throws Exception {
        EventLoop loop = serve(NativeServer.uniqueName("spin-shm"), TransportType.SHM, WaitStrategy.busySpin());
        try (Client c = Client.connect(service.name(), 4096)) {
            echo(c);
            assertEquals(0, loop.socketConnections(), "an SHM connection is polled through its ring");
        }
        service.close();
        loop = serve(NativeServer.uniqueName("block-sock"), TransportType.SOCKET, WaitStrategy.block());
        try (Client c = Client.connect(service.name(), 4096)) {
            echo(c);
            assertEquals(0, loop.socketConnections(), "a blocking loop sleeps in epoll: nothing to count");
        }
    }

    @Test
    @Timeout(value = 6, unit = TimeUnit.MINUTES)
    void nativeClientPassesTheEchoContractAgainstASpinningSocketLoop() throws Exception {
        serve(NativeServer.uniqueName("spin-sock-native"), TransportType.SOCKET, WaitStrategy.busySpin());
        // Correctness, not speed: the bound only catches a hang.
        NativeClient.CheckResult r = NativeClient.check(service.name(), 65536, Duration.ofMinutes(5));
        assertEquals(0, r.exitCode(), r.stdout() + r.stderr());
        assertTrue(r.stdout().contains(" 0 failed"), r.stdout());
    }
}
