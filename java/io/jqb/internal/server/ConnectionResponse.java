package io.jqb.internal.server;

import io.jqb.IpcException;
import io.jqb.internal.posix.Posix;
import io.jqb.internal.setup.UnixSocket;
import io.jqb.internal.wire.ConnectionResponseDescriptor;

/** Builds and sends the 12328-byte connection response. */
public final class ConnectionResponse {
    private ConnectionResponse() {
    }

    /**
     * Sends a response: zeroed, then filled. A refusal passes {@code error} non-zero and everything else zero/null.
     */
    public static void send(int fd, int error, int type, int maxMsgSize, long connection, String request,
            String response, String event) throws IpcException {
        send(fd, error, type, maxMsgSize, connection, request, response, event, 0);
    }

    /**
     * As {@link #send(int, int, int, int, long, String, String, String)}; a non-zero {@code capability} (a
     * {@link io.jqb.internal.wire.ConnectionRequestDescriptor} capability value) is written to padding libqb ignores
     * (only for clients that sent one).
     */
    public static void send(int fd, int error, int type, int maxMsgSize, long connection, String request,
            String response, String event, int capability) throws IpcException {
        send(fd, error, type, maxMsgSize, connection, request, response, event, null, capability);
    }

    /**
     * The accepted connection's response: {@code ch}'s type and paths ({@link ServerChannel#putPaths}, which a SOCKET
     * channel writes without building path strings).
     */
    public static void send(int fd, ServerChannel ch, int maxMsgSize, long connection, int capability)
            throws IpcException {
        send(fd, 0, ch.connectionType(), maxMsgSize, connection, null, null, null, ch, capability);
    }

    private static void send(int fd, int error, int type, int maxMsgSize, long connection, String request,
            String response, String event, ServerChannel ch, int capability) throws IpcException {
        final int len = ConnectionResponseDescriptor.LENGTH;
        long b = Posix.allocate(len);
        try {
            Posix.MEM.writeInt(b + ConnectionResponseDescriptor.ID_OFFSET, -1);
            Posix.MEM.writeInt(b + ConnectionResponseDescriptor.SIZE_OFFSET, len);
            Posix.MEM.writeInt(b + ConnectionResponseDescriptor.ERROR_OFFSET, error);
            if (error == 0) {
                Posix.MEM.writeInt(b + ConnectionResponseDescriptor.CONNECTION_TYPE_OFFSET, type);
                Posix.MEM.writeInt(b + ConnectionResponseDescriptor.MAX_MSG_SIZE_OFFSET, maxMsgSize);
                Posix.MEM.writeLong(b + ConnectionResponseDescriptor.CONNECTION_OFFSET, connection);
                if (capability != 0) {
                    Posix.MEM.writeInt(b + ConnectionResponseDescriptor.CAPABILITY_OFFSET, capability);
                }
                if (ch != null) {
                    ch.putPaths(b + ConnectionResponseDescriptor.REQUEST_PATH_OFFSET,
                            b + ConnectionResponseDescriptor.RESPONSE_PATH_OFFSET,
                            b + ConnectionResponseDescriptor.EVENT_PATH_OFFSET,
                            ConnectionResponseDescriptor.PATH_LENGTH - 1);
                } else {
                    putPath(b + ConnectionResponseDescriptor.REQUEST_PATH_OFFSET, request);
                    putPath(b + ConnectionResponseDescriptor.RESPONSE_PATH_OFFSET, response);
                    putPath(b + ConnectionResponseDescriptor.EVENT_PATH_OFFSET, event);
                }
            }
            UnixSocket.sendFully(fd, b, len, 1000, "send(connection response)");
        } finally {
            Posix.free(b, len);
        }
    }

    private static void putPath(long at, String s) {
        if (s == null) {
            return;
        }
        Posix.putUtf8(at, s, null, ConnectionResponseDescriptor.PATH_LENGTH - 1);
    }
}
