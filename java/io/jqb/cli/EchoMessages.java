package io.jqb.cli;

import io.jqb.RequestHeader;
import io.jqb.ResponseHeader;
import java.nio.ByteBuffer;

/** Request building and response checking for the echo contract (payload byte i = i*31+7). */
final class EchoMessages {
    static final int REQUEST_HEADER = RequestHeader.LENGTH;
    static final int RESPONSE_HEADER = ResponseHeader.LENGTH;

    private EchoMessages() {
    }

    static byte pattern(int i) {
        return (byte) (i * 31 + 7);
    }

    /** A request {id, 16+n} + n pattern bytes, position 0, limit 16+n. */
    static ByteBuffer request(ByteBuffer buf, int id, int n) {
        buf.clear();
        new RequestHeader().wrap(buf, 0).set(id, REQUEST_HEADER + n);
        for (int i = 0; i < n; i++) {
            buf.put(REQUEST_HEADER + i, pattern(i));
        }
        buf.limit(REQUEST_HEADER + n);
        return buf;
    }

    /** @return null when {@code buf[0, len)} is the response {id, 24+n, error} + n pattern bytes, else what differs */
    static String checkResponse(ByteBuffer buf, int len, int id, int n, int error) {
        if (len != RESPONSE_HEADER + n) {
            return "length " + len + " != " + (RESPONSE_HEADER + n);
        }
        ResponseHeader h = new ResponseHeader().wrap(buf, 0);
        if (h.id() != id || h.size() != len || h.error() != error) {
            return "header {" + h.id() + ", " + h.size() + ", " + h.error() + "} != {" + id + ", " + len + ", " + error
                    + "}";
        }
        for (int i = 0; i < n; i++) {
            if (buf.get(RESPONSE_HEADER + i) != pattern(i)) {
                return "payload byte " + i + " differs";
            }
        }
        return null;
    }
}
