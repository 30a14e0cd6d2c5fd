package io.jqb.stream;

import io.jqb.Errno;
import io.jqb.IpcException;
import io.jqb.internal.posix.Posix;
import java.nio.ByteBuffer;
import java.util.concurrent.locks.ReentrantLock;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;

/**
 * The SSLEngine wrap/unwrap loop over a socket, in one place: handshake, reading (network bytes → records →
 * plain bytes) and writing (plain bytes → records → network), with the time-outs of {@link Ipc}.
 *
 * <p>Buffers (all direct, made once): {@code netIn} holds received TLS bytes not yet unwrapped (read mode),
 * {@code appIn} plain bytes unwrapped but not yet handed to the reader (read mode), {@code netOut} records to send.
 * Writers (the application's writes, handshake messages, close_notify) hold {@link #writeLock}, so records from
 * a reading thread (a TLS 1.3 key update) and a writing thread never interleave.</p>
 */
final class TlsSession {
    private static final ByteBuffer EMPTY = ByteBuffer.allocate(0);
    private static final int EPROTO = 71;

    private final SSLEngine engine;
    private final SocketIpc transport;
    private final int handshakeTimeoutMs;
    private final ByteBuffer netIn;
    private final long netInAddress;
    private final ByteBuffer appIn;
    private final ByteBuffer netOut;
    private final long netOutAddress;
    private final ReentrantLock writeLock = new ReentrantLock();
    private final Object handshakeLock = new Object();
    private volatile boolean handshaken;
    private volatile boolean inboundClosed;

    TlsSession(SSLEngine engine, SocketIpc transport, int handshakeTimeoutMs) {
        this.engine = engine;
        this.transport = transport;
        this.handshakeTimeoutMs = handshakeTimeoutMs;
        SSLSession s = engine.getSession();
        netIn = ByteBuffer.allocateDirect(s.getPacketBufferSize() * 2);
        netIn.limit(0);
        netInAddress = Posix.bufferAddress(netIn);
        appIn = ByteBuffer.allocateDirect(s.getApplicationBufferSize() * 2);
        appIn.limit(0);
        netOut = ByteBuffer.allocateDirect(s.getPacketBufferSize() * 2);
        netOutAddress = Posix.bufferAddress(netOut);
    }

    /** Runs the handshake once, within {@code timeoutMs} (negative: the settings' handshake time-out). */
    void handshake(int timeoutMs) {
        if (handshaken) {
            return;
        }
        synchronized (handshakeLock) {
            if (handshaken) {
                return;
            }
            int t = timeoutMs < 0 ? handshakeTimeoutMs : timeoutMs;
            long deadline = System.nanoTime() + t * 1_000_000L;
            try {
                engine.beginHandshake();
                for (;;) {
                    SSLEngineResult.HandshakeStatus hs = engine.getHandshakeStatus();
                    switch (hs) {
                        case NEED_WRAP:
                            wrapAndSend(EMPTY);
                            break;
                        case NEED_UNWRAP:
                        case NEED_UNWRAP_AGAIN:
                            if (unwrapOnce() == Progress.NEED_DATA) {
                                int left = SocketIpc.msLeft(deadline);
                                int r = left == 0 ? 0 : transport.recvInto(compacted(netIn), netInAddress, left);
                                if (r == 0) {
                                    throw new IpcException(op("tls handshake"), Errno.ETIMEDOUT,
                                            "handshakeTimeoutMs=" + t);
                                }
                                if (r < 0) {
                                    throw new IpcException(op("tls handshake"), Errno.ECONNRESET,
                                            "peer closed the connection during the handshake");
                                }
                            }
                            break;
                        case NEED_TASK:
                            runTasks();
                            break;
                        default:
                            handshaken = true;
                            return;
                    }
                }
            } catch (SSLException e) {
                throw new IpcException(op("tls handshake"), EPROTO, e.getMessage());
            }
        }
    }

    /** Result of one unwrap. */
    private enum Progress { PROGRESS, NEED_DATA, CLOSED }

    /** One unwrap of {@code netIn} into {@code appIn}. */
    private Progress unwrapOnce() throws SSLException {
        if (!netIn.hasRemaining()) {
            return Progress.NEED_DATA;
        }
        int pos = appIn.position();
        if (appIn.capacity() - appIn.limit() < engine.getSession().getApplicationBufferSize()) {
            appIn.compact().flip();
            pos = appIn.position();
        }
        int lim = appIn.limit();
        appIn.position(lim).limit(appIn.capacity());
        SSLEngineResult r;
        try {
            r = engine.unwrap(netIn, appIn);
        } finally {
            int produced = appIn.position();
            appIn.limit(produced).position(pos);
        }
        switch (r.getStatus()) {
            case BUFFER_UNDERFLOW:
                return Progress.NEED_DATA;
            case CLOSED:
                inboundClosed = true;
                return Progress.CLOSED;
            case BUFFER_OVERFLOW:
                // appIn was compacted to hold a whole record: only a peer violating the record size gets here
                throw new SSLException("record larger than the application buffer");
            default:
                if (r.getHandshakeStatus() == SSLEngineResult.HandshakeStatus.NEED_TASK) {
                    runTasks();
                }
                if (handshaken && engine.getHandshakeStatus() == SSLEngineResult.HandshakeStatus.NEED_WRAP) {
                    wrapAndSend(EMPTY);
                }
                return Progress.PROGRESS;
        }
    }

