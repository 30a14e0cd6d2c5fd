package io.jqb.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.Connection;
import io.jqb.Service;
import io.jqb.TransportType;
import io.jqb.testutil.InteropTestBase;
import io.jqb.testutil.NativeClient;
import io.jqb.testutil.NonBlockingEchoHandler;
import io.jqb.testutil.ShmAssert;
import io.jqb.testutil.Soak;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * Issue 10 item 5: on the SOCKET transport the server's request socket has an abstract name anyone can read in
 * /proc/net/unix and send to. User nobody injected a datagram that made the server drop a root client's connection,
 * and another that the server answered into the client's response socket (a response it never asked for). The
 * server now receives requests with SO_PASSCRED and drops datagrams whose sender is not the handshake's pid/uid; the
 * native libqb client notices nothing.
 */
class SocketInjectionTest extends InteropTestBase {
    private static final int NOBODY = 65534;

    @Test
    void datagramsFromAnotherUserAreDropped() throws Exception {
        Assumptions.assumeTrue((int) Files.getAttribute(Path.of("/proc/self"), "unix:uid") == 0
                && Files.isExecutable(Path.of("/usr/bin/setpriv")), "needs root + setpriv");
        NonBlockingEchoHandler h = new NonBlockingEchoHandler();
        Service s = track(Service.create(serviceName(), 7, TransportType.SOCKET, h));
        s.run();
        int rounds = Soak.count("socket.injections", 10, 200);
        for (int i = 0; i < rounds; i++) {
            NativeClient nc = drive(s.name());
            nc.connect();
            Connection c = connectionOf(s, nc);
            Path dir = ShmAssert.entries(ShmAssert.ourPid(), nc.pid()).get(0);
            String requestSocket = dir + "/qb-" + s.name() + "-request";
            long messages0 = h.messages.get();
            // Until the server's first response connects its request socket to the client's, anyone can send to
            // it. A well-formed ECHO request: the old server answered it into the client's response socket.
            assertEquals("sent 16", inject(requestSocket, 1, 16, 16));
            // A runt (size field 8): the old server took it for the client's protocol violation and dropped it.
            assertEquals("sent 8", inject(requestSocket, 99, 8, 8));
            // The client's own echo comes after both in the socket's queue: its answer is its own, and it works.
            nc.echo(100 + i);
            assertEquals(1, h.messages.get() - messages0, "requests the handler saw (only the client's)");
            // From the first response on, the kernel itself refuses other senders (connected datagram sockets).
            assertEquals("err EPERM", inject(requestSocket, 1, 16, 16));
            nc.echo(10);
            nc.expect("connected", "ok 1");
            assertTrue(c.isConnected());
            nc.close();
        }
        Soak.figure("SocketInjectionTest", "injected", 2 * rounds + " datagrams from nobody before the first "
                + "response, all dropped; the clients noticed nothing");
    }

    private static String inject(String name, int id, int size, int len) throws IOException, InterruptedException {
        Path bin = NativeClient.nativeDir().resolve("qbn-inject");
        Process p = new ProcessBuilder(List.of("/usr/bin/setpriv", "--reuid=" + NOBODY, "--regid=" + NOBODY,
                "--clear-groups", bin.toString(), name, Integer.toString(id), Integer.toString(size),
                Integer.toString(len))).redirectErrorStream(true).start();
        try {
            assertTrue(p.waitFor(10, TimeUnit.SECONDS), "qbn-inject did not finish");
            return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        } finally {
            p.destroyForcibly();
        }
    }
}
