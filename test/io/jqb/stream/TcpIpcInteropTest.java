package io.jqb.stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.Errno;
import io.jqb.IpcException;
import io.jqb.internal.posix.LibC;
import io.jqb.internal.posix.Posix;
import io.jqb.testutil.LeakProbe;
import java.net.InetSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** TcpIpc against real peers: socat and nc as clients and as an echo server; address forms; adopt; keepalive. */
@Timeout(120)
class TcpIpcInteropTest {
    static final int P = Frames.PREFIX;

    @Test
    void socatClientTalksFramesToJqbServer() {
        PeerProcess.warmUp();
        LeakProbe.Snapshot before = LeakProbe.snapshot();
        try (TcpIpc l = TcpIpc.listen(0, "127.0.0.1");
                PeerProcess socat = PeerProcess.start("socat", "-", "TCP:127.0.0.1:" + l.localPort())) {
            assertEquals("127.0.0.1:" + l.localPort(), l.localAddress());
            byte[] hello = "hello from socat".getBytes(StandardCharsets.UTF_8);
            socat.send(Frames.frame(P, 7, hello));
            try (TcpIpc c = l.accept(10_000)) {
                assertNotNull(c, "socat did not connect: " + socat.describe());
                assertTrue(c.isServer());
                assertTrue(c.remoteAddress().startsWith("127.0.0.1:"), c.remoteAddress());
                Message m = c.readMessage(P, 1024, 10_000);
                assertNotNull(m);
                assertEquals(7, m.msgId());
                assertEquals("hello from socat", m.text());
                c.writeMessage(P, 0x80000001, "reply");
                byte[] want = Frames.frame(P, 0x80000001, "reply".getBytes(StandardCharsets.UTF_8));
                assertArrayEquals(want, socat.awaitOutput(want.length, 10_000), socat.describe());
                socat.closeStdin();
                assertEquals(null, c.readMessage(P, 1024, 10_000));
                assertTrue(c.eof());
            }
        }
        LeakProbe.assertNoLeak("socat client", before, Duration.ofSeconds(5));
    }

    @Test
    void jqbClientAgainstSocatEchoServerAllSizes() {
        int port = freePort();
        try (PeerProcess socat = PeerProcess.start("socat", "TCP-LISTEN:" + port + ",bind=127.0.0.1,reuseaddr",
                "PIPE")) {
            TcpIpc c = connectRetrying("127.0.0.1:" + port, socat);
            try (c) {
                assertEquals("127.0.0.1:" + port, c.remoteAddress());
                assertEquals(c.fd() >= 0, true);
                assertEquals(1, Posix.getIntOption(c.fd(), LibC.IPPROTO_TCP, LibC.TCP_NODELAY, "nodelay"));
                Random r = new Random(42);
                for (int size : new int[] {0, 1, 64, 4096, 65536, 200_000}) {
                    byte[] p = new byte[size];
                    r.nextBytes(p);
                    c.writeMessage(P, size, p);
                    Message m = c.readMessage(P, 1 << 20, 10_000);
                    assertNotNull(m, "size " + size);
                    assertEquals(size, m.msgId());
                    assertArrayEquals(p, m.payload());
                }
            }
        }
    }

    @Test
    void ncClientSendsRawBytes() {
        try (TcpIpc l = TcpIpc.listen(0, "127.0.0.1");
                PeerProcess nc = PeerProcess.start("nc", "-N", "127.0.0.1", Integer.toString(l.localPort()))) {
            nc.send("raw line\n".getBytes(StandardCharsets.UTF_8));
            nc.closeStdin();
            try (TcpIpc c = l.accept(10_000)) {
                assertNotNull(c, nc.describe());
                byte[] buf = new byte[100];
                int n = c.read(buf, buf.length, 10_000, 2000);
                assertEquals("raw line\n", new String(buf, 0, n, StandardCharsets.UTF_8));
                c.write("back\n".getBytes(StandardCharsets.UTF_8));
                assertTrue(nc.awaitText("back", 10_000), nc.describe());
            }
        }
    }

    @Test
    void hostForms() {
        try (TcpIpc l = TcpIpc.listen(0, "127.0.0.1")) {
            int port = l.localPort();
            for (TcpIpc c : new TcpIpc[] {TcpIpc.connect("127.0.0.1:" + port, 0, 5000),
                TcpIpc.connect("127.0.0.1", port, 5000), TcpIpc.connect("localhost:" + port, -1, 5000)}) {
                try (c; TcpIpc s = l.accept(5000)) {
                    assertNotNull(s);
                    assertEquals(c.localAddress(), s.remoteAddress());
                    assertEquals(s.localAddress(), "127.0.0.1:" + port);
                }
            }
            assertThrows(IllegalArgumentException.class, () -> TcpIpc.connect("127.0.0.1:" + port, port, 1000));
            assertThrows(IllegalArgumentException.class, () -> TcpIpc.connect("127.0.0.1", 0, 1000));
            assertThrows(IllegalArgumentException.class, () -> TcpIpc.connect("[::1", 0, 1000));
            IpcException e = assertThrows(IpcException.class,
                    () -> TcpIpc.connect("no-such-host.invalid", port, 1000));
            assertEquals(Errno.ENOENT, e.errno());
        }
    }

