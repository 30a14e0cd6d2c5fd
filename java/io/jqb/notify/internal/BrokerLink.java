package io.jqb.notify.internal;

import static io.jqb.notify.internal.NotifyMessageDescriptor.*;

import io.jqb.internal.Logs;
import io.jqb.internal.log.RateLimitedLog;
import io.jqb.Client;
import io.jqb.Credentials;
import io.jqb.Errno;
import io.jqb.IpcException;
import io.jqb.internal.wire.MessageHeaderDescriptor;
import io.jqb.notify.NotifyResult;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;

/**
 * A client's connection to the broker: requests (one at a time, under this object's lock) and a transport thread
 * that receives events and, when the broker goes away, reconnects with back-off (50 ms doubling to 2 s) and lets
 * the owner re-register.
 */
public final class BrokerLink implements AutoCloseable {
    /** How long a request waits for the broker's response. */
    public static final int REQUEST_TIMEOUT_MS = 5_000;
    private static final long MIN_BACKOFF_MS = 50;
    private static final long MAX_BACKOFF_MS = 2_000;
    private static final Logger LOG = Logs.get(BrokerLink.class);
    /**
     * An event this client cannot read: whoever holds the broker's name (a process squatting it while no broker runs)
     * chooses what every client reads, so at most 5 lines a second for all links together, then a count.
     */
    private static final RateLimitedLog BAD_EVENT = new RateLimitedLog(LOG);

    /** What the owner does on connection changes and events. */
    public interface Owner {
        /** Connected (again), HELLO sent: re-send every registration with {@link #register}. */
        void connected();

        /** One event (DELIVER, OBSERVED, UNICAST_ERROR), on the transport thread. */
        void event(int eventId, Note note);
    }

    /** A request's outcome: the result, the receivers count, the errno from the response header. */
    public record Reply(NotifyResult result, int receivers, int error) {
        static final Reply SERVER = new Reply(NotifyResult.SERVER, 0, 0);
    }

    private final String service;
    private final Owner owner;
    private final ByteBuffer request = ByteBuffer.allocateDirect(BUFFER_SIZE).order(ByteOrder.LITTLE_ENDIAN);
    private final ByteBuffer response = ByteBuffer.allocateDirect(BUFFER_SIZE).order(ByteOrder.LITTLE_ENDIAN);
    private final ByteBuffer events = ByteBuffer.allocateDirect(BUFFER_SIZE).order(ByteOrder.LITTLE_ENDIAN);
    private final Thread thread;
    private volatile Client client;
    /** {@link #client} once its hello and the owner's re-registrations were answered; null meanwhile. */
    private volatile Client ready;
    private volatile String app;
    private volatile boolean closed;

    /**
     * Connects once at once (so a first request finds the broker when it runs), then keeps the connection up on a
     * transport thread named {@code jqb-notify-io-<app>}.
     */
    public BrokerLink(String service, String app, Owner owner) {
        this.service = service;
        this.app = app;
        this.owner = owner;
        tryConnect();
        thread = new Thread(this::run, "jqb-notify-io-" + app);
        thread.setDaemon(true);
        thread.start();
    }

    private boolean tryConnect() {
        Client c;
        try {
            c = Client.connect(service, BUFFER_SIZE);
        } catch (IpcException e) {
            return false;
        }
        synchronized (this) {
            client = c;
            if (app != null) {
                hello(app);
            }
            owner.connected();
            ready = client; // null again when hello or a registration lost the connection
        }
        return client != null;
    }

    private void run() {
        long backoff = MIN_BACKOFF_MS;
        while (!closed) {
            Client c = client;
            if (c == null) {
                if (tryConnect()) {
                    backoff = MIN_BACKOFF_MS;
                    continue;
                }
                LockSupport.parkNanos(this, TimeUnit.MILLISECONDS.toNanos(backoff));
                backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
                continue;
            }
            try {
                int n = c.eventRecv(events.clear(), 200);
                if (n >= RESPONSE_BODY) {
                    dispatch(n);
                }
            } catch (IpcException e) {
                LOG.debug("broker connection lost: {}", e.getMessage());
                drop(c);
            } catch (RuntimeException e) {
                long admitted = BAD_EVENT.admitLine();
                if (admitted >= 0) {
                    Credentials peer = c.serverCredentials();
                    BAD_EVENT.warn(admitted, "bad event from the broker of {} (pid {}): {}", service,
                            peer == null ? "unknown" : Integer.toString(peer.pid()), e.toString());
                }
            }
        }
        Client c = client;
        if (c != null) {
            drop(c);
        }
    }

