package io.jqb.examples;

import io.jqb.libipc.IpcEvent;
import io.jqb.libipc.IpcServer;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

/** README example: libipc's pongd in Java, a waitEvent loop that echoes every message. */
public final class LibipcPong {
    private LibipcPong() {
    }

    /** Serves {@code name} in {@code runDir} until {@code stop} is set; {@code log} gets one line per event. */
    public static void serve(String name, String runDir, AtomicBoolean stop, Consumer<String> log) {
        // [pong-loop]
        try (IpcServer server = IpcServer.builder(name).runDirectory(runDir).init()) {
            while (!stop.get()) {
                IpcEvent e = server.waitEvent(100);            // one event per call
                switch (e.type()) {
                    case CONNECTION -> log.accept("connected: " + e.connection());
                    case MESSAGE -> e.connection().write(e.message());   // same type, same payload
                    case DISCONNECTION -> log.accept("gone: " + e.connection());   // already closed and removed
                    case ERROR -> log.accept("error: " + e.cause().getMessage()); // e.g. a frame too large
                    default -> { }                              // TIMEOUT, EXTRA_FD (nothing added here)
                }
            }
        }   // removes the socket file
        // [/pong-loop]
    }
}
