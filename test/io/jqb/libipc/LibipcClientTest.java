package io.jqb.libipc;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.Errno;
import io.jqb.IpcException;
import io.jqb.MessageTooLargeException;
import io.jqb.NotConnectedException;
import io.jqb.internal.posix.LibC;
import io.jqb.internal.posix.Posix;
import io.jqb.testutil.LeakProbe;
import io.jqb.testutil.LibipcPeer;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Pipe;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The client's receive path (straight on the fd while no fd is added, through the selector otherwise) against a raw
 * socket playing the server, so every byte boundary is the test's choice: split and coalesced frames, a huge length,
 * EOF and reset, time-outs, interrupts, a close from another thread, a server that never reads, and no allocation per
 * message against the C echo peer.
 */
class LibipcClientTest extends RunDirTest {
    private ServerSocketChannel listener;
    private String name;

    @BeforeEach
    void listen() throws IOException {
        name = LibipcTestDirs.name("cli");
        listener = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        listener.bind(UnixDomainSocketAddress.of(dir.resolve(name + "-0-0")));
    }

    @AfterEach
    void closeListener() throws IOException {
        listener.close();
    }

    private IpcClient connect() {
        return IpcClient.builder(name).runDirectory(dir.toString()).connect();
    }

    private static ByteBuffer frame(int type, byte[] payload) {
        ByteBuffer b = ByteBuffer.allocate(5 + payload.length).order(ByteOrder.LITTLE_ENDIAN);
        b.put((byte) type).putInt(payload.length).put(payload).flip();
        return b;
    }

    private static void send(SocketChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }

