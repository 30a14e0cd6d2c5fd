package io.jqb.stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.IpcException;
import io.jqb.testutil.LeakProbe;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** TlsIpc against openssl: jqb client ↔ openssl s_server, openssl s_client ↔ jqb server, with a test CA. */
@Timeout(180)
class TlsInteropTest {
    @TempDir
    static Path dir;
    static TestPki pki;

    @BeforeAll
    static void makePki() {
        pki = new TestPki(dir);
    }

    /** Starts s_server on a free port and waits for its ACCEPT line. */
    static PeerProcess sServer(int port, String... extra) {
        String[] base = {"openssl", "s_server", "-accept", "127.0.0.1:" + port, "-cert", pki.serverCert, "-key",
            pki.serverKey, "-naccept", "1"};
        String[] cmd = java.util.Arrays.copyOf(base, base.length + extra.length);
        System.arraycopy(extra, 0, cmd, base.length, extra.length);
        PeerProcess s = PeerProcess.start(cmd);
        assertTrue(s.awaitText("ACCEPT", 30_000), s.describe());
        return s;
    }

    @Test
    void jqbClientAgainstOpensslServerTls13And12() {
        for (String proto : new String[] {"-tls1_3", "-tls1_2"}) {
            int port = TcpIpcInteropTest.freePort();
            try (PeerProcess srv = sServer(port, proto);
                    TlsIpc c = TlsIpc.connect("localhost", port, 10_000, TlsSettings.fromPem(null, null, pki.ca))) {
                assertEquals(proto.equals("-tls1_3") ? "TLSv1.3" : "TLSv1.2", c.protocol());
                c.write("ping from jqb\n".getBytes(StandardCharsets.UTF_8));
                assertTrue(srv.awaitText("ping from jqb", 10_000), srv.describe());
                srv.send("pong from openssl\n".getBytes(StandardCharsets.UTF_8));
                byte[] buf = new byte[100];
                int n = c.read(buf, buf.length, 10_000, 500);
                assertTrue(new String(buf, 0, Math.max(n, 0), StandardCharsets.UTF_8).startsWith("pong from openssl"));
                // time-outs behave as for TCP
                long t0 = System.nanoTime();
                assertEquals(0, c.read(buf, buf.length, 300));
                TimeoutTest.assertWithin(t0, 300);
            }
        }
    }

    @Test
    void hostNameVerificationIsOnByDefault() {
        int port = TcpIpcInteropTest.freePort();
        try (PeerProcess srv = sServer(port)) {
            // the certificate names "localhost" only
            IpcException e = assertThrows(IpcException.class,
                    () -> TlsIpc.connect("127.0.0.1", port, 10_000, TlsSettings.fromPem(null, null, pki.ca)));
            assertEquals("EPROTO", e.errnoName(), e.getMessage());
        }
        int port2 = TcpIpcInteropTest.freePort();
        try (PeerProcess srv = sServer(port2); TlsIpc c = TlsIpc.connect("127.0.0.1", port2, 10_000,
                TlsSettings.fromPem(null, null, pki.ca).verifyHostname(false))) {
            c.write("ok\n".getBytes(StandardCharsets.UTF_8));
            assertTrue(srv.awaitText("ok", 10_000));
        }
        int port3 = TcpIpcInteropTest.freePort();
        try (PeerProcess srv = sServer(port3)) {
            // default JDK trust store: the test CA is unknown
            assertThrows(IpcException.class,
                    () -> TlsIpc.connect("localhost", port3, 10_000, TlsSettings.fromPem(null, null, null)));
        }
    }

