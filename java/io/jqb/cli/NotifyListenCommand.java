package io.jqb.cli;

import io.jqb.notify.NotificationBroker;
import io.jqb.notify.NotificationCallback;
import io.jqb.notify.Notifications;
import io.jqb.notify.NotifyResult;
import java.util.List;
import java.util.Set;

/**
 * {@code jqb notify-listen --app APP [--priority P] [--to T] [--service NAME] ID...}: registers for each ID and
 * prints one line per delivered notification.
 */
final class NotifyListenCommand {
    private NotifyListenCommand() {
    }

    static int run(String[] argv) throws InterruptedException {
        Args a;
        List<String> ids;
        int priority;
        try {
            a = new Args(argv, Set.of("--app", "--priority", "--to", "--service"), Set.of(), true);
            a.require("--app");
            ids = a.positional();
            priority = a.getInt("--priority", 0);
            if (ids.isEmpty()) {
                throw new IllegalArgumentException("at least one notification ID is required");
            }
        } catch (IllegalArgumentException e) {
            System.err.println("jqb notify-listen: " + e.getMessage());
            return 2;
        }
        NotifyLines out = new NotifyLines("notify-listen");
        NotificationCallback print = n -> out.print(n.line());
        try (Notifications n = Notifications.open(a.get("--service", NotificationBroker.defaultService()),
                a.require("--app"))) {
            for (String id : ids) {
                NotifyResult r = n.register(id, print, priority, a.get("--to", null));
                if (!out.accepted(r, "registering")) {
                    return 1;
                }
            }
            out.readyUntilTerminated();
        } catch (IllegalArgumentException e) {
            System.err.println("jqb notify-listen: " + e.getMessage());
            return 2;
        }
        return 0;
    }
}
