package io.jqb.libipc;

import io.jqb.IpcException;
import io.jqb.NotConnectedException;
import io.jqb.libipc.internal.RawSocket;
import java.nio.ByteBuffer;
import java.nio.channels.SelectableChannel;
import java.nio.file.Path;

/**
 * A libipc client ({@code ipc_connection}, {@code ipc_read}, {@code ipc_write}, {@code ipc_close}): one stream
 * connection to {@code <run dir>/<name>-<index>-<version>}. Unlike C libipc, a failed connect throws (it never exits
 * the process).
 *
 * <p>Receive either with {@link #read} (the next message, blocking up to a time-out) or with {@link #waitEvent}
 * (MESSAGE, SERVER_CLOSE, DISCONNECTION, EXTRA_FD for fds added with {@code addFd}, TIMEOUT). Not both from
 * different threads: the receiving side belongs to one thread. {@link #write} may be called from any thread, and
 * {@link #close} too (a receive blocked in another thread then ends with {@link NotConnectedException}).
 *
 * <p>While no fd is added, a receive is one blocking {@code recv} straight on the socket (as the C client does: a
 * request/response round trip costs one send and usually one recv); with fds added, a selector waits on them and on
 * the socket. A blocked receive notices an interrupt within 100 ms ({@link IpcException} EINTR; the connection stays
 * open). Nothing is allocated per message.
 */
public final class IpcClient implements AutoCloseable {
    private final IpcConnection connection;
    private final ClientLoop loop;
    private final String name;
    private final Path path;

    /** Options for {@link Builder#connect()}. */
    public static final class Builder {
        private final EndpointPath endpoint;
        private int maxPayload = IpcServer.DEFAULT_MAX_PAYLOAD;
        private long writeTimeoutMs = IpcServer.DEFAULT_WRITE_TIMEOUT_MS;

        private Builder(String name) {
            this.endpoint = new EndpointPath(name);
        }

        /**
         * @param dir the run directory (default: system property {@code jqb.libipc.rundir}, else {@code IPC_RUNDIR},
         *        else {@code /run/ipc/})
         * @return this
         */
        public Builder runDirectory(String dir) {
            endpoint.runDirectory = dir;
            return this;
        }

        /**
         * @param index the path's index field (0 in every libipc program)
         * @return this
         */
        public Builder index(int index) {
            endpoint.index = index;
            return this;
        }

        /**
         * @param version the path's version field (0 in every libipc program)
         * @return this
         */
        public Builder version(int version) {
            endpoint.version = version;
            return this;
        }

        /**
         * @param max largest payload accepted and sent (default {@link IpcServer#DEFAULT_MAX_PAYLOAD}, at most
         *        {@link IpcServer#MAX_PAYLOAD_CAP})
         * @return this
         */
        public Builder maxPayload(int max) {
            if (max < 0 || max > IpcServer.MAX_PAYLOAD_CAP) {
                throw new IllegalArgumentException("maxPayload=" + max + " (0.." + IpcServer.MAX_PAYLOAD_CAP + ")");
            }
            this.maxPayload = max;
            return this;
        }

        /**
         * @param ms how long a write waits for a server that does not read
         * @return this
         */
        public Builder writeTimeoutMs(long ms) {
            this.writeTimeoutMs = ms;
            return this;
        }

        /** @return the connected client */
        public IpcClient connect() {
            return new IpcClient(this);
        }
    }

    /**
     * @param name the service name
     * @return options; finish with {@link Builder#connect()}
     */
    public static Builder builder(String name) {
        return new Builder(name);
    }

    /**
     * {@code ipc_connection}: connects to the service with default options.
     *
     * @param name the service name
     * @return the connected client
     * @throws IpcException ECONNREFUSED (stale socket), ENOENT (no socket), EACCES, ENAMETOOLONG, ...
     */
    public static IpcClient connect(String name) {
        return new Builder(name).connect();
    }

    private IpcClient(Builder b) {
        this.name = b.endpoint.name;
        String op = "connect(" + name + ")";
        this.path = b.endpoint.socketPath(op);
        RawSocket socket = RawSocket.connect(path.toString(), op + ": " + path);
        this.connection = new IpcConnection(socket, b.maxPayload, b.writeTimeoutMs, name);
        this.loop = new ClientLoop(connection, name);
    }

    /**
     * {@code ipc_write}: sends one message (one write call).
     *
     * @param message the message
     * @throws IpcException when the server is gone or does not read for the write time-out
     */
    public void write(IpcMessage message) {
        connection.write(message);
    }

    /**
     * Sends one frame of {@code type} with {@code payload}'s remaining bytes (its position does not move).
     *
     * @param type the type byte
     * @param payload the payload, or null
     */
    public void write(byte type, ByteBuffer payload) {
        connection.write(type, payload);
    }

    /**
     * {@code ipc_read}: the next message (including a SERVER_CLOSE one, type 0), a view valid until the next
     * {@code read}/{@code waitEvent}. Not while fds are added with {@code addFd}: use {@link #waitEvent} then.
     *
     * @param timeoutMs how long to wait: negative forever, 0 only what is buffered or ready
     * @return the message, or null after the time-out
     * @throws NotConnectedException when the server closed the connection (or it was reset)
     * @throws IpcException for a frame over the maximum (the connection is then closed)
     * @throws IllegalStateException while fds are added (their events would be lost)
     */
    public IpcMessage read(long timeoutMs) {
        return loop.read(timeoutMs);
    }

    /**
     * The next event: MESSAGE, SERVER_CLOSE (the server announced its close), DISCONNECTION (the server hung up;
     * the connection is closed), EXTRA_FD, ERROR or TIMEOUT. The returned object is reused by the next call.
     *
     * @param timeoutMs how long to wait: negative forever, 0 only what is ready now
     * @return the event
     */
    public IpcEvent waitEvent(long timeoutMs) {
        return loop.waitEvent(timeoutMs);
    }

    /**
     * Reports EXTRA_FD from {@link #waitEvent} whenever {@code channel} is readable.
     *
     * @param channel a selectable channel (made non-blocking)
     */
    public void addFd(SelectableChannel channel) {
        loop.addFd(channel);
    }

    /**
     * Reports EXTRA_FD whenever raw fd {@code fd} is readable.
     *
     * @param fd an open fd you keep owning
     */
    public void addFd(int fd) {
        loop.addFd(fd);
    }

    /**
     * @param channel a channel added with {@link #addFd(SelectableChannel)}
     * @return false when it was not added
     */
    public boolean delFd(SelectableChannel channel) {
        return loop.delFd(channel);
    }

    /**
     * @param fd a raw fd added with {@link #addFd(int)}; not polled any more once this returns
     * @return false when it was not added
     */
    public boolean delFd(int fd) {
        return loop.delFd(fd);
    }

    /** @return the connection to the server */
    public IpcConnection connection() {
        return connection;
    }

    /** @return the socket path connected to */
    public Path path() {
        return path;
    }

    /** {@code ipc_close}: closes the connection (nothing is sent) and the selector. Idempotent. */
    @Override
    public void close() {
        loop.close();
        connection.close();
    }
}
