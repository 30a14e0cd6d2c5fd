package io.jqb.examples;

import io.jqb.EventLoop;
import io.jqb.Service;
import io.jqb.TransportType;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * README example: a service inside the application's own loop. The application's thread drives jqb's
 * {@link EventLoop} one iteration at a time with {@code runOnce} between its own work; only public packages are
 * imported.
 */
public final class CustomLoop {
    private CustomLoop() {
    }

    /** Serves the echo service {@code name} on the calling thread until {@code stop} is set. */
    public static void serve(String name, int allowedUid, AtomicBoolean stop, Runnable ownWork) {
        // [custom-loop]
        try (EventLoop jqb = new EventLoop()) {                  // not started: this thread drives it
            Service service = Service.create(name, 0, TransportType.SHM, EchoService.handler(allowedUid));
            service.setPollHandlers(jqb);
            service.run();                                       // callbacks run on this thread, inside runOnce
            while (!stop.get()) {                                // the application's loop
                jqb.runOnce(10);                                 // jqb's ready fds, jobs, timers; waits <= 10 ms
                ownWork.run();                                   // ... and the application's own work
            }
            service.close();                                     // disconnects everyone, removes its files
        }
        // [/custom-loop]
    }
}