    private void dispatch(int n) {
        int id = events.getInt(MessageHeaderDescriptor.ID_OFFSET);
        Note note = NoteCodec.getNote(events, RESPONSE_BODY, n);
        owner.event(id, note);
    }

    private synchronized void drop(Client c) {
        if (client == c) {
            client = null;
        }
        if (ready == c) {
            ready = null;
        }
        c.close();
    }

    /**
     * @return true while connected to the broker, once the broker has answered this connection's hello and the
     *         owner's re-registrations (so a notification sent after this returned true reaches them)
     */
    public boolean isConnected() {
        Client c = ready;
        return c != null && c == client && c.isConnected();
    }

    /** Sets the application ID (sent now when connected, and on every reconnect). */
    public synchronized NotifyResult setApp(String a) {
        app = a;
        return client == null ? NotifyResult.SERVER : hello(a).result();
    }

    private Reply hello(String a) {
        byte[] b = a.getBytes(StandardCharsets.UTF_8);
        ByteBuffer r = start(MSG_HELLO);
        r.putShort((short) b.length).putShort((short) 0).put(b);
        return call(r);
    }

    /** Adds or replaces a registration at the broker. */
    public synchronized Reply register(NoteCodec.Registration reg) {
        ByteBuffer r = start(MSG_REGISTER);
        NoteCodec.putRegister(r, reg);
        return call(r);
    }

    /** Removes a registration at the broker. */
    public synchronized Reply unregister(long regId) {
        ByteBuffer r = start(MSG_UNREGISTER);
        r.putLong(regId);
        return call(r);
    }

    /** Sends a notification. */
    public synchronized Reply notify(Note n) {
        ByteBuffer r = start(MSG_NOTIFY);
        NoteCodec.putNote(r, n);
        return call(r);
    }

    private ByteBuffer start(int msgId) {
        ByteBuffer r = request.clear();
        r.putInt(MessageHeaderDescriptor.ID_OFFSET, msgId);
        r.putInt(MessageHeaderDescriptor.ID_OFFSET + 4, 0);
        r.putInt(MessageHeaderDescriptor.SIZE_OFFSET + 4, 0);
        r.position(REQUEST_BODY);
        return r;
    }

    /** Sends the request built in {@link #request} and waits for its response. */
    private Reply call(ByteBuffer r) {
        Client c = client;
        if (c == null) {
            return Reply.SERVER;
        }
        int size = r.position();
        r.putInt(MessageHeaderDescriptor.SIZE_OFFSET, size);
        r.flip();
        try {
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(REQUEST_TIMEOUT_MS);
            int rc;
            while ((rc = c.send(r)) == Errno.WOULD_BLOCK) {
                if (System.nanoTime() > deadline) {
                    return Reply.SERVER;
                }
                LockSupport.parkNanos(100_000);
            }
            int n = c.recv(response.clear(), REQUEST_TIMEOUT_MS);
            if (n < RESPONSE_BODY + RESULT_FIXED) {
                LOG.debug("no response from the broker (rc {})", n);
                drop(c);
                return Reply.SERVER;
            }
            return new Reply(NotifyResult.of(response.getInt(RESPONSE_BODY + RESULT_CODE)),
                    response.getInt(RESPONSE_BODY + RESULT_RECEIVERS),
                    response.getInt(MessageHeaderDescriptor.ERROR_OFFSET));
        } catch (IpcException e) {
            LOG.debug("request to the broker failed: {}", e.getMessage());
            drop(c);
            return Reply.SERVER;
        }
    }

    /** Disconnects and stops the transport thread. */
    @Override
    public void close() {
        closed = true;
        LockSupport.unpark(thread);
        if (Thread.currentThread() != thread) {
            try {
                thread.join(5_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
