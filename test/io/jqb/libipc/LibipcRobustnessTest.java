package io.jqb.libipc;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.MessageTooLargeException;
import io.jqb.testutil.LeakProbe;
import io.jqb.testutil.LibipcPeer;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A raw socket against the jqb server doing everything that breaks a C libipc 33cd215 server (protocol document,
 * section 5): split headers, coalesced frames, huge lengths, garbage, resets mid-frame, killed clients, many
 * connections. The server stays up, serves the others, and leaks no fd, thread or file.
 */
class LibipcRobustnessTest {
    private Path dir;
    private LeakProbe.Snapshot before;

    @BeforeEach
    void setUp() throws Exception {
        dir = LibipcTestDirs.runDir();
        // Warm the JDK's lazily started pieces (selector provider, Cleaner thread) before the leak baseline.
        String warm = LibipcTestDirs.name("warm");
        try (IpcServer s = server(warm); IpcClient c = client(warm)) {
            s.waitEvent(10_000);
        }
        before = LeakProbe.snapshot();
    }

    @AfterEach
    void tearDown() {
        try {
            LeakProbe.assertNoLeak("libipc server", before, Duration.ofSeconds(10));
            assertEquals(List.of(), LibipcTestDirs.list(dir), "socket files left");
        } finally {
            LibipcTestDirs.remove(dir);
        }
    }

    private IpcServer server(String name) {
        return IpcServer.builder(name).runDirectory(dir.toString()).init();
    }

    private IpcClient client(String name) {
        return IpcClient.builder(name).runDirectory(dir.toString()).connect();
    }

    private SocketChannel raw(String name) throws IOException {
        SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
        ch.connect(UnixDomainSocketAddress.of(dir.resolve(name + "-0-0")));
        return ch;
    }

