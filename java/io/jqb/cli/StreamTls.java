package io.jqb.cli;

import io.jqb.stream.TlsIpc;
import io.jqb.stream.TlsSettings;

/** The CLI's TLS set-up from PEM files. */
final class StreamTls {
    private StreamTls() {
    }

    /** A TLS listener; with {@code caPem}, clients must present a certificate signed by it. */
    static TlsIpc listen(int port, String address, String certPem, String keyPem, String caPem) {
        return TlsIpc.listen(port, address, TlsSettings.fromPem(certPem, keyPem, caPem).requireClientAuth(caPem != null));
    }

    /** A TLS client trusting {@code caPem} (or the JDK's default CAs). */
    static TlsIpc connect(String hostPort, String caPem, int timeoutMs) {
        return TlsIpc.connect(hostPort, 0, timeoutMs, TlsSettings.fromPem(null, null, caPem));
    }
}
