package io.jqb;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import io.jqb.testutil.EchoWire;
import io.jqb.testutil.NativeServer;
import java.nio.ByteBuffer;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * A jqb client pipelining small requests to a native libqb server over SHM. Every request also sends a one-byte
 * doorbell on the setup socket, and a unix stream socket's default send buffer holds only about 278 of them (each
 * costs a whole kernel buffer); the request ring holds thousands. Sends must not wait for the server while the ring
 * has room: the client enlarges the socket's buffer the first time it is full.
 */
class ClientPipelineInteropTest extends ClientTestSupport {
    /** More doorbells than a default send buffer holds (278), fewer than twice the default wmem_max allows (554). */
    private static final int OUTSTANDING = 400;

    @Test
    void manySmallRequestsQueueWithoutTheServerReadingThem() throws Exception {
        NativeServer server = nativeServer("pipe");
        Client c = connect(server.service(), 65_536);
        ByteBuffer resp = EchoWire.buffer(65_536);
        echo(c, 1);
        // The server stops reading requests (libqb: flow control on); fcEnableMax(0) lets our sends through.
        c.fcEnableMax(0);
        server.expect("ratelimit off", "ok");
        ByteBuffer req = EchoWire.buffer(64);
        assertTimeoutPreemptively(Duration.ofSeconds(30), () -> {
            for (int i = 0; i < OUTSTANDING; i++) {
                EchoWire.request(req, EchoWire.ECHO, 0, i % EchoWire.MAX_SEED);
                assertEquals(EchoWire.REQUEST_HEADER, c.send(req), "send " + i);
            }
        }, "sends waited for the server although the request ring had room");
        server.expect("ratelimit normal", "ok");
        for (int i = 0; i < OUTSTANDING; i++) {
            EchoWire.assertEcho(resp, c.recv(resp.clear(), TIMEOUT_MS), 0, i % EchoWire.MAX_SEED);
        }
        assertEquals(Errno.WOULD_BLOCK, c.recv(resp.clear(), 0), "one response per request");
        echo(c, 100);
    }
}
