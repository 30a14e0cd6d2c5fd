package io.jqb.notify.internal;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.async.ByteArrayFeeder;
import java.io.IOException;

/**
 * The broker's allocation-free check of compact params: one long-lived Jackson non-blocking parser is fed each
 * params text in turn (Jackson's parsers are single-use, but the non-blocking one reads a sequence of root values,
 * so one instance validates every notification; field names come from its symbol table, values stay in its text
 * buffer). Only a compact object passes here; anything else (whitespace to remove, malformed, not an object,
 * trailing text) returns false and the caller takes {@link Params#compact(String)}, which re-writes it or throws
 * with the precise message. A parser that saw an error or was left mid-value is dropped and made anew. Not
 * thread-safe (used under the broker's lock).
 */
final class ParamsValidator {
    private static final JsonFactory FACTORY = new JsonFactory();
    private JsonParser parser;

    /** @return true when {@code b[0, len)} is exactly one JSON object with no whitespace outside strings */
    boolean isCompactObject(byte[] b, int len) {
        if (len < 2 || b[0] != '{' || !isCompact(b, len)) {
            return false;
        }
        try {
            JsonParser p = parser;
            if (p == null) {
                p = FACTORY.createNonBlockingByteArrayParser();
                parser = p;
            }
            ByteArrayFeeder feeder = (ByteArrayFeeder) p.getNonBlockingInputFeeder();
            feeder.feedInput(b, 0, len);
            int depth = 0;
            JsonToken t;
            while ((t = p.nextToken()) != JsonToken.NOT_AVAILABLE && t != null) {
                if (t == JsonToken.START_OBJECT || t == JsonToken.START_ARRAY) {
                    depth++;
                } else if ((t == JsonToken.END_OBJECT || t == JsonToken.END_ARRAY) && --depth == 0) {
                    if (feeder.needMoreInput()) {
                        return true; // the object ended with the last byte
                    }
                    break; // text after the object
                }
            }
        } catch (IOException | RuntimeException e) {
            // malformed: the slow path reports it
        }
        parser = null;
        return false;
    }

    /** @return true when no whitespace stands outside string literals (as {@link Params#isCompact(String)}) */
    static boolean isCompact(byte[] b, int len) {
        boolean inString = false;
        for (int i = 0; i < len; i++) {
            byte c = b[i];
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
}
