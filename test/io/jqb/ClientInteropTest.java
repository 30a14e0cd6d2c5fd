package io.jqb;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.testutil.EchoWire;
import io.jqb.testutil.NativeServer;
import io.jqb.testutil.ShmAssert;
import java.nio.ByteBuffer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The jqb client against a real native libqb 2.0.6 echo server (native/build/qbn-server, one process for the class):
 * the whole echo contract of {@link ClientEchoContract}, plus what only a native peer can show.
 */
class ClientInteropTest extends ClientEchoContract {
    private static NativeServer server;

    @BeforeAll
    static void startServer() {
        server = NativeServer.start(NativeServer.uniqueName("client"));
    }

    @AfterAll
    static void stopServer() {
        if (server != null) {
            long pid = server.pid();
            server.close();
            ShmAssert.assertNoneLeft(pid);
        }
    }

    @Override
    String service() {
        return server.service();
    }

    @Override
    long serverPid() {
        return server.pid();
    }

    @Override
    int serverConnections() {
        String answer = server.command("conns");
        assertTrue(answer.startsWith("ok "), "conns answered " + answer);
        return Integer.parseInt(answer.substring(3));
    }

    @Test
    void serverPushedEventsWakeThePollerAndArriveInOrder() throws Exception {
        Client c = connect(service(), MAX);
        ByteBuffer resp = EchoWire.buffer(MAX);
        assertEquals("ok sent=1", server.command("event 0"));
        assertEquals("ok sent=1", server.command("event 5000"));
        assertReadable(c.fd(), TIMEOUT_MS, "server-pushed event");
        EchoWire.assertResponse(resp, c.eventRecv(resp.clear(), TIMEOUT_MS), EchoWire.EVENT, 0, 0, 0);
        EchoWire.assertResponse(resp, c.eventRecv(resp.clear(), TIMEOUT_MS), EchoWire.EVENT, 5000, 0, 0);
        // the largest event fills the ring: the server refuses another one until we read it (no overwrite)
        assertEquals("ok sent=1", server.command("event " + (MAX - 24)));
        assertEquals("err EAGAIN", server.command("event 5000"));
        assertReadable(c.fd(), TIMEOUT_MS, "largest event");
        EchoWire.assertResponse(resp, c.eventRecv(resp.clear(), TIMEOUT_MS), EchoWire.EVENT, MAX - 24, 0, 0);
        assertEquals("ok sent=1", server.command("event 5000"));
        EchoWire.assertResponse(resp, c.eventRecv(resp.clear(), TIMEOUT_MS), EchoWire.EVENT, 5000, 0, 0);
        assertNoNotificationLeft(c);
    }

    @Test
    void requestOfExactlyTheBufferSizeIsSentAndRefusedByTheServer() throws Exception {
        Client c = connect(service(), MAX);
        ByteBuffer req = EchoWire.buffer(MAX);
        ByteBuffer resp = EchoWire.buffer(MAX);
        // 16 + n == MAX fits the request ring; the echo (24 + n) would not fit the response ring
        int n = MAX - EchoWire.REQUEST_HEADER;
        EchoWire.request(req, EchoWire.ECHO, n, 0);
        assertEquals(MAX, c.send(req));
        EchoWire.assertHeaderOnly(resp, c.recv(resp.clear(), TIMEOUT_MS), EchoWire.ECHO, -Errno.EMSGSIZE);
        echo(c, 10);
    }

    @Test
    void serverStatisticsCountOurRequests() throws Exception {
        Client c = connect(service(), MAX);
        for (int i = 0; i < 3; i++) {
            echo(c, i * 100);
        }
        String stats = server.command("connstats");
        assertTrue(stats.startsWith("ok conns=1 requests=3 responses=3 events=0 "), stats);
    }
}
