package io.jqb;

import java.nio.ByteBuffer;

/**
 * A service's callbacks ({@code struct qb_ipcs_service_handlers}). All run on the service's loop thread.
 */
public interface ServiceHandler {
    /**
     * A client completed the handshake. Decide whether to serve it; {@link Connection#authSet} may be called here.
     *
     * @param connection the client's connection
     * @param uid the user id
     * @param gid the group id
     * @return 0 to accept, or a negated errno that the client's connect fails with (e.g. {@code -Errno.EACCES})
     */
    default int accept(Connection connection, int uid, int gid) {
        return 0;
    }

    /**
     * The connection is established and the client has its response; sending events here is fine.
     *
     * @param connection the client's connection
     */
    default void created(Connection connection) {
    }

    /**
     * A request arrived.
     *
     * @param connection the client's connection
     * @param request the request bytes between position and limit (the request header's size field), little-endian
     *        and read-only; valid only during this call (a view of the shared ring or, over SOCKET, of the receive
     *        buffer the service's connections share; not a copy)
     * @return 0 (or positive) to go on; negative to back off, as libqb's {@code msg_process}: this request is
     *         consumed, and the connection's further queued requests wait for the loop's next wake-up instead of
     *         being served in the same batch (other connections get their turn first)
     */
    int message(Connection connection, ByteBuffer request);

    /**
     * The connection was closed (by the client, the server or an error). Return non-zero to be called again
     * later, for example while work for this connection is still in flight.
     *
     * @param connection the client's connection
     * @return 0 when done, non-zero to be called again later
     */
    default int closed(Connection connection) {
        return 0;
    }

    /**
     * The last reference is gone; the connection's files are removed right after this returns.
     *
     * @param connection the client's connection
     */
    default void destroyed(Connection connection) {
    }
}
