package io.jqb.notify.internal;

import static io.jqb.notify.internal.NotifyMessageDescriptor.*;

import io.jqb.internal.Logs;
import io.jqb.internal.log.RateLimitedLog;
import io.jqb.Connection;
import io.jqb.Errno;
import io.jqb.IpcException;
import io.jqb.ServiceHandler;
import io.jqb.internal.wire.MessageHeaderDescriptor;
import io.jqb.notify.NotifyResult;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;

/**
 * The broker's request handling and delivery: one {@link ServiceHandler} on the service's loop thread, the
 * {@link RoutingTable} under this object's lock, one {@link Outbox} per client. Peers' notifications arrive on
 * link threads and take the same lock.
 */
public final class BrokerCore implements ServiceHandler {
    private static final Logger LOG = Logs.get(BrokerCore.class);
    /** Peers' notifications refused by the whitelist: any host can send them, as fast as its link goes. */
    private static final RateLimitedLog REFUSED_LOG = new RateLimitedLog(LOG, 1, 10_000);

    /** One client connection (also the connection's context, so a request needs no look-up). */
    static final class ClientState {
        final Connection connection;
        final Outbox outbox;
        /** The connection id, boxed once (a key of the routing table's per-client maps). */
        final Long key;
        volatile String app;
        /** {@link #app} in UTF-8. */
        volatile byte[] appUtf8;
        /** Registrations of this connection in the routing table (under the broker's lock). */
        int registrations;

        ClientState(Connection connection, Outbox outbox) {
            this.connection = connection;
            this.outbox = outbox;
            this.key = connection.id();
        }
    }

    private static final byte[] EMPTY = new byte[0];

    private final RoutingTable table = new RoutingTable();
    private final Map<Long, ClientState> clients = new ConcurrentHashMap<>();
    private final Flusher flusher;
    private final BrokerConfig config;
    private final int ownUid;
    private final ByteBuffer event = ByteBuffer.allocateDirect(BUFFER_SIZE).order(ByteOrder.LITTLE_ENDIAN);
    private final ByteBuffer response = ByteBuffer.allocateDirect(RESPONSE_BODY + RESULT_FIXED)
            .order(ByteOrder.LITTLE_ENDIAN);
    /** The notification being routed (under this object's lock). */
    private final NoteBuffer note = new NoteBuffer(new NameCache(1024));
    private final AtomicLong delivered = new AtomicLong();
    private final AtomicLong refusedFromPeers = new AtomicLong();
    private volatile PeerNetwork peers;

    /**
     * @param name names the flusher thread
     * @param config the whitelist
     * @param ownUid the broker's uid: clients with it (or uid 0) may send with a foreign {@code from}
     */
    public BrokerCore(String name, BrokerConfig config, int ownUid) {
        this.config = config;
        this.ownUid = ownUid;
        this.flusher = new Flusher(name);
    }

    /** Attaches the cross-host link (after the service is up). */
    public void setPeers(PeerNetwork peers) {
        this.peers = peers;
    }

    @Override
    public void created(Connection c) {
        ClientState s = new ClientState(c, new Outbox(c, flusher));
        c.setContext(s);
        clients.put(s.key, s);
    }

    @Override
    public int closed(Connection c) {
        ClientState s = clients.remove(c.id());
        if (s != null) {
            s.outbox.close();
            synchronized (this) {
                int n = table.removeClient(c.id());
                LOG.debug("client pid {} ({}) gone: {} registrations removed", c.clientPid(), s.app, n);
            }
        }
        return 0;
    }