    @Test
    void ipv6LoopbackWithBrackets() {
        TcpIpc l;
        try {
            l = TcpIpc.listen(0, "::1");
        } catch (IpcException e) {
            org.junit.jupiter.api.Assumptions.abort("no IPv6 loopback here: " + e.getMessage());
            return;
        }
        try (l; TcpIpc c = TcpIpc.connect("[::1]:" + l.localPort(), 0, 5000); TcpIpc s = l.accept(5000)) {
            assertEquals("[::1]:" + l.localPort(), l.localAddress());
            assertEquals("[::1]:" + l.localPort(), c.remoteAddress());
            assertTrue(s.remoteAddress().startsWith("[::1]:"), s.remoteAddress());
            c.writeMessage(P, 1, "v6");
            assertEquals("v6", s.readMessage(P, 10, 5000).text());
        }
    }

    @Test
    void refusedConnectNamesTheErrno() {
        int port = freePort();
        IpcException e = assertThrows(IpcException.class, () -> TcpIpc.connect("127.0.0.1", port, 2000));
        assertEquals(Errno.ECONNREFUSED, e.errno());
        assertTrue(e.getMessage().contains("ECONNREFUSED"), e.getMessage());
    }

    @Test
    void adoptSocketChannelAndFd() throws Exception {
        PeerProcess.warmUp();
        LeakProbe.Snapshot before = LeakProbe.snapshot();
        try (TcpIpc l = TcpIpc.listen(0, "127.0.0.1")) {
            SocketChannel ch = SocketChannel.open(new InetSocketAddress("127.0.0.1", l.localPort()));
            try (TcpIpc s = l.accept(5000); TcpIpc adopted = new TcpIpc()) {
                assertEquals(-1, adopted.fd());
                adopted.adopt(ch);
                assertTrue(!ch.isOpen());
                assertEquals("", adopted.remoteAddress());
                adopted.writeMessage(P, 3, "via channel");
                assertEquals("via channel", s.readMessage(P, 100, 5000).text());
                s.writeMessage(P, 4, "back");
                assertEquals("back", adopted.readMessage(P, 100, 5000).text());
                // adopt(fd) on a connected endpoint: its previous socket is closed (its peer sees EOF)
                int dup = Posix.C.fcntl(adopted.fd(), LibC.F_DUPFD_CLOEXEC, 0);
                assertTrue(dup >= 0);
                try (TcpIpc second = TcpIpc.connect("127.0.0.1", l.localPort(), 5000);
                        TcpIpc s2 = l.accept(5000)) {
                    second.adopt(dup);
                    assertEquals("", second.remoteAddress());
                    assertEquals(null, s2.readMessage(P, 100, 5000));
                    assertTrue(s2.eof());
                    second.writeMessage(P, 5, "via fd");
                    assertEquals("via fd", s.readMessage(P, 100, 5000).text());
                }
            }
        }
        LeakProbe.assertNoLeak("adopt", before, Duration.ofSeconds(5));
    }

    @Test
    void keepaliveReadBack() {
        try (TcpIpc l = TcpIpc.listen(0, "127.0.0.1"); TcpIpc c = TcpIpc.connect("127.0.0.1", l.localPort(), 5000);
                TcpIpc s = l.accept(5000)) {
            c.setKeepalive(3, 2);
            int fd = c.fd();
            assertEquals(1, Posix.getIntOption(fd, LibC.SOL_SOCKET, LibC.SO_KEEPALIVE, "SO_KEEPALIVE"));
            assertEquals(3, Posix.getIntOption(fd, LibC.IPPROTO_TCP, LibC.TCP_KEEPCNT, "TCP_KEEPCNT"));
            assertEquals(2, Posix.getIntOption(fd, LibC.IPPROTO_TCP, LibC.TCP_KEEPIDLE, "TCP_KEEPIDLE"));
            assertEquals(2, Posix.getIntOption(fd, LibC.IPPROTO_TCP, LibC.TCP_KEEPINTVL, "TCP_KEEPINTVL"));
            assertEquals(6000, Posix.getIntOption(fd, LibC.IPPROTO_TCP, LibC.TCP_USER_TIMEOUT, "TCP_USER_TIMEOUT"));
            c.setKeepalive(0, 0);
            assertEquals(0, Posix.getIntOption(fd, LibC.SOL_SOCKET, LibC.SO_KEEPALIVE, "SO_KEEPALIVE"));
            assertEquals(0, Posix.getIntOption(fd, LibC.IPPROTO_TCP, LibC.TCP_USER_TIMEOUT, "TCP_USER_TIMEOUT"));
        }
    }

    static int freePort() {
        try (TcpIpc l = TcpIpc.listen(0, "127.0.0.1")) {
            return l.localPort();
        }
    }

    /** Connects while the peer process starts listening (bounded by the peer staying alive and 20 s). */
    static TcpIpc connectRetrying(String hostPort, PeerProcess peer) {
        long deadline = System.nanoTime() + 20_000_000_000L;
        for (;;) {
            try {
                return TcpIpc.connect(hostPort, 0, 5000);
            } catch (IpcException e) {
                if (e.errno() != Errno.ECONNREFUSED || !peer.isAlive() || System.nanoTime() > deadline) {
                    throw new AssertionError(peer.describe(), e);
                }
                Thread.onSpinWait();
                java.util.concurrent.locks.LockSupport.parkNanos(20_000_000);
            }
        }
    }
}
