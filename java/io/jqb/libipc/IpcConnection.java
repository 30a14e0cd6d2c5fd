package io.jqb.libipc;

import io.jqb.Errno;
import io.jqb.IpcException;
import io.jqb.MessageTooLargeException;
import io.jqb.libipc.internal.Errors;
import io.jqb.libipc.internal.FrameReader;
import io.jqb.libipc.internal.FrameWriter;
import io.jqb.libipc.internal.PeerPrincipals;
import io.jqb.libipc.internal.RawSocket;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import jdk.net.ExtendedSocketOptions;
import jdk.net.UnixDomainPrincipal;

/**
 * One stream connection: a client accepted by an {@link IpcServer}, or a client's link to its server. Messages are
 * written with {@link #write}; they are received through the owner's {@code waitEvent} (or {@link IpcClient#read}).
 *
 * <p>Writes are whole frames in one write call, which never blocks (a server's socket is non-blocking; a client's
 * sends with {@code MSG_DONTWAIT}, its receives block on the fd). When the peer does not read:
 * <ul>
 * <li>on a server's connection, what the socket does not take is queued (up to the server's
 * {@code maxPendingOutput} bytes, default 4 MiB) and sent by {@code waitEvent} when the peer reads again, so one slow
 * reader never stalls the loop and the others; a write that finds the queue over its limit shuts the connection
 * down (reported as DISCONNECTION by the next {@code waitEvent}) and throws ENOBUFS;</li>
 * <li>on a client's connection, a write waits up to the write time-out for room (C libipc blocks forever); a frame
 * left half-written would break the stream, so the connection is then shut down and the write throws
 * ETIMEDOUT.</li>
 * </ul>
 * Writes may come from any thread (they are serialised); everything else belongs to the loop's thread.
 */
public final class IpcConnection implements AutoCloseable {
    /** Server side: the accepted channel, registered with the server's selector. Null on a client. */
    final SocketChannel channel;
    /** Client side: the socket as a plain fd ({@link ClientLoop} receives on it directly). Null on a server. */
    final RawSocket raw;
    /** What frames are read from and written to: {@link #channel} or {@link #raw}. */
    private final ByteChannel io;
    final FrameReader reader;
    private final FrameWriter writer = new FrameWriter();
    private final int maxPayload;
    private final long writeTimeoutMs;
    private final String name;
    /** Server side: queue what the socket does not take, up to maxPending bytes. Client side (0): wait for room. */
    private final int maxPending;
    SelectionKey key;
    /** In the loop's ready queue. */
    boolean queued;
    /** Watched by the loop (added and not deleted). */
    boolean watched;
    private volatile boolean closed;
    private Selector writeWait;
    /** Told once when the connection closes (the server forgets it). */
    java.util.function.Consumer<IpcConnection> onClose;

    IpcConnection(SocketChannel channel, int maxPayload, long writeTimeoutMs, int maxPending, String name) {
        this(channel, null, maxPayload, writeTimeoutMs, maxPending, name);
    }

    /** A client's connection on a plain fd: writes wait up to {@code writeTimeoutMs} for room. */
    IpcConnection(RawSocket raw, int maxPayload, long writeTimeoutMs, String name) {
        this(null, raw, maxPayload, writeTimeoutMs, 0, name);
    }

    private IpcConnection(SocketChannel channel, RawSocket raw, int maxPayload, long writeTimeoutMs, int maxPending,
            String name) {
        this.channel = channel;
        this.raw = raw;
        this.io = channel != null ? channel : raw;
        this.reader = new FrameReader(maxPayload);
        this.maxPayload = maxPayload;
        this.writeTimeoutMs = writeTimeoutMs;
        this.maxPending = maxPending;
        this.name = name;
    }

    /**
     * Sends one message.
     *
     * @param message the message
     * @throws MessageTooLargeException when the payload exceeds the configured maximum
     * @throws IpcException when the connection is closed or broken, or the peer does not read for the write time-out
     */
    public void write(IpcMessage message) {
        write(message.type(), message.payload());
    }

    /**
     * Sends one frame: {@code type} and {@code payload}'s remaining bytes (its position does not move).
     *
     * @param type the type byte (any value)
     * @param payload the payload, or null for none
     * @throws MessageTooLargeException when the payload exceeds the configured maximum
     * @throws IpcException when the connection is closed or broken, or the peer does not read for the write time-out
     */
    public void write(byte type, ByteBuffer payload) {
        int length = payload == null ? 0 : payload.remaining();
        if (length > maxPayload) {
            throw new MessageTooLargeException("write(" + name + ")", "payload " + length + " > maximum "
                    + maxPayload);
        }
        synchronized (writer) {
            if (closed) {
                throw IpcException.of("write(" + name + ")", Errno.ENOTCONN, "connection closed");
            }
            try {
                if (maxPending > 0) {
                    queue(type, payload);
                    return;
                }
                writer.encode(type, payload);
                if (!writer.flush(io)) {
                    flushSlowly();
                }
            } catch (IOException e) {
                writer.discard();
                throw Errors.of("write(" + name + ")", e);
            }
        }
    }

