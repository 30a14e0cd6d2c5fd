package io.jqb.stream;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A throw-away PKI made by the openssl command line in a temp dir: a self-signed CA, a server certificate for
 * {@code localhost} (DNS name only, so connecting to an IP address fails host-name verification), and a client
 * certificate {@code CN=client1,O=jqb-test}. EC P-256 keys (fast), PKCS#8 PEM.
 */
final class TestPki {
    final Path dir;
    final String ca;
    final String serverCert;
    final String serverKey;
    final String clientCert;
    final String clientKey;
    final String serverP12;

    TestPki(Path dir) {
        this.dir = dir;
        ca = p("ca.pem");
        serverCert = p("server.pem");
        serverKey = p("server.key");
        clientCert = p("client.pem");
        clientKey = p("client.key");
        serverP12 = p("server.p12");
        try {
            Files.writeString(dir.resolve("server.ext"), "subjectAltName=DNS:localhost\n");
            run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", p("ca.key"), "-out", ca, "-days", "2", "-subj", "/CN=jqb-test-ca");
            leaf("server", "/CN=localhost", "server.ext");
            leaf("client", "/O=jqb-test/CN=client1", null);
            run("openssl", "pkcs12", "-export", "-in", serverCert, "-inkey", serverKey, "-out", serverP12,
                    "-passout", "pass:secret");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private void leaf(String name, String subject, String ext) {
        run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
                p(name + ".key"), "-out", p(name + ".csr"), "-subj", subject);
        if (ext == null) {
            run("openssl", "x509", "-req", "-in", p(name + ".csr"), "-CA", ca, "-CAkey", p("ca.key"),
                    "-CAcreateserial", "-out", p(name + ".pem"), "-days", "2");
        } else {
            run("openssl", "x509", "-req", "-in", p(name + ".csr"), "-CA", ca, "-CAkey", p("ca.key"),
                    "-CAcreateserial", "-out", p(name + ".pem"), "-days", "2", "-extfile", p(ext));
        }
    }

    private String p(String name) {
        return dir.resolve(name).toString();
    }

    private static void run(String... cmd) {
        try (PeerProcess p = PeerProcess.start(cmd)) {
            Integer rc = p.waitFor(60_000);
            if (rc == null || rc != 0) {
                throw new IllegalStateException(String.join(" ", cmd) + " failed: " + p.stderr());
            }
        }
    }
}
