package io.jqb.internal.client;

import io.jqb.Errno;
import io.jqb.IpcException;
import io.jqb.internal.posix.LibC;
import io.jqb.internal.posix.Posix;

/**
 * What the SHM and SOCKET client channels share: the connected/aborted state, the lengths of refused messages,
 * the connection directory, the flow-control rule and the liveness poll of the setup socket.
 */
abstract class AbstractClientChannel implements ClientChannel {
    /** poll revents that mean the peer is gone. */
    static final int DEAD = LibC.POLLHUP | LibC.POLLERR | LibC.POLLNVAL;

    /** The connection's directory (the parent of its files); removed at close when nobody else will. */
    final String directory;
    volatile boolean connected = true;
    /** Set by {@link #abort()}: the client is closing, every wait ends within one slice. */
    volatile boolean aborted;
    /** {@link #refusedLength}: [0] responses, [1] events; each written under its direction's lock. */
    final int[] refused = {-1, -1};

    /** @param fileInDirectory any file of the connection; its parent is {@link #directory} */
    AbstractClientChannel(String fileInDirectory) {
        this.directory = fileInDirectory.substring(0, Math.max(fileInDirectory.lastIndexOf('/'), 0));
    }

    /** @return {@link Errno#WOULD_BLOCK} when the server's flow-control level {@code fc} holds sends back, else 0 */
    static int flowControlled(int fc, int fcEnableMax) {
        return fc > 0 && fc <= fcEnableMax ? Errno.WOULD_BLOCK : 0;
    }

    /**
     * Polls {@code fd} without blocking; a hang-up, error or failed poll marks the channel disconnected.
     *
     * @param pollfd 8 bytes of native memory for the pollfd
     * @return whether the channel is still connected
     */
    final boolean pollConnected(int fd, long pollfd) {
        if (!connected) {
            return false;
        }
        try {
            if ((Posix.pollOne(fd, 0, 0, pollfd) & DEAD) != 0) {
                connected = false;
            }
        } catch (IpcException e) {
            connected = false;
        }
        return connected;
    }

    @Override
    public final int refusedLength(boolean isEvent) {
        return refused[isEvent ? 1 : 0];
    }

    @Override
    public final void abort() {
        aborted = true;
    }
}
