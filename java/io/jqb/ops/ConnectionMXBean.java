package io.jqb.ops;

/**
 * One connection of a jqb {@code Service} in JMX ({@code io.jqb:type=Connection,service="<name>",id=<id>}): the
 * {@code qb_ipcs_connection_stats_2} fields and the rings' fill, read from the ring headers as {@code jqb ls} reads
 * them. Registered while the connection exists (JMX enabled on its service).
 */
public interface ConnectionMXBean {
    /** @return the service name */
    String getService();

    /** @return the connection id (unique in this process) */
    long getId();

    /** @return "SHM" or "SOCKET" */
    String getTransport();

    /** @return the client's pid (from its credentials) */
    int getClientPid();

    /** @return the client's uid */
    int getClientUid();

    /** @return the agreed buffer size */
    int getBufferSize();

    /** @return true while established */
    boolean isConnected();

    /** @return the connection's directory under /dev/shm */
    String getDirectory();

    /** @return requests passed to the handler */
    long getRequests();

    /** @return responses sent */
    long getResponses();

    /** @return events sent */
    long getEvents();

    /** @return response/event sends that found the ring full */
    long getSendRetries();

    /** @return request reads that found nothing */
    long getRecvRetries();

    /** @return the current flow-control flag */
    int getFlowControlState();

    /** @return how many times the flag changed */
    long getFlowControlCount();

    /** @return events the client has not read yet */
    int getEventQueueLength();

    /** @return data bytes per ring (SHM), -1 for SOCKET */
    long getRingSize();

    /** @return percent of the request ring in use (SHM), -1 when unknown */
    double getRequestRingFill();

    /** @return percent of the response ring in use (SHM), -1 when unknown */
    double getResponseRingFill();

    /** @return percent of the event ring in use (SHM), -1 when unknown */
    double getEventRingFill();

    /** @return requests written and not yet read by the service */
    long getRequestQueued();

    /** @return responses written and not yet read by the client */
    long getResponseQueued();

    /** @return events written and not yet read by the client */
    long getEventQueued();
}
