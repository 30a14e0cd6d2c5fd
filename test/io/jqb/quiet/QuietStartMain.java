package io.jqb.quiet;

import io.jqb.Client;
import io.jqb.Connection;
import io.jqb.Errno;
import io.jqb.RequestHeader;
import io.jqb.ResponseHeader;
import io.jqb.Service;
import io.jqb.ServiceHandler;
import io.jqb.TransportType;
import java.nio.ByteBuffer;

/**
 * Started as a child JVM by {@link QuietStartIT}: starts a service and a client with default settings over SHM and
 * SOCKET, makes a round trip and an event on each, closes both, and exits 0; prints nothing unless something fails
 * (then exit code 1 and the reason on stderr).
 */
public final class QuietStartMain {
    private QuietStartMain() {
    }

    public static void main(String[] args) {
        try {
            for (TransportType t : new TransportType[] {TransportType.SHM, TransportType.SOCKET}) {
                run("jqbq-" + t + "-" + ProcessHandle.current().pid(), t);
            }
        } catch (Throwable e) {
            e.printStackTrace();
            System.exit(1);
        }
        System.exit(0);
    }

    private static void run(String name, TransportType type) {
        ServiceHandler handler = new ServiceHandler() {
            private final ByteBuffer header = ByteBuffer.allocateDirect(ResponseHeader.LENGTH);

            @Override
            public int message(Connection c, ByteBuffer request) {
                new ResponseHeader().wrap(header, 0).set(1, ResponseHeader.LENGTH, 0);
                c.sendResponse(header);
                c.sendEvent(header);
                return 0;
            }
        };
        Service service = Service.create(name, 0, type, handler);
        service.run();
        try (Client c = Client.connect(name, 4096)) {
            ByteBuffer req = ByteBuffer.allocateDirect(RequestHeader.LENGTH);
            new RequestHeader().wrap(req, 0).set(1, RequestHeader.LENGTH);
            ByteBuffer resp = ByteBuffer.allocateDirect(c.bufferSize());
            int n = c.sendRecv(req, resp, 10_000);
            if (n != ResponseHeader.LENGTH) {
                throw new IllegalStateException("response: " + Errno.name(n));
            }
            n = c.eventRecv(resp, 10_000);
            if (n != ResponseHeader.LENGTH) {
                throw new IllegalStateException("event: " + Errno.name(n));
            }
        } finally {
            service.close();
        }
    }
}
