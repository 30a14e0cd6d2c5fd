package io.jqb.notify.internal;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;

/** Validates notification parameters: a JSON object (Jackson), at most {@link NotifyMessageDescriptor#MAX_PARAMS}. */
public final class Params {
    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    private Params() {
    }

    /**
     * @param json a JSON object's text; null or blank means {@code {}}
     * @return the compact form
     * @throws IllegalArgumentException not JSON, not an object, or longer than the limit (raw or compact)
     */
    public static String compact(String json) {
        if (json == null || json.isBlank()) {
            return "{}";
        }
        int raw = json.length();
        if (raw > 4 * NotifyMessageDescriptor.MAX_PARAMS) {
            throw tooLong(raw);
        }
        JsonNode node;
        try {
            node = JSON.readTree(json);
        } catch (JsonProcessingException e) {
            JsonLocation l = e.getLocation();
            throw new IllegalArgumentException("params are not valid JSON: " + e.getOriginalMessage()
                    + (l == null ? "" : " (line " + l.getLineNr() + ", column " + l.getColumnNr() + ")"), e);
        }
        if (node == null || !node.isObject()) {
            throw new IllegalArgumentException("params must be a JSON object, not "
                    + (node == null ? "nothing" : node.getNodeType().toString().toLowerCase()));
        }
        String out = node.toString();
        int len = out.getBytes(StandardCharsets.UTF_8).length;
        if (len > NotifyMessageDescriptor.MAX_PARAMS) {
            throw tooLong(len);
        }
        return out;
    }

    private static IllegalArgumentException tooLong(int len) {
        return new IllegalArgumentException("params are " + len + " bytes, more than the limit of "
                + NotifyMessageDescriptor.MAX_PARAMS);
    }
}
