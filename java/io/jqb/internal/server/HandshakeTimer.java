package io.jqb.internal.server;

import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * Handshake time-outs for services that run on the application's own {@code PollHandlers}, which offer no timer: one
 * shared daemon thread ({@code jqb-handshake-timer}) that only exists while a time-out is pending. It never touches a
 * connection itself: the task it runs hands the real work to the service's loop with {@code jobAdd}.
 *
 * <p>A service on jqb's {@code EventLoop} does not use this class: its time-outs are loop timers.</p>
 */
public final class HandshakeTimer {
    private static final long IDLE_SECONDS = 2;
    private static ScheduledThreadPoolExecutor executor;

    private HandshakeTimer() {
    }

    /** Runs {@code task} on the timer thread after {@code delayMs}. */
    public static synchronized void schedule(long delayMs, Runnable task) {
        if (executor == null) {
            ScheduledThreadPoolExecutor e = new ScheduledThreadPoolExecutor(1, r -> {
                Thread t = new Thread(r, "jqb-handshake-timer");
                t.setDaemon(true);
                return t;
            });
            e.setKeepAliveTime(IDLE_SECONDS, TimeUnit.SECONDS);
            e.allowCoreThreadTimeOut(true);
            e.setRemoveOnCancelPolicy(true);
            executor = e;
        }
        executor.schedule(task, delayMs, TimeUnit.MILLISECONDS);
    }
}