    private void runTasks() {
        Runnable task;
        while ((task = engine.getDelegatedTask()) != null) {
            task.run();
        }
    }

    /**
     * Appends plain bytes to {@code dst} (read mode, room after its limit), waiting up to {@code timeoutMs} for
     * the first.
     *
     * @return bytes appended, 0 on time-out, -1 at the end of the stream
     */
    int read(ByteBuffer dst, int timeoutMs) {
        handshake(-1);
        final long deadline = timeoutMs > 0 ? System.nanoTime() + timeoutMs * 1_000_000L : 0;
        try {
            for (;;) {
                if (appIn.hasRemaining()) {
                    int pos = dst.position();
                    dst.position(dst.limit()).limit(dst.capacity());
                    int k = Ipc.moveTo(appIn, dst, Integer.MAX_VALUE);
                    dst.limit(dst.position()).position(pos);
                    return k;
                }
                if (inboundClosed) {
                    return -1;
                }
                Progress p = unwrapOnce();
                if (p == Progress.CLOSED) {
                    return -1;
                }
                if (p == Progress.PROGRESS) {
                    continue;
                }
                int wait = timeoutMs < 0 ? -1 : timeoutMs == 0 ? 0 : SocketIpc.msLeft(deadline);
                if (timeoutMs > 0 && wait == 0) {
                    return 0;
                }
                int r = transport.recvInto(compacted(netIn), netInAddress, wait);
                if (r == 0) {
                    if (timeoutMs < 0) {
                        continue;
                    }
                    return 0;
                }
                if (r < 0) {
                    inboundClosed = true;
                    return -1;
                }
            }
        } catch (SSLException e) {
            throw new IpcException(op("tls read"), EPROTO, e.getMessage());
        }
    }

    /** Encrypts and sends all of {@code src}'s remaining plain bytes. */
    void write(ByteBuffer src) {
        handshake(-1);
        try {
            do {
                wrapAndSend(src);
            } while (src.hasRemaining());
        } catch (SSLException e) {
            throw new IpcException(op("tls write"), EPROTO, e.getMessage());
        }
    }

    /** One wrap of (part of) {@code src} and the send of the record(s). */
    private void wrapAndSend(ByteBuffer src) throws SSLException {
        writeLock.lock();
        try {
            netOut.clear();
            SSLEngineResult r = engine.wrap(src, netOut);
            if (r.getStatus() == SSLEngineResult.Status.CLOSED && r.bytesProduced() == 0 && src.hasRemaining()) {
                throw new IpcException(op("tls write"), Errno.EPIPE, "TLS session closed");
            }
            netOut.flip();
            if (netOut.hasRemaining()) {
                transport.sendAll(netOut, netOutAddress);
            }
            if (r.getHandshakeStatus() == SSLEngineResult.HandshakeStatus.NEED_TASK) {
                runTasks();
            }
        } finally {
            writeLock.unlock();
        }
    }

    /** Sends close_notify if no writer is busy (best effort, without waiting for room). */
    void closeOutbound() {
        if (!writeLock.tryLock()) {
            return;
        }
        try {
            engine.closeOutbound();
            if (!handshaken) {
                return;
            }
            netOut.clear();
            engine.wrap(EMPTY, netOut);
            netOut.flip();
            int saved = transport.writeTimeoutMs;
            transport.writeTimeoutMs = 0;
            try {
                transport.sendAll(netOut, netOutAddress);
            } finally {
                transport.writeTimeoutMs = saved;
            }
        } catch (SSLException | IpcException e) {
            // the peer is gone or slow: closing anyway
        } finally {
            writeLock.unlock();
        }
    }

    /** @return true when plain or unprocessed TLS bytes wait in this session's buffers */
    boolean hasBuffered() {
        return appIn.hasRemaining() || netIn.hasRemaining();
    }

    /** @return the peer certificate's subject (RFC 2253), or null when the peer sent none */
    String peerSubject() {
        try {
            java.security.cert.Certificate[] c = engine.getSession().getPeerCertificates();
            return c.length == 0 ? null
                    : ((java.security.cert.X509Certificate) c[0]).getSubjectX500Principal().getName();
        } catch (SSLPeerUnverifiedException e) {
            return null;
        }
    }

    /** @return the negotiated protocol, e.g. {@code "TLSv1.3"} */
    String protocol() {
        return engine.getSession().getProtocol();
    }

    private String op(String what) {
        return what + "(" + transport.remoteAddress() + ")";
    }

    /** Makes room after {@code b}'s limit (read mode kept). */
    private static ByteBuffer compacted(ByteBuffer b) {
        if (!b.hasRemaining()) {
            b.position(0).limit(0);
        } else if (b.limit() == b.capacity() || b.position() > b.capacity() / 2) {
            b.compact().flip();
        }
        return b;
    }
}
