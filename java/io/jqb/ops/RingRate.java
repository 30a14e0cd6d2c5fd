package io.jqb.ops;

/**
 * What was written into one ring during a measuring interval (see {@link ActivitySampler} for how).
 *
 * @param ring "request", "response" or "event"
 * @param messagesPerSecond chunks written per second
 * @param bytesPerSecond ring bytes written per second (payload, 8-byte chunk headers and padding)
 * @param estimated true when some messages were estimated from the bytes rather than counted
 * @param error null, or why the ring could not be followed (then both rates are 0)
 */
public record RingRate(String ring, double messagesPerSecond, double bytesPerSecond, boolean estimated,
        String error) {
}
