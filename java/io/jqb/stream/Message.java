package io.jqb.stream;

import java.nio.charset.StandardCharsets;

/**
 * One received frame.
 *
 * @param msgId the sender's message id (32 bits, unsigned on the wire: use {@link Integer#toUnsignedLong})
 * @param payload the payload bytes
 */
public record Message(int msgId, byte[] payload) {
    /** @return the payload decoded as UTF-8 */
    public String text() {
        return new String(payload, StandardCharsets.UTF_8);
    }
}
