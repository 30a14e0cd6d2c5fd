package io.jqb.notify.internal;

/**
 * The broker's link to brokers on other hosts: the one seam between the broker and its cross-host transport
 * (today {@link StreamPeerNetwork}, jqb's stream layer over TCP).
 * The broker applies the whitelist on both sides of this interface.
 */
public interface PeerNetwork extends AutoCloseable {
    /** Sends a notification to every connected peer; never blocks (drops when a peer's queue is full). */
    void publish(Note note);

    /** @return the TCP port peers connect to, or -1 when not listening */
    int port();

    /** @return peers connected now */
    int connectedPeers();

    /** Closes every link and the listening socket, and stops the threads. */
    @Override
    void close();
}
