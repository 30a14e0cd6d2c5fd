package io.jqb.notify.internal;

import io.jqb.internal.Logs;
import io.jqb.internal.log.RateLimitedLog;
import io.jqb.notify.Notification;
import io.jqb.notify.NotificationCallback;
import java.util.ArrayDeque;
import java.util.concurrent.Executor;
import org.slf4j.Logger;

/**
 * One registration on the client side and its delivery queue: callbacks run one at a time, in order, on the
 * instance's delivery executor, never on the transport thread. At most {@link #LIMIT} notifications wait per
 * registration; past that new ones are dropped (counted, logged once per episode, at most 5 lines per 10 s for all
 * registrations together), so one slow callback delays only its own registration.
 */
public final class Delivery {
    /** Most notifications waiting for one registration's callback. */
    public static final int LIMIT = 1024;
    private static final int BATCH = 64;
    private static final Logger LOG = Logs.get(Delivery.class);
    /**
     * A callback that throws, logged with its stack trace: a sender picks the notifications, so a callback that
     * fails on some params would otherwise log a stack trace per notification. At most 5 a second, then a count.
     */
    private static final RateLimitedLog CALLBACK_FAILED = new RateLimitedLog(LOG);
    /**
     * The start of an episode of dropping, for every registration together: an episode ends whenever the queue
     * drains, and senders choose how fast notifications come, so a sender can start one episode after another. At
     * most 5 lines per 10 s, then a count.
     */
    private static final RateLimitedLog NOT_KEEPING_UP = new RateLimitedLog(LOG, 5, 10_000);

    private final long regId;
    private final int kind;
    private final String id;
    private final String to;
    private final NotificationCallback callback;
    private final Executor executor;
    private final ArrayDeque<Notification> queue = new ArrayDeque<>();
    private volatile int priority;
    private boolean active = true;
    private boolean scheduled;
    private Thread running;
    private long dropped;
    private boolean dropping;

    /**
     * @param regId the id on the wire
     * @param kind a {@code KIND_*} of {@link NotifyMessageDescriptor}
     * @param id the notification ID ("" for observers and unicast-error registrations)
     * @param to the address listened on ("" for the own application)
     * @param priority for "1"
     * @param callback the user's callback
     * @param executor runs the callbacks
     */
    public Delivery(long regId, int kind, String id, String to, int priority, NotificationCallback callback,
            Executor executor) {
        this.regId = regId;
        this.kind = kind;
        this.id = id;
        this.to = to;
        this.priority = priority;
        this.callback = callback;
        this.executor = executor;
    }

    /** Queues one notification; drops it when inactive or full. */
    public void offer(Notification n) {
        synchronized (this) {
            if (!active) {
                return;
            }
            if (queue.size() >= LIMIT) {
                dropped++;
                if (!dropping) {
                    dropping = true;
                    NOT_KEEPING_UP.warn("callback for '{}' is not keeping up: {} waiting, dropping new notifications",
                            id, LIMIT);
                }
                return;
            }
            queue.add(n);
            if (scheduled) {
                return;
            }
            scheduled = true;
        }
        executor.execute(this::drain);
    }

    private void drain() {
        for (int i = 0; i < BATCH; i++) {
            Notification n;
            synchronized (this) {
                n = active ? queue.poll() : null;
                if (n == null) {
                    scheduled = false;
                    dropping = false;
                    notifyAll();
                    return;
                }
                running = Thread.currentThread();
            }
            try {
                callback.onNotification(n);
            } catch (RuntimeException e) {
                CALLBACK_FAILED.error("notification callback for '{}' failed", id, e);
            } finally {
                synchronized (this) {
                    running = null;
                    notifyAll();
                }
            }
        }
        executor.execute(this::drain);   // others get the thread now and then
    }

    /**
     * Stops deliveries: returns when the callback is not running and will not run again; from inside the callback
     * itself it returns at once (the current call finishes afterwards, none follows).
     */
    public void deactivate() {
        boolean interrupted = false;
        synchronized (this) {
            active = false;
            queue.clear();
            while (running != null && running != Thread.currentThread()) {
                try {
                    wait();
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    /** @return whether this registration is for (kind, id, to, callback) */
    public boolean matches(int k, String notificationId, String address, NotificationCallback cb) {
        return kind == k && id.equals(notificationId) && to.equals(address) && (cb == null || callback == cb);
    }

    /** @return the wire id */
    public long regId() {
        return regId;
    }

    /** @return the registration kind */
    public int kind() {
        return kind;
    }

    /** @return the notification ID */
    public String id() {
        return id;
    }

    /** @return the address listened on */
    public String to() {
        return to;
    }

    /** @return the priority */
    public int priority() {
        return priority;
    }

    /** Changes the priority (a replacing registration). */
    public void setPriority(int p) {
        priority = p;
    }

    /** @return notifications dropped past {@link #LIMIT} */
    public synchronized long dropped() {
        return dropped;
    }
}
