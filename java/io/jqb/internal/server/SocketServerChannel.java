package io.jqb.internal.server;

import static io.jqb.internal.posix.Posix.C;

import io.jqb.Errno;
import io.jqb.IpcException;
import io.jqb.PollHandlers;
import io.jqb.internal.posix.LibC;
import io.jqb.internal.posix.Posix;
import io.jqb.internal.setup.UnixSocket;
import io.jqb.internal.socket.ControlFile;
import io.jqb.internal.socket.Datagrams;
import io.jqb.internal.wire.MessageHeaderDescriptor;
import io.jqb.internal.wire.ConnectionResponseDescriptor;
import io.jqb.internal.wire.ControlFileDescriptor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Server side of one SOCKET connection (libqb's QB_IPC_SOCKET): a control file with per-channel queue counters and
 * the flow-control flag, and abstract datagram sockets {@code B-request} (requests in, responses out) and
 * {@code B-event-tx} (events out), where B = {@code <dir>/qb-<service>}. Response and event sockets connect to the
 * client's {@code B-response} / {@code B-event} on their first send, retrying up to 10 × 100 ms as libqb does. One
 * datagram is one message, framed by the header's size field; no doorbell bytes. The setup socket stays open only
 * to notice the client's hang-up.
 */
public final class SocketServerChannel implements ServerChannel {
    private static final int CONNECT_TRIES = 10;

    private final int setupFd;
    private final int requestFd;
    private final int eventFd;
    private final int maxMsgSize;
    private final String base;
    private final ControlFile control;
    private final Owner owner;
    private final Object responseLock = new Object();
    private final Object eventLock = new Object();
    private final Datagrams responseIo;
    private final Datagrams eventIo;
    private final ByteBuffer receiveBuffer;
    private final ByteBuffer requestView;
    private final long livenessBuf;
    private boolean responseConnected;
    private boolean eventConnected;
    private volatile boolean open = true;
    /** The flow-control value we set; the shared copy is the client's to read, never trusted. */
    private volatile int flowControl;
    private boolean destroyed;

    private SocketServerChannel(int setupFd, int requestFd, int eventFd, int maxMsgSize, String base,
            ControlFile control, Owner owner) {
        this.setupFd = setupFd;
        this.requestFd = requestFd;
        this.eventFd = eventFd;
        this.maxMsgSize = maxMsgSize;
        this.base = base;
        this.control = control;
        this.owner = owner;
        this.responseIo = new Datagrams(maxMsgSize);
        this.eventIo = new Datagrams(maxMsgSize);
        this.receiveBuffer = ByteBuffer.allocateDirect(maxMsgSize).order(ByteOrder.LITTLE_ENDIAN);
        this.requestView = receiveBuffer.asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
        this.livenessBuf = Posix.allocate(16);
    }

    /** Creates the control file and binds the server's two datagram sockets. */
    public static SocketServerChannel create(int setupFd, String dir, String service, int maxMsgSize, int uid,
            int gid, int mode, Owner owner) throws IpcException {
        ControlFile ctl = ControlFile.create(dir + "/qb-control-" + service, uid, gid, mode);
        String base = dir + "/qb-" + service;
        int req = -1;
        int ev = -1;
        try {
            req = UnixSocket.boundDatagram(base + "-request", maxMsgSize);
            ev = UnixSocket.boundDatagram(base + "-event-tx", maxMsgSize);
            return new SocketServerChannel(setupFd, req, ev, maxMsgSize, base, ctl, owner);
        } catch (RuntimeException e) {
            Posix.closeQuietly(req);
            Posix.closeQuietly(ev);
            ctl.close(true);
            throw e;
        }
    }

    @Override
    public int connectionType() {
        return ConnectionResponseDescriptor.TYPE_SOCKET;
    }

    @Override
    public String requestPath() {
        return control.path();
    }

    @Override
    public String responsePath() {
        return base;
    }

    @Override
    public String eventPath() {
        return "";
    }

    @Override
    public int fd() {
        return requestFd;
    }

    @Override
    public int livenessFd() {
        return setupFd;
    }

    /** Connects {@code fd} to the client's socket {@code name} (which the client binds after the handshake). */
    private int connectPeer(int fd, String name) {
        try (UnixSocket.Address a = UnixSocket.abstractAddress(name)) {
            int rc = 0;
            for (int i = 0; i < CONNECT_TRIES; i++) {
                rc = UnixSocket.connectRaw(fd, a);
                if (rc == 0) {
                    UnixSocket.setBufferSizes(fd, maxMsgSize);
                    return 0;
                }
                Thread.sleep(100);
            }
            return rc;
        } catch (IpcException e) {
            return -e.errno();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -Errno.EINTR;
        }
    }

    @Override
    public int sendResponse(ByteBuffer msg) {
        synchronized (responseLock) {
            int rc = prepareResponse();
            return rc < 0 ? rc : counted(responseIo.send(requestFd, msg), ControlFileDescriptor.RESPONSE);
        }
    }

    @Override
    public int sendResponse(ByteBuffer[] msgs) {
        synchronized (responseLock) {
            int rc = prepareResponse();
            return rc < 0 ? rc : counted(responseIo.send(requestFd, msgs), ControlFileDescriptor.RESPONSE);
        }
    }

    private int prepareResponse() {
        if (!open) {
            return -Errno.ENOTCONN;
        }
        if (!responseConnected) {
            int rc = connectPeer(requestFd, base + "-response");
            if (rc < 0) {
                return rc;
            }
            responseConnected = true;
        }
        return 0;
    }

    @Override
    public int sendEvent(ByteBuffer msg) {
        synchronized (eventLock) {
            int rc = prepareEvent();
            return rc < 0 ? rc : counted(eventIo.send(eventFd, msg), ControlFileDescriptor.EVENT);
        }
    }

    @Override
    public int sendEvent(ByteBuffer[] msgs) {
        synchronized (eventLock) {
            int rc = prepareEvent();
            return rc < 0 ? rc : counted(eventIo.send(eventFd, msgs), ControlFileDescriptor.EVENT);
        }
    }

    private int prepareEvent() {
        if (!open) {
            return -Errno.ENOTCONN;
        }
        if (!eventConnected) {
            int rc = connectPeer(eventFd, base + "-event");
            if (rc < 0) {
                return rc;
            }
            eventConnected = true;
        }
        return 0;
    }

    private int counted(int rc, int channel) {
        if (rc >= 0) {
            control.incrementSent(channel);
        } else if (rc == -Errno.ECONNREFUSED || rc == -Errno.EPIPE || rc == -Errno.ECONNRESET) {
            return -Errno.ENOTCONN;
        }
        return rc;
    }

    @Override
    public boolean onEvents(int revents, int budget, RequestSink sink) {
        if ((revents & (PollHandlers.POLLERR | PollHandlers.POLLNVAL)) != 0) {
            owner.fail("request socket error");
            return false;
        }
        if ((revents & PollHandlers.POLLIN) == 0 || flowControl != 0) {
            return true;
        }
        int avail = Math.max(1, Math.min(control.sent(ControlFileDescriptor.REQUEST), budget));
        for (int i = 0; i < avail && open; i++) {
            // One system call per request: the receive buffer holds the largest legal request, so nothing is cut.
            receiveBuffer.clear();
            int n = Datagrams.receiveWhole(requestFd, receiveBuffer);
            if (n == Errno.WOULD_BLOCK) {
                owner.recvRetry();
                break;
            }
            if (n < 0) {
                owner.fail("request socket: " + Errno.name(n));
                return false;
            }
            int size = MessageHeaderDescriptor.requestSize(receiveBuffer, 0, n);
            if (size < 0) {
                owner.violation("bad request: datagram " + n + " bytes, header size "
                        + (n >= MessageHeaderDescriptor.REQUEST_HEADER_LENGTH
                                ? receiveBuffer.getInt(MessageHeaderDescriptor.SIZE_OFFSET) : "missing"));
                return false;
            }
            control.decrementSent(ControlFileDescriptor.REQUEST);
            requestView.clear();
            requestView.limit(size);
            if (!sink.onRequest(requestView)) {
                break; // back-off, as libqb: the rest waits for the next wake-up
            }
        }
        return true;
    }

    @Override
    public boolean onLivenessEvents(int revents) {
        if ((revents & (PollHandlers.POLLHUP | PollHandlers.POLLERR | PollHandlers.POLLNVAL)) != 0) {
            owner.fail("socket hang-up");
            return false;
        }
        if ((revents & PollHandlers.POLLIN) != 0) {
            long n = C.recv(setupFd, livenessBuf, 16, LibC.MSG_DONTWAIT);
            if (n == 0 || (n < 0 && Posix.errno() != Errno.EAGAIN)) {
                owner.fail("client closed the socket");
                return false;
            }
        }
        return true;
    }

    @Override
    public boolean notificationsPending() {
        return false;
    }

    @Override
    public void setFlowControl(int value) {
        flowControl = value;
        control.setFlowControl(ControlFileDescriptor.REQUEST, value);
    }

    @Override
    public int eventQueueLength() {
        synchronized (eventLock) {
            return destroyed ? 0 : Math.max(0, control.sent(ControlFileDescriptor.EVENT));
        }
    }

    @Override
    public void closeSocket() {
        synchronized (responseLock) {
            synchronized (eventLock) {
                if (!open) {
                    return;
                }
                open = false;
                UnixSocket.shutdownAndClose(setupFd);
                C.close(requestFd);
                C.close(eventFd);
            }
        }
    }

    @Override
    public void destroy() {
        closeSocket();
        synchronized (responseLock) {
            synchronized (eventLock) {
                if (destroyed) {
                    return;
                }
                destroyed = true;
                control.close(true);
                Posix.free(livenessBuf, 16);
            }
        }
    }
}
