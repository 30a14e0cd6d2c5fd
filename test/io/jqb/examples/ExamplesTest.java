package io.jqb.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.Service;
import io.jqb.testutil.EchoWire;
import io.jqb.testutil.InteropTestBase;
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
