package io.jqb.notify.internal;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * The broker's routing table: who receives a notification. Not thread-safe (the broker calls it under its lock).
 *
 * <p>A registration is (client, regId) → (kind, notification ID, {@code to}, priority). Its {@code to} is the
 * address it listens on: an application ID, or {@code "*"} for every address. A notification (to, id) reaches:</p>
 * <ul>
 * <li>to = application ID A: every registration for id whose {@code to} is A or {@code "*"};</li>
 * <li>to = {@code "*"}: every registration for id;</li>
 * <li>to = {@code "1"}: exactly one registration for id, the highest priority; among equal priorities the one
 * registered first (a replaced registration counts as registered at its replacement).</li>
 * </ul>
 * The resolved address is A, {@code "*"}, or for {@code "1"} the winner's application ID.
 */
public final class RoutingTable {
    /** Broadcast address. */
    public static final String ALL = "*";
    /** Any-one address. */
    public static final String ANY_ONE = "1";

    /**
     * One registration; {@code owner} is the caller's object for the client (the broker's client state, so that
     * delivering needs no look-up), {@code appUtf8} the application ID's bytes (the resolved address of a "1").
     */
    public record Entry(long client, String app, long regId, int kind, String id, String to, int priority, long seq,
            Object owner, byte[] appUtf8) {
    }

    /** One receiver of a routed notification. */
    public record Target(long client, long regId, String resolvedTo) {
    }

    private record Key(long client, long regId) {
    }

    private final Map<Key, Entry> byKey = new HashMap<>();
    /** Per notification ID, sorted by priority (high first), then seq (old first). */
    private final Map<String, List<Entry>> byId = new HashMap<>();
    private final List<Entry> observers = new ArrayList<>();
    private final Map<Long, List<Entry>> unicastErrors = new HashMap<>();
    private long nextSeq;

    /** Adds a registration, replacing the client's registration with the same regId. */
    public void add(long client, String app, long regId, int kind, String id, String to, int priority) {
        add(client, app, regId, kind, id, to, priority, null);
    }

    /**
     * Adds a registration with the caller's object for its client; see {@link Entry}.
     *
     * @return true when it replaced the client's registration with the same regId
     */
    public boolean add(long client, String app, long regId, int kind, String id, String to, int priority,
            Object owner) {
        boolean replaced = remove(client, regId);
        Entry e = new Entry(client, app, regId, kind, id, to, priority, nextSeq++, owner,
                app.getBytes(java.nio.charset.StandardCharsets.UTF_8));
        byKey.put(new Key(client, regId), e);
        switch (kind) {
            case NotifyMessageDescriptor.KIND_OBSERVER -> observers.add(e);
            case NotifyMessageDescriptor.KIND_UNICAST_ERROR ->
                    unicastErrors.computeIfAbsent(client, c -> new ArrayList<>()).add(e);
            default -> insertSorted(byId.computeIfAbsent(id, k -> new ArrayList<>()), e);
        }
        return replaced;
    }

    /** @return true when the client has a registration with this regId */
    public boolean contains(long client, long regId) {
        return byKey.containsKey(new Key(client, regId));
    }

    private static void insertSorted(List<Entry> list, Entry e) {
        int i = list.size();
        while (i > 0 && list.get(i - 1).priority() < e.priority()) {
            i--;
        }
        list.add(i, e);
    }

    /** @return true when the registration existed */
    public boolean remove(long client, long regId) {
        Entry e = byKey.remove(new Key(client, regId));
        if (e == null) {
            return false;
        }
        switch (e.kind()) {
            case NotifyMessageDescriptor.KIND_OBSERVER -> observers.remove(e);
            case NotifyMessageDescriptor.KIND_UNICAST_ERROR -> {
                List<Entry> l = unicastErrors.get(client);
                l.remove(e);
                if (l.isEmpty()) {
                    unicastErrors.remove(client);
                }
            }
            default -> {
                List<Entry> l = byId.get(e.id());
                l.remove(e);
                if (l.isEmpty()) {
                    byId.remove(e.id());
                }
            }
        }
        return true;
    }

    /** Removes every registration of a client; @return how many */
    public int removeClient(long client) {
        int n = 0;
        for (Iterator<Entry> it = new ArrayList<>(byKey.values()).iterator(); it.hasNext();) {
            Entry e = it.next();
            if (e.client() == client) {
                remove(client, e.regId());
                n++;
            }
        }
        return n;
    }

    /** @return the receivers of a notification, in priority order (empty when nobody matches) */
    public List<Target> route(String to, String id) {
        List<Entry> l = byId.get(id);
        if (l == null) {
            return List.of();
        }
        if (ANY_ONE.equals(to)) {
            Entry e = l.get(0);
            return List.of(new Target(e.client(), e.regId(), e.app()));
        }
        boolean all = ALL.equals(to);
        List<Target> out = new ArrayList<>(l.size());
        for (Entry e : l) {
            if (all || e.to().equals(to) || ALL.equals(e.to())) {
                out.add(new Target(e.client(), e.regId(), to));
            }
        }
        return out;
    }

    /**
     * The registrations for {@code id} in priority order, without copying (for the broker's allocation-free path;
     * filter with {@link #matches}). For {@code "1"} the first one is the receiver.
     *
     * @return the live list (empty when none); do not modify, valid until the table changes
     */
    public List<Entry> registrations(String id) {
        List<Entry> l = byId.get(id);
        return l == null ? List.of() : l;
    }

    /** @return true when a notification to {@code to} (an application ID or "*", not "1") reaches {@code e} */
    public static boolean matches(Entry e, String to) {
        return ALL.equals(to) || e.to().equals(to) || ALL.equals(e.to());
    }

    /** @return every observer registration */
    public List<Entry> observers() {
        return observers;
    }

    /** @return the client's unicast-error registrations (empty when none) */
    public List<Entry> unicastErrorWatchers(long client) {
        return unicastErrors.getOrDefault(client, List.of());
    }

    /** As {@link #unicastErrorWatchers(long)}, with the client id boxed once by the caller (no allocation). */
    public List<Entry> unicastErrorWatchers(Long client) {
        return unicastErrors.getOrDefault(client, List.of());
    }

    /** @return the number of registrations of every kind */
    public int size() {
        return byKey.size();
    }
}
