package io.jqb.internal.server;

import static io.jqb.internal.posix.Posix.C;

import io.jqb.Errno;
import io.jqb.IpcException;
import io.jqb.PollHandlers;
import io.jqb.internal.Logs;
import io.jqb.internal.log.RateLimitedLog;
import io.jqb.internal.posix.DirectoryFiles;
import io.jqb.internal.posix.LibC;
import io.jqb.internal.posix.Posix;
import io.jqb.internal.setup.UnixSocket;
import io.jqb.internal.socket.ControlFile;
import io.jqb.internal.socket.Datagrams;
import io.jqb.internal.wire.ConnectionResponseDescriptor;
import io.jqb.internal.wire.ControlFileDescriptor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Server side of one SOCKET connection (libqb's QB_IPC_SOCKET): a control file with per-channel queue counters and
 * the flow-control flag, and abstract datagram sockets {@code B-request} (requests in, responses out) and
 * {@code B-event-tx} (events out), where B = {@code <dir>/qb-<service>}. Response and event sockets connect to the
 * client's {@code B-response} / {@code B-event} on their first send; until the client has bound them (up to 1 s, libqb's 10 × 100 ms) a send
 * returns {@link #NOT_YET_CONNECTED} instead of sleeping, and the connection queues it. One
 * datagram is one message, framed by the header's size field; no doorbell bytes. The setup socket stays open only
 * to notice the client's hang-up.
 */
public final class SocketServerChannel extends AbstractServerChannel {
    private static final RateLimitedLog INJECTED = new RateLimitedLog(Logs.get(SocketServerChannel.class));
    private static final int CONNECT_TRIES = 10;

    private final int setupFd;
    private final int requestFd;
    private final int eventFd;
    private final int maxMsgSize;
    /**
     * The connection's directory and the service name (strings the connection and the service hold anyway): the
     * socket names' base {@code dir + "/qb-" + service} and the control file's path are built only when needed (the
     * handshake response, teardown, a log line), not kept as two more strings per connection.
     */
    private final String dir;
    private final String service;
    /** {@code "qb-control-" + service}: one string per service ({@link SocketReceiveArea#controlName}). */
    private final String controlName;
    private final ControlFile control;
    /**
     * This connection's copy area for responses (heap buffers, gathered parts), made by the first such send that
     * finds the service's shared area ({@link SocketReceiveArea#tryAcquireSendScratch()}) held by another sender
     * (under {@code responseLock}). Most connections never make one: a scratch of its own cost each connection a
     * malloc'd block and its buffer object.
     */
    private Datagrams responseIo;
    /** The same for events, under {@code eventLock}. */
    private Datagrams eventIo;
    /** Where requests are received: the service's, shared by its SOCKET connections (loop thread). */
    private final SocketReceiveArea receive;
    /** The client's pid and uid from the handshake: only its datagrams are requests. */
    private final int peerPid;
    private final int peerUid;
    /**
     * Responses leave through the request socket, connected to the client's {@code B-response} by the first send
     * ({@link #connectPeer}); events likewise through the event socket to {@code B-event}.
     */
    private volatile boolean responseConnected;
    private volatile boolean eventConnected;
    /** When the first connect of each direction failed (nanoTime | 1); 0 = not yet. Under the direction's lock. */
    private long responseFirstTry;
    private long eventFirstTry;

    private SocketServerChannel(int setupFd, int requestFd, int eventFd, int maxMsgSize, String dir, String service,
            String controlName, ControlFile control, Owner owner, int peerPid, int peerUid, SocketReceiveArea receive) {
        super(owner);
        this.peerPid = peerPid;
        this.peerUid = peerUid;
        this.receive = receive;
        this.setupFd = setupFd;
        this.requestFd = requestFd;
        this.eventFd = eventFd;
        this.maxMsgSize = maxMsgSize;
        this.dir = dir;
        this.service = service;
        this.controlName = controlName;
        this.control = control;
    }

    /**
     * Creates the control file and binds the server's two datagram sockets; requests are accepted only from
     * {@code peerPid}/{@code peerUid} (the handshake's credentials). Requests are received into {@code receive},
     * which the channel holds a reference to until {@link #destroy()}.
     */
    static SocketServerChannel create(int setupFd, String dir, String service, int maxMsgSize, int uid,
            int gid, int mode, Owner owner, int peerPid, int peerUid, SocketReceiveArea receive)
            throws IpcException {
        String controlName = receive.controlName(service);
        ControlFile ctl = ControlFile.create(dir, controlName, uid, gid, mode);
        int req = -1;
        int ev = -1;
        try {
            req = UnixSocket.boundDatagram(dir, BASE_INFIX, service, "-request", maxMsgSize);
            // Before anyone can know the name: every datagram then carries its sender's credentials.
            Posix.setIntOption(req, LibC.SOL_SOCKET, LibC.SO_PASSCRED, 1, "setsockopt(SO_PASSCRED)");
            ev = UnixSocket.boundDatagram(dir, BASE_INFIX, service, "-event-tx", maxMsgSize);
            SocketServerChannel ch = new SocketServerChannel(setupFd, req, ev, maxMsgSize, dir, service, controlName,
                    ctl, owner,
                    peerPid, peerUid, receive);
            receive.acquire();
            return ch;
        } catch (RuntimeException | Error e) {
            Posix.closeQuietly(req);
            Posix.closeQuietly(ev);
            ctl.close();
            DirectoryFiles.unlink(dir, controlName);
            throw e;
        }
    }

    /** The socket names are {@code dir + BASE_INFIX + service + suffix}. */
    private static final String BASE_INFIX = "/qb-";


    @Override
    public int connectionType() {
        return ConnectionResponseDescriptor.TYPE_SOCKET;
    }

    @Override
    public String requestPath() {
        return dir + "/" + controlName;
    }

    @Override
    public String responsePath() {
        return dir + BASE_INFIX + service;
    }

    @Override
    public String eventPath() {
        return "";
    }

    /** The paths from their parts: a connect builds neither string (the event path is empty). */
    @Override
    public void putPaths(long request, long response, long event, int max) {
        Posix.putUtf8(request, dir, "/", controlName, null, max);
        Posix.putUtf8(response, dir, BASE_INFIX, service, null, max);
    }

    @Override
    public int fd() {
        return requestFd;
    }

    @Override
    public int livenessFd() {
        return setupFd;
    }

    /**
     * Connects one of our sending sockets to the client's socket, which the client binds after the handshake
     * ({@code dir + "/qb-" + service + "-response"} from the request socket, {@code "-event"} from the event socket).
     * libqb retries up to 10 × 100 ms, sleeping on the caller's thread (often the loop); jqb tries once per send and
     * returns {@link #NOT_YET_CONNECTED} (the connection queues the message and its loop retries) until
     * {@code CONNECT_TRIES × 100 ms} after the first attempt, then the error. Under the direction's lock. (The
     * state is two fields per direction in this object: a helper object per direction was 40 bytes each.)
     *
     * @return 0 once connected, {@link #NOT_YET_CONNECTED}, or a negated errno
     */
    private int connectPeer(boolean event) {
        int fd = event ? eventFd : requestFd;
        try (UnixSocket.Address a = UnixSocket.abstractAddress(dir, BASE_INFIX, service,
                event ? "-event" : "-response")) {
            int rc = UnixSocket.connectRaw(fd, a);
            if (rc == 0) {
                UnixSocket.setBufferSizes(fd, maxMsgSize);
                if (event) {
                    eventConnected = true;
                } else {
                    responseConnected = true;
                }
                return 0;
            }
            long now = System.nanoTime();
            long first = event ? eventFirstTry : responseFirstTry;
            if (first == 0) {
                first = now | 1;
                if (event) {
                    eventFirstTry = first;
                } else {
                    responseFirstTry = first;
                }
            }
            return now - first < CONNECT_TRIES * 100_000_000L ? NOT_YET_CONNECTED : rc;
        } catch (IpcException e) {
            return -e.errno();
        }
    }

    @Override
    int writeResponse(ByteBuffer msg) {
        int rc = responseConnected ? 0 : connectPeer(false);
        return rc < 0 ? rc : counted(msg.isDirect() ? Datagrams.sendDirect(requestFd, msg)
                : sendCopied(false, msg, null), ControlFileDescriptor.RESPONSE);
    }

    @Override
    int writeResponse(ByteBuffer[] msgs) {
        int rc = responseConnected ? 0 : connectPeer(false);
        return rc < 0 ? rc : counted(sendCopied(false, null, msgs), ControlFileDescriptor.RESPONSE);
    }

    @Override
    int writeEvent(ByteBuffer msg) {
        int rc = eventConnected ? 0 : connectPeer(true);
        return rc < 0 ? rc : counted(msg.isDirect() ? Datagrams.sendDirect(eventFd, msg)
                : sendCopied(true, msg, null), ControlFileDescriptor.EVENT);
    }

    @Override
    int writeEvent(ByteBuffer[] msgs) {
        int rc = eventConnected ? 0 : connectPeer(true);
        return rc < 0 ? rc : counted(sendCopied(true, null, msgs), ControlFileDescriptor.EVENT);
    }

    /**
     * Sends a heap buffer ({@code one}) or the concatenation of {@code many} through a copy: the service's shared
     * send scratch when no other sender holds it (one compare-and-set; whatever thread calls), else this
     * connection's own area for the direction, made on first need. Under the direction's lock.
     *
     * @return length sent, {@link io.jqb.Errno#WOULD_BLOCK} or a negated errno
     */
    private int sendCopied(boolean event, ByteBuffer one, ByteBuffer[] many) {
        int fd = event ? eventFd : requestFd;
        Datagrams shared = receive.tryAcquireSendScratch();
        if (shared != null) {
            try {
                return one != null ? shared.send(fd, one) : shared.send(fd, many, maxMsgSize);
            } finally {
                receive.releaseSendScratch();
            }
        }
        Datagrams own = event ? eventIo : responseIo;
        if (own == null) {
            own = new Datagrams(maxMsgSize);
            if (event) {
                eventIo = own;
            } else {
                responseIo = own;
            }
        }
        return one != null ? own.send(fd, one) : own.send(fd, many, maxMsgSize);
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
        int capacity = Math.max(maxMsgSize, 16);
        try {
            receive.ensure(capacity);
        } catch (OutOfMemoryError e) {
            owner.violation("no memory for a " + maxMsgSize + "-byte receive buffer");
            return false;
        }
        final ByteBuffer receiveBuffer = receive.buffer();
        final ByteBuffer requestView = receive.view();
        final long receiveAddress = receive.address();
        final long credScratch = receive.credScratch();
        int avail = Math.max(1, Math.min(control.sent(ControlFileDescriptor.REQUEST), budget));
        for (int i = 0; i < avail && open && !owner.paused(); i++) {
            // One system call per request: the receive buffer holds the largest legal request, so nothing is cut.
            receiveBuffer.clear();
            long got = UnixSocket.recvmsgCredentials(requestFd, receiveAddress, capacity, credScratch);
            int n = (int) got;
            if (n == -Errno.EAGAIN) {
                owner.recvRetry();
                break;
            }
            if (n < 0) {
                owner.fail("request socket: " + Errno.name(n));
                return false;
            }
            int fromPid = UnixSocket.receivedPid(credScratch);
            int fromUid = UnixSocket.receivedUid(credScratch);
            if (fromPid != peerPid || fromUid != peerUid) {
                // Not the client: the socket's abstract name is public (/proc/net/unix) and, until our first
                // response connects it to the client's socket, anyone may send to it. Drop it, keep the client.
                long admitted = INJECTED.admitLine(); // the path string is built only for a line logged
                if (admitted >= 0) {
                    INJECTED.warn(admitted, "{}: dropped a {}-byte datagram from pid {} uid {} (the client is pid {} "
                            + "uid {})", responsePath(), n, fromPid, fromUid, peerPid, peerUid);
                }
                continue;
            }
            int size = requestSize(receiveBuffer, 0, n);
            if (size < 0) {
                owner.violation(badRequest("datagram", receiveBuffer, 0, n));
                return false;
            }
            control.decrementSent(ControlFileDescriptor.REQUEST);
            requestView.clear();
            requestView.limit(size);
            requestView.order(ByteOrder.LITTLE_ENDIAN); // shared: whatever the last handler set is undone
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
            long n = C.recv(setupFd, receive.livenessScratch(), SocketReceiveArea.LIVENESS_SCRATCH, LibC.MSG_DONTWAIT);
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

    /**
     * The request socket sends the responses; once it is connected to the client's, the kernel reports it writable
     * when the client has read enough of them (a unix datagram socket: its queued bytes down to a quarter of its
     * send buffer). Before, a send fails for another reason (nobody bound yet), which writability says nothing about.
     */
    @Override
    public boolean writableSignalsResponseRoom() {
        return responseConnected;
    }

    @Override
    void publishFlowControl(int value) {
        control.setFlowControl(ControlFileDescriptor.REQUEST, value);
    }

    @Override
    int queuedEvents() {
        return Math.max(0, control.sent(ControlFileDescriptor.EVENT));
    }

    @Override
    void closeFds() {
        UnixSocket.shutdownAndClose(setupFd);
        C.close(requestFd);
        C.close(eventFd);
    }

    @Override
    void release() {
        control.close();
        DirectoryFiles.unlink(dir, controlName);
        if (responseIo != null) {
            responseIo.close();
        }
        if (eventIo != null) {
            eventIo.close();
        }
        receive.release();
    }
}
