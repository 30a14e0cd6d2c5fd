package io.jqb.internal.client;

import java.nio.ByteBuffer;

/**
 * The transport seam on the client side (SHM or SOCKET). Return values: a length (≥ 0), or a negated errno:
 * {@code -EAGAIN} (would block / nothing yet), {@code -ETIMEDOUT}, {@code -ENOTCONN}, {@code -ENOBUFS} (message
 * kept), {@code -EBADMSG} (the peer corrupted the shared state). Callers serialise each direction.
 */
public interface ClientChannel {
    /** Sends one message (flow control and liveness checked first). */
    int send(ByteBuffer msg, int fcEnableMax);

    int send(ByteBuffer[] msgs, int fcEnableMax);

    /** Receives a response into dst[position, ...) without moving its position. */
    int recv(ByteBuffer dst, long timeoutNanos);

    /** Receives an event; see {@link #recv}. */
    int eventRecv(ByteBuffer dst, long timeoutNanos);

    /**
     * The length of the message the last receive in this direction refused with {@code -ENOBUFS} (the caller's
     * serialisation of the direction makes it safe to read right after that receive), or -1 when unknown.
     */
    default int refusedLength(boolean event) {
        return -1;
    }

    /** The fd that becomes readable when an event is queued or the server goes away. */
    int fd();

    /** Polls the connection state without blocking. @return false once the server is gone */
    boolean checkConnected();

    /**
     * Gives the channel the lock its caller serialises sends with, before the first send: a channel that holds
     * requests back (SHM) releases them from a receiving thread or its flusher with {@code tryLock} on it.
     */
    default void attachSendLock(java.util.concurrent.locks.ReentrantLock lock) {
    }

    /** How receives wait; transports that cannot spin ignore it. */
    default void setWaitStrategy(io.jqb.WaitStrategy strategy) {
    }

    /**
     * Makes receives (and doorbell waits) that are blocked now or start later return {@code -ENOTCONN} promptly, so
     * that {@link #close()} can take the caller's locks. Called by another thread, without those locks.
     */
    default void abort() {
    }

    /** Disconnects; removes the server's files when the server is provably dead. */
    void close();
}