    private static byte[] bytes(int n, int seed) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (i * 31 + seed);
        }
        return b;
    }

    @Test
    void splitAndCoalescedFramesAreReassembled() throws Exception {
        try (IpcClient c = connect(); SocketChannel srv = listener.accept()) {
            byte[] big = bytes(40_000, 1); // more than the first receive buffer
            ByteBuffer f = frame(IpcMessage.DATA, big);
            // header split after 2 bytes, then the payload in two parts
            send(srv, f.duplicate().limit(2));
            assertNull(c.read(0), "no whole frame yet");
            send(srv, f.duplicate().position(2).limit(3000));
            assertNull(c.read(0), "no whole frame yet");
            send(srv, f.duplicate().position(3000));
            IpcMessage m = c.read(10_000);
            assertNotNull(m);
            assertArrayEquals(big, m.payloadBytes());
            // three frames (one of type 7, one empty) in one write: all three, in order, then nothing
            ByteBuffer three = ByteBuffer.allocate(100);
            three.put(frame(IpcMessage.DATA, bytes(10, 2))).put(frame(7, bytes(3, 3))).put(frame(IpcMessage.DATA,
                    new byte[0])).flip();
            send(srv, three);
            m = c.read(10_000);
            assertArrayEquals(bytes(10, 2), m.payloadBytes());
            IpcEvent e = c.waitEvent(10_000);
            assertEquals(IpcEventType.MESSAGE, e.type());
            assertEquals(7, e.message().type());
            assertArrayEquals(bytes(3, 3), e.message().payloadBytes());
            assertEquals(0, c.read(10_000).length());
            assertNull(c.read(0));
        }
    }

    @Test
    void serverCloseThenEndOfStream() throws Exception {
        try (IpcClient c = connect(); SocketChannel srv = listener.accept()) {
            send(srv, frame(IpcMessage.SERVER_CLOSE, new byte[0]));
            srv.close();
            IpcEvent e = c.waitEvent(10_000);
            assertEquals(IpcEventType.SERVER_CLOSE, e.type());
            assertSame(c.connection(), e.connection());
            e = c.waitEvent(10_000);
            assertEquals(IpcEventType.DISCONNECTION, e.type());
            assertFalse(c.connection().isOpen(), "closed at DISCONNECTION");
            long t0 = System.nanoTime();
            assertEquals(IpcEventType.TIMEOUT, c.waitEvent(200).type(), "nothing more");
            assertTrue(System.nanoTime() - t0 >= TimeUnit.MILLISECONDS.toNanos(200));
            assertThrows(NotConnectedException.class, () -> c.read(0));
        }
    }

    @Test
    void aResetMidFrameIsNotConnected() throws Exception {
        try (IpcClient c = connect(); SocketChannel srv = listener.accept()) {
            c.write(IpcMessage.formatData(bytes(10, 4))); // left unread: the server's close is then a reset
            send(srv, frame(IpcMessage.DATA, bytes(100, 4)).limit(50));
            srv.close();
            assertThrows(NotConnectedException.class, () -> c.read(10_000));
            assertFalse(c.connection().isOpen());
        }
    }

    @Test
    void aHugeLengthIsRefusedBeforeAnythingIsAllocated() throws Exception {
        try (IpcClient c = IpcClient.builder(name).runDirectory(dir.toString()).maxPayload(1000).connect();
                SocketChannel srv = listener.accept()) {
            ByteBuffer h = ByteBuffer.allocate(5).order(ByteOrder.LITTLE_ENDIAN);
            h.put(IpcMessage.DATA).putInt(0x7fff_fff0).flip();
            send(srv, h);
            MessageTooLargeException x = assertThrows(MessageTooLargeException.class, () -> c.read(10_000));
            assertTrue(x.getMessage().contains("2147483632"), x.getMessage());
            assertTrue(c.connection().reader.capacity() < 100_000, "buffer grown for an announced length");
            assertFalse(c.connection().isOpen(), "that connection is closed");
        }
    }

    @Test
    void timeOutsAreHonoured() throws Exception {
        try (IpcClient c = connect(); SocketChannel srv = listener.accept()) {
            for (long t : new long[] {0, 50, 300, 1200}) {
                long t0 = System.nanoTime();
                assertNull(c.read(t));
                long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
                assertTrue(ms >= t && ms <= t + 500, "read(" + t + ") took " + ms + " ms");
                t0 = System.nanoTime();
                assertEquals(IpcEventType.TIMEOUT, c.waitEvent(t).type());
                ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
                assertTrue(ms >= t && ms <= t + 500, "waitEvent(" + t + ") took " + ms + " ms");
            }
            // A short time-out after a long one, and a frame after time-outs, still arrive whole.
            send(srv, frame(IpcMessage.DATA, bytes(5, 5)));
            assertArrayEquals(bytes(5, 5), c.read(10_000).payloadBytes());
        }
    }

    @Test
    void anInterruptEndsABlockedReadAndTheConnectionStays() throws Exception {
        try (IpcClient c = connect(); SocketChannel srv = listener.accept()) {
            Thread reader = Thread.currentThread();
            CompletableFuture<Void> interrupter = CompletableFuture.runAsync(reader::interrupt);
            long t0 = System.nanoTime();
            try {
                IpcException x = assertThrows(IpcException.class, () -> c.read(-1));
                assertEquals(Errno.EINTR, x.errno());
            } finally {
                interrupter.get(10, TimeUnit.SECONDS);
                Thread.interrupted();
            }
            assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(5), "noticed within a receive slice");
            assertTrue(c.connection().isOpen());
            send(srv, frame(IpcMessage.DATA, bytes(3, 6)));
            assertArrayEquals(bytes(3, 6), c.read(10_000).payloadBytes());
        }
    }

    @Test
    void closeFromAnotherThreadEndsABlockedRead() throws Exception {
        try (IpcClient c = connect()) { // connected (in the listener's backlog), never served
            CompletableFuture<Thread> started = new CompletableFuture<>();
            CompletableFuture<Throwable> blocked = CompletableFuture.supplyAsync(() -> {
                started.complete(Thread.currentThread());
                try {
                    c.read(-1);
                    return null;
                } catch (RuntimeException e) {
                    return e;
                }
            });
            // close while the reader is inside recv(2) (seen in its stack), so close has to wake it
            Thread t0 = started.get(10, TimeUnit.SECONDS);
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (!inRecv(t0) && System.nanoTime() < until) {
                Thread.onSpinWait();
            }
            assertTrue(inRecv(t0), "the reader never blocked in recv");
            c.close();
            Throwable t = blocked.get(10, TimeUnit.SECONDS);
            assertTrue(t instanceof NotConnectedException, String.valueOf(t));
        }
    }

    private static boolean inRecv(Thread t) {
        return java.util.Arrays.stream(t.getStackTrace()).anyMatch(f -> f.getMethodName().equals("recv"));
    }

    @Test
    void aWriteToAServerThatNeverReadsEndsAtTheWriteTimeOut() throws Exception {
        try (IpcClient c = IpcClient.builder(name).runDirectory(dir.toString()).writeTimeoutMs(300).connect();
                SocketChannel srv = listener.accept()) {
            ByteBuffer chunk = ByteBuffer.allocateDirect(60_000);
            IpcException x = null;
            long last = 0;
            for (int i = 0; i < 1000 && x == null; i++) {
                long t0 = System.nanoTime();
                try {
                    c.write(IpcMessage.DATA, chunk);
                } catch (IpcException e) {
                    x = e;
                }
                last = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            }
            assertNotNull(x, "the socket never filled");
            assertEquals(Errno.ETIMEDOUT, x.errno(), x.getMessage());
            assertTrue(last >= 300 && last <= 800, "the last write took " + last + " ms");
            assertThrows(NotConnectedException.class, () -> c.read(10_000), "shut down after the time-out");
        }
    }

    @Test
    void extraFdsAndFramesAlternateAndDelFdReturnsToTheDirectPath() throws Exception {
        Pipe pipe = Pipe.open();
        try (IpcClient c = connect(); SocketChannel srv = listener.accept(); Pipe.SinkChannel sink = pipe.sink();
                Pipe.SourceChannel src = pipe.source()) {
            LeakProbe.Snapshot before = LeakProbe.snapshot();
            c.addFd(src);
            // 50 frames in one write, and the pipe readable: the pipe is reported within the first few events
            ByteBuffer burst = ByteBuffer.allocate(50 * 6);
            for (int i = 0; i < 50; i++) {
                burst.put(frame(IpcMessage.DATA, new byte[] {(byte) i}));
            }
            send(srv, burst.flip());
            assertEquals(IpcEventType.MESSAGE, c.waitEvent(10_000).type());
            sink.write(ByteBuffer.wrap(new byte[] {1}));
            int seen = 1;
            int extra = -1;
            for (int i = 0; i < 60; i++) {
                IpcEvent e = c.waitEvent(10_000);
                if (e.type() == IpcEventType.EXTRA_FD) {
                    assertSame(src, e.channel());
                    extra = seen;
                    src.read(ByteBuffer.allocate(8));
                    continue;
                }
                if (e.type() != IpcEventType.MESSAGE) {
                    break;
                }
                ByteBuffer p = e.message().payload();
                assertEquals(seen, p.get(p.position()));
                seen++;
                if (seen == 50) {
                    break;
                }
            }
            assertEquals(50, seen, "every frame, in order");
            assertTrue(extra >= 1 && extra < 5, "the pipe waited " + extra + " events");
            assertTrue(c.delFd(src));
            assertNull(c.read(0));
            send(srv, frame(IpcMessage.DATA, bytes(4, 7)));
            assertArrayEquals(bytes(4, 7), c.read(10_000).payloadBytes());
            // A raw fd added and removed leaves no helper thread behind.
            int efd = Posix.C.eventfd(0, LibC.EFD_CLOEXEC);
            try {
                c.addFd(efd);
                assertTrue(c.delFd(efd));
            } finally {
                Posix.closeQuietly(efd);
            }
            LeakProbe.assertNoLeak("client addFd/delFd (threads)", new LeakProbe.Snapshot(LeakProbe.fds(),
                    before.threads(), before.shm()), Duration.ofSeconds(5));
        }
    }

    @Test
    void noFdOrThreadLeftAfterClose() throws Exception {
        LeakProbe.Snapshot before = LeakProbe.snapshot();
        for (int i = 0; i < 20; i++) {
            try (IpcClient c = connect(); SocketChannel srv = listener.accept()) {
                send(srv, frame(IpcMessage.DATA, bytes(10, i)));
                assertArrayEquals(bytes(10, i), c.read(10_000).payloadBytes());
                c.connection().peer();
            }
        }
        LeakProbe.assertNoLeak("20 clients", before, Duration.ofSeconds(5));
    }

    @Test
    void peerIsTheServersUser() throws Exception {
        try (IpcClient c = connect(); SocketChannel srv = listener.accept()) {
            assertEquals(System.getProperty("user.name"), c.connection().peer().user().getName());
            assertEquals(srv.getOption(jdk.net.ExtendedSocketOptions.SO_PEERCRED).group(),
                    c.connection().peer().group());
        }
    }

    @Test
    void roundTripsAgainstTheCPeerAllocateNothing() {
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        try (LibipcPeer server = LibipcPeer.echoServer(dir.toString(), name + "-c");
                IpcClient c = IpcClient.builder(name + "-c").runDirectory(dir.toString()).connect()) {
            ByteBuffer req = ByteBuffer.allocateDirect(4096);
            for (int i = 0; i < 4096; i++) {
                req.put(i, (byte) i);
            }
            int n = 20_000;
            roundTrips(c, req, n); // warm-up: classes loaded, code compiled
            long tid = Thread.currentThread().getId();
            long before = mx.getThreadAllocatedBytes(tid);
            roundTrips(c, req, n);
            long allocated = mx.getThreadAllocatedBytes(tid) - before;
            assertTrue(allocated < n, allocated + " bytes allocated over " + n + " round trips");
        }
    }

    private static void roundTrips(IpcClient c, ByteBuffer req, int n) {
        for (int i = 0; i < n; i++) {
            req.limit(i % 2 == 0 ? 64 : 4096);
            c.write(IpcMessage.DATA, req);
            IpcMessage m = c.read(10_000);
            if (m == null || m.payload().mismatch(req) >= 0) {
                throw new AssertionError("echo " + i + " differs");
            }
        }
    }
}
