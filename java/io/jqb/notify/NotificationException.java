package io.jqb.notify;

/**
 * A notification call failed in a way callers do not handle routinely: the broker cannot start (second broker,
 * unreadable or malformed configuration), or an application ID was needed and not set. Unchecked.
 */
public class NotificationException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final NotifyResult result;

    /**
     * @param result the typed result
     * @param message what failed and why
     */
    public NotificationException(NotifyResult result, String message) {
        super(result + ": " + message);
        this.result = result;
    }

    /**
     * @param result the typed result
     * @param message what failed and why
     * @param cause the underlying failure
     */
    public NotificationException(NotifyResult result, String message, Throwable cause) {
        super(result + ": " + message, cause);
        this.result = result;
    }

    /** @return the typed result */
    public NotifyResult result() {
        return result;
    }
}
