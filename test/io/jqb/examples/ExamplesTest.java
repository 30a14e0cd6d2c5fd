package io.jqb.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.Service;
import io.jqb.testutil.EchoWire;
import io.jqb.testutil.InteropTestBase;
import io.jqb.testutil.LibipcPeer;
import io.jqb.testutil.NativeClient;
import io.jqb.testutil.NativeServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** Runs every example the README and the Javadoc show, against real native libqb peers. */
class ExamplesTest extends InteropTestBase {

    static int myUid() throws Exception {
        return (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
    }

    @Test
    void serviceEchoesToANativeClientOfTheAllowedUid() throws Exception {
        String name = serviceName();
        track(EchoService.start(name, myUid()));
        NativeClient nc = drive(name);
        nc.connect();
        nc.echo(0);
        nc.echo(1000);
        nc.echo(60_000);
    }

    @Test
    void serviceRefusesOtherUids() throws Exception {
        String name = serviceName();
        track(EchoService.start(name, myUid() + 4242));
        drive(name).expect("connect", "err EACCES");
    }

    @Test
    void rateLimitLinesThrottleAndEnforceTheBufferSize() throws Exception {
        String name = serviceName();
        Service s = track(EchoService.start(name, myUid()));
        EchoService.throttle(s, false);
        NativeClient nc = drive(name);
        assertTrue(nc.connect() >= 256 * 1024, "enforced buffer size");
        nc.echo(100);
        EchoService.throttle(s, true);
        nc.expect("send 1 0", "err EAGAIN");
    }

    @Test
    void clientTalksToANativeServer() {
        String name = serviceName();
        track(NativeServer.start(name));
        assertEquals("hello, libqb", EchoClient.echo(name, "hello, libqb"));
        assertEquals("", EchoClient.echo(name, ""));
    }

    @Test
    void serviceEventReachesANativeClient() {
        String name = serviceName();
        byte[] greeting = new byte[300];
        EchoWire.payload(greeting.length, 0).get(greeting);   // qbn-client checks the payload byte for byte
        track(Events.greeter(name, greeting));
        NativeClient nc = drive(name);
        nc.connect();
        NativeClient.Msg m = nc.receive("event 5000");
        assertEquals(7, m.id());
        assertEquals(24 + greeting.length, m.size());
        assertEquals(m.size(), m.len());
    }

    @Test
    void clientReceivesANativeServersEvent() {
        String name = serviceName();
        track(NativeServer.start(name));
        assertEquals("ping", Events.requestEvent(name, "ping"));
    }

    @Test
    void libipcPongEchoesToTheCPeer() throws Exception {
        String name = serviceName();
        Path dir = Files.createTempDirectory(Path.of("/tmp"), "jqb-ex-" + ProcessHandle.current().pid() + "-");
        AtomicBoolean stop = new AtomicBoolean();
        CompletableFuture<Void> server = CompletableFuture.runAsync(() -> LibipcPong.serve(name, dir.toString(), stop, line -> { }));
        try {
            Path socket = dir.resolve(name + "-0-0");
            waitUntil("the pong server listens", () -> listening(socket) || server.isDone());
            LibipcPeer.Result r = LibipcPeer.run(dir.toString(), 60_000, "bench", name, "--count", "100",
                    "--size", "64", "--warmup", "0");
            assertEquals(0, r.exit(), r.output()); // libipc-peer checks every echoed byte
        } finally {
            stop.set(true);
            server.get(30, TimeUnit.SECONDS);
            Files.deleteIfExists(dir.resolve(name + "-0-0"));
            Files.delete(dir);
        }
    }

    /** True once {@code socket} is a listening unix socket (flag __SO_ACCEPTCON in /proc/net/unix). */
    private static boolean listening(Path socket) {
        try {
            return Files.readAllLines(Path.of("/proc/net/unix")).stream().map(l -> l.trim().split("\\s+"))
                    .anyMatch(f -> f.length >= 8 && f[7].equals(socket.toString()) && f[3].equals("00010000"));
        } catch (java.io.IOException e) {
            return false;
        }
    }

    @Test
    void customLoopServesANativeClientOnTheApplicationsThread() throws Exception {
        String name = serviceName();
        AtomicBoolean stop = new AtomicBoolean();
        AtomicLong ownWork = new AtomicLong();
        int uid = myUid();
        CompletableFuture<Void> loop = CompletableFuture.runAsync(
                () -> CustomLoop.serve(name, uid, stop, ownWork::incrementAndGet));
        track(() -> {
            stop.set(true);
            loop.get(30, TimeUnit.SECONDS);
        });
        NativeClient nc = drive(name);
        waitUntil("the custom loop's service is up", () -> !nc.call("connect").startsWith("err"));
        nc.echo(100);
        nc.echo(50_000);
        long before = ownWork.get();
        waitUntil("the application's own work runs between iterations", () -> ownWork.get() > before);
        nc.close();
        stop.set(true);
        loop.get(30, TimeUnit.SECONDS);
    }
}
