package io.jqb.cli;

import io.jqb.IpcException;
import io.jqb.Service;
import io.jqb.TransportType;
import java.util.Set;
import java.util.concurrent.CountDownLatch;

/** {@code jqb echo-server}: serves the echo contract until SIGTERM/SIGINT. */
final class EchoServerCommand {
    private EchoServerCommand() {
    }

    static int run(String[] argv) throws InterruptedException {
        Args a;
        try {
            a = new Args(argv, Set.of("--service", "--transport", "--max-msg-size", "--wait"), Set.of());
            a.require("--service");
        } catch (IllegalArgumentException e) {
            System.err.println("jqb echo-server: " + e.getMessage());
            return 2;
        }
        TransportType type;
        switch (a.get("--transport", "shm")) {
            case "shm":
                type = TransportType.SHM;
                break;
            case "native":
                type = TransportType.NATIVE;
                break;
            case "socket":
                type = TransportType.SOCKET;
                break;
            default:
                System.err.println("jqb echo-server: --transport must be shm, socket or native");
                return 2;
        }
        Service service;
        try {
            service = Service.create(a.require("--service"), 0, type, new EchoHandler());
        } catch (UnsupportedOperationException e) {
            System.err.println("jqb echo-server: " + e.getMessage());
            return 3;
        }
        service.enforceBufferSize(a.getInt("--max-msg-size", 0));
        try {
            service.setWaitStrategy(io.jqb.WaitStrategy.parse(a.get("--wait", "block")));
        } catch (IllegalArgumentException e) {
            System.err.println("jqb echo-server: " + e.getMessage());
            return 2;
        }
        try {
            service.run();
        } catch (IpcException e) {
            System.err.println("jqb echo-server: " + e.getMessage());
            return 1;
        }
        CountDownLatch stop = new CountDownLatch(1);
        Signals.onTermination(stop::countDown);
        System.out.println("jqb echo-server: service " + service.name() + " ready (pid "
                + ProcessHandle.current().pid() + ")");
        System.out.flush();
        stop.await();
        service.close();
        return 0;
    }
}
