package io.jqb.internal;

import org.slf4j.Logger;

/**
 * A logger made on first use: what a class on a short-lived process's path (the client's) holds instead of a
 * {@link Logger}, so that a process which logs nothing from it never loads or initialises SLF4J, nor {@link Logs}
 * (whose start-up looks for a provider). Starting SLF4J cost a cold client 40-60 ms before its first round trip
 * (docs/PERFORMANCE.md, "Cold start", session 9; {@code ColdClientLoadsNoLoggerTest} keeps it so). Off the hot paths
 * only: {@link #get()} reads a volatile field.
 */
public final class LazyLogger {
    private final Class<?> type;
    private volatile Logger logger;

    /** @param type the class that logs */
    public LazyLogger(Class<?> type) {
        this.type = type;
    }

    /** @return the class's logger, as {@link Logs#get}; made by the first call (two racing calls get equal ones) */
    public Logger get() {
        Logger l = logger;
        if (l == null) {
            l = Logs.get(type);
            logger = l;
        }
        return l;
    }
}
