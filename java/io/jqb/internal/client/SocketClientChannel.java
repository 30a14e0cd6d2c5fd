package io.jqb.internal.client;

import static io.jqb.internal.posix.Posix.C;

import io.jqb.Errno;
import io.jqb.IpcException;
import io.jqb.internal.posix.LibC;
import io.jqb.internal.posix.Posix;
import io.jqb.internal.setup.UnixSocket;
import io.jqb.internal.socket.ControlFile;
import io.jqb.internal.socket.Datagrams;
import io.jqb.internal.wire.ControlFileDescriptor;
import java.nio.ByteBuffer;

/**
 * Client side of one SOCKET connection: the server's control file, a datagram socket bound to {@code B-response}
 * and connected to {@code B-request} (requests out, responses in) and one bound to {@code B-event} and connected to
 * {@code B-event-tx}. Waits poll the data socket together with the setup socket, so a dead server ends any wait
 * at once.
 */
public final class SocketClientChannel extends AbstractClientChannel {
    private final int setupFd;
    private final int requestFd;
    private final int eventFd;
    private final ControlFile control;
    private final int maxMsgSize;
    private final Datagrams sendIo;
    private final Datagrams recvIo;
    private final Datagrams eventIo;
    /** Native scratch: [0] two pollfds for recv, [16] two for events, [32] one for liveness checks. */
    private final long scratch;
    private boolean closed;

    private SocketClientChannel(int setupFd, int requestFd, int eventFd, ControlFile control, int maxMsgSize) {
        super(control.path());
        this.setupFd = setupFd;
        this.requestFd = requestFd;
        this.eventFd = eventFd;
        this.control = control;
        this.maxMsgSize = maxMsgSize;
        this.sendIo = new Datagrams(maxMsgSize);
        this.recvIo = new Datagrams(maxMsgSize);
        this.eventIo = new Datagrams(maxMsgSize);
        this.scratch = Posix.allocate(40);
    }

    /**
     * @param controlPath the response's request field
     * @param base the response's response field (B)
     */
    public static SocketClientChannel open(int setupFd, String controlPath, String base, int maxMsgSize)
            throws IpcException {
        ControlFile ctl = ControlFile.open(controlPath);
        int req = -1;
        int ev = -1;
        try {
            req = connected(base, "-response", "-request", maxMsgSize);
            ev = connected(base, "-event", "-event-tx", maxMsgSize);
            return new SocketClientChannel(setupFd, req, ev, ctl, maxMsgSize);
        } catch (RuntimeException e) {
            Posix.closeQuietly(req);
            Posix.closeQuietly(ev);
            ctl.close(false);
            throw e;
        }
    }

    /** A datagram socket bound to {@code base + local} and connected to {@code base + remote} (abstract names). */
    private static int connected(String base, String local, String remote, int size) throws IpcException {
        int fd = UnixSocket.boundDatagram(base, local, size);
        try (UnixSocket.Address r = UnixSocket.abstractAddress(base, remote)) {
            int rc = UnixSocket.connectRaw(fd, r);
            if (rc < 0) {
                throw IpcException.of("connect(" + r + ")", rc, null);
            }
            return fd;
        } catch (IpcException e) {
            C.close(fd);
            throw e;
        }
    }

    @Override
    public int fd() {
        return eventFd;
    }

    private int checkSendable(int fcEnableMax) {
        if (!connected) {
            return -Errno.ENOTCONN;
        }
        return flowControlled(control.flowControl(ControlFileDescriptor.REQUEST), fcEnableMax);
    }

    @Override
    public int send(ByteBuffer msg, int fcEnableMax) {
        int rc = checkSendable(fcEnableMax);
        return rc < 0 ? rc : sent(sendIo.send(requestFd, msg));
    }

    @Override
    public int send(ByteBuffer[] msgs, int fcEnableMax) {
        int rc = checkSendable(fcEnableMax);
        return rc < 0 ? rc : sent(sendIo.send(requestFd, msgs));
    }

    private int sent(int rc) {
        if (rc >= 0) {
            control.incrementSent(ControlFileDescriptor.REQUEST);
            return rc;
        }
        if (rc == -Errno.ECONNREFUSED || rc == -Errno.EPIPE || rc == -Errno.ECONNRESET) {
            connected = false;
            return -Errno.ENOTCONN;
        }
        return rc;
    }

    @Override
    public int recv(ByteBuffer dst, long timeoutNanos) {
        return receive(requestFd, recvIo, ControlFileDescriptor.RESPONSE, dst, timeoutNanos, scratch);
    }

    @Override
    public int eventRecv(ByteBuffer dst, long timeoutNanos) {
        return receive(eventFd, eventIo, ControlFileDescriptor.EVENT, dst, timeoutNanos, scratch + 16);
    }

    private int receive(int fd, Datagrams io, int channel, ByteBuffer dst, long timeoutNanos, long pollfds) {
        final long deadline = WaitSlices.deadline(timeoutNanos);
        // A direct buffer with room for the largest message takes the datagram without a peek (one system call).
        final boolean whole = dst.isDirect() && dst.remaining() >= maxMsgSize;
        for (;;) {
            if (whole) {
                int n = Datagrams.receiveWhole(fd, dst);
                if (n >= 16) {
                    control.decrementSent(channel);
                    return n;
                }
                if (n >= 0) {
                    return -Errno.EBADMSG;
                }
                if (n != Errno.WOULD_BLOCK) {
                    connected = false;
                    return -Errno.ENOTCONN;
                }
            }
            int size = whole ? Errno.WOULD_BLOCK : io.peekSize(fd);
            if (size >= 0) {
                if (size < 16) {
                    io.discard(fd);
                    return -Errno.EBADMSG;
                }
                if (size > dst.remaining()) {
                    refused[channel == ControlFileDescriptor.EVENT ? 1 : 0] = size;
                    return -Errno.ENOBUFS;
                }
                int n = io.receive(fd, dst, size);
                if (n >= 0) {
                    control.decrementSent(channel);
                }
                return n;
            }
            if (size != Errno.WOULD_BLOCK) {
                connected = false;
                return -Errno.ENOTCONN;
            }
            if (!connected || aborted) {
                return -Errno.ENOTCONN;
            }
            if (timeoutNanos == 0) {
                return checkConnected() ? Errno.WOULD_BLOCK : -Errno.ENOTCONN;
            }
            int waitMs = WaitSlices.sliceMillis(timeoutNanos, deadline);
            if (waitMs < 0) {
                return checkConnected() ? Errno.TIMED_OUT : -Errno.ENOTCONN;
            }
            int rev;
            try {
                rev = Posix.pollTwo(fd, LibC.POLLIN, setupFd, LibC.POLLIN, waitMs, pollfds);
            } catch (IpcException e) {
                connected = false;
                return -Errno.ENOTCONN;
            }
            if (((rev >>> 16) & (DEAD | LibC.POLLIN)) != 0 && (rev & LibC.POLLIN) == 0) {
                // The setup socket only ever becomes readable or hangs up when the server goes away.
                connected = false;
                return -Errno.ENOTCONN;
            }
        }
    }

    @Override
    public boolean checkConnected() {
        return pollConnected(setupFd, scratch + 32);
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        // libqb's client removes the control file and the directory whether or not the server is alive.
        control.close(true);
        C.rmdir(directory);
        sendIo.close();
        recvIo.close();
        eventIo.close();
        C.close(eventFd);
        C.close(requestFd);
        UnixSocket.shutdownAndClose(setupFd);
        Posix.free(scratch, 40);
    }
}
