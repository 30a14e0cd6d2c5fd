package io.jqb.cli;

import sun.misc.Signal;

/** SIGTERM/SIGINT handling that lets a command clean up and exit 0 (a shutdown hook would exit 143). */
final class Signals {
    private Signals() {
    }

    static void onTermination(Runnable action) {
        Signal.handle(new Signal("TERM"), s -> action.run());
        Signal.handle(new Signal("INT"), s -> action.run());
    }
}