    private static void send(SocketChannel ch, byte... bytes) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(bytes);
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }

    private static byte[] frame(int type, byte[] payload) {
        ByteBuffer b = ByteBuffer.allocate(5 + payload.length).order(ByteOrder.LITTLE_ENDIAN);
        b.put((byte) type).putInt(payload.length).put(payload);
        return b.array();
    }

    private static IpcEvent next(IpcServer s) {
        IpcEvent e = s.waitEvent(10_000);
        assertFalse(e.type() == IpcEventType.TIMEOUT, "no event within 10 s");
        return e;
    }

    /** One echo round trip with a well-behaved client: the server still serves. */
    private static void stillServes(EchoLoop loop, String name, Path dir) {
        try (IpcClient c = IpcClient.builder(name).runDirectory(dir.toString()).connect()) {
            c.write(IpcMessage.formatData("still there".getBytes(StandardCharsets.US_ASCII)));
            IpcMessage m = c.read(10_000);
            assertNotNull(m, "no echo");
            assertArrayEquals("still there".getBytes(StandardCharsets.US_ASCII), m.payloadBytes());
        }
        assertTrue(loop.isAlive());
    }

    @Test
    void splitHeaderAndPayloadAreReassembled() throws Exception {
        String name = LibipcTestDirs.name("split");
        try (IpcServer s = server(name); SocketChannel ch = raw(name)) {
            assertEquals(IpcEventType.CONNECTION, next(s).type());
            byte[] f = frame(2, "split payload".getBytes(StandardCharsets.US_ASCII));
            // The server reads each piece before the next is sent: waitEvent returns nothing for a partial frame.
            int[] cuts = {1, 3, 5, 9, f.length};
            int at = 0;
            for (int cut : cuts) {
                send(ch, java.util.Arrays.copyOfRange(f, at, cut));
                at = cut;
                if (cut < f.length) {
                    assertEquals(IpcEventType.TIMEOUT, s.waitEvent(150).type(), "partial frame up to " + cut);
                }
            }
            IpcEvent e = next(s);
            assertEquals(IpcEventType.MESSAGE, e.type());
            assertArrayEquals("split payload".getBytes(StandardCharsets.US_ASCII), e.message().payloadBytes());
        }
    }

    @Test
    void coalescedFramesAreAllDelivered() throws Exception {
        String name = LibipcTestDirs.name("coal");
        try (IpcServer s = server(name); SocketChannel ch = raw(name)) {
            assertEquals(IpcEventType.CONNECTION, next(s).type());
            ByteBuffer all = ByteBuffer.allocate(100);
            all.put(frame(2, new byte[] {1})).put(frame(7, new byte[0])).put(frame(2, new byte[] {3, 4}));
            send(ch, java.util.Arrays.copyOf(all.array(), all.position()));
            int[][] expect = {{2, 1}, {7}, {2, 3, 4}};
            for (int[] x : expect) {
                IpcEvent e = next(s);
                assertEquals(IpcEventType.MESSAGE, e.type());
                assertEquals((byte) x[0], e.message().type());
                byte[] p = new byte[x.length - 1];
                for (int i = 1; i < x.length; i++) {
                    p[i - 1] = (byte) x[i];
                }
                assertArrayEquals(p, e.message().payloadBytes());
            }
            assertEquals(IpcEventType.TIMEOUT, s.waitEvent(100).type());
        }
    }

    @Test
    void aHugeLengthClosesOnlyThatConnection() throws Exception {
        String name = LibipcTestDirs.name("huge");
        try (IpcServer s = server(name); SocketChannel bad = raw(name); IpcClient good = client(name)) {
            IpcConnection badConn = next(s).connection();
            IpcConnection goodConn = next(s).connection();
            send(bad, (byte) 2, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff);
            IpcEvent e = next(s);
            assertEquals(IpcEventType.ERROR, e.type());
            assertSame(badConn, e.connection());
            assertInstanceOf(MessageTooLargeException.class, e.cause());
            assertTrue(e.cause().getMessage().contains("4294967295"), e.cause().getMessage());
            assertFalse(badConn.isOpen());
            assertEquals(-1, bad.read(ByteBuffer.allocate(1)), "the offender sees EOF");
            good.write(IpcMessage.formatData(new byte[] {9}));
            e = next(s);
            assertEquals(IpcEventType.MESSAGE, e.type());
            assertSame(goodConn, e.connection());
            assertEquals(List.of(goodConn), s.connections());
        }
    }

    @Test
    void garbageIsFramedOrRefusedNeverFatal() throws Exception {
        String name = LibipcTestDirs.name("garbage");
        try (EchoLoop loop = new EchoLoop(server(name))) {
            try (SocketChannel ch = raw(name)) {
                // "GET / HTTP/1.0": type 'G', length "ET /" = 0x2f205445 > the maximum
                send(ch, "GET / HTTP/1.0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                assertNotNull(loop.await("ERROR", 10_000));
                assertEquals(-1, ch.read(ByteBuffer.allocate(64)));
            }
            java.util.Random rnd = new java.util.Random(7);
            for (int i = 0; i < 50; i++) {
                try (SocketChannel ch = raw(name)) {
                    byte[] junk = new byte[1 + rnd.nextInt(300)];
                    rnd.nextBytes(junk);
                    send(ch, junk);
                }
            }
            stillServes(loop, name, dir);
        }
    }

    @Test
    void aResetMidFrameIsADisconnection() throws Exception {
        String name = LibipcTestDirs.name("reset");
        try (IpcServer s = server(name)) {
            SocketChannel ch = raw(name);
            IpcConnection conn = next(s).connection();
            send(ch, frame(2, new byte[100]));
            IpcEvent e = next(s);
            assertEquals(IpcEventType.MESSAGE, e.type());
            conn.write(e.message()); // left unread by the client: closing it now resets the connection
            byte[] half = java.util.Arrays.copyOf(frame(2, new byte[50]), 20);
            send(ch, half);
            ch.close();
            e = next(s);
            assertEquals(IpcEventType.DISCONNECTION, e.type());
            assertSame(conn, e.connection());
            assertTrue(s.connections().isEmpty());
            try (IpcClient c = client(name)) {
                assertEquals(IpcEventType.CONNECTION, next(s).type());
            }
        }
    }

    @Test
    void fiveHundredClientsConnectAndDisconnect() throws Exception {
        String name = LibipcTestDirs.name("many");
        try (EchoLoop loop = new EchoLoop(server(name))) {
            int total = 0;
            for (int batch = 0; batch < 10; batch++) {
                List<IpcClient> open = new ArrayList<>();
                try {
                    for (int i = 0; i < 50; i++) {
                        open.add(client(name));
                    }
                    for (IpcClient c : open) {
                        c.write(IpcMessage.formatData(new byte[] {(byte) total++}));
                    }
                    for (IpcClient c : open) {
                        assertNotNull(c.read(10_000));
                    }
                } finally {
                    open.forEach(IpcClient::close);
                }
            }
            assertEquals(500, total);
            int disconnections = 0;
            while (disconnections < 500) {
                assertNotNull(loop.await("DISCONNECTION", 10_000), "after " + disconnections);
                disconnections++;
            }
            assertTrue(loop.server.connections().isEmpty());
            assertEquals(500, loop.messages.get());
            stillServes(loop, name, dir);
        }
    }

    @Test
    void clientsSigkilledMidMessage() throws Exception {
        String name = LibipcTestDirs.name("kill");
        try (EchoLoop loop = new EchoLoop(server(name))) {
            for (int round = 0; round < 3; round++) {
                List<LibipcPeer> peers = new ArrayList<>();
                long start = loop.messages.get();
                for (int i = 0; i < 4; i++) {
                    peers.add(LibipcPeer.start(dir.toString(), "bench", name, "--count", "100000000", "--size",
                            "32768", "--warmup", "0"));
                }
                long deadline = System.nanoTime() + 30_000_000_000L;
                while (loop.messages.get() - start < 200 && System.nanoTime() < deadline) {
                    Thread.onSpinWait();
                }
                assertTrue(loop.messages.get() - start >= 200, "peers never got going");
                peers.forEach(LibipcPeer::kill);
                for (int i = 0; i < 4; i++) {
                    assertNotNull(loop.await("DISCONNECTION", 10_000));
                }
                stillServes(loop, name, dir);
            }
            // the last well-behaved client's DISCONNECTION may still be on its way: wait for the condition
            long until = System.nanoTime() + 10_000_000_000L;
            while (!loop.server.connections().isEmpty() && System.nanoTime() < until) {
                java.util.concurrent.locks.LockSupport.parkNanos(1_000_000);
            }
            assertTrue(loop.server.connections().isEmpty(), loop.server.connections().toString());
        }
    }

    @Test
    void aClientThatNeverReadsStallsNobodyAndIsDroppedAtTheQueueLimit() throws Exception {
        String name = LibipcTestDirs.name("slow");
        try (EchoLoop loop = new EchoLoop(IpcServer.builder(name).runDirectory(dir.toString())
                .maxPendingOutput(1 << 20).init()); SocketChannel slow = raw(name)) {
            byte[] f = frame(2, new byte[16 * 1024]);
            for (int i = 0; i < 40; i++) { // 640 KiB of echoes: more than the socket buffers, under the 1 MiB limit
                send(slow, f);
            }
            for (int i = 0; i < 40; i++) {
                assertNotNull(loop.await("MESSAGE", 10_000), "message " + i);
            }
            // The loop is not blocked in a write to the slow client: another client is served at once.
            long t0 = System.nanoTime();
            stillServes(loop, name, dir);
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertTrue(ms < 4000, "a client waited " + ms + " ms behind one that does not read");
            // Past the limit the slow client is dropped.
            try {
                for (int i = 0; i < 200; i++) {
                    send(slow, f);
                }
            } catch (IOException e) {
                // EPIPE: the server shut it down
            }
            String failed = loop.await("WRITE-FAILED", 10_000);
            assertNotNull(failed);
            assertTrue(failed.contains("ENOBUFS"), failed);
            assertNotNull(loop.await("DISCONNECTION", 10_000));
            stillServes(loop, name, dir);
        }
    }

    @Test
    void closeRemovesTheSocketAndClosesEveryClient() throws Exception {
        String name = LibipcTestDirs.name("close");
        IpcServer s = server(name);
        Path path = s.path();
        List<SocketChannel> raws = new ArrayList<>();
        try {
            for (int i = 0; i < 5; i++) {
                raws.add(raw(name));
                assertEquals(IpcEventType.CONNECTION, next(s).type());
            }
            assertTrue(Files.exists(path));
            s.close();
            assertFalse(Files.exists(path));
            for (SocketChannel ch : raws) {
                assertEquals(-1, ch.read(ByteBuffer.allocate(8)));
            }
        } finally {
            s.close();
            for (SocketChannel ch : raws) {
                ch.close();
            }
        }
    }
}
