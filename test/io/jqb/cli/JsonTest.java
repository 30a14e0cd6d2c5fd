package io.jqb.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The CLI's JSON writer produces what a real parser reads back, escapes included. */
class JsonTest {
    @Test
    void roundTripsThroughJackson() throws Exception {
        String odd = "quote \" backslash \\ newline \n tab \t nul \u0000 ü";
        String s = new Json().beginObject().field("s", odd).field("n", -1L).field("d", 12.3456)
                .field("nan", Double.NaN).field("b", true).field("null", (String) null)
                .strings("list", List.of("a", "b")).name("objs").beginArray().beginObject().field("x", 1L)
                .endObject().beginObject().endObject().endArray().endObject().toString();
        JsonNode n = new ObjectMapper().readTree(s);
        assertEquals(odd, n.get("s").asText());
        assertEquals(-1, n.get("n").asLong());
        assertEquals(12.35, n.get("d").asDouble());
        assertEquals(true, n.get("nan").isNull());
        assertEquals(true, n.get("b").asBoolean());
        assertEquals(true, n.get("null").isNull());
        assertEquals("b", n.get("list").get(1).asText());
        assertEquals(1, n.get("objs").get(0).get("x").asInt());
        assertEquals(0, n.get("objs").get(1).size());
    }
}
