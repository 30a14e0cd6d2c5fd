package io.jqb;

/**
 * What {@link Connection#queueResponse} and {@link Connection#queueEvent} do when a connection's send backlog would
 * grow past {@link Service#sendBacklogLimit()} (see {@link Service#setSendBacklog}).
 */
public enum BacklogPolicy {
    /** Queue nothing and return {@link Errno#WOULD_BLOCK}: the application decides (drop the message, retry). */
    FAIL_SEND,
    /** Drop the connection (a WARN line, rate-limited) and throw {@link NotConnectedException}. */
    DISCONNECT
}
