package io.jqb.notify.internal;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;

/**
 * Validates notification parameters: one JSON object (Jackson's streaming parser), re-written compactly, at most
 * {@link NotifyMessageDescriptor#MAX_PARAMS} UTF-8 bytes.
 */
public final class Params {
    private static final JsonFactory FACTORY = new JsonFactory();

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
        boolean compact = isCompact(json);
        // Streaming (no tree): validates, and re-writes only text with insignificant whitespace.
        StringWriter out = compact ? null : new StringWriter(Math.min(raw, 256));
        try (JsonParser p = FACTORY.createParser(json)) {
            JsonToken first = p.nextToken();
            if (first != JsonToken.START_OBJECT) {
                throw new IllegalArgumentException("params must be a JSON object, not "
                        + (first == null ? "nothing" : describe(first)));
            }
            if (compact) {
                p.skipChildren();
            } else {
                try (JsonGenerator g = FACTORY.createGenerator(out)) {
                    g.copyCurrentStructure(p);
                }
            }
            if (p.nextToken() != null) {
                JsonLocation l = p.currentTokenLocation();
                throw new IllegalArgumentException("params must be one JSON object: more after it (line "
                        + l.getLineNr() + ", column " + l.getColumnNr() + ")");
            }
        } catch (JsonProcessingException e) {
            JsonLocation l = e.getLocation();
            throw new IllegalArgumentException("params are not valid JSON: " + e.getOriginalMessage()
                    + (l == null ? "" : " (line " + l.getLineNr() + ", column " + l.getColumnNr() + ")"), e);
        } catch (IOException e) {
            throw new IllegalArgumentException("params: " + e.getMessage(), e);
        }
        String result = compact ? json : out.toString();
        int len = result.length() <= NotifyMessageDescriptor.MAX_PARAMS / 3 ? result.length()
                : result.getBytes(StandardCharsets.UTF_8).length;
        if (len > NotifyMessageDescriptor.MAX_PARAMS) {
            throw tooLong(len);
        }
        return result;
    }

    /** @return true when no whitespace stands outside string literals (the text is already compact) */
    static boolean isCompact(String json) {
        boolean inString = false;
        for (int i = 0, n = json.length(); i < n; i++) {
            char c = json.charAt(i);
            if (inString) {
                if (c == '\\') {
                    i++;
                } else if (c == '"') {
                    inString = false;
                }
            } else if (c == '"') {
                inString = true;
            } else if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
                return false;
            }
        }
        return true;
    }

    private static String describe(JsonToken t) {
        switch (t) {
            case START_ARRAY:
                return "an array";
            case VALUE_STRING:
                return "a string";
            case VALUE_NUMBER_INT:
            case VALUE_NUMBER_FLOAT:
                return "a number";
            case VALUE_TRUE:
            case VALUE_FALSE:
                return "a boolean";
            case VALUE_NULL:
                return "null";
            default:
                return t.toString();
        }
    }

    private static IllegalArgumentException tooLong(int len) {
        return new IllegalArgumentException("params are " + len + " bytes, more than the limit of "
                + NotifyMessageDescriptor.MAX_PARAMS);
    }
}
