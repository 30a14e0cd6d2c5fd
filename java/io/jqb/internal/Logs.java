package io.jqb.internal;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.helpers.NOPLogger;

/**
 * jqb's loggers. With an SLF4J provider on the class path they are the provider's; without one they are SLF4J's
 * no-operation logger, obtained without initialising {@link LoggerFactory}: SLF4J 2 would otherwise print its
 * three-line "No SLF4J providers were found" warning to stderr on the first {@code getLogger}, i.e. when a library
 * user who chose no logging starts a service. The outcome is what SLF4J itself falls back to, minus the warning; no
 * system property is read or set beyond SLF4J's own {@code slf4j.provider}.
 */
public final class Logs {
    /** The resource SLF4J 2's ServiceLoader reads (with the class loader of {@link LoggerFactory}). */
    static final String PROVIDER_RESOURCE = "META-INF/services/org.slf4j.spi.SLF4JServiceProvider";
    private static final boolean PROVIDER = providerPresent();

    private Logs() {
    }

    private static boolean providerPresent() {
        String explicit = System.getProperty("slf4j.provider");
        if (explicit != null && !explicit.isEmpty()) {
            return true;
        }
        ClassLoader cl = LoggerFactory.class.getClassLoader(); // a class literal: LoggerFactory is not initialised
        if (cl == null) {
            cl = ClassLoader.getSystemClassLoader();
        }
        return cl.getResource(PROVIDER_RESOURCE) != null;
    }

    /**
     * @param type the class that logs
     * @return its logger (the no-operation logger when no SLF4J provider is installed)
     */
    public static Logger get(Class<?> type) {
        return PROVIDER ? LoggerFactory.getLogger(type) : NOPLogger.NOP_LOGGER;
    }
}
