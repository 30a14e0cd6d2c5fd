package io.jqb.internal.client;

import static io.jqb.internal.posix.Posix.MEM;

import io.jqb.Credentials;
import io.jqb.Errno;
import io.jqb.IpcException;
import io.jqb.internal.posix.LibC;
import io.jqb.internal.posix.Posix;
import io.jqb.internal.ring.ShmRing;
import io.jqb.internal.setup.UnixSocket;
import io.jqb.internal.wire.ConnectionRequestDescriptor;
import io.jqb.internal.wire.ConnectionResponseDescriptor;

/**
 * The client half of the setup handshake: connect to the service's socket, send the 24-byte request in one write
 * (libqb 2.0.6 servers lose the credentials of a split request), receive the 12328-byte response together with the
 * server's SCM_CREDENTIALS.
 */
public final class ClientHandshake implements AutoCloseable {
    /** libqb clients never ask for less: the response itself must fit. */
    public static final int MIN_BUFFER_SIZE = ConnectionResponseDescriptor.LENGTH;

    /**
     * One native block per handshake (one malloc, not four): the response, the receive scratch, a pollfd and the
     * request. The response part is not zeroed: nothing reads it before all of it has been received.
     */
    private static final int SCRATCH_AT = ConnectionResponseDescriptor.LENGTH;
    private static final int POLLFD_AT = SCRATCH_AT + UnixSocket.RECV_SCRATCH;
    private static final int REQUEST_AT = POLLFD_AT + 8;
    private static final int BLOCK_LENGTH = REQUEST_AT + ConnectionRequestDescriptor.LENGTH;

    private final String service;
    private final int fd;
    private final long response;
    private final long scratch;
    private final long pollfd;
    private final Credentials[] creds = new Credentials[1];
    private int have;
    private boolean handedOver;

    private ClientHandshake(String service, int fd) {
        this.service = service;
        this.fd = fd;
        this.response = MEM.allocate(BLOCK_LENGTH);
        this.scratch = response + SCRATCH_AT;
        this.pollfd = response + POLLFD_AT;
        MEM.setMemory(scratch, BLOCK_LENGTH - SCRATCH_AT, (byte) 0);
    }

    /** Connects and sends the request; the response is read by {@link #complete}. */
    public static ClientHandshake start(String service, UnixSocket.Address address, int maxMsgSize)
            throws IpcException {
        int fd = UnixSocket.connect(address, service);
        ClientHandshake h = null;
        try {
            Posix.setIntOption(fd, LibC.SOL_SOCKET, LibC.SO_PASSCRED, 1, "setsockopt(SO_PASSCRED)");
            h = new ClientHandshake(service, fd);
            long req = h.response + REQUEST_AT;
            MEM.writeInt(req + ConnectionRequestDescriptor.ID_OFFSET, ConnectionRequestDescriptor.MSG_AUTHENTICATE);
            MEM.writeInt(req + ConnectionRequestDescriptor.SIZE_OFFSET, ConnectionRequestDescriptor.LENGTH);
            MEM.writeInt(req + ConnectionRequestDescriptor.MAX_MSG_SIZE_OFFSET, Math.max(maxMsgSize, MIN_BUFFER_SIZE));
            // "JQB2" only when we do write_pt detection: a server that hears "JQB1" never turns it on.
            MEM.writeInt(req + ConnectionRequestDescriptor.CAPABILITY_OFFSET, ShmRing.WRITEPT_DETECT
                    ? ConnectionRequestDescriptor.JQB_WRITEPT_CAPABILITY : ConnectionRequestDescriptor.JQB_CAPABILITY);
            UnixSocket.sendFully(fd, req, ConnectionRequestDescriptor.LENGTH, 5000, "send(connection request)");
            return h;
        } catch (RuntimeException | Error e) {
            if (h != null) {
                h.close();
            } else {
                Posix.closeQuietly(fd);
            }
            throw e;
        }
    }

    /** The setup socket: poll it for POLLIN before {@link #complete} to connect without blocking. */
    public int fd() {
        return fd;
    }

    /**
     * Reads the rest of the response.
     *
     * @param timeoutMs how long to wait in all (negative = forever)
     * @throws IpcException ETIMEDOUT, ECONNRESET when the server closed without answering, or the server's refusal
     *         ({@code hdr.error}, e.g. EACCES)
     */
    public void complete(int timeoutMs) throws IpcException {
        complete(timeoutMs, false);
    }