    @Override
    public int message(Connection c, ByteBuffer req) {
        int start = req.position();
        int msgId = NoteBuffer.le32(req, start + MessageHeaderDescriptor.ID_OFFSET);
        int end = start + req.remaining();
        int body = start + REQUEST_BODY;
        if (!(c.context() instanceof ClientState s)) {
            return 0;
        }
        int error = 0;
        NotifyResult result = NotifyResult.OK;
        int receivers = 0;
        try {
            switch (msgId) {
                case MSG_HELLO -> {
                    NoteCodec.need(body + HELLO_FIXED <= end, "HELLO shorter than its fixed part");
                    int len = NoteBuffer.le16(req, body + HELLO_APP_LEN);
                    NoteCodec.need(len <= MAX_NAME && body + HELLO_FIXED + len == end, "HELLO length");
                    String app = NoteCodec.str(req, body + HELLO_FIXED, len);
                    if (app.isEmpty()) {
                        result = NotifyResult.APP_ID;
                    } else {
                        s.appUtf8 = app.getBytes(StandardCharsets.UTF_8);
                        s.app = app;
                    }
                }
                case MSG_REGISTER -> {
                    NoteCodec.Registration r = NoteCodec.getRegister(req, body, end);
                    if (s.app == null) {
                        result = NotifyResult.APP_ID;
                    } else {
                        NoteCodec.need(r.kind() != KIND_NOTIFICATION || !r.id().isEmpty(), "empty notification id");
                        String to = r.to().isEmpty() ? s.app : r.to();
                        NoteCodec.need(!to.equals(RoutingTable.ANY_ONE), "a registration cannot listen on '1'");
                        synchronized (this) {
                            if (s.registrations >= MAX_REGISTRATIONS && !table.contains(c.id(), r.regId())) {
                                result = NotifyResult.LIMIT;
                            } else if (!table.add(c.id(), s.app, r.regId(), r.kind(), r.id(), to, r.priority(),
                                    s)) {
                                s.registrations++;
                            }
                        }
                    }
                }
                case MSG_UNREGISTER -> {
                    NoteCodec.need(body + UNREG_FIXED == end, "UNREGISTER length");
                    synchronized (this) {
                        if (table.remove(c.id(), NoteBuffer.le64(req, body + UNREG_ID))) {
                            s.registrations--;
                        }
                    }
                }
                case MSG_NOTIFY -> {
                    synchronized (this) {
                        NoteBuffer n = note;
                        n.read(req, body, end);
                        byte[] app = s.appUtf8;
                        if (app == null) {
                            result = NotifyResult.APP_ID;
                        } else if (n.fromLen != 0 && !n.fromEquals(app) && !mayImpersonate(c)) {
                            result = NotifyResult.PERMISSION;
                        } else {
                            NoteCodec.need(n.toLen != 0, "empty to");
                            NoteCodec.need(n.idLen != 0, "empty notification id");
                            n.compactParams();
                            if (n.fromLen == 0) {
                                n.setFrom(app);
                            }
                            receivers = deliverLocked(n, s);
                            forward(n, receivers);
                        }
                    }
                }
                default -> error = -Errno.EINVAL;
            }
        } catch (IllegalArgumentException e) {
            LOG.debug("client pid {}: {}", c.clientPid(), e.getMessage());
            error = -Errno.EINVAL;
        }
        respond(c, msgId, error, result, receivers);
        return 0;
    }

    private boolean mayImpersonate(Connection c) {
        return c.clientUid() == 0 || c.clientUid() == ownUid;
    }

    private void respond(Connection c, int msgId, int error, NotifyResult result, int receivers) {
        ByteBuffer r = response;
        r.clear();
        r.putInt(MessageHeaderDescriptor.ID_OFFSET, msgId);
        r.putInt(MessageHeaderDescriptor.ID_OFFSET + 4, 0);
        r.putInt(MessageHeaderDescriptor.SIZE_OFFSET, RESPONSE_BODY + RESULT_FIXED);
        r.putInt(MessageHeaderDescriptor.SIZE_OFFSET + 4, 0);
        r.putInt(MessageHeaderDescriptor.ERROR_OFFSET, error);
        r.putInt(MessageHeaderDescriptor.ERROR_OFFSET + 4, 0);
        r.putInt(RESPONSE_BODY + RESULT_CODE, result.ordinal());
        r.putInt(RESPONSE_BODY + RESULT_RECEIVERS, receivers);
        try {
            c.sendResponse(r);
        } catch (IpcException e) {
            LOG.debug("response to client pid {}: {}", c.clientPid(), e.getMessage());
        }
    }

