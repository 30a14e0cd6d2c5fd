package io.jqb.notify.internal;

/**
 * One notification as it travels (a NOTE body of {@link NotifyMessageDescriptor}).
 *
 * @param regId the registration it is delivered to (0 in a NOTIFY request)
 * @param flags carried through untouched
 * @param from the sender's application ID
 * @param to the address: an application ID, {@code "1"} or {@code "*"}; in events, the resolved address
 * @param id the notification ID
 * @param params compact JSON object text
 */
public record Note(long regId, int flags, String from, String to, String id, String params) {
    /** @return this note for another registration and resolved address */
    public Note deliveredAs(long reg, String resolvedTo) {
        return new Note(reg, flags, from, resolvedTo, id, params);
    }
}
