package io.jqb;

/**
 * Service statistics ({@code struct qb_ipcs_stats}).
 *
 * @param activeConnections connections currently established
 * @param closedConnections connections closed since the service started (or the last clearing read)
 */
public record ServiceStats(int activeConnections, int closedConnections) {
}
