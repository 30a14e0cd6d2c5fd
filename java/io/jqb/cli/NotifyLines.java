package io.jqb.cli;

import io.jqb.notify.NotifyResult;
import java.util.concurrent.CountDownLatch;

/**
 * What {@code notify-listen} and {@code notify-observe} share: whole stdout lines (one lock, flushed, so delivery
 * threads never interleave), the answer to a registration, and the {@code ready} line followed by waiting for
 * SIGTERM/SIGINT.
 */
final class NotifyLines {
    private final String command;
    private final Object lock = new Object();

    /** @param command the command's name in messages, e.g. {@code notify-listen} */
    NotifyLines(String command) {
        this.command = command;
    }

    /** Prints one whole line on stdout and flushes it. */
    void print(String line) {
        synchronized (lock) {
            System.out.println(line);
            System.out.flush();
        }
    }

    /**
     * Reports a registration's result: SERVER (broker not there yet) on stderr, any other failure on stdout.
     *
     * @param r the result
     * @param later what happens once the broker is reachable, e.g. {@code registering}
     * @return false when the command should exit 1
     */
    boolean accepted(NotifyResult r, String later) {
        if (r == NotifyResult.SERVER) {
            System.err.println("jqb " + command + ": broker not reachable; " + later + " when it is");
        } else if (r != NotifyResult.OK) {
            System.out.println(r);
            return false;
        }
        return true;
    }

    /** Prints the {@code ready} line and blocks until SIGTERM or SIGINT. */
    void readyUntilTerminated() throws InterruptedException {
        CountDownLatch stop = new CountDownLatch(1);
        Signals.onTermination(stop::countDown);
        print("jqb " + command + ": ready (pid " + ProcessHandle.current().pid() + ")");
        stop.await();
    }
}