    /**
     * Delivers locally: receivers, then observers, then the sender's unicast-error registrations when a unicast
     * found nobody. Allocation-free: the registrations are walked in place, each event is encoded once into the
     * shared event buffer (the receivers of one kind differ only in regId, patched in per send), and strings stay
     * bytes. Under this object's lock.
     *
     * @param sender the sending client, or null for a peer's notification
     * @return how many registrations it was delivered to
     */
    private int deliverLocked(NoteBuffer n, ClientState sender) {
        String to = n.to();
        boolean anyOne = RoutingTable.ANY_ONE.equals(to);
        List<RoutingTable.Entry> regs = table.registrations(n.id());
        byte[] resolved = EMPTY;
        int resolvedLen = 0;
        int targets = 0;
        int sent = 0;
        for (int i = 0, size = regs.size(); i < size; i++) {
            RoutingTable.Entry e = regs.get(i);
            if (!anyOne && !RoutingTable.matches(e, to)) {
                continue;
            }
            if (targets++ == 0) {
                resolved = anyOne ? e.appUtf8() : n.to;
                resolvedLen = anyOne ? resolved.length : n.toLen;
                encode(EVT_DELIVER, n, resolved, resolvedLen);
            }
            if (send(e, event)) {
                sent++;
            }
            if (anyOne) {
                break;
            }
        }
        List<RoutingTable.Entry> observers = table.observers();
        if (!observers.isEmpty()) {
            encode(EVT_OBSERVED, n, resolved, resolvedLen);
            for (int i = 0, size = observers.size(); i < size; i++) {
                send(observers.get(i), event);
            }
        }
        if (targets == 0 && sender != null && !RoutingTable.ALL.equals(to)) {
            List<RoutingTable.Entry> watchers = table.unicastErrorWatchers(sender.key);
            if (!watchers.isEmpty()) {
                encode(EVT_UNICAST_ERROR, n, n.to, n.toLen);
                for (int i = 0, size = watchers.size(); i < size; i++) {
                    send(watchers.get(i), event);
                }
            }
        }
        delivered.addAndGet(sent);
        return targets;
    }

    /** Encodes a whole event (header + NOTE, regId 0) into the shared event buffer, position 0, limit its size. */
    private void encode(int eventId, NoteBuffer n, byte[] to, int toLen) {
        ByteBuffer e = event;
        e.clear();
        int size = n.write(e, RESPONSE_BODY, to, toLen);
        e.putInt(MessageHeaderDescriptor.ID_OFFSET, eventId);
        e.putInt(MessageHeaderDescriptor.ID_OFFSET + 4, 0);
        e.putInt(MessageHeaderDescriptor.SIZE_OFFSET, size);
        e.putInt(MessageHeaderDescriptor.SIZE_OFFSET + 4, 0);
        e.putInt(MessageHeaderDescriptor.ERROR_OFFSET, 0);
        e.putInt(MessageHeaderDescriptor.ERROR_OFFSET + 4, 0);
        e.limit(size);
    }

    /** Sends the encoded event to one registration (patching its regId in). */
    private static boolean send(RoutingTable.Entry r, ByteBuffer e) {
        if (!(r.owner() instanceof ClientState s)) {
            return false;
        }
        e.putLong(RESPONSE_BODY + NOTE_REG_ID, r.regId());
        e.position(0);
        return s.outbox.offer(e);
    }

    /** Sends a local notification to the peers when its ID is whitelisted for sending. */
    private void forward(NoteBuffer n, int localReceivers) {
        PeerNetwork p = peers;
        if (p == null || !config.send().contains(n.id())) {
            return;
        }
        if (RoutingTable.ANY_ONE.equals(n.to()) && localReceivers > 0) {
            return;
        }
        p.publish(n.toNote());
    }

    /** A notification from a peer: delivered here only when its ID is whitelisted for receiving. */
    public void fromPeer(Note note) {
        if (!config.receive().contains(note.id())) {
            long refused = refusedFromPeers.incrementAndGet();
            REFUSED_LOG.info("refused notification '{}' from a peer: not in the receive whitelist ({} refused so far)",
                    note.id(), refused);
            return;
        }
        try {
            synchronized (this) {
                NoteBuffer n = this.note;
                n.set(note);
                n.compactParams();
                deliverLocked(n, null);
            }
        } catch (IllegalArgumentException e) {
            LOG.debug("peer notification refused: {}", e.getMessage());
        }
    }

    /** @return clients connected now */
    public int clientCount() {
        return clients.size();
    }

    /** @return registrations of every kind */
    public synchronized int registrations() {
        return table.size();
    }

    /** @return deliveries so far */
    public long delivered() {
        return delivered.get();
    }

    /** @return notifications from peers refused by the receive whitelist */
    public long refusedFromPeers() {
        return refusedFromPeers.get();
    }

    /** @return the largest backlog of any client now */
    public int maxQueued() {
        int m = 0;
        for (ClientState s : clients.values()) {
            m = Math.max(m, s.outbox.queued());
        }
        return m;
    }

    /** @return events dropped for clients connected now, past their outbox limit */
    public long dropped() {
        long d = 0;
        for (ClientState s : clients.values()) {
            d += s.outbox.dropped();
        }
        return d;
    }

    /** Stops the flusher and drops every backlog. */
    public void close() {
        for (ClientState s : clients.values()) {
            s.outbox.close();
        }
        flusher.stop();
    }
}
