package io.jqb.ops;

/**
 * A jqb {@code Service} in JMX ({@code io.jqb:type=Service,name="<name>"}), registered by
 * {@code Service.enableJmx()} or the system property {@code jqb.jmx=true}, unregistered when the service closes.
 * An MXBean: any JMX client reads it without jqb's classes.
 */
public interface ServiceMXBean {
    /** @return the service name clients connect to */
    String getName();

    /** @return the application-defined service id */
    int getServiceId();

    /** @return "SHM" or "SOCKET" */
    String getTransport();

    /** @return true between run and destroy */
    boolean isRunning();

    /** @return connections listed by the service now (handshake complete, not yet destroyed) */
    int getConnectionCount();

    /** @return {@code qb_ipcs_stats.active_connections} */
    int getActiveConnections();

    /** @return {@code qb_ipcs_stats.closed_connections} */
    int getClosedConnections();

    /** @return the current rate limit (FAST, NORMAL, SLOW, OFF, OFF_2) */
    String getRateLimit();

    /** @return this process's pid (the server pid in {@code jqb ls}) */
    long getPid();
}
