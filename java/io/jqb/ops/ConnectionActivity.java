package io.jqb.ops;

import java.util.List;

/**
 * One connection's activity over a measuring interval.
 *
 * @param service the service the connection belongs to
 * @param connection the connection as found at the end of the interval (fill, queued messages)
 * @param rates request, response and event, in that order (empty for SOCKET connections: no ring positions)
 */
public record ConnectionActivity(ServiceInfo service, ConnectionInfo connection, List<RingRate> rates) {

    /** @return bytes per second over all rings: what {@code jqb top} sorts by */
    public double bytesPerSecond() {
        return rates.stream().mapToDouble(RingRate::bytesPerSecond).sum();
    }

    /** @return messages per second over all rings */
    public double messagesPerSecond() {
        return rates.stream().mapToDouble(RingRate::messagesPerSecond).sum();
    }
}
