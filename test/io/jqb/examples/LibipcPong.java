package io.jqb.examples;

import io.jqb.libipc.IpcEvent;
import io.jqb.libipc.IpcEventType;
import io.jqb.libipc.IpcServer;
import java.util.concurrent.atomic.AtomicBoolean;

/** Javadoc example of {@link IpcServer}: a libipc service that sends every message back. */
public final class LibipcPong {
    private LibipcPong() {
    }

    /** Serves {@code name} in {@code runDir} until {@code stop} is set. */
    public static void serve(String name, String runDir, AtomicBoolean stop) {
        // [pong]
        try (IpcServer server = IpcServer.builder(name).runDirectory(runDir).init()) {
            while (!stop.get()) {
                IpcEvent e = server.waitEvent(1000);          // one event per call; TIMEOUT when nothing came
                if (e.type() == IpcEventType.MESSAGE) {
                    e.connection().write(e.message());
                }
            }
        }
        // [/pong]
    }
}