    /** Server side: send now if nothing is queued, else queue behind it; the loop flushes on OP_WRITE. */
    private void queue(byte type, ByteBuffer payload) throws IOException {
        int before = writer.pending();
        if (before > 0) {
            if (before > maxPending) {
                writer.discard();
                shutdown();
                throw new IpcException("write(" + name + ")", Errno.ENOBUFS, before
                        + " bytes already queued for a peer that does not read (limit " + maxPending
                        + "); connection shut down");
            }
            writer.append(type, payload);
            return;
        }
        writer.encode(type, payload);
        if (!writer.flush(io)) {
            updateInterest();
            SelectionKey k = key;
            if (k != null) {
                k.selector().wakeup(); // a select already in progress must see OP_WRITE
            }
        }
    }

    /** The loop: the socket has room again. */
    void flushQueued() {
        synchronized (writer) {
            try {
                if (writer.pending() > 0 && !closed) {
                    writer.flush(io);
                }
            } catch (IOException e) {
                writer.discard(); // the peer is gone: its EOF or reset is reported by the read side
            }
            updateInterest();
        }
    }

    /** @return bytes queued for the peer (server side) */
    int queued() {
        synchronized (writer) {
            return writer.pending();
        }
    }

    /** Interest: OP_READ while watched, OP_WRITE while something is queued. */
    void updateInterest() {
        SelectionKey k = key;
        if (k == null || !k.isValid()) {
            return;
        }
        int ops = (watched ? SelectionKey.OP_READ : 0);
        synchronized (writer) {
            if (writer.pending() > 0) {
                ops |= SelectionKey.OP_WRITE;
            }
        }
        try {
            k.interestOps(ops);
        } catch (java.nio.channels.CancelledKeyException e) {
            // closed meanwhile
        }
    }

    /** At server close: gives what is queued up to {@code timeoutMs} to leave. */
    void drain(long timeoutMs) {
        synchronized (writer) {
            if (writer.pending() == 0 || closed) {
                return;
            }
            try {
                if (!writer.flush(io)) {
                    long saved = timeoutMs;
                    flushSlowly(saved);
                }
            } catch (IOException | IpcException e) {
                writer.discard();
            }
        }
    }

    /** The peer's receive buffer is full: wait for room, up to the write time-out, then give the connection up. */
    private void flushSlowly() throws IOException {
        flushSlowly(writeTimeoutMs);
    }

    private void flushSlowly(long timeoutMs) throws IOException {
        long deadline = System.nanoTime() + timeoutMs * 1_000_000L;
        if (raw != null) {
            for (;;) {
                long leftNs = deadline - System.nanoTime();
                long left = (leftNs + 999_999) / 1_000_000L; // poll's ms rounded up: never give up early
                if (leftNs <= 0) {
                    writer.discard();
                    shutdown();
                    throw new IpcException("write(" + name + ")", Errno.ETIMEDOUT, "the peer read nothing for "
                            + timeoutMs + " ms; connection shut down");
                }
                raw.awaitWritable((int) Math.min(left, Integer.MAX_VALUE));
                if (writer.flush(io)) {
                    return;
                }
            }
        }
        if (writeWait == null) {
            writeWait = Selector.open();
            channel.register(writeWait, SelectionKey.OP_WRITE);
        }
        for (;;) {
            long left = (deadline - System.nanoTime()) / 1_000_000L;
            if (left <= 0) {
                writer.discard();
                shutdown();
                throw new IpcException("write(" + name + ")", Errno.ETIMEDOUT, "the peer read nothing for "
                        + timeoutMs + " ms; connection shut down");
            }
            writeWait.select(left);
            writeWait.selectedKeys().clear();
            if (writer.flush(io)) {
                return;
            }
        }
    }

    /** Ends both directions; the loop then sees EOF and reports DISCONNECTION. */
    private void shutdown() {
        if (raw != null) {
            raw.shutdown();
            return;
        }
        try {
            channel.shutdownInput();
            channel.shutdownOutput();
        } catch (IOException e) {
            // already broken: the loop sees that too
        }
    }

    /**
     * The peer's credentials (SO_PEERCRED), taken when the connection was made.
     *
     * @return user and group of the peer process
     * @throws IpcException when the socket is closed
     */
    public UnixDomainPrincipal peer() {
        try {
            if (raw != null) {
                return PeerPrincipals.of(raw.peerCredentials());
            }
            return channel.getOption(ExtendedSocketOptions.SO_PEERCRED);
        } catch (IOException e) {
            throw Errors.of("peer(" + name + ")", e);
        }
    }

    /** @return false once closed (by {@link #close()}, by the loop at DISCONNECTION/ERROR, or by its owner) */
    public boolean isOpen() {
        return !closed;
    }

    /** Closes the socket. The owner's loop stops watching it and reports nothing more for it. Idempotent. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        watched = false;
        if (onClose != null) {
            onClose.accept(this);
        }
        if (raw != null) {
            raw.close(); // before the lock: wakes a write waiting for room (and a blocked receive)
        }
        synchronized (writer) {
            try {
                if (writeWait != null) {
                    writeWait.close();
                }
                io.close();
            } catch (IOException e) {
                // closing: nothing to do
            }
        }
    }

    @Override
    public String toString() {
        return "IpcConnection[" + name + (closed ? ", closed" : "") + "]";
    }
}
