package io.jqb.internal.server;

import java.nio.ByteBuffer;

/**
 * The transport seam on the server side: one instance per connection, SHM or SOCKET. The service and
 * {@code Connection} code above it is the same for both.
 */
public interface ServerChannel {
    /**
     * A send's status: the peer has not bound the socket this message goes to yet (SOCKET transport, right after the
     * handshake). The caller queues the message and retries later instead of sleeping, as libqb does, on the loop.
     */
    int NOT_YET_CONNECTED = Integer.MIN_VALUE + 1;

    /** Receives requests from {@link #onEvents}. */
    interface RequestSink {
        /**
         * @param request a view of the request (position..limit)
         * @return false to end this batch (libqb's back-off: {@code msg_process} returned a negative value); the
         *         request is consumed either way and the rest is served on a later wake-up
         */
        boolean onRequest(ByteBuffer request);
    }

    /** What a channel asks of its connection. */
    interface Owner {
        /** Re-computes the fd interest (POLLOUT for pending notifications, POLLIN unless flow control is on). */
        void interestChanged();

        /** The peer went away or broke the protocol; {@code why} is logged. */
        void fail(String why);

        /** The peer broke the protocol (corrupt shared memory, bad header): logged as a warning, then dropped. */
        default void violation(String why) {
            fail(why);
        }

        /** Counts a request read that found nothing. */
        void recvRetry();

        /** @return true while the connection reads no requests (its send backlog is not empty) */
        default boolean paused() {
            return false;
        }
    }

    /** Wire value of {@code connection_type}. */
    int connectionType();

    /** The three path strings of the connection response. */
    String requestPath();

    String responsePath();

    String eventPath();

    /**
     * Writes the three paths of the connection response, NUL-free UTF-8 of at most {@code max} bytes each, at the
     * given addresses (zeroed memory); by default {@link #requestPath()}, {@link #responsePath()} and
     * {@link #eventPath()}. A channel that keeps its paths in parts writes them without building the strings.
     */
    default void putPaths(long request, long response, long event, int max) {
        io.jqb.internal.posix.Posix.putUtf8(request, requestPath(), null, max);
        io.jqb.internal.posix.Posix.putUtf8(response, responsePath(), null, max);
        io.jqb.internal.posix.Posix.putUtf8(event, eventPath(), null, max);
    }

    /** The fd the loop watches for requests. */
    int fd();

    /** A second fd watched only for the client's hang-up (SOCKET: the setup socket), or -1. */
    default int livenessFd() {
        return -1;
    }

    /**
     * Handles readiness of {@link #livenessFd()}.
     *
     * @return false when the connection must be torn down ({@link Owner#fail} was called)
     */
    default boolean onLivenessEvents(int revents) {
        return true;
    }

    /** Sends a response; thread-safe. @return length, WOULD_BLOCK, or a negated errno */
    int sendResponse(ByteBuffer msg);

    int sendResponse(ByteBuffer[] msgs);

    /** Sends an event and its notification; thread-safe. @return length, WOULD_BLOCK, or a negated errno */
    int sendEvent(ByteBuffer msg);

    int sendEvent(ByteBuffer[] msgs);

    /**
     * Sends an event but owes its notification (SHM: the doorbell byte) until {@link #flushDeferredNotifications()};
     * loop thread only, and the loop must flush before it sleeps. Transports without notifications send as
     * {@link #sendEvent(ByteBuffer)}. @return length, WOULD_BLOCK, or a negated errno
     */
    default int sendEventDeferred(ByteBuffer msg) {
        return sendEvent(msg);
    }

    /** Sends the notifications owed by {@link #sendEventDeferred} in as few system calls as the socket takes. */
    default void flushDeferredNotifications() {
    }

    /** @return true when more requests of this client wait to be served (loop thread, while serving) */
    default boolean requestsQueued() {
        return false;
    }

    /**
     * Handles readiness of {@link #fd()} on the loop thread: serves up to {@code budget} requests.
     *
     * @return false when the connection must be torn down ({@link Owner#fail} was called)
     */
    boolean onEvents(int revents, int budget, RequestSink sink);

    /**
     * Serves queued requests without being told by the loop (a spinning {@code EventLoop} calls this).
     *
     * @return true when it served any; false when none were queued or the channel cannot be polled
     */
    default boolean pollRequests(int budget, RequestSink sink) {
        return false;
    }

    /** @return true when this transport's requests can be polled (SHM) */
    default boolean pollable() {
        return false;
    }

    /**
     * Advertises to a jqb client whether the loop is polling the request ring ({@code awake}), so it may skip the
     * doorbell byte; going to sleep withdraws it and returns whether requests are pending.
     */
    default boolean advertiseAwake(boolean awake) {
        return false;
    }

    /** {@link #settleDraining()}: requests are queued; the flag says {@code READER_POLLING}, serve them again. */
    int DRAIN_KEEP = 1;
    /** {@link #settleDraining()}: nothing queued; the flag says {@code READER_ASLEEP} again. */
    int DRAIN_IDLE = 0;
    /** {@link #settleDraining()}: the connection may not be read (flow control, backlog); flag withdrawn. */
    int DRAIN_PAUSED = -1;

    /**
     * @return true when the client reads the request ring's reader-mode flag (a jqb SHM client), so a blocking loop
     *         may advertise that it is draining the ring ({@link #advertiseDraining()}) and the client skips doorbells
     */
    default boolean drainable() {
        return false;
    }

    /**
     * A blocking loop is about to serve this connection on POLLIN: advertise {@code READER_POLLING} on the request
     * ring (a store, only when not already advertised), so the client posts its requests but sends no doorbell byte
     * until {@link #settleDraining()} withdraws it. Loop thread only.
     */
    default void advertiseDraining() {
    }

    /**
     * The blocking loop's pass ends: keeps the advertisement while requests are queued ({@link #DRAIN_KEEP}: the
     * loop must serve them without waiting for epoll, a skipped doorbell makes no fd readable); otherwise withdraws
     * it with the Dekker re-check (flag {@code READER_ASLEEP}, full fence, semaphore read): either the client's
     * read of the flag, which follows its post, sees ASLEEP and rings, or this read sees the post (then
     * {@link #DRAIN_KEEP} again). Loop thread only.
     *
     * @return {@link #DRAIN_KEEP}, {@link #DRAIN_IDLE} or {@link #DRAIN_PAUSED}
     */
    default int settleDraining() {
        return DRAIN_IDLE;
    }

    /**
     * What the handshake agreed: {@code jqbPeer} the client sent a jqb capability ("JQB1" or "JQB2": doorbell
     * elision); {@code writePtDetect} both ends do write_pt detection (the client said "JQB2" and it is on here).
     */
    default void setJqbPeer(boolean jqbPeer, boolean writePtDetect) {
    }

    /** @return true while event notifications wait for the socket to become writable */
    boolean notificationsPending();

    /**
     * @return true when POLLOUT on {@link #fd()} means the client has taken responses and more fit (SOCKET, once
     *         its response socket is connected: responses leave through that socket); false where nothing signals
     *         room (SHM: the client does not tell the server when it drained its ring)
     */
    default boolean writableSignalsResponseRoom() {
        return false;
    }

    void setFlowControl(int value);

    int eventQueueLength();

    /** Stops all I/O and closes the fd (called on disconnect, on the loop thread). */
    void closeSocket();

    /** Unmaps and removes every file (called when the last reference goes). */
    void destroy();
}