    @Test
    void opensslClientAgainstJqbServerWithClientAuth() throws Exception {
        AtomicReference<String> subject = new AtomicReference<>();
        IpcServer<IpcService> server = new IpcServer<>("tls-echo", 8, IpcServer.Overflow.WAIT);
        TlsIpc l = TlsIpc.listen(0, "127.0.0.1", TlsSettings.fromPkcs12(pki.serverP12, "secret".toCharArray(),
                pki.ca).requireClientAuth(true));
        int port = l.transportPort();
        Thread runner = new Thread(() -> server.run(l, new RawEchoService(subject)));
        runner.start();
        try (PeerProcess cli = PeerProcess.start("openssl", "s_client", "-connect", "127.0.0.1:" + port, "-CAfile",
                pki.ca, "-cert", pki.clientCert, "-key", pki.clientKey, "-quiet", "-verify_return_error")) {
            cli.send("hello through TLS\n".getBytes(StandardCharsets.UTF_8));
            assertTrue(cli.awaitText("hello through TLS", 20_000), cli.describe());
            assertEquals("CN=client1,O=jqb-test", subject.get());
        }
        // from here on (the JDK's lazily made TLS and process machinery exists now) nothing may leak
        LeakProbe.Snapshot before = LeakProbe.snapshot();
        // no client certificate: the handshake fails, the server goes on
        try (PeerProcess cli = PeerProcess.start("openssl", "s_client", "-connect", "127.0.0.1:" + port, "-CAfile",
                pki.ca, "-quiet")) {
            cli.send("no cert\n".getBytes(StandardCharsets.UTF_8));
            assertNotNull(cli.waitFor(30_000), "s_client ends when the server drops it: " + cli.describe());
            assertTrue(!cli.stdoutText().contains("no cert"));
        }
        try (TlsIpc c = TlsIpc.connect("localhost", port, 10_000,
                TlsSettings.fromPem(pki.clientCert, pki.clientKey, pki.ca))) {
            c.writeMessage(Frames.PREFIX, 1, "framed over TLS");
            byte[] buf = new byte[200];
            int n = c.read(buf, 200, 10_000, 500);
            assertEquals(12 + "framed over TLS".length(), n, "raw echo of the whole frame");
        }
        server.stopNow();
        runner.join(30_000);
        LeakProbe.Snapshot after = LeakProbe.assertNoLeak("TLS server", before, Duration.ofSeconds(10));
        assertTrue(after.threads().stream().noneMatch(t -> t.startsWith("tls-echo")), after.threads().toString());
    }

    @Test
    void handshakeGarbageIsAClearErrorAndTheListenerGoesOn() throws Exception {
        TlsIpc l = TlsIpc.listen(0, "127.0.0.1", TlsSettings.fromPem(pki.serverCert, pki.serverKey, null)
                .handshakeTimeout(2000));
        try (l; TcpIpc raw = TcpIpc.connect("127.0.0.1", l.transportPort(), 5000)) {
            raw.write("GET / HTTP/1.0\r\n\r\nthis is not TLS at all".getBytes(StandardCharsets.US_ASCII));
            try (TlsIpc s = l.accept(5000)) {
                IpcException e = assertThrows(IpcException.class, s::handshake);
                assertEquals("EPROTO", e.errnoName(), e.getMessage());
                assertTrue(s.error());
            }
            // a peer that never speaks: the handshake time-out
            try (TcpIpc silent = TcpIpc.connect("127.0.0.1", l.transportPort(), 5000); TlsIpc s = l.accept(5000)) {
                long t0 = System.nanoTime();
                IpcException e = assertThrows(IpcException.class, s::handshake);
                assertEquals("ETIMEDOUT", e.errnoName());
                TimeoutTest.assertWithin(t0, 2000);
            }
            java.util.concurrent.CompletableFuture<TlsIpc> client = java.util.concurrent.CompletableFuture.supplyAsync(
                    () -> TlsIpc.connect("localhost", l.transportPort(), 10_000,
                            TlsSettings.fromPem(null, null, pki.ca)));
            try (TlsIpc s = l.accept(5000)) {
                s.handshake();
                try (TlsIpc c = client.get(20, java.util.concurrent.TimeUnit.SECONDS)) {
                    c.writeMessage(Frames.PREFIX, 2, "still serving");
                    assertEquals("still serving", s.readMessage(Frames.PREFIX, 100, 10_000).text());
                    assertNull(s.peerSubject());
                }
            }
        }
    }

    /** Echoes raw bytes; records the client certificate's subject. */
    static final class RawEchoService implements IpcService {
        private final AtomicReference<String> subject;

        RawEchoService(AtomicReference<String> subject) {
            this.subject = subject;
        }

        @Override
        public IpcService copy() {
            return new RawEchoService(subject);
        }

        @Override
        public void serve(Ipc ipc) {
            try (ipc) {
                subject.set(((TlsIpc) ipc).peerSubject());
                byte[] buf = new byte[4096];
                for (;;) {
                    int n = ipc.read(buf, buf.length, 30_000);
                    if (n <= 0) {
                        return;
                    }
                    ipc.write(buf, 0, n);
                }
            } catch (IpcException e) {
                // handshake refused, peer gone
            }
        }
    }
}
