package io.jqb;

/**
 * Request rate limits ({@code enum qb_ipcs_rate_limit}): each sets the connections' loop priority and the
 * flow-control flag that native clients check before sending.
 */
public enum RateLimit {
    /** HIGH priority: up to 50 requests per wake-up. */
    FAST(Priority.HIGH, 0),
    /** MED priority, the default: up to 5 requests per wake-up. */
    NORMAL(Priority.MED, 0),
    /** LOW priority: 1 request per wake-up. */
    SLOW(Priority.LOW, 0),
    /** Clients with the default {@code fc_enable_max} (1) get EAGAIN from send. */
    OFF(Priority.LOW, 1),
    /** Flag 2: only clients that raised {@code fc_enable_max} to 2 are stopped. */
    OFF_2(Priority.LOW, 2);

    private final Priority priority;
    private final int flowControl;

    RateLimit(Priority priority, int flowControl) {
        this.priority = priority;
        this.flowControl = flowControl;
    }

    /** @return the loop priority of the service's connections */
    public Priority priority() {
        return priority;
    }

    /** @return the value written into the request ring's flow-control flag */
    public int flowControl() {
        return flowControl;
    }
}
