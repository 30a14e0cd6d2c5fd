package io.jqb.notify;

import static io.jqb.notify.internal.NotifyMessageDescriptor.*;

import io.jqb.Errno;
import io.jqb.notify.internal.BrokerLink;
import io.jqb.notify.internal.Delivery;
import io.jqb.notify.internal.Note;
import io.jqb.notify.internal.NoteCodec;
import io.jqb.notify.internal.Params;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The notification client: send notifications by application ID, to the highest-priority receiver ({@code "1"}) or
 * to everyone ({@code "*"}), and receive them with callbacks. See docs/NOTIFY-PROTOCOL.md for the delivery rules.
 *
 * <!-- example: test/io/jqb/examples/NotifyExample.java#notify -->
 * <pre>{@code
 * try (Notifications n = Notifications.open(service, "payments")) {   // or Notifications.instance()
 *     n.register("config.changed", inbox::add, 0, null);   // callbacks run on delivery threads
 *     NotifyResult r = n.notify("*", "config.changed", "{\"file\":\"/etc/pay.conf\"}", 0, null);
 *     if (r != NotifyResult.OK) {                            // SERVER when no broker runs
 *         throw new IllegalStateException("notify: " + r);
 *     }
 *     Notification got = inbox.poll(5, TimeUnit.SECONDS);    // from=payments to=* id=config.changed
 *     return got;
 * }
 * }</pre>
 *
 * <p>A process with one application ID calls {@link #setAppId} once and uses {@link #instance()}.</p>
 *
 * <p><b>Results and exceptions.</b> {@link #notify}, {@link #register}, {@link #unregister} and the observer and
 * unicast-error calls return a {@link NotifyResult}: {@code OK}, {@code SERVER} (broker not running, unreachable or
 * gone during the call), {@code APP_ID} (no application ID), {@code PERMISSION} (foreign {@code from} not allowed),
 * {@code LIMIT} (a registration past the broker's 4,096 per connection: not kept).
 * They throw {@link IllegalArgumentException} for arguments that can never succeed: malformed or non-object JSON,
 * params over 32 KiB, an empty or over-long ID. {@link NotificationBroker#start} throws
 * {@link NotificationException}.</p>
 *
 * <p><b>Threads.</b> Callbacks run on this instance's delivery threads, never on the caller's or the transport's;
 * each registration's callbacks run one at a time and in order. At most 1024 notifications wait per registration;
 * past that new ones are dropped for it ({@link #dropped()}), so one slow callback never delays another
 * registration. The broker queues at most 1024 events per client beyond its ring, then drops for that client.</p>
 *
 * <p><b>Broker restarts.</b> Registrations are kept here: when the broker goes away, calls return {@code SERVER}
 * and callbacks stop; the instance reconnects in the background (back-off 50 ms to 2 s) and re-registers
 * everything. A registration made while the broker is down returns {@code SERVER} and becomes active on
 * reconnection.</p>
 */
public final class Notifications implements AutoCloseable {
    private static volatile String processAppId;
    private static Notifications defaultInstance;
    private static final AtomicLong REG_IDS = new AtomicLong();
    /** The instance whose delivery thread this is (so close() from a callback does not wait for itself). */
    private static final ThreadLocal<Notifications> DELIVERY_THREAD_OF = new ThreadLocal<>();

    private final String service;
    private final boolean followsProcessAppId;
    private volatile String app;
    private final Map<Long, Delivery> registrations = new ConcurrentHashMap<>();
    private final ExecutorService executor;
    private final BrokerLink link;

    private Notifications(String service, String app, boolean followsProcessAppId) {
        this.service = service;
        this.app = app;
        this.followsProcessAppId = followsProcessAppId;
        AtomicInteger n = new AtomicInteger();
        String name = app == null ? "app" : app;
        ThreadFactory f = r -> {
            Thread t = new Thread(() -> {
                DELIVERY_THREAD_OF.set(this);
                r.run();
            }, "jqb-notify-cb-" + name + "-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
        this.executor = Executors.newCachedThreadPool(f);
        this.link = new BrokerLink(service, app, new BrokerLink.Owner() {
            @Override
            public void connected() {
                reRegister();
            }

            @Override
            public void event(int eventId, Note note) {
                onEvent(eventId, note);
            }
        });
    }

    /**
     * Sets this process's application ID (used by {@link #instance()}); call it once, early.
     *
     * @param appId up to 255 UTF-8 bytes, not empty
     */
    public static void setAppId(String appId) {
        NoteCodec.name("application ID", appId);
        if (appId == null || appId.isEmpty()) {
            throw new IllegalArgumentException("application ID must not be empty");
        }
        processAppId = appId;
        Notifications d;
        synchronized (Notifications.class) {
            d = defaultInstance;
        }
        if (d != null) {
            d.app = appId;
            d.link.setApp(appId);
        }
    }

    /** @return this process's application ID, or null when not set */
    public static String appId() {
        return processAppId;
    }

    /**
     * @return the process-wide instance for {@link NotificationBroker#defaultService()}, with the application ID of
     *         {@link #setAppId}; created (and connected) on first use
     */
    public static synchronized Notifications instance() {
        if (defaultInstance == null) {
            defaultInstance = new Notifications(NotificationBroker.defaultService(), processAppId, true);
        }
        return defaultInstance;
    }

    /**
     * Opens an instance of its own (several applications in one process, tests). Connects at once when the broker
     * runs, else keeps trying in the background.
     *
     * @param service the broker's service name
     * @param appId this instance's application ID
     * @return the instance (close it when done)
     */
    public static Notifications open(String service, String appId) {
        NoteCodec.name("application ID", appId);
        if (appId == null || appId.isEmpty()) {
            throw new IllegalArgumentException("application ID must not be empty");
        }
        return new Notifications(service, appId, false);
    }

    /** @return this instance's application ID, or null */
    public String app() {
        return followsProcessAppId ? processAppId : app;
    }

    /** @return the broker's service name */
    public String service() {
        return service;
    }

    // ------------------------------------------------------------------------------------------- sending

    /**
     * Sends a notification.
     *
     * @param to an application ID, {@code "1"} (the one highest-priority receiver) or {@code "*"} (everyone)
     * @param id the notification ID
     * @param params a JSON object's text (null or blank: {@code {}}), at most 32 KiB compact
     * @param flags carried to the receivers untouched
     * @param from null or empty for this instance's application ID; another ID only for a trusted sender (uid 0 or
     *        the broker's uid), else {@link NotifyResult#PERMISSION}
     * @return OK (also when nobody received it: see the unicast-error callback), SERVER, APP_ID or PERMISSION
     * @throws IllegalArgumentException malformed JSON, params too long, empty {@code to} or {@code id}
     */
    public NotifyResult notify(String to, String id, String params, int flags, String from) {
        nonEmpty("to", to);
        nonEmpty("notification id", id);
        String json = Params.compact(params);
        NoteCodec.name("from", from);
        if (app() == null) {
            return NotifyResult.APP_ID;
        }
        BrokerLink.Reply r = link.notify(new Note(0, flags, from == null ? "" : from, to, id, json));
        if (r.error() == -Errno.EINVAL) {
            throw new IllegalArgumentException("the broker refused notification '" + id + "' as malformed");
        }
        return r.result();
    }

    /**
     * {@link #notify(String, String, String, int, String)} with flags 0 and the own application ID.
     *
     * @param to an application ID, {@code "1"} or {@code "*"}
     * @param id the notification ID
     * @param params a JSON object's text
     * @return as {@link #notify(String, String, String, int, String)}
     */
    public NotifyResult notify(String to, String id, String params) {
        return notify(to, id, params, 0, null);
    }

    // ------------------------------------------------------------------------------------------- receiving

    /**
     * Registers a callback for a notification ID. A registration with the same (id, to, callback) replaces the
     * earlier one (its priority changes; no second delivery).
     *
     * @param id the notification ID
     * @param callback runs on a delivery thread
     * @param priority decides who gets a {@code "1"} notification: highest first, ties to the earliest registration
     * @param to the address to listen on: null for this application's ID, another application's ID, or {@code "*"}
     *        for notifications with this ID whatever their address
     * @return OK, APP_ID, SERVER (kept, and registered when the broker is reachable again), or LIMIT (the broker
     *         holds 4,096 registrations of this instance already; not kept)
     */
    public NotifyResult register(String id, NotificationCallback callback, int priority, String to) {
        nonEmpty("notification id", id);
        if (callback == null) {
            throw new IllegalArgumentException("callback must not be null");
        }
        return add(KIND_NOTIFICATION, id, to, priority, callback);
    }

    /**
     * {@link #register(String, NotificationCallback, int, String)} with priority 0 for the own application ID.
     *
     * @param id the notification ID
     * @param callback runs on a delivery thread
     * @return as {@link #register(String, NotificationCallback, int, String)}
     */
    public NotifyResult register(String id, NotificationCallback callback) {
        return register(id, callback, 0, null);
    }

    /**
     * Removes registrations; returns when their callbacks are not running and will not run again. Called from inside
     * such a callback it returns at once (that call completes, no other follows).
     *
     * @param id the notification ID
     * @param callback the callback to remove, or null for every registration for {@code id} (with {@code to} null:
     *        whatever their address)
     * @param to as given to {@link #register}
     * @return OK, or SERVER when the broker was unreachable (the registration is gone here anyway)
     */
    public NotifyResult unregister(String id, NotificationCallback callback, String to) {
        String addr = callback == null && to == null ? null : address(to);
        return remove(d -> d.kind() == KIND_NOTIFICATION && d.id().equals(id)
                && (addr == null || d.to().equals(addr)) && d.matches(KIND_NOTIFICATION, id, d.to(), callback));
    }

    /**
     * Registers an observer: it sees every notification the broker delivers (from, the resolved to, id, flags,
     * params), with an empty {@code to} when nobody received it.
     *
     * @param callback runs on a delivery thread
     * @return OK, APP_ID, SERVER (kept, registered on reconnection) or LIMIT (this connection holds the broker's
     *         4,096 registrations already; not kept)
     */
    public NotifyResult registerObserver(NotificationCallback callback) {
        return add(KIND_OBSERVER, "", "", 0, callback);
    }

    /**
     * Removes an observer, waiting as {@link #unregister} does.
     *
     * @param callback as registered
     * @return OK, or SERVER
     */
    public NotifyResult unregisterObserver(NotificationCallback callback) {
        return remove(d -> d.matches(KIND_OBSERVER, "", "", callback));
    }

    /**
     * Registers a callback for this instance's unicasts (to an application ID or {@code "1"}) that found no receiver;
     * it gets the notification as sent. Broadcasts never trigger it.
     *
     * @param callback runs on a delivery thread
     * @return OK, APP_ID, SERVER (kept, registered on reconnection) or LIMIT (this connection holds the broker's
     *         4,096 registrations already; not kept)
     */
    public NotifyResult registerUnicastError(NotificationCallback callback) {
        return add(KIND_UNICAST_ERROR, "", "", 0, callback);
    }

    /**
     * Removes a unicast-error callback, waiting as {@link #unregister} does.
     *
     * @param callback as registered
     * @return OK, or SERVER
     */
    public NotifyResult unregisterUnicastError(NotificationCallback callback) {
        return remove(d -> d.matches(KIND_UNICAST_ERROR, "", "", callback));
    }

    private NotifyResult add(int kind, String id, String to, int priority, NotificationCallback callback) {
        if (callback == null) {
            throw new IllegalArgumentException("callback must not be null");
        }
        NoteCodec.name("notification id", id);
        NoteCodec.name("to", to);
        if ("1".equals(to)) {
            throw new IllegalArgumentException("cannot register on '1': use an application ID or '*'");
        }
        if (app() == null) {
            return NotifyResult.APP_ID;
        }
        String addr = kind == KIND_NOTIFICATION ? address(to) : "";
        Delivery d;
        boolean added = false;
        synchronized (registrations) {
            d = find(kind, id, addr, callback);
            if (d == null) {
                d = new Delivery(REG_IDS.incrementAndGet(), kind, id, addr, priority, callback, executor);
                registrations.put(d.regId(), d);
                added = true;
            } else {
                d.setPriority(priority);
            }
        }
        NotifyResult r = link.register(new NoteCodec.Registration(d.regId(), priority, kind, id, addr)).result();
        if (r == NotifyResult.LIMIT && added) {
            // refused, not kept by the broker: not kept here either (nor re-sent on reconnection)
            synchronized (registrations) {
                registrations.remove(d.regId());
            }
            d.deactivate();
        }
        return r;
    }

    private Delivery find(int kind, String id, String to, NotificationCallback cb) {
        for (Delivery d : registrations.values()) {
            if (d.matches(kind, id, to, cb)) {
                return d;
            }
        }
        return null;
    }

    private NotifyResult remove(java.util.function.Predicate<Delivery> which) {
        List<Delivery> gone = new ArrayList<>();
        synchronized (registrations) {
            for (Delivery d : registrations.values()) {
                if (which.test(d)) {
                    gone.add(d);
                }
            }
            for (Delivery d : gone) {
                registrations.remove(d.regId());
            }
        }
        NotifyResult result = NotifyResult.OK;
        for (Delivery d : gone) {
            NotifyResult r = link.unregister(d.regId()).result();
            if (r != NotifyResult.OK) {
                result = r;
            }
            d.deactivate();
        }
        return result;
    }

    private String address(String to) {
        return to == null || to.isEmpty() ? app() : to;
    }

    private void reRegister() {
        for (Delivery d : registrations.values()) {
            link.register(new NoteCodec.Registration(d.regId(), d.priority(), d.kind(), d.id(), d.to()));
            if (!registrations.containsKey(d.regId())) {
                // unregistered meanwhile: its UNREGISTER may have gone out before this REGISTER
                link.unregister(d.regId());
            }
        }
    }

    private void onEvent(int eventId, Note n) {
        Delivery d = registrations.get(n.regId());
        if (d != null) {
            d.offer(new Notification(n.from(), n.to(), n.id(), n.params(), n.flags()));
        }
    }

    private static void nonEmpty(String what, String v) {
        if (v == null || v.isEmpty()) {
            throw new IllegalArgumentException(what + " must not be empty");
        }
        NoteCodec.name(what, v);
    }

    // ------------------------------------------------------------------------------------------- state

    /**
     * @return true while connected to the broker; after a reconnect, only once the broker has acknowledged the
     *         application ID and every registration again
     */
    public boolean isConnected() {
        return link.isConnected();
    }

    /** @return notifications dropped because a registration's queue was full (over all registrations now) */
    public long dropped() {
        long n = 0;
        for (Delivery d : registrations.values()) {
            n += d.dropped();
        }
        return n;
    }

    /**
     * Disconnects and stops the delivery threads: returns when no callback of this instance runs any more (from
     * inside a callback: when no other one runs).
     */
    @Override
    public void close() {
        synchronized (Notifications.class) {
            if (defaultInstance == this) {
                defaultInstance = null;
            }
        }
        link.close();
        for (Delivery d : registrations.values()) {
            d.deactivate();
        }
        registrations.clear();
        executor.shutdown();
        if (DELIVERY_THREAD_OF.get() == this) {
            return;   // called from one of our callbacks: the others are done (deactivated), this one ends after
        }
        try {
            executor.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
