package io.jqb.cli;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** Request building and response checking for the echo contract (payload byte i = i*31+7). */
final class EchoMessages {
    static final int REQUEST_HEADER = 16;
    static final int RESPONSE_HEADER = 24;

    private EchoMessages() {
    }

    static byte pattern(int i) {
        return (byte) (i * 31 + 7);
    }

    /** A request {id, 16+n} + n pattern bytes, position 0, limit 16+n. */
    static ByteBuffer request(ByteBuffer buf, int id, int n) {
        buf.clear();
        buf.order(ByteOrder.LITTLE_ENDIAN);
        buf.putInt(0, id).putInt(4, 0).putInt(8, REQUEST_HEADER + n).putInt(12, 0);
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
        buf.order(ByteOrder.LITTLE_ENDIAN);
        if (buf.getInt(0) != id || buf.getInt(8) != len || buf.getInt(16) != error) {
            return "header {" + buf.getInt(0) + ", " + buf.getInt(8) + ", " + buf.getInt(16) + "} != {" + id + ", "
                    + len + ", " + error + "}";
        }
        for (int i = 0; i < n; i++) {
            if (buf.get(RESPONSE_HEADER + i) != pattern(i)) {
                return "payload byte " + i + " differs";
            }
        }
        return null;
    }
}
