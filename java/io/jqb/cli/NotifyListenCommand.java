package io.jqb.cli;

import io.jqb.notify.NotificationBroker;
import io.jqb.notify.NotificationCallback;
import io.jqb.notify.Notifications;
import io.jqb.notify.NotifyResult;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;

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
        Object out = new Object();
        NotificationCallback print = n -> {
            synchronized (out) {
                System.out.println(n.line());
                System.out.flush();
            }
        };
        try (Notifications n = Notifications.open(a.get("--service", NotificationBroker.defaultService()),
                a.require("--app"))) {
            for (String id : ids) {
                NotifyResult r = n.register(id, print, priority, a.get("--to", null));
                if (r == NotifyResult.SERVER) {
                    System.err.println("jqb notify-listen: broker not reachable; registering when it is");
                } else if (r != NotifyResult.OK) {
                    System.out.println(r);
                    return 1;
                }
            }
            CountDownLatch stop = new CountDownLatch(1);
            Signals.onTermination(stop::countDown);
            synchronized (out) {
                System.out.println("jqb notify-listen: ready (pid " + ProcessHandle.current().pid() + ")");
                System.out.flush();
            }
            stop.await();
        } catch (IllegalArgumentException e) {
            System.err.println("jqb notify-listen: " + e.getMessage());
            return 2;
        }
        return 0;
    }
}
