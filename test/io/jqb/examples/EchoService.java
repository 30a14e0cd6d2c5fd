package io.jqb.examples;

import io.jqb.Connection;
import io.jqb.Errno;
import io.jqb.RateLimit;
import io.jqb.RequestHeader;
import io.jqb.ResponseHeader;
import io.jqb.Service;
import io.jqb.ServiceHandler;
import io.jqb.TransportType;
import java.nio.ByteBuffer;

/**
 * README example: a service native libqb clients connect to. It admits one uid, echoes every request's payload under
 * a response header with the request's id, and can be throttled. Run by {@code ExamplesTest}.
 */
public final class EchoService {
    private EchoService() {
    }

    /** The echo callbacks, admitting only clients of {@code allowedUid}. */
    public static ServiceHandler handler(int allowedUid) {
        // [handler]
        return new ServiceHandler() {
            private final RequestHeader request = new RequestHeader();
            private final ResponseHeader response = new ResponseHeader();
            private final ByteBuffer header = ByteBuffer.allocateDirect(ResponseHeader.LENGTH);  // reused: 0 B/op
            private final ByteBuffer[] reply = {header, null};

            @Override
            public int accept(Connection c, int uid, int gid) {
                return uid == allowedUid ? 0 : -Errno.EACCES;   // the client's connect fails with EACCES
            }

            @Override
            public int message(Connection c, ByteBuffer msg) {   // a read-only view of the shared ring, valid now
                int at = msg.position();
                int id = request.wrap(msg, at).id();
                int payload = msg.remaining() - RequestHeader.LENGTH;
                response.wrap(header, 0).set(id, ResponseHeader.LENGTH + payload, 0);
                reply[1] = msg.position(at + RequestHeader.LENGTH);
                c.sendResponse(reply);   // no try/catch: a full ring returns Errno.WOULD_BLOCK, failures are unchecked
                return 0;
            }
        };
        // [/handler]
    }

    /** Starts the echo service {@code name} on its built-in loop. */
    public static Service start(String name, int allowedUid) {
        // [service]
        Service service = Service.create(name, 0, TransportType.SHM, EchoService.handler(allowedUid));
        service.run();      // binds the abstract socket; serves on its own event-loop thread
        // [/service]
        return service;
    }

    /** Throttles {@code service}: the README's rate-limit lines. */
    public static void throttle(Service service, boolean stop) {
        // [rate-limit]
        service.requestRateLimit(RateLimit.SLOW);       // one request per connection per wake-up, LOW priority
        if (stop) {
            service.requestRateLimit(RateLimit.OFF);    // native clients' sends now fail with EAGAIN
        }
        service.enforceBufferSize(256 * 1024);          // rings of at least 256 KiB, whatever clients ask for
        // [/rate-limit]
    }
}
