package io.jqb.cli;

import io.jqb.Connection;
import io.jqb.Errno;
import io.jqb.IpcException;
import io.jqb.RequestHeader;
import io.jqb.ResponseHeader;
import io.jqb.ServiceHandler;
import io.jqb.internal.log.RateLimitedLog;
import java.nio.ByteBuffer;
import org.slf4j.Logger;
import io.jqb.internal.Logs;

/**
 * The echo contract every jqb example, test and benchmark shares.
 * <ul>
 * <li>id 1 (ECHO): response {1, 24+n, 0} + the n request payload bytes;</li>
 * <li>id 2 (EVENT): response {2, 24, 0}, then an event {2, 24+n, 0} + the payload;</li>
 * <li>any other id: response {id, 24, -EINVAL}.</li>
 * <li>an ECHO or EVENT whose answer would exceed the buffer size: response {id, 24, -EMSGSIZE}.</li>
 * </ul>
 * Allocation-free while clients read (one scratch header and one array of views, loop thread only); answers to a
 * client whose ring is full go to its send backlog ({@link Connection#queueResponse}), never waited for.
 */
public class EchoHandler implements ServiceHandler {
    public static final int ECHO = 1;
    public static final int EVENT = 2;
    private static final Logger LOG = Logs.get(EchoHandler.class);
    /** Answers dropped because a client's backlog was full: peer-triggerable, so rate-limited. */
    private static final RateLimitedLog DROPPED = new RateLimitedLog(LOG);

    private static final int REQ = RequestHeader.LENGTH;
    private static final int RES = ResponseHeader.LENGTH;
    private final ByteBuffer header = ByteBuffer.allocateDirect(RES);
    private final ResponseHeader responseHeader = new ResponseHeader().wrap(header, 0);
    private final RequestHeader requestHeader = new RequestHeader();
    private final ByteBuffer[] parts = new ByteBuffer[2];

    @Override
    public int message(Connection c, ByteBuffer request) {
        final int pos = request.position();
        final int id = requestHeader.wrap(request, pos).id();
        final int n = request.remaining() - REQ;
        request.position(pos + REQ);
        try {
            if ((id == ECHO || id == EVENT) && RES + n > c.bufferSize()) {
                // The answer would not fit the client's buffer: say so rather than stay silent.
                respond(c, false, id, RES, -Errno.EMSGSIZE, null);
                return 0;
            }
            switch (id) {
                case ECHO:
                    respond(c, false, ECHO, RES + n, 0, request);
                    break;
                case EVENT:
                    respond(c, false, EVENT, RES, 0, null);
                    respond(c, true, EVENT, RES + n, 0, request);
                    break;
                default:
                    respond(c, false, id, RES, -Errno.EINVAL, null);
                    break;
            }
        } catch (IpcException e) {
            LOG.debug("echo to {} failed: {}", c, e.getMessage());
            return -e.errno();
        }
        return 0;
    }

    private void respond(Connection c, boolean event, int id, int size, int error, ByteBuffer payload) {
        header.clear();
        responseHeader.set(id, size, error);
        parts[0] = header;
        parts[1] = payload;
        // Never wait for the client on the loop: a full ring queues the answer in the connection's bounded backlog,
        // and the service reads no more of this client's requests until it has drained it.
        int rc = payload == null
                ? (event ? c.queueEvent(header) : c.queueResponse(header))
                : (event ? c.queueEvent(parts) : c.queueResponse(parts));
        if (rc == Errno.WOULD_BLOCK) {
            DROPPED.warn("echo to {} dropped: its send backlog is full", c);
        }
    }
}
