package io.jqb.notify.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/**
 * The broker's in-place params check (one long-lived non-blocking parser for every notification) accepts exactly
 * the compact JSON objects and hands everything else to {@link Params#compact(String)}, also right after a bad one.
 */
class ParamsValidatorTest {
    private static boolean ok(ParamsValidator v, String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        return v.isCompactObject(b, b.length);
    }

    @Test
    void acceptsCompactObjectsOneAfterAnotherAndRefusesTheRest() {
        ParamsValidator v = new ParamsValidator();
        for (int i = 0; i < 3; i++) {
            assertTrue(ok(v, "{\"t\":" + (1_000_000_000L * i + 7) + "}"));
            assertTrue(ok(v, "{}"));
            assertTrue(ok(v, "{\"a\":[1,{\"b\":\"x y\"}],\"c\":null,\"d\":\"\\\"}\",\"é\":1.5e3}"));
        }
        String[] refused = {"", "{", "}", "[]", "1", "\"s\"", "{} ", " {}", "{\"a\": 1}", "{\"a\":1}x", "{}{}",
            "{\"a\":1,}", "{\"a\"}", "{\"a\":tru}", "{\"a\":1", "{\"a\":[1}", "null"};
        for (String s : refused) {
            assertFalse(ok(v, s), s);
            assertTrue(ok(v, "{\"after\":\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"}"),
                    "a valid object right after " + s);
        }
    }

    @Test
    void noteBufferCompactsWhatTheFastCheckRefusesAndRejectsWhatIsNotAnObject() {
        NoteBuffer n = new NoteBuffer(new NameCache(16));
        assertEquals("{\"a\":1}", params(n, "{ \"a\" : 1 }"));
        assertEquals("{}", params(n, ""));
        assertEquals("{}", params(n, "  "));
        assertEquals("{\"t\":5}", params(n, "{\"t\":5}"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> params(n, "[1]"));
        assertTrue(e.getMessage().contains("must be a JSON object"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> params(n, "{\"a\":"));
        assertTrue(e.getMessage().contains("not valid JSON"), e.getMessage());
    }

    private static String params(NoteBuffer n, String json) {
        byte[] p = json.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(NotifyMessageDescriptor.NOTE_FIXED + 3 + p.length)
                .order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(0).putInt(0).putInt(p.length).putShort((short) 1).putShort((short) 1).putShort((short) 1)
                .putShort((short) 0).put((byte) 'f').put((byte) '*').put((byte) 'i').put(p);
        n.read(b, 0, b.capacity());
        assertEquals("*", n.to());
        assertEquals("i", n.id());
        n.compactParams();
        return new String(n.params, 0, n.paramsLen, StandardCharsets.UTF_8);
    }
}
