package io.jqb;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.testutil.EchoWire;
import io.jqb.testutil.NativeServer;
import io.jqb.testutil.ShmAssert;
import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Connection set-up against native libqb servers: refusals with their errno names, the agreed buffer size, an event
 * sent from connection_created, and a truly asynchronous connect.
 */
class ClientConnectInteropTest extends ClientTestSupport {

    @Test
    void missingServiceIsEconnrefusedNamingTheOperation() {
        String name = NativeServer.uniqueName("nobody");
        IpcException e = assertThrows(IpcException.class, () -> Client.connect(name, 65_536));
        assertEquals("ECONNREFUSED", e.errnoName());
        assertEquals(Errno.ECONNREFUSED, e.errno());
        assertTrue(e.getMessage().startsWith("connect(" + name + "): ECONNREFUSED"), e.getMessage());
        assertEquals("connect(" + name + ")", e.operation());
        // the asynchronous form fails the same way, right away
        IpcException a = assertThrows(IpcException.class, () -> Client.connectAsync(name, 65_536));
        assertEquals("ECONNREFUSED", a.errnoName());
    }

    @Test
    void killedServerIsEconnrefused() {
        NativeServer server = nativeServer("gone");
        server.kill();
        IpcException e = assertThrows(IpcException.class, () -> Client.connect(server.service(), 65_536));
        assertEquals("ECONNREFUSED", e.errnoName());
    }

    @Test
    void refusingServerIsEaccesNamingTheOperation() {
        NativeServer server = nativeServer("reject", "--reject", "13");
        IpcException e = assertThrows(IpcException.class, () -> Client.connect(server.service(), 65_536));
        assertEquals("EACCES", e.errnoName());
        assertEquals(Errno.EACCES, e.errno());
        assertTrue(e.getMessage().startsWith("connect(" + server.service() + "): EACCES"), e.getMessage());
        // and asynchronously: the refusal comes with the answer
        IpcException a = assertThrows(IpcException.class, () -> {
            try (Client.PendingConnection p = Client.connectAsync(server.service(), 65_536)) {
                assertReadable(p.fd(), TIMEOUT_MS, "refusal");
                p.complete(TIMEOUT_MS).close();
            }
        });
        assertEquals("EACCES", a.errnoName());
        assertEquals("ok active=0 closed=0", server.command("stats"));
        ShmAssert.assertNoneLeft(server.pid());
    }

    @Test
    void otherRefusalErrnosArePassedThrough() {
        NativeServer server = nativeServer("reject-perm", "--reject", "1");
        IpcException e = assertThrows(IpcException.class, () -> Client.connect(server.service(), 65_536));
        assertEquals("EPERM", e.errnoName());
    }

    @Test
    void serverEnforcedBufferSizeWins() throws Exception {
        NativeServer server = nativeServer("enforce", "--max-msg-size", "100000");
        Client small = connect(server.service(), 5_000);
        assertEquals(100_000, small.bufferSize());
        echo(small, 100_000 - EchoWire.RESPONSE_HEADER);
        assertThrows(MessageTooLargeException.class, () -> small.send(ByteBuffer.allocate(100_001)));
        // the enforced size is a minimum: asking for more gets more
        Client big = connect(server.service(), 200_000);
        assertEquals(200_000, big.bufferSize());
        echo(big, 200_000 - EchoWire.RESPONSE_HEADER);
    }

    @Test
    void eventFromConnectionCreatedArrivesAfterConnect() throws Exception {
        NativeServer server = nativeServer("created", "--event-on-created", "100");
        Client c = connect(server.service(), 65_536);
        assertReadable(c.fd(), TIMEOUT_MS, "event-on-created");
        ByteBuffer buf = EchoWire.buffer(1000);
        int len = c.eventRecv(buf, TIMEOUT_MS);
        EchoWire.assertResponse(buf, len, EchoWire.EVENT, 100, 0, 0);
        assertEquals(Errno.WOULD_BLOCK, c.eventRecv(buf.clear(), 0), "only one event");
        echo(c, 100);
        assertTrue(server.stderr().isEmpty(), server.stderr());
    }

    @Test
    @Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void asyncConnectDoesNotWaitForTheServer() throws Exception {
        NativeServer server = nativeServer("async");
        assertEquals(0, ClientServerDeathTest.signal(server.pid(), ClientServerDeathTest.SIGSTOP));
        try {
            long t0 = System.nanoTime();
            Client.PendingConnection p = track(Client.connectAsync(server.service(), 65_536));
            assertTrue(millisSince(t0) < 1000, "connectAsync blocked for " + millisSince(t0) + " ms");
            assertEquals(0, poll(p.fd(), 200), "answered by a stopped server?");
            assertEquals(0, ClientServerDeathTest.signal(server.pid(), ClientServerDeathTest.SIGCONT));
            assertReadable(p.fd(), TIMEOUT_MS, "answer after SIGCONT");
            Client c = track(p.complete(0));
            assertEquals(server.pid(), c.serverCredentials().pid());
            echo(c, 5000);
        } finally {
            ClientServerDeathTest.signal(server.pid(), ClientServerDeathTest.SIGCONT);
        }
    }

    @Test
    void asyncCompleteTimesOutWhenTheServerDoesNotAnswer() throws Exception {
        NativeServer server = nativeServer("async-timeout");
        assertEquals(0, ClientServerDeathTest.signal(server.pid(), ClientServerDeathTest.SIGSTOP));
        try {
            Client.PendingConnection p = track(Client.connectAsync(server.service(), 65_536));
            long t0 = System.nanoTime();
            IpcException e = assertThrows(IpcException.class, () -> p.complete(100));
            assertEquals("ETIMEDOUT", e.errnoName());
            long took = millisSince(t0);
            assertTrue(took >= 100 && took < 2000, "complete(100) took " + took + " ms");
        } finally {
            ClientServerDeathTest.signal(server.pid(), ClientServerDeathTest.SIGCONT);
        }
        // the abandoned half-connection does not disturb the server
        Client c = connect(server.service(), 65_536);
        echo(c, 10);
        c.close();
        ShmAssert.assertNoneLeft(server.pid(), OUR_PID);
    }

    @Test
    void connectionsAreIndependent() throws Exception {
        NativeServer server = nativeServer("independent");
        Client a = connect(server.service(), 65_536);
        Client b = connect(server.service(), 65_536);
        assertNotEquals(a.fd(), b.fd());
        ByteBuffer req = EchoWire.request(EchoWire.buffer(200), EchoWire.ECHO, 100, 1);
        assertEquals(116, a.send(req));
        echo(b, 50); // b's response is b's, a's stays queued
        ByteBuffer resp = EchoWire.buffer(200);
        EchoWire.assertEcho(resp, a.recv(resp, TIMEOUT_MS), 100, 1);
        a.close();
        echo(b, 60);
        assertFalse(a.isConnected());
        assertTrue(b.isConnected());
    }
}
