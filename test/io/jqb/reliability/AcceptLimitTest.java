package io.jqb.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.Client;
import io.jqb.internal.setup.UnixSocket;
import io.jqb.testutil.ChildJvmServer;
import io.jqb.testutil.EchoWire;
import io.jqb.testutil.InteropTestBase;
import io.jqb.testutil.NativeClient;
import io.jqb.testutil.RawShmPeer;
import io.jqb.testutil.Soak;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Issue 10 item 2: a server out of file descriptors. Clients that connect and say nothing (any local user can) push
 * a {@code bin/jqb echo-server} (child JVM) to its fd limit; accept(2) then fails with EMFILE while the listener stays
 * readable. The old loop retried at once, spinning a core and logging one WARN line per turn (~250,000 a second);
 * now it stops watching the listener for a back-off, logs once per episode with a count, and accepts again when fds
 * are free.
 */
class AcceptLimitTest extends InteropTestBase {
    @Test
    void acceptAtTheFdLimitBacksOffAndLogsOnce() throws Exception {
        String name = serviceName();
        try (ChildJvmServer server = ChildJvmServer.start(name)) {
            long pid = server.pid();
            // One connection first: with target/classes on the class path (not a jar, as bin/jqb has) every class
            // load opens a file, so a server that never served anyone could not load its handshake classes at the
            // fd limit. That is the test set-up's problem, not the one this test is about.
            echo(connectPatiently(name, server));
            int open = fdCount(pid);
            int limit = open + 24;
            Process p = new ProcessBuilder("prlimit", "--pid", Long.toString(pid), "--nofile=" + limit + ":" + limit)
                    .redirectErrorStream(true).start();
            assertTrue(p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0, "prlimit failed");
            int episodes = Soak.count("accept.episodes", 1, 10);
            for (int episode = 0; episode < episodes; episode++) {
                int clients = 100 + 20 * (episode % 2) /* the listen backlog is 128 */;
                List<Integer> fds = new ArrayList<>();
                try {
                    for (int i = 0; i < clients; i++) {
                        fds.add(RawShmPeer.rawConnect(name)); // connect, never send the handshake
                    }
                    waitUntil("the server reaches its fd limit", () -> fdCountOrZero(pid) >= limit - 2);
                    long cpu0 = cpuTicks(pid);
                    int lines0 = acceptLines(server);
                    long t0 = System.nanoTime();
                    NativeClient.sleep(2_000); // the episode lasts; measure what the server does meanwhile
                    long ticks = cpuTicks(pid) - cpu0;
                    long ms = (System.nanoTime() - t0) / 1_000_000;
                    int lines = acceptLines(server) - lines0;
                    Soak.figure("AcceptLimitTest", "atFdLimit", "episode=" + episode + " clients=" + clients
                            + " acceptLogLines=" + lines + " in " + ms + " ms, serverCpuMs=" + ticks * 10);
                    assertTrue(lines <= 4, lines + " accept log lines in " + ms + " ms at the fd limit");
                    // One line when an episode starts (a half-open client timing out can end one and start another).
                    int started = count(server.output(), "pausing accepts");
                    assertTrue(started >= episode + 1, "episode start lines: " + started + ": " + tail(server.output()));
                } finally {
                    for (int fd : fds) {
                        UnixSocket.shutdownAndClose(fd);
                    }
                }
                // The fds come back: the server accepts again (a new client connects and echoes) and says so once.
                echo(connectPatiently(name, server));
                final int ended = episode + 1;
                waitUntil("the episode's summary line",
                        () -> count(server.output(), "accepting again after") >= ended);
            }
        }
    }

    private static void echo(Client client) {
        try (Client c = client) {
            ByteBuffer req = EchoWire.request(EchoWire.buffer(256), EchoWire.ECHO, 100, 3);
            assertEquals(116, c.send(req));
            ByteBuffer resp = EchoWire.buffer(1024);
            int len = c.recv(resp, 10_000);
            EchoWire.assertResponse(resp, len, EchoWire.ECHO, 100, 0, 3);
        }
    }

    private static Client connectPatiently(String name, ChildJvmServer server) throws Exception {
        long deadline = System.nanoTime() + 20_000_000_000L;
        for (;;) {
            try {
                return Client.connect(name, 65536);
            } catch (RuntimeException e) {
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("no connection after the episode: " + e + "; fds "
                            + fdCountOrZero(server.pid()) + "; server said: " + tail(server.output()), e);
                }
                NativeClient.sleep(50);
            }
        }
    }

    private static int count(String text, String what) {
        int n = 0;
        for (int i = text.indexOf(what); i >= 0; i = text.indexOf(what, i + 1)) {
            n++;
        }
        return n;
    }

    private static int acceptLines(ChildJvmServer s) {
        int n = 0;
        for (String l : s.output().split("\n")) {
            if (l.contains("accept")) {
                n++;
            }
        }
        return n;
    }

    private static String tail(String s) {
        return s.length() > 2000 ? s.substring(s.length() - 2000) : s;
    }

    private static int fdCount(long pid) throws IOException {
        try (var st = Files.list(Path.of("/proc", Long.toString(pid), "fd"))) {
            return (int) st.count();
        }
    }

    private static int fdCountOrZero(long pid) {
        try {
            return fdCount(pid);
        } catch (IOException e) {
            return 0;
        }
    }

    /** utime + stime of the process, in clock ticks (10 ms). */
    private static long cpuTicks(long pid) throws IOException {
        String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return Long.parseLong(f[11]) + Long.parseLong(f[12]);
    }
}
