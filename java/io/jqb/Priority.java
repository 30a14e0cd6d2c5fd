package io.jqb;

/** Event-loop priority of a service's connections ({@code enum qb_loop_priority}). */
public enum Priority {
    /** Serves at most 1 request per wake-up. */
    LOW(1),
    /** Serves at most 5 requests per wake-up (the default). */
    MED(5),
    /** Serves at most 50 requests per wake-up. */
    HIGH(50);

    private final int requestsPerWake;

    Priority(int requestsPerWake) {
        this.requestsPerWake = requestsPerWake;
    }

    /** @return how many queued requests a connection at this priority is served per wake-up */
    public int requestsPerWake() {
        return requestsPerWake;
    }
}
