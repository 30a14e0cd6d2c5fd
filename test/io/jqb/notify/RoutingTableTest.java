package io.jqb.notify;

import static io.jqb.notify.internal.NotifyMessageDescriptor.KIND_NOTIFICATION;
import static io.jqb.notify.internal.NotifyMessageDescriptor.KIND_OBSERVER;
import static io.jqb.notify.internal.NotifyMessageDescriptor.KIND_UNICAST_ERROR;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.notify.internal.RoutingTable;
import io.jqb.notify.internal.RoutingTable.Target;
import java.util.List;
import org.junit.jupiter.api.Test;

class RoutingTableTest {
    private final RoutingTable t = new RoutingTable();

    private void reg(long client, String app, long regId, String id, String to, int prio) {
        t.add(client, app, regId, KIND_NOTIFICATION, id, to, prio);
    }

    @Test
    void shouldDeliverUnicastOnlyToRegistrationsOnThatAddress() {
        reg(1, "pay", 1, "cfg", "pay", 0);
        reg(2, "ui", 1, "cfg", "ui", 0);
        reg(3, "log", 1, "cfg", "*", 0);
        reg(4, "pay", 2, "other", "pay", 0);
        assertEquals(List.of(new Target(1, 1, "pay"), new Target(3, 1, "pay")), t.route("pay", "cfg"));
        assertEquals(List.of(), t.route("nobody", "other"));
    }

    @Test
    void shouldBroadcastToEveryRegistrationForTheId() {
        reg(1, "pay", 1, "cfg", "pay", 0);
        reg(2, "ui", 1, "cfg", "ui", 5);
        reg(2, "ui", 2, "x", "ui", 5);
        List<Target> r = t.route("*", "cfg");
        assertEquals(2, r.size());
        assertTrue(r.stream().allMatch(x -> x.resolvedTo().equals("*")));
    }

    @Test
    void shouldGiveAnyOneToHighestPriorityAndTiesToEarliest() {
        reg(1, "a", 1, "cfg", "a", 3);
        reg(2, "b", 1, "cfg", "b", 7);
        reg(3, "c", 1, "cfg", "c", 7);
        assertEquals(List.of(new Target(2, 1, "b")), t.route("1", "cfg"));
        t.remove(2, 1);
        assertEquals(List.of(new Target(3, 1, "c")), t.route("1", "cfg"));
        reg(4, "d", 1, "cfg", "d", 7);
        assertEquals(List.of(new Target(3, 1, "c")), t.route("1", "cfg"), "equal priority: earliest wins");
    }

    @Test
    void shouldTreatReRegistrationAsReplacementRegisteredAnew() {
        reg(1, "a", 1, "cfg", "a", 5);
        reg(2, "b", 1, "cfg", "b", 5);
        reg(1, "a", 1, "cfg", "a", 5);   // replaced: now the newest of the two
        assertEquals(2, t.size());
        assertEquals(List.of(new Target(2, 1, "b")), t.route("1", "cfg"));
        reg(1, "a", 1, "cfg", "a", 9);
        assertEquals(List.of(new Target(1, 1, "a")), t.route("1", "cfg"));
        assertEquals(2, t.route("*", "cfg").size(), "replacement does not add a second registration");
    }

    @Test
    void shouldForgetEveryRegistrationOfAClient() {
        reg(1, "a", 1, "cfg", "a", 0);
        reg(1, "a", 2, "x", "a", 0);
        t.add(1, "a", 3, KIND_OBSERVER, "", "", 0);
        t.add(1, "a", 4, KIND_UNICAST_ERROR, "", "", 0);
        reg(2, "b", 1, "cfg", "b", 0);
        assertEquals(4, t.removeClient(1));
        assertEquals(1, t.size());
        assertTrue(t.observers().isEmpty());
        assertTrue(t.unicastErrorWatchers(1).isEmpty());
        assertEquals(List.of(), t.route("a", "cfg"));
        assertFalse(t.remove(1, 1));
    }

    @Test
    void shouldKeepObserversAndUnicastErrorWatchersOutOfRouting() {
        t.add(1, "a", 1, KIND_OBSERVER, "", "", 0);
        t.add(2, "b", 1, KIND_UNICAST_ERROR, "", "", 0);
        assertEquals(List.of(), t.route("*", ""));
        assertEquals(1, t.observers().size());
        assertEquals(1, t.unicastErrorWatchers(2).size());
        assertTrue(t.unicastErrorWatchers(1).isEmpty());
    }

    @Test
    void shouldRouteAThousandRegistrationsByIdAndAddress() {
        for (int c = 0; c < 100; c++) {
            for (int i = 0; i < 10; i++) {
                reg(c, "app" + c, i, "id" + i, "app" + c, c);
            }
        }
        assertEquals(1000, t.size());
        assertEquals(100, t.route("*", "id3").size());
        assertEquals(List.of(new Target(42, 3, "app42")), t.route("app42", "id3"));
        assertEquals(List.of(new Target(99, 3, "app99")), t.route("1", "id3"));
    }
}
