package io.jqb;

import io.jqb.internal.client.ClientChannel;
import io.jqb.internal.client.ClientHandshake;
import io.jqb.internal.client.ShmClientChannel;
import io.jqb.internal.client.SocketClientChannel;
import io.jqb.internal.setup.SocketNames;
import io.jqb.internal.setup.UnixSocket;
import io.jqb.internal.wire.ConnectionResponseDescriptor;
import java.nio.ByteBuffer;
import java.util.Objects;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A connection to a libqb service, native or jqb ({@code qb_ipcc_connection_t}).
 *
 * <!-- example: test/io/jqb/examples/EchoClient.java#client -->
 * <pre>{@code
 * byte[] payload = text.getBytes(StandardCharsets.UTF_8);
 * ByteBuffer request = ByteBuffer.allocateDirect(RequestHeader.LENGTH + payload.length);
 * new RequestHeader().wrap(request, 0).set(1, request.capacity());          // id 1, whole length
 * request.put(RequestHeader.LENGTH, payload);
 * ByteBuffer response = ByteBuffer.allocateDirect(65536);
 * try (Client c = Client.connect(service, 65536)) {
 *     int rc = c.sendRecv(request, response, 5000);   // the length, Errno.WOULD_BLOCK or Errno.TIMED_OUT
 *     if (rc < 0) {
 *         throw new IllegalStateException("no answer: " + Errno.name(rc));
 *     }
 *     ResponseHeader h = new ResponseHeader().wrap(response, 0);
 *     if (h.error() != 0) {
 *         throw new IllegalStateException("service says " + Errno.name(h.error()));
 *     }
 *     byte[] answer = new byte[h.size() - ResponseHeader.LENGTH];
 *     response.get(ResponseHeader.LENGTH, answer);
 *     return new String(answer, StandardCharsets.UTF_8);
 * }   // NotConnectedException (unchecked) when the server dies meanwhile
 * }</pre>
 *
 * <p>Return codes: sends and receives return a length, or {@link Errno#WOULD_BLOCK} / {@link Errno#TIMED_OUT} for
 * the outcomes callers handle routinely. Everything else throws a typed {@link IpcException}:
 * {@link NotConnectedException}, {@link MessageTooLargeException}, {@link BufferTooSmallException} (the message stays
 * queued and the connection usable, unlike libqb).</p>
 *
 * <p>ByteBuffers: a send takes the bytes between position and limit; a receive writes from the position on. Neither
 * moves the position. Timeouts are in milliseconds: 0 = do not wait, negative = wait forever (a server's death still
 * ends the wait with {@link NotConnectedException}).</p>
 *
 * <p>Thread-safe: sends, receives and event receives are each serialised by their own lock.</p>
 */
public final class Client implements AutoCloseable {
    /** The timeout {@link #connect(String, int)} uses for the handshake. */
    public static final int DEFAULT_CONNECT_TIMEOUT_MS = 30_000;

    private final String service;
    private final ClientChannel channel;
    private final int maxMsgSize;
    private final Credentials server;
    private final long serverConnection;
    private final ReentrantLock sendLock = new ReentrantLock();
    private final ReentrantLock recvLock = new ReentrantLock();
    private final ReentrantLock eventLock = new ReentrantLock();
    private volatile int fcEnableMax = 1;
    private volatile WaitStrategy waitStrategy = WaitStrategy.block();
    private volatile Object context;
    private volatile boolean closed;

    private Client(String service, ClientChannel channel, int maxMsgSize, Credentials server, long connection) {
        this.service = service;
        this.channel = channel;
        this.maxMsgSize = maxMsgSize;
        this.server = server;
        this.serverConnection = connection;
        channel.attachSendLock(sendLock);
    }

    /** @return the transport (tests in this package look at its counters) */
    ClientChannel channel() {
        return channel;
    }

    /**
     * Connects and waits for the server's answer ({@code qb_ipcc_connect}).
     *
     * @param service the service name (abstract socket, or {@code /tmp/<service>} in filesystem-socket mode)
     * @param maxMsgSize the buffer size to ask for; the server may grant more ({@link #bufferSize()})
     * @return the connected client
     * @throws IpcException ECONNREFUSED when nobody serves {@code service} in this process's socket mode (also when
     *         the server runs in the other mode; libqb itself says ENOENT when the filesystem socket is missing), the
     *         server's refusal (e.g. EACCES), ETIMEDOUT after {@link #DEFAULT_CONNECT_TIMEOUT_MS}
     */
    public static Client connect(String service, int maxMsgSize) {
        return connectAsync(service, maxMsgSize).finish(DEFAULT_CONNECT_TIMEOUT_MS, true);
    }

    /**
     * Starts a connection without waiting for the server ({@code qb_ipcc_connect_async}): poll
     * {@link PendingConnection#fd()} for readability, then call {@link PendingConnection#complete}.
     *
     * @param service the service name (an abstract socket, or {@code /tmp/<service>} in filesystem-socket mode)
     * @param maxMsgSize the buffer size to ask for; the server may grant more ({@link #bufferSize()})
     * @return the connection under way
     */
    public static PendingConnection connectAsync(String service, int maxMsgSize) {
        Objects.requireNonNull(service, "service");
        if (maxMsgSize < 0) {
            throw new IllegalArgumentException("maxMsgSize=" + maxMsgSize);
        }
        ClientHandshake h;
        boolean filesystem = SocketNames.filesystemMode();
        try (UnixSocket.Address addr = SocketNames.serviceAddress(service, filesystem)) {
            try {
                h = ClientHandshake.start(service, addr, maxMsgSize);
            } catch (IpcException e) {
                if (filesystem && e.errno() == Errno.ENOENT) {
                    // libqb reports the missing socket file as ENOENT; "nobody serves it" is ECONNREFUSED, as in the
                    // abstract namespace (and as with a stale socket file), whichever mode the server is in.
                    throw new IpcException(e.operation(), Errno.ECONNREFUSED, addr + " does not exist: nobody serves '"
                            + service + "' with filesystem sockets (a server in abstract mode is not reachable)");
                }
                throw e;
            }
        }
        return new PendingConnection(service, h);
    }

    /** A connection whose handshake is under way ({@code qb_ipcc_connect_async}). */
    public static final class PendingConnection implements AutoCloseable {
        private final String service;
        private final ClientHandshake handshake;
        private boolean done;

        PendingConnection(String service, ClientHandshake handshake) {
            this.service = service;
            this.handshake = handshake;
        }

        /** @return the socket that becomes readable when the server has answered */
        public int fd() {
            return handshake.fd();
        }

        /**
         * Reads the server's answer and opens the connection ({@code qb_ipcc_connect_continue}).
         *
         * @param timeoutMs how long to wait for the answer; negative = forever
         * @return the connected client
         */
        public Client complete(int timeoutMs) {
            return finish(timeoutMs, false);
        }

        /** {@link #complete}; {@code justSent}: called right after the request went out, wait before reading. */
        Client finish(int timeoutMs, boolean justSent) {
            if (done) {
                throw new IllegalStateException("already completed");
            }
            done = true;
            try {
                handshake.complete(timeoutMs, justSent);
                long size = handshake.maxMsgSize();
                if (size <= 0 || size > Integer.MAX_VALUE / 2) {
                    throw new IpcException("connect(" + service + ")", Errno.EBADMSG, "max_msg_size=" + size);
                }
                Credentials cred = handshake.serverCredentials();
                int type = handshake.connectionType();
                ClientChannel ch;
                switch (type) {
                    case ConnectionResponseDescriptor.TYPE_SHM:
                    case ConnectionResponseDescriptor.TYPE_NATIVE:
                        ch = ShmClientChannel.open(handshake.fd(), cred == null ? 0 : cred.pid(),
                                handshake.requestPath(), handshake.responsePath(), handshake.eventPath(), (int) size,
                                handshake.jqbServer());
                        break;
                    case ConnectionResponseDescriptor.TYPE_SOCKET:
                        ch = SocketClientChannel.open(handshake.fd(), handshake.requestPath(),
                                handshake.responsePath(), (int) size);
                        break;
                    default:
                        throw new IpcException("connect(" + service + ")", Errno.ENOTSUP, "connection_type=" + type);
                }
                handshake.takeSocket();
                return new Client(service, ch, (int) size, cred, handshake.connection());
            } finally {
                handshake.close();
            }
        }

        /** Abandons the connection attempt. */
        @Override
        public void close() {
            if (!done) {
                done = true;
                handshake.close();
            }
        }
    }

    /**
     * The largest message, up to {@code maxMsgSize}, that SOCKET-transport datagrams can carry on this host
     * ({@code qb_ipcc_verify_dgram_max_msg_size}); purely local. Ask a SOCKET service for at most this.
     *
     * @param maxMsgSize the message size wanted
     * @return {@code maxMsgSize}, or the largest size that worked, or -1
     */
    public static int verifyDatagramMaxMsgSize(int maxMsgSize) {
        return io.jqb.internal.socket.Datagrams.verifyMaxMsgSize(maxMsgSize);
    }

    // ------------------------------------------------------------------------------------------- messaging

    /**
     * Sends a request: the bytes between {@code msg}'s position and limit ({@code qb_ipcc_send}). It should start
     * with a 16-byte request header whose size field is the whole length.
     *
     * @param msg the message: the bytes between its position and limit (the position is not moved)
     * @return the length sent, or {@link Errno#WOULD_BLOCK} when the request ring is full or the server's flow
     *         control is on (see {@link #fcEnableMax(int)})
     */
    public int send(ByteBuffer msg) {
        checkSize(msg.remaining(), "send");
        sendLock.lock();
        try {
            checkOpen("send");
            return result(channel.send(msg, fcEnableMax), "send");
        } finally {
            sendLock.unlock();
        }
    }

    /**
     * Sends the concatenation of {@code msgs} as one request ({@code qb_ipcc_sendv}); see {@link #send}.
     *
     * @param msgs the parts, sent as one message in this order (positions are not moved)
     * @return the length sent, or {@link Errno#WOULD_BLOCK}
     */
    public int send(ByteBuffer... msgs) {
        long total = 0;
        for (ByteBuffer b : msgs) {
            total += b.remaining();
        }
        checkSize(total, "sendv");
        sendLock.lock();
        try {
            checkOpen("sendv");
            return result(channel.send(msgs, fcEnableMax), "sendv");
        } finally {
            sendLock.unlock();
        }
    }

    /**
     * Receives the next response ({@code qb_ipcc_recv}) into {@code dst} from its position on.
     *
     * @param dst where the message goes, from its position on (the position is not moved)
     * @param timeoutMs 0 = do not wait, negative = until a response or the server's death
     * @return the response length, {@link Errno#TIMED_OUT}, or {@link Errno#WOULD_BLOCK} (timeout 0)
     * @throws BufferTooSmallException when the response does not fit (it stays queued;
     *         {@link BufferTooSmallException#neededSize()} says how many bytes it needs)
     * @throws NotConnectedException when the server is gone
     */
    public int recv(ByteBuffer dst, int timeoutMs) {
        recvLock.lock();
        try {
            checkOpen("recv");
            return received(channel.recv(dst, nanos(timeoutMs)), dst, false, "recv");
        } finally {
            recvLock.unlock();
        }
    }

    /**
     * Sends a request and waits for its response ({@code qb_ipcc_sendv_recv}).
     *
     * @param request the request, as for {@link #send(ByteBuffer)}
     * @param dst where the message goes, from its position on (the position is not moved)
     * @param timeoutMs milliseconds to wait: 0 = do not wait, negative = until a message arrives or the server is gone
     * @return the response length, {@link Errno#WOULD_BLOCK} (not sent: flow control or full ring), or
     *         {@link Errno#TIMED_OUT} (sent, no response yet: a later {@link #recv} gets it)
     */
    public int sendRecv(ByteBuffer request, ByteBuffer dst, int timeoutMs) {
        int rc = send(request);
        if (rc < 0) {
            return rc;
        }
        return recv(dst, timeoutMs);
    }

    /**
     * Receives the next event ({@code qb_ipcc_event_recv}); see {@link #recv} for the arguments and results.
     *
     * @param dst where the message goes, from its position on (the position is not moved)
     * @param timeoutMs milliseconds to wait: 0 = do not wait, negative = until a message arrives or the server is gone
     * @return the event's length, {@link Errno#TIMED_OUT}, or {@link Errno#WOULD_BLOCK} (timeout 0)
     */
    public int eventRecv(ByteBuffer dst, int timeoutMs) {
        eventLock.lock();
        try {
            checkOpen("event_recv");
            return received(channel.eventRecv(dst, nanos(timeoutMs)), dst, true, "event_recv");
        } finally {
            eventLock.unlock();
        }
    }

    private static long nanos(int timeoutMs) {
        return timeoutMs < 0 ? -1 : timeoutMs * 1_000_000L;
    }

    private void checkSize(long len, String op) {
        if (closed) {
            throw new NotConnectedException(op, "client closed");
        }
        if (len > maxMsgSize) {
            throw new MessageTooLargeException(op, "length=" + len + " max=" + maxMsgSize);
        }
    }

    /** Under a lock that {@link #close()} also takes, so the rings cannot be unmapped underneath. */
    private void checkOpen(String op) throws NotConnectedException {
        if (closed) {
            throw new NotConnectedException(op, "client closed");
        }
    }

    private int received(int rc, ByteBuffer dst, boolean event, String op) {
        if (rc == -Errno.ENOBUFS) {
            throw new BufferTooSmallException(op + "(" + service + ")", channel.refusedLength(event), dst.remaining());
        }
        return result(rc, op);
    }

    private int result(int rc, String op) {
        if (rc >= 0 || rc == Errno.WOULD_BLOCK || rc == Errno.TIMED_OUT) {
            return rc;
        }
        throw IpcException.of(op + "(" + service + ")", rc, null);
    }

    // ------------------------------------------------------------------------------------------- state

    /**
     * @return the fd to poll for events: readable when an event is queued or the server went away
     *         ({@code qb_ipcc_fd_get})
     */
    public int fd() {
        return channel.fd();
    }

    /** @return false once the server has gone or disconnected us ({@code qb_ipcc_is_connected}) */
    public boolean isConnected() {
        return !closed && channel.checkConnected();
    }

    /** @return the agreed buffer size ({@code qb_ipcc_get_buffer_size}) */
    public int bufferSize() {
        return maxMsgSize;
    }

    /** @return the server's pid, uid and gid from the handshake ({@code qb_ipcc_auth_get}), or null if unknown */
    public Credentials serverCredentials() {
        return server;
    }

    /** @return the server's opaque connection field from the handshake */
    public long serverConnection() {
        return serverConnection;
    }

    /**
     * Sets the highest flow-control value that stops sends ({@code qb_ipcc_fc_enable_max_set}); 0 ignores flow
     * control, 1 (default) obeys RATE_OFF, 2 obeys RATE_OFF and RATE_OFF_2.
     *
     * @param max 0, 1 or 2
     */
    public void fcEnableMax(int max) {
        if (max < 0 || max > 2) {
            throw new IllegalArgumentException("max=" + max + " (0..2)");
        }
        this.fcEnableMax = max;
    }

    /**
     * Sets how {@link #recv} and {@link #eventRecv} wait (SHM; the SOCKET transport always blocks). With a spinning
     * strategy and a spinning jqb server, round trips need no system call at all. Default: {@link WaitStrategy#block()}.
     *
     * @param strategy how to wait
     */
    public void setWaitStrategy(WaitStrategy strategy) {
        this.waitStrategy = Objects.requireNonNull(strategy, "strategy");
        channel.setWaitStrategy(strategy);
    }

    /** @return how receives wait (see {@link #setWaitStrategy}) */
    public WaitStrategy waitStrategy() {
        return waitStrategy;
    }

    /**
     * Attaches an application object to this client ({@code qb_ipcc_context_set}); local only.
     *
     * @param context any object, or {@code null}
     */
    public void setContext(Object context) {
        this.context = context;
    }

    /** @return the object set with {@link #setContext} ({@code qb_ipcc_context_get}), or null */
    public Object context() {
        return context;
    }

    /** @return the service name */
    public String service() {
        return service;
    }

    /**
     * Disconnects ({@code qb_ipcc_disconnect}). When the server has died, also removes the connection's files and
     * directory, which nobody else would. Idempotent.
     *
     * <p>Over SHM, a pipelining client may hold its newest requests back for up to about half a millisecond while
     * the server is busy (docs/DESIGN.md, "Doorbells batched while the server is busy"); close delivers them. A JVM
     * that exits within that time of a send without calling close may leave those requests (at most 64) unsent,
     * although their sends returned success.</p>
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        // A receive waiting in another thread (even forever, on a live but silent server) holds its lock: make it
        // give up (NotConnectedException) instead of making close wait for it.
        channel.abort();
        sendLock.lock();
        recvLock.lock();
        eventLock.lock();
        try {
            channel.close();
        } finally {
            eventLock.unlock();
            recvLock.unlock();
            sendLock.unlock();
        }
    }
}