    /**
     * {@link #complete(int)}, waiting for the socket first when {@code justSent}: right after {@link #start} the
     * server has not answered yet (pinned to one CPU it cannot have run), so a first receive would only say EAGAIN.
     * libqb's client polls first too; a caller that polled {@link #fd()} itself passes false.
     *
     * @param timeoutMs how long to wait in all (negative = forever)
     * @param justSent true right after {@link #start}: poll before the first receive
     * @throws IpcException as {@link #complete(int)}
     */
    public void complete(int timeoutMs, boolean justSent) throws IpcException {
        long deadline = timeoutMs < 0 ? Long.MAX_VALUE : System.nanoTime() + timeoutMs * 1_000_000L;
        if (justSent) {
            pollUntil(deadline); // a time-out already over still gets its one receive below
        }
        while (have < ConnectionResponseDescriptor.LENGTH) {
            long n = UnixSocket.recvWithCredentials(fd, response + have, ConnectionResponseDescriptor.LENGTH - have,
                    scratch, creds);
            if (n > 0) {
                have += (int) n;
                continue;
            }
            if (n == 0) {
                throw new IpcException(op(), Errno.ECONNRESET, "server closed the socket during the handshake");
            }
            if (-n != Errno.EAGAIN) {
                throw IpcException.of(op(), (int) -n, "receiving the connection response");
            }
            awaitReadable(deadline);
        }
        Posix.setIntOption(fd, LibC.SOL_SOCKET, LibC.SO_PASSCRED, 0, "setsockopt(SO_PASSCRED)");
        int error = MEM.readInt(response + ConnectionResponseDescriptor.ERROR_OFFSET);
        if (error != 0) {
            throw IpcException.of(op(), error, "refused by the server");
        }
    }

    public int connectionType() {
        return MEM.readInt(response + ConnectionResponseDescriptor.CONNECTION_TYPE_OFFSET);
    }

    /** The agreed buffer size (u32 on the wire). */
    public long maxMsgSize() {
        return MEM.readInt(response + ConnectionResponseDescriptor.MAX_MSG_SIZE_OFFSET) & 0xffff_ffffL;
    }

    /**
     * @return what the server echoed: 0 no jqb server (libqb), 1 "JQB1" (doorbell elision), 2 "JQB2" (write_pt
     *         detection too; only when we sent it, so only when {@link ShmRing#WRITEPT_DETECT} is on here)
     */
    public int jqbServer() {
        int level = ConnectionRequestDescriptor.capabilityLevel(
                MEM.readInt(response + ConnectionResponseDescriptor.CAPABILITY_OFFSET));
        return level == 2 && !ShmRing.WRITEPT_DETECT ? 1 : level;
    }

    /** The server's opaque connection field. */
    public long connection() {
        return MEM.readLong(response + ConnectionResponseDescriptor.CONNECTION_OFFSET);
    }

    public String requestPath() throws IpcException {
        return path(ConnectionResponseDescriptor.REQUEST_PATH_OFFSET);
    }

    public String responsePath() throws IpcException {
        return path(ConnectionResponseDescriptor.RESPONSE_PATH_OFFSET);
    }

    public String eventPath() throws IpcException {
        return path(ConnectionResponseDescriptor.EVENT_PATH_OFFSET);
    }

    /**
     * The NUL-terminated path at {@code off}: the field is PATH_MAX (4096) bytes, the path a few dozen, so the NUL is
     * found in native memory first and only the path's own bytes are copied (not a 4 KiB array per path, per connect).
     */
    private String path(int off) throws IpcException {
        String p = Posix.readCString(response + off, ConnectionResponseDescriptor.PATH_LENGTH);
        if (p == null) {
            throw new IpcException(op(), Errno.EBADMSG, "path field not NUL-terminated");
        }
        return p;
    }

    /** The operation named in exceptions; built only when one is thrown. */
    private String op() {
        return "connect(" + service + ")";
    }

    /** The server's credentials, or null if the kernel sent none. */
    public Credentials serverCredentials() {
        return creds[0];
    }

    /** After this, {@link #close()} leaves the socket open: the connection owns it. */
    public int takeSocket() {
        handedOver = true;
        return fd;
    }

    /** Polls the socket until readable or {@code deadline} (ETIMEDOUT once it has passed). */
    private void awaitReadable(long deadline) throws IpcException {
        if (!pollUntil(deadline)) {
            throw new IpcException(op(), Errno.ETIMEDOUT, "no connection response");
        }
    }

    /** Polls the socket until readable or {@code deadline}; false, without polling, once it has passed. */
    private boolean pollUntil(long deadline) throws IpcException {
        // Round up: a truncated remainder gave up to 1 ms before the caller's timeout.
        long leftNanos = deadline - System.nanoTime();
        long left = deadline == Long.MAX_VALUE ? -1 : (leftNanos + 999_999) / 1_000_000L;
        if (deadline != Long.MAX_VALUE && leftNanos <= 0) {
            return false;
        }
        Posix.pollOne(fd, LibC.POLLIN, (int) Math.min(left, Integer.MAX_VALUE), pollfd);
        return true;
    }

    @Override
    public void close() {
        Posix.free(response, BLOCK_LENGTH);
        if (!handedOver) {
            UnixSocket.shutdownAndClose(fd);
        }
    }
}
