package io.jqb;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.cli.EchoHandler;
import io.jqb.testutil.EchoWire;
import io.jqb.testutil.NativeServer;
import io.jqb.testutil.LoopProbe;
import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A pipelining SOCKET client that reads its responses later than the server sends them fills the server's response
 * socket; the answers then wait in the connection's send backlog. They must go out as soon as the client has read
 * enough to make room (the kernel says so: the socket is writable again), not only when the backlog's back-off
 * timer (1 ms, doubling to 16 ms) next looks: `bench --pipeline` over SOCKET fills the socket all the time, and libqb's
 * server retries such a send every 20 µs or so.
 */
class SocketBacklogFlushTest extends ClientTestSupport {
    private static final int PAYLOAD = 64;

    @Test
    @Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void aBackloggedSocketConnectionSendsWhenTheClientMakesRoom() throws Exception {
        String name = NativeServer.uniqueName("sockflush");
        Service s = track(Service.create(name, 0, TransportType.SOCKET, new EchoHandler()));
        s.run();
        Client c = connect(name, 65536);
        ByteBuffer req = EchoWire.buffer(EchoWire.REQUEST_HEADER + PAYLOAD);
        ByteBuffer resp = EchoWire.buffer(65536);
        // Pipelined as `jqb bench --pipeline` does, with more in flight than the server's response socket holds (a
        // few hundred 88-byte datagrams): the server's answers keep waiting in the backlog while the client reads.
        final int total = 20_000;
        final int window = 2_000;
        int sent = 0;
        int received = 0;
        long maxBacklog = 0;
        Connection conn = null;
        while (received < total) {
            if (sent < total && sent - received < window) {
                int rc = c.send(EchoWire.request(req, EchoWire.ECHO, PAYLOAD, sent % 128));
                if (rc != Errno.WOULD_BLOCK) {
                    assertEquals(EchoWire.REQUEST_HEADER + PAYLOAD, rc);
                    sent++;
                    continue;
                }
            }
            if (conn == null && !s.connections().isEmpty()) {
                conn = s.connections().get(0); // listed by the loop just after the client's connect returned
            }
            maxBacklog = Math.max(maxBacklog, conn == null ? 0 : conn.backlogBytes());
            resp.clear();
            EchoWire.assertEcho(resp, c.recv(resp, TIMEOUT_MS), PAYLOAD, received % 128); // every answer, in order
            received++;
        }
        assertTrue(conn != null && maxBacklog > 0, "the answers never waited in the backlog: the test did not test");
        assertTrue(conn.writableFlushes() > 0, "no backlog flush came from the socket turning writable");
        long drained = System.nanoTime() + 10_000_000_000L; // the loop forgets the last one just after sending it
        while (conn.backlogBytes() > 0 && System.nanoTime() < drained) {
            Thread.yield();
        }
        assertEquals(0, conn.backlogBytes());
        // Idle after the drain: no POLLOUT interest may stay behind (a writable socket would fire it for ever). An
        // idle loop uses ~0 ms; a spinning one got 315-822 ms/s of the loaded 2-vCPU VM, hence 150, not 300.
        long idle = LoopProbe.cpuMillis("jqb-" + name, 1_000);
        assertTrue(idle < 150, "loop used " + idle + " ms of CPU in 1 s, idle after the drain");
    }

    /**
     * While answers wait for a client that reads none, the loop watches the full socket for room and sleeps; when the
     * client reads, they all arrive.
     */
    @Test
    @Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void theLoopSleepsWhileAnswersWaitForAClientThatDoesNotRead() throws Exception {
        String name = NativeServer.uniqueName("sockwait");
        Service s = track(Service.create(name, 0, TransportType.SOCKET, new EchoHandler()));
        s.run();
        Client c = connect(name, 65536);
        ByteBuffer req = EchoWire.buffer(EchoWire.REQUEST_HEADER + PAYLOAD);
        ByteBuffer resp = EchoWire.buffer(65536);
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (s.connections().isEmpty() && System.nanoTime() < deadline) {
            Thread.yield();
        }
        Connection conn = s.connections().get(0);
        int sent = 0;
        // Requests until the server stops reading them (its answers fill the response socket, then the backlog).
        while (sent < 20_000 && (conn.backlogBytes() == 0 || sent < 10) && System.nanoTime() < deadline) {
            int rc = c.send(EchoWire.request(req, EchoWire.ECHO, PAYLOAD, sent % 128));
            if (rc == Errno.WOULD_BLOCK) {
                Thread.yield();
                continue;
            }
            assertEquals(EchoWire.REQUEST_HEADER + PAYLOAD, rc);
            sent++;
        }
        assertTrue(conn.backlogBytes() > 0, "no answer waited in the backlog after " + sent + " requests");
        long waiting = LoopProbe.cpuMillis("jqb-" + name, 1_000);
        assertTrue(waiting < 150, "loop used " + waiting + " ms of CPU in 1 s while answers wait");
        for (int i = 0; i < sent; i++) {
            resp.clear();
            EchoWire.assertEcho(resp, c.recv(resp, TIMEOUT_MS), PAYLOAD, i % 128);
        }
    }

}
