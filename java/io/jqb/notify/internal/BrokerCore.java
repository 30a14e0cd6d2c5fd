package io.jqb.notify.internal;

import static io.jqb.notify.internal.NotifyMessageDescriptor.*;

import io.jqb.internal.Logs;
import io.jqb.Connection;
import io.jqb.Errno;
import io.jqb.IpcException;
import io.jqb.ServiceHandler;
import io.jqb.internal.wire.MessageHeaderDescriptor;
import io.jqb.notify.NotifyResult;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
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

    /** One client connection. */
    static final class ClientState {
        final Connection connection;
        final Outbox outbox;
        volatile String app;

        ClientState(Connection connection, Outbox outbox) {
            this.connection = connection;
            this.outbox = outbox;
        }
    }

    private final RoutingTable table = new RoutingTable();
    private final Map<Long, ClientState> clients = new ConcurrentHashMap<>();
    private final Flusher flusher;
    private final BrokerConfig config;
    private final int ownUid;
    private final ByteBuffer event = ByteBuffer.allocateDirect(BUFFER_SIZE).order(ByteOrder.LITTLE_ENDIAN);
    private final ByteBuffer response = ByteBuffer.allocateDirect(RESPONSE_BODY + RESULT_FIXED)
            .order(ByteOrder.LITTLE_ENDIAN);
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
        clients.put(c.id(), new ClientState(c, new Outbox(c, flusher)));
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
    public int message(Connection c, ByteBuffer request) {
        ByteBuffer req = request.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        int start = req.position();
        int msgId = req.getInt(start + MessageHeaderDescriptor.ID_OFFSET);
        int end = start + req.remaining();
        int body = start + REQUEST_BODY;
        ClientState s = clients.get(c.id());
        if (s == null) {
            return 0;
        }
        int error = 0;
        NotifyResult result = NotifyResult.OK;
        int receivers = 0;
        try {
            switch (msgId) {
                case MSG_HELLO -> {
                    NoteCodec.need(body + HELLO_FIXED <= end, "HELLO shorter than its fixed part");
                    int len = u16(req, body + HELLO_APP_LEN);
                    NoteCodec.need(len <= MAX_NAME && body + HELLO_FIXED + len == end, "HELLO length");
                    String app = NoteCodec.str(req, body + HELLO_FIXED, len);
                    if (app.isEmpty()) {
                        result = NotifyResult.APP_ID;
                    } else {
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
                            table.add(c.id(), s.app, r.regId(), r.kind(), r.id(), to, r.priority());
                        }
                    }
                }
                case MSG_UNREGISTER -> {
                    NoteCodec.need(body + UNREG_FIXED == end, "UNREGISTER length");
                    synchronized (this) {
                        table.remove(c.id(), req.getLong(body + UNREG_ID));
                    }
                }
                case MSG_NOTIFY -> {
                    Note n = NoteCodec.getNote(req, body, end);
                    if (s.app == null) {
                        result = NotifyResult.APP_ID;
                    } else if (!n.from().isEmpty() && !n.from().equals(s.app) && !mayImpersonate(c)) {
                        result = NotifyResult.PERMISSION;
                    } else {
                        NoteCodec.need(!n.to().isEmpty(), "empty to");
                        NoteCodec.need(!n.id().isEmpty(), "empty notification id");
                        String params = Params.compact(n.params());
                        Note note = new Note(0, n.flags(), n.from().isEmpty() ? s.app : n.from(), n.to(), n.id(),
                                params);
                        receivers = deliver(note, s, c.id());
                        forward(note, receivers);
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
     * found nobody.
     *
     * @param sender the sending client, or null for a peer's notification
     * @return how many registrations it was delivered to
     */
    public synchronized int deliver(Note note, ClientState sender, long senderId) {
        List<RoutingTable.Target> targets = table.route(note.to(), note.id());
        String resolved = targets.isEmpty() ? "" : targets.get(0).resolvedTo();
        int n = 0;
        if (!targets.isEmpty()) {
            ByteBuffer e = encode(EVT_DELIVER, note, resolved);   // once: the targets differ only in regId
            for (RoutingTable.Target t : targets) {
                if (send(t.client(), t.regId(), e)) {
                    n++;
                }
            }
        }
        List<RoutingTable.Entry> observers = table.observers();
        if (!observers.isEmpty()) {
            ByteBuffer e = encode(EVT_OBSERVED, note, resolved);
            for (RoutingTable.Entry o : observers) {
                send(o.client(), o.regId(), e);
            }
        }
        if (targets.isEmpty() && sender != null && !RoutingTable.ALL.equals(note.to())) {
            List<RoutingTable.Entry> watchers = table.unicastErrorWatchers(senderId);
            if (!watchers.isEmpty()) {
                ByteBuffer e = encode(EVT_UNICAST_ERROR, note, note.to());
                for (RoutingTable.Entry w : watchers) {
                    send(w.client(), w.regId(), e);
                }
            }
        }
        delivered.addAndGet(n);
        return targets.size();
    }

    /** Encodes a whole event (header + NOTE, regId 0) into the shared event buffer, position 0, limit its size. */
    private ByteBuffer encode(int eventId, Note n, String to) {
        ByteBuffer e = event;
        e.clear();
        e.position(RESPONSE_BODY);
        NoteCodec.putNote(e, n.deliveredAs(0, to));
        int size = e.position();
        e.putInt(MessageHeaderDescriptor.ID_OFFSET, eventId);
        e.putInt(MessageHeaderDescriptor.ID_OFFSET + 4, 0);
        e.putInt(MessageHeaderDescriptor.SIZE_OFFSET, size);
        e.putInt(MessageHeaderDescriptor.SIZE_OFFSET + 4, 0);
        e.putInt(MessageHeaderDescriptor.ERROR_OFFSET, 0);
        e.putInt(MessageHeaderDescriptor.ERROR_OFFSET + 4, 0);
        e.position(0).limit(size);
        return e;
    }

    /** Sends the encoded event to one registration of one client (patching its regId in). */
    private boolean send(long client, long regId, ByteBuffer e) {
        ClientState s = clients.get(client);
        if (s == null) {
            return false;
        }
        e.putLong(RESPONSE_BODY + NOTE_REG_ID, regId);
        e.position(0);
        return s.outbox.offer(e);
    }

    /** Sends a local notification to the peers when its ID is whitelisted for sending. */
    private void forward(Note note, int localReceivers) {
        PeerNetwork p = peers;
        if (p == null || !config.send().contains(note.id())) {
            return;
        }
        if (RoutingTable.ANY_ONE.equals(note.to()) && localReceivers > 0) {
            return;
        }
        p.publish(note);
    }

    /** A notification from a peer: delivered here only when its ID is whitelisted for receiving. */
    public void fromPeer(Note note) {
        if (!config.receive().contains(note.id())) {
            if (refusedFromPeers.getAndIncrement() % 1000 == 0) {
                LOG.info("refused notification '{}' from a peer: not in the receive whitelist ({} refused so far)",
                        note.id(), refusedFromPeers.get());
            }
            return;
        }
        try {
            Note n = new Note(0, note.flags(), note.from(), note.to(), note.id(), Params.compact(note.params()));
            deliver(n, null, -1);
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
