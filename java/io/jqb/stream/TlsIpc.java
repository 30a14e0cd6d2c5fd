package io.jqb.stream;

import io.jqb.IpcException;
import io.jqb.stream.internal.FdHandle;
import java.nio.ByteBuffer;

/**
 * TLS 1.3/1.2 over TCP with the JDK's {@link javax.net.ssl.SSLEngine}: the same {@link Ipc} API, time-outs
 * included. A client handshakes in {@link #connect}; an accepted connection handshakes on its first read or write
 * (or {@link #handshake()}), on the thread that serves it, so a slow or hostile peer never holds the accept loop.
 */
public final class TlsIpc extends Ipc {
    private final TcpIpc transport;
    private final TlsSession session;
    private final TlsSettings settings;

    private TlsIpc(TcpIpc transport, TlsSession session, TlsSettings settings) {
        this.transport = transport;
        this.session = session;
        this.settings = settings;
    }

    /**
     * Connects and handshakes; the server's certificate must chain to the settings' trust and (unless turned off)
     * name {@code host}.
     *
     * @param host as for {@link TcpIpc#connect}
     * @param port as for {@link TcpIpc#connect}
     * @param timeoutMs for the TCP connect and, again, for the handshake; negative = OS default / the settings'
     *     handshake time-out
     * @throws IpcException when either fails (EPROTO with the JDK's reason for a TLS failure)
     * @param settings key and trust material and options
     * @return the connection, handshake done
     */
    public static TlsIpc connect(String host, int port, int timeoutMs, TlsSettings settings) {
        TcpIpc.HostPort hp = TcpIpc.HostPort.parse(host, port);
        TcpIpc t = TcpIpc.connect(host, port, timeoutMs);
        try {
            TlsIpc c = new TlsIpc(t, new TlsSession(settings.clientEngine(hp.host(), hp.port()), t,
                    settings.handshakeTimeoutMs()), settings);
            c.session.handshake(timeoutMs);
            return c;
        } catch (RuntimeException e) {
            t.close();
            throw e;
        }
    }

    /**
     * Listens on TCP as {@link TcpIpc#listen(int, String)}; accepted connections speak TLS.
     * @param port the port; 0 = any free one
     * @param address the local address to bind; null = all interfaces
     * @param settings key and trust material and options
     * @return the listening endpoint
     */
    public static TlsIpc listen(int port, String address, TlsSettings settings) {
        return new TlsIpc(TcpIpc.listen(port, address), null, settings);
    }

    /** {@inheritDoc} The TLS handshake happens later, on the connection's first read or write. */
    @Override
    public TlsIpc accept(int timeoutMs) {
        TcpIpc c = transport.accept(timeoutMs);
        if (c == null) {
            return null;
        }
        try {
            return new TlsIpc(c, new TlsSession(settings.serverEngine(), c, settings.handshakeTimeoutMs()),
                    settings);
        } catch (RuntimeException e) {
            c.close();
            throw e;
        }
    }

    /** @return the local TCP port (e.g. of a listener on port 0), or -1 */
    public int transportPort() {
        return transport.localPort();
    }

    /** Completes the handshake now (within the settings' handshake time-out) if it has not happened yet. */
    public void handshake() {
        try {
            session().handshake(-1);
        } catch (IpcException e) {
            markError(e);
            throw e;
        }
    }

    /**
     * @return the subject of the certificate the peer presented (e.g. {@code "CN=client1,O=Example"}), or null
     *     when it presented none; handshakes first if needed
     */
    public String peerSubject() {
        handshake();
        return session.peerSubject();
    }

    /** @return the negotiated protocol ({@code "TLSv1.3"} or {@code "TLSv1.2"}); handshakes first if needed */
    public String protocol() {
        handshake();
        return session.protocol();
    }

    private TlsSession session() {
        if (session == null) {
            throw new IllegalStateException("a listening endpoint has no TLS session");
        }
        return session;
    }

    @Override
    int fillIn(ByteBuffer buf, long address, int timeoutMs) {
        return session().read(buf, timeoutMs);
    }

    @Override
    void writeAll(ByteBuffer buf, long address) {
        try {
            session().write(buf);
        } catch (IpcException e) {
            markError(e);
            throw e;
        }
    }

    @Override
    boolean hasBuffered() {
        return super.hasBuffered() || session != null && session.hasBuffered();
    }

    @Override
    FdHandle handle() {
        return transport.handle();
    }

    @Override
    public int fd() {
        return transport.fd();
    }

    @Override
    public boolean isServer() {
        return transport.isServer();
    }

    @Override
    public String remoteAddress() {
        return transport.remoteAddress();
    }

    @Override
    public String localAddress() {
        return transport.localAddress();
    }

    /** Sends close_notify (best effort) and closes the connection. */
    @Override
    public void close() {
        if (session != null && transport.fd() >= 0) {
            session.closeOutbound();
        }
        transport.close();
        super.close();
    }
}
