package io.jqb.cli;

import io.jqb.notify.NotificationBroker;
import io.jqb.notify.Notifications;
import io.jqb.notify.NotifyResult;
import java.util.List;
import java.util.Set;

/**
 * {@code jqb notify --from APP --to T [--flags N] [--service NAME] ID [JSON]}: sends one notification; exits 0 when
 * the result is OK, else prints the result's name and exits 1 (2 for bad arguments such as malformed JSON).
 */
final class NotifyCommand {
    private NotifyCommand() {
    }

    static int run(String[] argv) {
        Args a;
        List<String> pos;
        try {
            a = new Args(argv, Set.of("--from", "--to", "--flags", "--service"), Set.of(), true);
            a.require("--from");
            a.require("--to");
            pos = a.positional();
            if (pos.isEmpty() || pos.size() > 2) {
                throw new IllegalArgumentException("expected ID [JSON]");
            }
        } catch (IllegalArgumentException e) {
            System.err.println("jqb notify: " + e.getMessage());
            return 2;
        }
        try (Notifications n = Notifications.open(a.get("--service", NotificationBroker.defaultService()),
                a.require("--from"))) {
            NotifyResult r = n.notify(a.require("--to"), pos.get(0), pos.size() > 1 ? pos.get(1) : null,
                    a.getInt("--flags", 0), null);
            if (r != NotifyResult.OK) {
                System.out.println(r);
                return 1;
            }
            return 0;
        } catch (IllegalArgumentException e) {
            System.err.println("jqb notify: " + e.getMessage());
            return 2;
        }
    }
}
