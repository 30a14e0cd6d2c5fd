package io.jqb.notify;

/** The outcome of a notification call (the wire carries the ordinal). */
public enum NotifyResult {
    /** Done. */
    OK,
    /** The broker is not running or cannot be reached (or died during the call). */
    SERVER,
    /** No application ID is set ({@link Notifications#setAppId}). */
    APP_ID,
    /** Not allowed: sending with a foreign {@code from}, or the broker's endpoint cannot be created or reached. */
    PERMISSION,
    /** The broker's configuration file cannot be read. */
    CONFIG_FILE,
    /** The broker's configuration file has a syntax error. */
    CONFIG_SYNTAX,
    /**
     * The broker refused a new registration: this connection has as many as the broker holds for one (4,096, of
     * every kind). Brokers before this value answered nothing of the kind; clients before it read it as SERVER.
     */
    LIMIT;

    /**
     * @param ordinal a wire value
     * @return the result with this ordinal, or {@link #SERVER} for a value this version does not know
     */
    public static NotifyResult of(int ordinal) {
        NotifyResult[] v = values();
        return ordinal >= 0 && ordinal < v.length ? v[ordinal] : SERVER;
    }
}
