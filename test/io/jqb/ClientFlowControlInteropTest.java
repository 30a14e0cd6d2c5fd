package io.jqb;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.testutil.EchoWire;
import io.jqb.testutil.NativeServer;
import java.nio.ByteBuffer;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Flow control set by a native libqb server ({@code qb_ipcs_request_rate_limit}) as the jqb client sees it: the flag
 * in the request ring header makes sends return WOULD_BLOCK while {@code 0 < flag <= fcEnableMax}, exactly like
 * {@code qb_ipcc_send} and {@code qb_ipcc_fc_enable_max_set}.
 */
class ClientFlowControlInteropTest extends ClientTestSupport {
    private NativeServer server;
    private ByteBuffer req;
    private ByteBuffer resp;

    @BeforeEach
    void startServer() {
        server = nativeServer("fc");
        req = EchoWire.buffer(65_536);
        resp = EchoWire.buffer(65_536);
    }

    @Test
    void rateLimitOffMakesSendsWouldBlockAndNormalLetsThemFlowAgain() throws Exception {
        Client c = connect(server.service(), 65_536);
        echo(c, 100);
        server.expect("ratelimit off", "ok");
        EchoWire.request(req, EchoWire.ECHO, 100, 1);
        for (int i = 0; i < 3; i++) {
            assertEquals(Errno.WOULD_BLOCK, c.send(req), "send " + i + " under RATE_OFF");
        }
        assertEquals(Errno.WOULD_BLOCK, c.send(EchoWire.requestHeader(EchoWire.ECHO, 0)), "sendv under RATE_OFF");
        assertEquals(Errno.WOULD_BLOCK, c.sendRecv(req, resp, 1000), "sendRecv under RATE_OFF");
        assertEquals(Errno.WOULD_BLOCK, c.recv(resp, 0), "nothing was sent, so nothing comes back");
        assertTrue(c.isConnected(), "flow control is not a disconnect");
        server.expect("ratelimit normal", "ok");
        assertEquals(116, c.send(req));
        EchoWire.assertEcho(resp, c.recv(resp.clear(), TIMEOUT_MS), 100, 1);
        echo(c, 4000);
    }

    @Test
    void fcEnableMaxZeroIgnoresRateLimitOff() throws Exception {
        Client c = connect(server.service(), 65_536);
        c.fcEnableMax(0);
        server.expect("ratelimit off", "ok");
        EchoWire.request(req, EchoWire.ECHO, 100, 2);
        assertEquals(116, c.send(req), "fcEnableMax(0) must ignore the flag");
        // the server does not read requests while its flow control is on ...
        assertEquals(Errno.TIMED_OUT, c.recv(resp, 200));
        // ... and answers once it is off again
        server.expect("ratelimit normal", "ok");
        EchoWire.assertEcho(resp, c.recv(resp.clear(), TIMEOUT_MS), 100, 2);
        // back to the default: obeys RATE_OFF again
        c.fcEnableMax(1);
        server.expect("ratelimit off", "ok");
        assertEquals(Errno.WOULD_BLOCK, c.send(req));
        server.expect("ratelimit normal", "ok");
        echo(c, 10);
    }

    @Test
    void rateLimitOff2StopsOnlyClientsWithFcEnableMaxTwo() throws Exception {
        Client byDefault = connect(server.service(), 65_536);
        Client two = connect(server.service(), 65_536);
        two.fcEnableMax(2);
        server.expect("ratelimit off2", "ok");
        EchoWire.request(req, EchoWire.ECHO, 10, 3);
        assertEquals(Errno.WOULD_BLOCK, two.send(req), "fcEnableMax(2) obeys RATE_OFF_2");
        assertEquals(26, byDefault.send(req), "the default fcEnableMax(1) ignores RATE_OFF_2");
        // RATE_OFF (1) stops both
        server.expect("ratelimit off", "ok");
        assertEquals(Errno.WOULD_BLOCK, two.send(req));
        assertEquals(Errno.WOULD_BLOCK, byDefault.send(req));
        server.expect("ratelimit normal", "ok");
        EchoWire.assertEcho(resp, byDefault.recv(resp.clear(), TIMEOUT_MS), 10, 3);
        assertEquals(26, two.send(req));
        EchoWire.assertEcho(resp, two.recv(resp.clear(), TIMEOUT_MS), 10, 3);
    }

    @Test
    void fastAndSlowRatesDoNotBlock() throws Exception {
        Client c = connect(server.service(), 65_536);
        for (String rate : new String[] {"fast", "slow", "normal"}) {
            server.expect("ratelimit " + rate, "ok");
            for (int i = 0; i < 50; i++) {
                EchoWire.request(req, EchoWire.ECHO, i * 100, i);
                assertEquals(16 + i * 100, send(c, req), rate);
                EchoWire.assertEcho(resp, c.recv(resp.clear(), TIMEOUT_MS), i * 100, i);
            }
        }
    }

    @Test
    void fullRequestRingIsWouldBlockUntilTheServerDrainsIt() throws Exception {
        Client c = connect(server.service(), 16_384);
        c.fcEnableMax(0);
        server.expect("ratelimit off", "ok"); // the server stops reading: the ring fills up
        EchoWire.request(req, EchoWire.ECHO, 1000, 4);
        int sent = 0;
        int rc;
        while ((rc = c.send(req)) == 1016) {
            sent++;
            assertTrue(sent < 100, "the request ring never filled");
        }
        assertEquals(Errno.WOULD_BLOCK, rc);
        // data area roundup(16384 + 13, 4096) = 20480 bytes = 5120 words; a chunk is 2 + 254 = 256 words; after 19
        // chunks 5120 - 19 * 256 - 1 = 255 words are free, less than the 257 a 1016-byte write needs with its margin
        assertEquals(19, sent);
        server.expect("ratelimit normal", "ok");
        for (int i = 0; i < sent; i++) {
            EchoWire.assertEcho(resp, c.recv(resp.clear(), TIMEOUT_MS), 1000, 4);
        }
        assertEquals(Errno.WOULD_BLOCK, c.recv(resp.clear(), 0));
        echo(c, 1000);
    }

    @Test
    void fcEnableMaxRejectsValuesOutsideZeroToTwo() throws Exception {
        Client c = connect(server.service(), 65_536);
        assertThrows(IllegalArgumentException.class, () -> c.fcEnableMax(3));
        assertThrows(IllegalArgumentException.class, () -> c.fcEnableMax(-1));
        echo(c, 10);
    }
}
