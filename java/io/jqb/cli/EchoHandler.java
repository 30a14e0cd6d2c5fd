package io.jqb.cli;

import io.jqb.Connection;
import io.jqb.Errno;
import io.jqb.IpcException;
import io.jqb.RequestHeader;
import io.jqb.ResponseHeader;
import io.jqb.ServiceHandler;
import java.nio.ByteBuffer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The echo contract every jqb example, test and benchmark shares.
 * <ul>
 * <li>id 1 (ECHO): response {1, 24+n, 0} + the n request payload bytes;</li>
 * <li>id 2 (EVENT): response {2, 24, 0}, then an event {2, 24+n, 0} + the payload;</li>
 * <li>any other id: response {id, 24, -EINVAL}.</li>
 * <li>an ECHO or EVENT whose answer would exceed the buffer size: response {id, 24, -EMSGSIZE}.</li>
 * </ul>
 * Allocation-free: one scratch header and one array of views, used on the loop thread only.
 */
public class EchoHandler implements ServiceHandler {
    public static final int ECHO = 1;
    public static final int EVENT = 2;
    private static final Logger LOG = LoggerFactory.getLogger(EchoHandler.class);
    /**
     * How long an answer may wait for room in a full ring before it is dropped (logged). The wait runs on the loop
     * thread: a client that pipelines without reading stalls the others meanwhile, but a client that reads while
     * other threads fill the same ring loses nothing (a short limit dropped answers in ConcurrencyTest).
     */
    private static final long RETRY_NANOS = 5_000_000_000L;

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
            if (e.errno() == Errno.EAGAIN) {
                LOG.warn("echo to {} dropped: {}", c, e.getMessage());
            } else {
                LOG.debug("echo to {} failed: {}", c, e.getMessage());
            }
            return -e.errno();
        }
        return 0;
    }

    private void respond(Connection c, boolean event, int id, int size, int error, ByteBuffer payload)
            throws IpcException {
        header.clear();
        responseHeader.set(id, size, error);
        parts[0] = header;
        parts[1] = payload;
        long deadline = 0;
        for (;;) {
            int rc = payload == null
                    ? (event ? c.sendEvent(header) : c.sendResponse(header))
                    : (event ? c.sendEvent(parts) : c.sendResponse(parts));
            if (rc != Errno.WOULD_BLOCK) {
                return;
            }
            // The client pipelines faster than it reads, or other threads fill the ring: give it time.
            long now = System.nanoTime();
            if (deadline == 0) {
                deadline = now + RETRY_NANOS;
            } else if (now - deadline > 0) {
                throw new IpcException(event ? "event_send" : "response_send", Errno.EAGAIN, "client not reading");
            }
            Thread.yield();
        }
    }
}
