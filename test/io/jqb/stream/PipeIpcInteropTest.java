package io.jqb.stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.Credentials;
import io.jqb.Errno;
import io.jqb.IpcException;
import io.jqb.internal.posix.Posix;
import io.jqb.testutil.LeakProbe;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** PipeIpc against socat over filesystem and abstract Unix stream sockets; credentials; pair(). */
@Timeout(120)
class PipeIpcInteropTest {
    static final int P = Frames.PREFIX;
    @TempDir
    Path dir;

    @Test
    void jqbClientAgainstSocatEchoOnPathAndAbstractName() {
        String path = dir.resolve("echo-" + ProcessHandle.current().pid() + ".sock").toString();
        String name = "jqb-stream-test-" + ProcessHandle.current().pid() + "-" + System.nanoTime();
        for (String[] peer : new String[][] {{"UNIX-LISTEN:" + path, path}, {"ABSTRACT-LISTEN:" + name, "@" + name}}) {
            try (PeerProcess socat = PeerProcess.start("socat", peer[0], "PIPE");
                    PipeIpc c = PipeIpc.connect(peer[1], 20_000)) {
                assertEquals(peer[1], c.remoteAddress());
                assertFalse(c.isServer());
                Random r = new Random(1);
                for (int size : new int[] {0, 5, 65536, 150_000}) {
                    byte[] p = new byte[size];
                    r.nextBytes(p);
                    c.writeMessage(P, size, p);
                    Message m = c.readMessage(P, 1 << 20, 10_000);
                    assertNotNull(m, socat.describe());
                    assertEquals(size, m.msgId());
                    assertArrayEquals(p, m.payload());
                }
            }
        }
    }

    @Test
    void socatClientOnJqbListenerWithCredentials() {
        PeerProcess.warmUp();
        LeakProbe.Snapshot before = LeakProbe.snapshot();
        String path = dir.resolve("srv-" + ProcessHandle.current().pid() + ".sock").toString();
        String name = "jqb-stream-srv-" + ProcessHandle.current().pid() + "-" + System.nanoTime();
        for (String[] ends : new String[][] {{path, "UNIX-CONNECT:" + path}, {"@" + name, "ABSTRACT-CONNECT:" + name}}) {
            try (PipeIpc l = PipeIpc.listen(ends[0]); PeerProcess socat = PeerProcess.start("socat", "-", ends[1])) {
                assertEquals(ends[0], l.localAddress());
                socat.send(Frames.frame(P, 9, "over a pipe".getBytes(StandardCharsets.UTF_8)));
                try (PipeIpc c = l.accept(10_000)) {
                    assertNotNull(c, socat.describe());
                    assertTrue(c.isServer());
                    Credentials cr = c.peerCredentials();
                    assertEquals(socat.pid(), cr.pid());
                    assertEquals(Posix.C.getuid(), cr.uid());
                    assertEquals(Posix.C.getgid(), cr.gid());
                    Message m = c.readMessage(P, 100, 10_000);
                    assertEquals("over a pipe", m.text());
                    c.writeMessage(P, 10, "ok");
                    byte[] want = Frames.frame(P, 10, "ok".getBytes(StandardCharsets.UTF_8));
                    assertArrayEquals(want, socat.awaitOutput(want.length, 10_000), socat.describe());
                }
            }
        }
        assertFalse(Files.exists(Path.of(path)), "the listener removes its socket file");
        LeakProbe.assertNoLeak("pipe listener", before, Duration.ofSeconds(5));
    }

    @Test
    void staleSocketFileIsReplacedButALiveOneIsNot() {
        String path = dir.resolve("stale-" + ProcessHandle.current().pid() + ".sock").toString();
        try (PeerProcess socat = PeerProcess.start("socat", "UNIX-LISTEN:" + path + ",fork", "PIPE")) {
            PipeIpc.connect(path, 20_000).close();
            IpcException e = assertThrows(IpcException.class, () -> PipeIpc.listen(path));
            assertEquals(Errno.EADDRINUSE, e.errno());
        }
        // socat was killed: its file stays behind, stale
        assertTrue(Files.exists(Path.of(path)));
        try (PipeIpc l = PipeIpc.listen(path); PipeIpc c = PipeIpc.connect(path, 1000); PipeIpc s = l.accept(5000)) {
            assertNotNull(s);
        }
    }

    @Test
    void aListenerWhoseFileWasReplacedLeavesTheOtherListenersSocketAtClose() throws Exception {
        Path file = dir.resolve("replaced-" + ProcessHandle.current().pid() + ".sock");
        PipeIpc a = PipeIpc.listen(file.toString());
        try {
            // somebody removes A's file (a clean-up script, a second instance starting) and B binds the same path
            Files.delete(file);
            try (PipeIpc b = PipeIpc.listen(file.toString())) {
                a.close();
                assertTrue(Files.exists(file, LinkOption.NOFOLLOW_LINKS), "A's close removed B's socket file");
                try (PipeIpc c = PipeIpc.connect(file.toString(), 0); PipeIpc s = b.accept(5000)) {
                    assertNotNull(s, "B accepted nobody");
                    c.writeMessage(P, 1, "to b");
                    assertEquals("to b", s.readMessage(P, 100, 5000).text());
                }
            }
            // B's own file, still B's at its close, is removed
            assertFalse(Files.exists(file, LinkOption.NOFOLLOW_LINKS));
        } finally {
            a.close();
        }
    }

    @Test
    void connectTimesOutWhenNobodyListens() {
        String path = dir.resolve("nobody.sock").toString();
        long t0 = System.nanoTime();
        IpcException e = assertThrows(IpcException.class, () -> PipeIpc.connect(path, 300));
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertEquals(Errno.ENOENT, e.errno());
        assertTrue(ms >= 290 && ms < 800, "took " + ms + " ms");
    }

    @Test
    void pairTalksAndSeesEof() {
        PipeIpc[] p = PipeIpc.pair();
        try (PipeIpc a = p[0]; PipeIpc b = p[1]) {
            a.writeMessage(P, 1, "to b");
            assertEquals("to b", b.readMessage(P, 100, 5000).text());
            assertEquals(ProcessHandle.current().pid(), b.peerCredentials().pid());
            a.close();
            byte[] buf = new byte[10];
            assertEquals(-1, b.read(buf, 10, 5000));
            assertTrue(b.eof());
        }
    }
}
