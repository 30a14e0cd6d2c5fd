package io.jqb.examples;

import io.jqb.Client;
import io.jqb.Errno;
import io.jqb.RequestHeader;
import io.jqb.ResponseHeader;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/** README example: a client of any libqb service, here one speaking the echo contract (id 1 = echo). */
public final class EchoClient {
    private EchoClient() {
    }

    /** Sends {@code text} to {@code service} with id 1 and returns the text of the response. */
    public static String echo(String service, String text) {
        // [client]
        byte[] payload = text.getBytes(StandardCharsets.UTF_8);
        ByteBuffer request = ByteBuffer.allocateDirect(RequestHeader.LENGTH + payload.length);
        new RequestHeader().wrap(request, 0).set(1, request.capacity());          // id 1, whole length
        request.put(RequestHeader.LENGTH, payload);
        ByteBuffer response = ByteBuffer.allocateDirect(65536);
        try (Client c = Client.connect(service, 65536)) {
            int rc = c.sendRecv(request, response, 5000);   // the length, Errno.WOULD_BLOCK or Errno.TIMED_OUT
            if (rc < 0) {
                throw new IllegalStateException("no answer: " + Errno.name(rc));
            }
            ResponseHeader h = new ResponseHeader().wrap(response, 0);
            if (h.error() != 0) {
                throw new IllegalStateException("service says " + Errno.name(h.error()));
            }
            byte[] answer = new byte[h.size() - ResponseHeader.LENGTH];
            response.get(ResponseHeader.LENGTH, answer);
            return new String(answer, StandardCharsets.UTF_8);
        }   // NotConnectedException (unchecked) when the server dies meanwhile
        // [/client]
    }
}
