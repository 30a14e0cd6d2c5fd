package io.jqb.stream;

import io.jqb.Errno;
import io.jqb.IpcException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.List;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.TrustManagerFactory;

/**
 * Key and trust material and options for {@link TlsIpc}, built on the JDK's TLS (TLS 1.3 and 1.2 only).
 * Host-name verification is on by default for clients; client authentication is off by default for servers.
 */
public final class TlsSettings {
    private static final String[] PROTOCOLS = {"TLSv1.3", "TLSv1.2"};
    private final SSLContext context;
    private boolean clientAuth;
    private boolean verifyHostname = true;
    private int handshakeTimeoutMs = 10_000;

    private TlsSettings(SSLContext context) {
        this.context = context;
    }

    /**
     * From PEM files.
     *
     * @param certChainPem this end's certificate chain (leaf first), or null for a client without a certificate
     * @param keyPem its private key, PKCS#8 ({@code BEGIN PRIVATE KEY}, what {@code openssl genpkey} and
     *     {@code openssl req -newkey} write), or null
     * @param trustPem the certificates (CAs) to trust for the peer, or null for the JDK's default trust store
     * @return the settings
     */
    public static TlsSettings fromPem(String certChainPem, String keyPem, String trustPem) {
        try {
            KeyStore keys = null;
            if (certChainPem != null || keyPem != null) {
                if (certChainPem == null || keyPem == null) {
                    throw new IllegalArgumentException("give both a certificate and a key, or neither");
                }
                keys = KeyStore.getInstance("PKCS12");
                keys.load(null, null);
                Collection<? extends Certificate> chain = certificates(certChainPem);
                keys.setKeyEntry("key", privateKey(keyPem), new char[0], chain.toArray(new Certificate[0]));
            }
            return new TlsSettings(context(keys, new char[0], trustPem == null ? null : trustStore(trustPem)));
        } catch (GeneralSecurityException | IOException e) {
            throw new IpcException("tls settings", Errno.EINVAL, e.getMessage());
        }
    }

    /**
     * From a PKCS#12 key store (e.g. made with {@code openssl pkcs12 -export}).
     *
     * @param pkcs12 the key store file, or null for a client without a certificate
     * @param password its password
     * @param trustPem the certificates to trust for the peer (PEM), or null for the JDK's default trust store
     * @return the settings
     */
    public static TlsSettings fromPkcs12(String pkcs12, char[] password, String trustPem) {
        try {
            KeyStore keys = null;
            if (pkcs12 != null) {
                keys = KeyStore.getInstance("PKCS12");
                try (InputStream in = Files.newInputStream(Path.of(pkcs12))) {
                    keys.load(in, password);
                }
            }
            return new TlsSettings(context(keys, password, trustPem == null ? null : trustStore(trustPem)));
        } catch (GeneralSecurityException | IOException e) {
            throw new IpcException("tls settings(" + pkcs12 + ")", Errno.EINVAL, e.getMessage());
        }
    }

    /**
     * A server asks for and requires a client certificate signed by a trusted CA (default: off).
     * @param on true to turn it on
     * @return this
     */
    public TlsSettings requireClientAuth(boolean on) {
        clientAuth = on;
        return this;
    }

    /**
     * A client checks that the server's certificate names the host it connected to (default: on).
     * @param on true to turn it on
     * @return this
     */
    public TlsSettings verifyHostname(boolean on) {
        verifyHostname = on;
        return this;
    }

    /**
     * How long a handshake may take (default 10 s).
     * @param ms milliseconds
     * @return this
     */
    public TlsSettings handshakeTimeout(int ms) {
        if (ms <= 0) {
            throw new IllegalArgumentException("handshakeTimeoutMs=" + ms);
        }
        handshakeTimeoutMs = ms;
        return this;
    }

    int handshakeTimeoutMs() {
        return handshakeTimeoutMs;
    }

    SSLEngine clientEngine(String host, int port) {
        SSLEngine e = context.createSSLEngine(host, port);
        e.setUseClientMode(true);
        SSLParameters p = e.getSSLParameters();
        p.setProtocols(PROTOCOLS);
        if (verifyHostname) {
            p.setEndpointIdentificationAlgorithm("HTTPS");
        }
        e.setSSLParameters(p);
        return e;
    }

    SSLEngine serverEngine() {
        SSLEngine e = context.createSSLEngine();
        e.setUseClientMode(false);
        SSLParameters p = e.getSSLParameters();
        p.setProtocols(PROTOCOLS);
        p.setNeedClientAuth(clientAuth);
        e.setSSLParameters(p);
        return e;
    }

    private static SSLContext context(KeyStore keys, char[] password, KeyStore trust)
            throws GeneralSecurityException {
        KeyManagerFactory kmf = null;
        if (keys != null) {
            kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(keys, password);
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(kmf == null ? null : kmf.getKeyManagers(), tmf.getTrustManagers(), null);
        return ctx;
    }

    private static Collection<? extends Certificate> certificates(String pem)
            throws IOException, GeneralSecurityException {
        try (InputStream in = Files.newInputStream(Path.of(pem))) {
            Collection<? extends Certificate> c = CertificateFactory.getInstance("X.509").generateCertificates(in);
            if (c.isEmpty()) {
                throw new GeneralSecurityException(pem + ": no certificate");
            }
            return c;
        }
    }

    private static KeyStore trustStore(String pem) throws IOException, GeneralSecurityException {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        int i = 0;
        for (Certificate c : certificates(pem)) {
            ks.setCertificateEntry("ca" + i++, c);
        }
        return ks;
    }

    private static PrivateKey privateKey(String pem) throws IOException, GeneralSecurityException {
        String text = Files.readString(Path.of(pem), StandardCharsets.US_ASCII);
        String begin = "-----BEGIN PRIVATE KEY-----";
        int b = text.indexOf(begin);
        int e = text.indexOf("-----END PRIVATE KEY-----");
        if (b < 0 || e < b) {
            throw new GeneralSecurityException(pem + ": no PKCS#8 'BEGIN PRIVATE KEY' block"
                    + " (convert with: openssl pkcs8 -topk8 -nocrypt -in KEY -out KEY8)");
        }
        byte[] der = Base64.getMimeDecoder().decode(text.substring(b + begin.length(), e));
        List<String> tried = new ArrayList<>();
        for (String alg : new String[] {"RSA", "EC", "Ed25519", "Ed448", "RSASSA-PSS"}) {
            try {
                return KeyFactory.getInstance(alg).generatePrivate(new PKCS8EncodedKeySpec(der));
            } catch (GeneralSecurityException ex) {
                tried.add(alg);
            }
        }
        throw new GeneralSecurityException(pem + ": unsupported key type (tried " + tried + ")");
    }
}
