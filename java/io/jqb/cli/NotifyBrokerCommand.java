package io.jqb.cli;

import io.jqb.WaitStrategy;
import io.jqb.notify.NotificationBroker;
import io.jqb.notify.NotificationException;
import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.CountDownLatch;

/**
 * {@code jqb notify-broker [--config FILE] [--service NAME] [--wait block|spin|phased:S:Y]}: the notification broker
 * until SIGTERM/SIGINT.
 */
final class NotifyBrokerCommand {
    private NotifyBrokerCommand() {
    }

    static int run(String[] argv) throws InterruptedException {
        Args a;
        WaitStrategy wait;
        try {
            a = new Args(argv, Set.of("--config", "--service", "--wait"), Set.of());
            wait = WaitStrategy.parse(a.get("--wait", "block"));
        } catch (IllegalArgumentException e) {
            System.err.println("jqb notify-broker: " + e.getMessage());
            return 2;
        }
        String config = a.get("--config", null);
        NotificationBroker broker;
        try {
            broker = NotificationBroker.start(a.get("--service", NotificationBroker.defaultService()),
                    config == null ? null : Path.of(config), wait);
        } catch (NotificationException e) {
            System.err.println("jqb notify-broker: " + e.getMessage());
            return 1;
        }
        CountDownLatch stop = new CountDownLatch(1);
        Signals.onTermination(stop::countDown);
        System.out.println("jqb notify-broker: service " + broker.service() + " ready (pid "
                + ProcessHandle.current().pid() + (broker.tcpPort() >= 0 ? ", tcp port " + broker.tcpPort() : "")
                + ")");
        System.out.flush();
        stop.await();
        broker.close();
        return 0;
    }
}
