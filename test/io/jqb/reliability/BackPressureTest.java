package io.jqb.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.Connection;
import io.jqb.Service;
import io.jqb.TransportType;
import io.jqb.cli.EchoHandler;
import io.jqb.internal.posix.Posix;
import io.jqb.internal.setup.UnixSocket;
import io.jqb.internal.wire.ConnectionRequestDescriptor;
import io.jqb.internal.wire.ConnectionResponseDescriptor;
import io.jqb.testutil.EchoPinger;
import io.jqb.testutil.EchoWire;
import io.jqb.testutil.InteropTestBase;
import io.jqb.testutil.NativeClient;
import io.jqb.testutil.RawShmPeer;
import io.jqb.testutil.Soak;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * Issue 10 item 3 and issue 9 item 9: a client that does not take its answers stalls only itself. The echo
 * server's handler ({@link EchoHandler}, what {@code bin/jqb echo-server} runs) queues answers to a full ring in the
 * connection's send backlog instead of waiting on the loop (it waited 5 s per answer: another client got nothing for
 * 19–24 s); the SOCKET transport's first send no longer sleeps up to 10 × 100 ms on the loop for a client that has
 * not bound its response socket.
 */
class BackPressureTest extends InteropTestBase {
    private static final int NOBODY = 65534;

    /** A native client running as nobody pipelines 30 KB echoes and never reads the answers. */
    @Test
    void clientThatNeverReadsItsResponsesStallsOnlyItself() throws Exception {
        Assumptions.assumeTrue((int) Files.getAttribute(Path.of("/proc/self"), "unix:uid") == 0 && Files.isExecutable(Path.of("/usr/bin/setpriv")),
                "needs root + setpriv");
        Service s = start(new EchoHandler());
        EchoPinger good = track(EchoPinger.start(s.name()));
        good.awaitProgress(20);
        NativeClient attacker = track(NativeClient.drive(s.name(), 65536, NOBODY));
        attacker.connect();
        Connection conn = connectionOf(s, attacker);
        int requests = Soak.count("backpressure.requests", 200, 5_000);
        int sent = 0;
        for (int i = 0; i < requests; i++) {
            String r = attacker.call("send 1 30000");
            if (r.equals("ok")) {
                sent++;
            } else {
                assertEquals("err EAGAIN", r, "the attacker's send"); // its request ring is full: the server paused
            }
        }
        waitUntil("the attacker's answers are queued", () -> conn.backlogBytes() > 0);
        long before = good.roundTrips();
        good.awaitProgress(200); // the other client goes on while the attacker's answers wait
        good.assertHealthy();
        Soak.figure("BackPressureTest", "nonReader", "sent=" + sent + " backlog=" + conn.backlogBytes()
                + "B otherRoundTrips=" + (good.roundTrips() - before) + " worstMs=" + good.worstMillis());
        assertTrue(sent >= 2, "the attacker got " + sent + " requests in");

        // The attacker reads at last: every answer, in order, none lost (the server resumed its requests).
        for (int i = 0; i < sent; i++) {
            NativeClient.Msg m = attacker.receive("recv 10000");
            assertEquals(1, m.id(), "answer " + i + ": " + m);
            assertEquals(30024, m.len(), "answer " + i + ": " + m);
        }
        waitUntil("backlog drained", () -> conn.backlogBytes() == 0);
        attacker.echo(100);
        good.assertHealthy();
    }

    /** A raw SOCKET-transport client sends requests but never binds the socket its responses go to. */
    @Test
    void socketClientThatNeverBindsItsResponseSocketStallsOnlyItself() throws Exception {
        Service s = track(Service.create(serviceName(), 7, TransportType.SOCKET, new EchoHandler()));
        s.run();
        EchoPinger good = track(EchoPinger.start(s.name()));
        good.awaitProgress(20);
        int fd = RawShmPeer.rawConnect(s.name());
        int dg = -1;
        try {
            assertTrue(RawShmPeer.sendAll(fd, RawShmPeer.connectionRequest(
                    ConnectionRequestDescriptor.MSG_AUTHENTICATE, 24, 65536, 0)));
            byte[] r = RawShmPeer.recvExactly(fd, ConnectionResponseDescriptor.LENGTH, 5000);
            assertTrue(r != null, "connection response");
            ByteBuffer rb = ByteBuffer.wrap(r).order(ByteOrder.LITTLE_ENDIAN);
            assertEquals(0, rb.getInt(ConnectionResponseDescriptor.ERROR_OFFSET));
            assertEquals(ConnectionResponseDescriptor.TYPE_SOCKET, rb.getInt(ConnectionResponseDescriptor.CONNECTION_TYPE_OFFSET));
            String base = cString(r, ConnectionResponseDescriptor.RESPONSE_PATH_OFFSET);
            dg = UnixSocket.datagramSocket();
            try (UnixSocket.Address a = UnixSocket.abstractAddress(base + "-request")) {
                assertEquals(0, UnixSocket.connectRaw(dg, a), "connect to the server's request socket");
            }
            // Each request used to cost the loop 10 × 100 ms of sleep: 8 of them, 8 s without service.
            ByteBuffer req = EchoWire.request(EchoWire.buffer(64), EchoWire.ECHO, 16, 0);
            long addr = Posix.allocate(req.remaining());
            try {
                for (int i = 0; i < req.remaining(); i++) {
                    Posix.MEM.writeByte(addr + i, req.get(req.position() + i));
                }
                for (int i = 0; i < 8; i++) {
                    assertEquals(req.remaining(), Posix.C.send(dg, addr, req.remaining(), 0));
                }
            } finally {
                Posix.free(addr, req.remaining());
            }
            long before = good.roundTrips();
            good.awaitProgress(100);
            good.assertHealthy();
            // Each of the old sleeps held the loop for 1 s (10 × 100 ms), so one round trip took at least that.
            assertTrue(good.worstMillis() < 1000, "another client waited " + good.worstMillis() + " ms");
            // The client never bound its socket: after libqb's 1 s of retries the server drops it.
            assertTrue(RawShmPeer.awaitClosedByPeer(fd, 10_000), "the server drops the client that never bound");
            Soak.figure("BackPressureTest", "neverBinds", "otherRoundTrips=" + (good.roundTrips() - before)
                    + " worstMs=" + good.worstMillis());
        } finally {
            Posix.closeQuietly(dg);
            UnixSocket.shutdownAndClose(fd);
        }
        good.awaitProgress(20);
    }

    private static String cString(byte[] r, int off) {
        int end = off;
        while (r[end] != 0) {
            end++;
        }
        return new String(r, off, end - off, StandardCharsets.UTF_8);
    }
}
