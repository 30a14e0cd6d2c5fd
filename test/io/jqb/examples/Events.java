package io.jqb.examples;

import io.jqb.Client;
import io.jqb.Connection;
import io.jqb.RequestHeader;
import io.jqb.ResponseHeader;
import io.jqb.Service;
import io.jqb.ServiceHandler;
import io.jqb.TransportType;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/** README example: events (server-initiated messages), sent by a service and received by a client. */
public final class Events {
    private Events() {
    }

    /** A service that greets every new connection with event id 7 carrying {@code greeting}. */
    public static Service greeter(String name, byte[] greeting) {
        // [send-event]
        ServiceHandler handler = new ServiceHandler() {
            @Override
            public void created(Connection c) {    // any thread may send events, at any time after created
                ByteBuffer event = ByteBuffer.allocate(ResponseHeader.LENGTH + greeting.length);
                new ResponseHeader().wrap(event, 0).set(7, event.capacity(), 0);
                event.put(ResponseHeader.LENGTH, greeting);
                c.sendEvent(event);                 // Errno.WOULD_BLOCK when the client's event ring is full
            }

            @Override
            public int message(Connection c, ByteBuffer request) {
                return 0;
            }
        };
        // [/send-event]
        Service service = Service.create(name, 0, TransportType.SHM, handler);
        service.run();
        return service;
    }

    /**
     * Asks a service speaking the echo contract for an event (request id 2 with a payload) and returns the event's
     * payload as text.
     */
    public static String requestEvent(String service, String text) {
        byte[] payload = text.getBytes(StandardCharsets.UTF_8);
        ByteBuffer request = ByteBuffer.allocateDirect(RequestHeader.LENGTH + payload.length);
        new RequestHeader().wrap(request, 0).set(2, request.capacity());
        request.put(RequestHeader.LENGTH, payload);
        try (Client c = Client.connect(service, 65536)) {
            ByteBuffer response = ByteBuffer.allocateDirect(c.bufferSize());
            if (c.sendRecv(request, response, 5000) < 0) {
                throw new IllegalStateException("no response");
            }
            // [receive-event]
            ByteBuffer event = ByteBuffer.allocateDirect(c.bufferSize());
            int n = c.eventRecv(event, 5000);       // the length, or Errno.TIMED_OUT
            if (n < ResponseHeader.LENGTH) {
                throw new IllegalStateException("no event: " + n);
            }
            ResponseHeader h = new ResponseHeader().wrap(event, 0);
            byte[] body = new byte[n - ResponseHeader.LENGTH];
            event.get(ResponseHeader.LENGTH, body);
            // [/receive-event]
            if (h.id() != 2) {
                throw new IllegalStateException("event id " + h.id());
            }
            return new String(body, StandardCharsets.UTF_8);
        }
    }
}
