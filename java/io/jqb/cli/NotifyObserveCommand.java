package io.jqb.cli;

import io.jqb.notify.NotificationBroker;
import io.jqb.notify.Notifications;
import io.jqb.notify.NotifyResult;
import java.util.Set;

/** {@code jqb notify-observe [--app APP] [--service NAME]}: one line per notification the broker delivers. */
final class NotifyObserveCommand {
    private NotifyObserveCommand() {
    }

    static int run(String[] argv) throws InterruptedException {
        Args a;
        try {
            a = new Args(argv, Set.of("--app", "--service"), Set.of());
        } catch (IllegalArgumentException e) {
            System.err.println("jqb notify-observe: " + e.getMessage());
            return 2;
        }
        NotifyLines out = new NotifyLines("notify-observe");
        try (Notifications n = Notifications.open(a.get("--service", NotificationBroker.defaultService()),
                a.get("--app", "jqb-observe-" + ProcessHandle.current().pid()))) {
            NotifyResult r = n.registerObserver(note -> out.print(note.line()));
            if (!out.accepted(r, "observing")) {
                return 1;
            }
            out.readyUntilTerminated();
        }
        return 0;
    }
}
