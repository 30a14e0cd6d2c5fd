package io.jqb.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.testutil.ChildJvmServer;
import io.jqb.testutil.InteropTestBase;
import io.jqb.testutil.NativeClient;
import io.jqb.testutil.ShmAssert;
import io.jqb.testutil.Soak;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * Issue 10 item 6: SOCKET-transport connections cost memory only for what they carry. Each used to allocate and zero
 * a direct buffer of its full buffer size (RSS + that much per connection, kept after the client left), and when
 * direct memory ran out the OutOfMemoryError escaped the handshake: 3 fds and a directory leaked per attempt and the
 * client got no answer. A {@code bin/jqb echo-server --transport socket} (child JVM, 64 MiB of direct memory) serves
 * native clients of user nobody asking for 16 MiB each.
 */
class SocketMemoryTest extends InteropTestBase {
    private static final int NOBODY = 65534;
    private static final long ASK = 16L << 20;

    @Test
    void bigBufferConnectionsCostOnlyWhatTheyCarry() throws Exception {
        Assumptions.assumeTrue((int) Files.getAttribute(Path.of("/proc/self"), "unix:uid") == 0
                && Files.isExecutable(Path.of("/usr/bin/setpriv")), "needs root + setpriv");
        String name = serviceName();
        int clients = Soak.count("socket.bigbuffers", 12, 32);
        try (ChildJvmServer server = ChildJvmServer.start(name, List.of("-XX:MaxDirectMemorySize=64m"),
                "--transport", "socket")) {
            long pid = server.pid();
            warmUp(name);
            int fds0 = fdCount(pid);
            long rss0 = rssKb(pid);
            List<NativeClient> ncs = new ArrayList<>();
            try {
                for (int i = 0; i < clients; i++) {
                    NativeClient nc = track(NativeClient.drive(name, ASK, NOBODY));
                    ncs.add(nc);
                    String r = nc.call("connect");
                    assertTrue(r.startsWith("ok bufsize="), "client " + i + " of " + clients + ": " + r
                            + "; server: " + server.output());
                    nc.echo(1000);
                }
                long grown = rssKb(pid) - rss0;
                Soak.figure("SocketMemoryTest", "bigBuffers", clients + " connections asking " + ASK
                        + " B each: server RSS +" + grown / 1024 + " MiB");
                assertTrue(grown < clients * (ASK / 1024) / 4, "server RSS grew by " + grown + " KiB for "
                        + clients + " connections");
            } finally {
                for (NativeClient nc : ncs) {
                    nc.close();
                }
            }
            waitUntil("the server's fds back to " + fds0, () -> fdCountOrMax(pid) <= fds0);
            waitUntil("no connection directory left", () -> ShmAssert.entries(pid).isEmpty());
            assertEquals(0, countOom(server.output()), "OutOfMemoryError in the server: " + server.output());
        }
    }

    /** One connection first, so the server has loaded its classes before we measure. */
    private void warmUp(String name) {
        try (NativeClient nc = NativeClient.drive(name, 65536)) {
            nc.connect();
            nc.echo(100);
        }
    }

    private static int countOom(String out) {
        int n = 0;
        for (String l : out.split("\n")) {
            if (l.contains("OutOfMemoryError")) {
                n++;
            }
        }
        return n;
    }

    private static long rssKb(long pid) throws IOException {
        for (String l : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
            if (l.startsWith("VmRSS:")) {
                return Long.parseLong(l.replaceAll("[^0-9]", ""));
            }
        }
        throw new IOException("no VmRSS for " + pid);
    }

    private static int fdCount(long pid) throws IOException {
        try (var st = Files.list(Path.of("/proc", Long.toString(pid), "fd"))) {
            return (int) st.count();
        }
    }

    private static int fdCountOrMax(long pid) {
        try {
            return fdCount(pid);
        } catch (IOException e) {
            return Integer.MAX_VALUE;
        }
    }
}
