package io.jqb.internal.server;

import io.jqb.Errno;
import io.jqb.internal.posix.Posix;
import io.jqb.Credentials;
import io.jqb.internal.setup.UnixSocket;
import io.jqb.internal.wire.ConnectionRequestDescriptor;

/**
 * Collects a client's 24-byte connection request and its SCM_CREDENTIALS from a non-blocking socket. Unlike
 * libqb 2.0.6 it keeps the credentials of the first fragment when the request arrives in pieces.
 */
public final class HandshakeReader implements AutoCloseable {
    /** Outcome of {@link #read()}. */
    public enum Status { INCOMPLETE, COMPLETE, CLOSED }

    private final int fd;
    private final long buf;
    private final long scratch;
    private final Credentials[] creds = new Credentials[1];
    private int have;
    private int lastErrno;
    private boolean closed;

    public HandshakeReader(int fd) {
        this.fd = fd;
        this.buf = Posix.allocate(ConnectionRequestDescriptor.LENGTH);
        this.scratch = Posix.allocate(UnixSocket.RECV_SCRATCH);
    }

    /** Reads what is available. */
    public Status read() {
        while (have < ConnectionRequestDescriptor.LENGTH) {
            long n = UnixSocket.recvWithCredentials(fd, buf + have, ConnectionRequestDescriptor.LENGTH - have,
                    scratch, creds);
            if (n == 0) {
                return Status.CLOSED;
            }
            if (n < 0) {
                lastErrno = (int) -n;
                return lastErrno == Errno.EAGAIN ? Status.INCOMPLETE : Status.CLOSED;
            }
            have += (int) n;
        }
        return Status.COMPLETE;
    }

    /** @return the request's id field (must be -1) */
    public int id() {
        return Posix.MEM.readInt(buf + ConnectionRequestDescriptor.ID_OFFSET);
    }

    /** @return the requested max_msg_size (u32, so may be huge) */
    public long maxMsgSize() {
        return Posix.MEM.readInt(buf + ConnectionRequestDescriptor.MAX_MSG_SIZE_OFFSET) & 0xffff_ffffL;
    }

    /**
     * @return the client's jqb capability (in the request's tail padding): 0 libqb, 1 "JQB1" (doorbell elision),
     *         2 "JQB2" (also write_pt detection); see {@link ConnectionRequestDescriptor#capabilityLevel}
     */
    public int jqbCapability() {
        return ConnectionRequestDescriptor.capabilityLevel(
                Posix.MEM.readInt(buf + ConnectionRequestDescriptor.CAPABILITY_OFFSET));
    }

    /** @return the client's credentials, or null when none came */
    public Credentials credentials() {
        return creds[0];
    }

    public int lastErrno() {
        return lastErrno;
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        Posix.free(buf, ConnectionRequestDescriptor.LENGTH);
        Posix.free(scratch, UnixSocket.RECV_SCRATCH);
    }
}
