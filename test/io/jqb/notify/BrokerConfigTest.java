package io.jqb.notify;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.notify.internal.BrokerConfig;
import io.jqb.notify.internal.Params;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class BrokerConfigTest {
    private static BrokerConfig parse(String... lines) {
        return BrokerConfig.parse("t.conf", List.of(lines));
    }

    private static NotificationException syntax(String... lines) {
        NotificationException e = assertThrows(NotificationException.class, () -> parse(lines));
        assertEquals(NotifyResult.CONFIG_SYNTAX, e.result());
        return e;
    }

    @Test
    void shouldParseWhitelistListenAndPeers() {
        BrokerConfig c = parse("# two hosts", "", "send card.inserted  # out", "receive config.changed",
                "listen 127.0.0.1:0", "peer 127.0.0.1:7412");
        assertEquals(Set.of("card.inserted"), c.send());
        assertEquals(Set.of("config.changed"), c.receive());
        assertTrue(c.listen().getAddress().isLoopbackAddress());
        assertEquals(1, c.peers().size());
    }

    @Test
    void shouldListenOnAllInterfacesWithAWhitelistAndNowhereWithout() {
        BrokerConfig c = parse("send a");
        assertTrue(c.listen().getAddress().isAnyLocalAddress());
        assertEquals(BrokerConfig.DEFAULT_PORT, c.listen().getPort());
        assertNull(parse("# nothing").listen());
    }

    @Test
    void shouldReportSyntaxErrorsWithLineNumbers() {
        assertTrue(syntax("send a", "", "frobnicate x").getMessage().contains("t.conf:3: unknown directive"));
        assertTrue(syntax("send").getMessage().contains("t.conf:1:"));
        assertTrue(syntax("send a b").getMessage().contains("t.conf:1:"));
        assertTrue(syntax("listen 1", "listen 2").getMessage().contains("t.conf:2: second 'listen'"));
        assertTrue(syntax("peer localhost:99999").getMessage().contains("out of range"));
        assertTrue(syntax("send *").getMessage().contains("not a notification ID"));
        assertTrue(syntax("listen 0.0.0.0:7000").getMessage().contains("t.conf:1:"),
                "no non-loopback listening without a whitelist");
    }

    @Test
    void shouldReportAnUnreadableFileAsConfigFile() {
        NotificationException e = assertThrows(NotificationException.class,
                () -> BrokerConfig.load(Path.of("/nonexistent/jqb-" + ProcessHandle.current().pid())));
        assertEquals(NotifyResult.CONFIG_FILE, e.result());
    }

    @Test
    void shouldValidateParamsAsCompactJsonObjects() {
        assertEquals("{\"a\":[1,2]}", Params.compact(" { \"a\" : [1, 2] } "));
        assertEquals("{}", Params.compact(null));
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class, () -> Params.compact("{bad"));
        assertTrue(bad.getMessage().startsWith("params are not valid JSON"), bad.getMessage());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Params.compact("[1]")).getMessage()
                .contains("must be a JSON object"));
        assertThrows(IllegalArgumentException.class, () -> Params.compact("{} {}"));
        assertThrows(IllegalArgumentException.class, () -> Params.compact("{}{}"));
        assertThrows(IllegalArgumentException.class, () -> Params.compact("{\"a\":1"));
        assertEquals("{\"s\":\"a b\\\" c\"}", Params.compact("{\"s\":\"a b\\\" c\"}"), "spaces in strings stay");
        assertEquals("{\"s\":\"a b\"}", Params.compact("{\"s\" :\"a b\"}"));
        String big = "{\"x\":\"" + "y".repeat(40_000) + "\"}";
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Params.compact(big)).getMessage()
                .contains("more than the limit of 32768"));
    }
}
