package io.jqb.cli;

import io.jqb.notify.NotificationBroker;
import io.jqb.notify.Notifications;
import io.jqb.notify.NotifyResult;
import java.util.Set;
import java.util.concurrent.CountDownLatch;

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
        Object out = new Object();
        try (Notifications n = Notifications.open(a.get("--service", NotificationBroker.defaultService()),
                a.get("--app", "jqb-observe-" + ProcessHandle.current().pid()))) {
            NotifyResult r = n.registerObserver(note -> {
                synchronized (out) {
                    System.out.println(note.line());
                    System.out.flush();
                }
            });
            if (r == NotifyResult.SERVER) {
                System.err.println("jqb notify-observe: broker not reachable; observing when it is");
            } else if (r != NotifyResult.OK) {
                System.out.println(r);
                return 1;
            }
            CountDownLatch stop = new CountDownLatch(1);
            Signals.onTermination(stop::countDown);
            synchronized (out) {
                System.out.println("jqb notify-observe: ready (pid " + ProcessHandle.current().pid() + ")");
                System.out.flush();
            }
            stop.await();
        }
        return 0;
    }
}
