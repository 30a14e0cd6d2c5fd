package io.jqb.notify;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * A delivered notification, as callbacks and observers see it.
 *
 * @param from the sender's application ID
 * @param to the resolved address: the application ID it was sent to, {@code "*"} for a broadcast, the receiving
 *        application for {@code "1"}; for observers, empty when nobody received it
 * @param id the notification ID
 * @param params the parameters as compact JSON object text
 * @param flags the sender's flags, untouched
 */
public record Notification(String from, String to, String id, String params, int flags) {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** @return the parameters parsed with Jackson */
    public JsonNode paramsJson() {
        try {
            return JSON.readTree(params);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("params are not JSON: " + e.getOriginalMessage(), e);
        }
    }

    /** @return {@code from=<app> to=<to> id=<id> params=<compact json>}, the CLI's line */
    public String line() {
        return "from=" + from + " to=" + to + " id=" + id + " params=" + params;
    }
}
