package io.jqb;

/**
 * Per-connection statistics ({@code struct qb_ipcs_connection_stats_2}).
 *
 * @param clientPid the client's pid from its credentials
 * @param requests requests passed to {@link ServiceHandler#message}
 * @param responses responses sent
 * @param events events sent
 * @param sendRetries response or event sends that found the ring full
 * @param recvRetries request reads that found nothing although the loop said there was something
 * @param flowControlState the current flow-control flag
 * @param flowControlCount how many times the flag changed
 * @param eventQueueLength events queued that the client has not read yet
 */
public record ConnectionStats(int clientPid, long requests, long responses, long events, long sendRetries,
        long recvRetries, int flowControlState, long flowControlCount, int eventQueueLength) {
}
