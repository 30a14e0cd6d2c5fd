package io.jqb.notify.internal;

import io.jqb.internal.Logs;
import io.jqb.internal.log.RateLimitedLog;
import io.jqb.Connection;
import io.jqb.Errno;
import io.jqb.IpcException;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import org.slf4j.Logger;

/**
 * One client's bounded outbound queue. An event goes straight into the client's event ring when nothing is queued
 * before it; when the ring is full (the client is not reading) it waits here, in order, for the {@link Flusher}.
 * Past {@link #MAX_EVENTS} events or {@link #MAX_BYTES} bytes further events for this client are dropped (counted,
 * logged once per episode, at most 5 lines per 10 s for all clients): the broker never blocks on a client and never
 * holds more than that for one.
 */
public final class Outbox implements Flusher.Flushable {
    /** Most events queued for one client beyond its event ring. */
    public static final int MAX_EVENTS = 1024;
    /** Most bytes queued for one client beyond its event ring. */
    public static final int MAX_BYTES = 4 * 1024 * 1024;
    private static final Logger LOG = Logs.get(Outbox.class);
    /**
     * The two lines of an episode, for every client together: a client that reads in bursts (or notifies itself
     * past its own ring) can start an episode every couple of thousand events, so at most 5 lines per 10 s each.
     */
    private static final RateLimitedLog NOT_READING = new RateLimitedLog(LOG, 5, 10_000);
    private static final RateLimitedLog CAUGHT_UP = new RateLimitedLog(LOG, 5, 10_000);

    private final Connection connection;
    private final Flusher flusher;
    private final ArrayDeque<byte[]> backlog = new ArrayDeque<>();
    private int backlogBytes;
    private long dropped;
    private long droppedInEpisode;
    private long sent;
    private boolean closed;

    Outbox(Connection connection, Flusher flusher) {
        this.connection = connection;
        this.flusher = flusher;
    }

    /**
     * Queues or sends one whole event (header included), the bytes between {@code msg}'s position and limit.
     *
     * @return false when dropped (queue full or connection gone)
     */
    synchronized boolean offer(ByteBuffer msg) {
        if (closed) {
            return false;
        }
        if (backlog.isEmpty()) {
            int rc = trySend(msg);
            if (rc >= 0) {
                return true;
            }
            if (closed) {
                return false;
            }
        }
        int len = msg.remaining();
        if (backlog.size() >= MAX_EVENTS || backlogBytes + len > MAX_BYTES) {
            dropped++;
            if (droppedInEpisode++ == 0) {
                NOT_READING.warn("client pid {} is not reading its events: {} queued, dropping further events "
                        + "until it catches up", connection.clientPid(), backlog.size());
            }
            return false;
        }
        byte[] copy = new byte[len];
        msg.get(msg.position(), copy);
        backlog.add(copy);
        backlogBytes += len;
        if (backlog.size() == 1) {
            flusher.wake(this);
        }
        return true;
    }

    /** @return true when nothing is left to send (sent, or the connection is gone) */
    @Override
    public synchronized boolean flush() {
        while (!backlog.isEmpty()) {
            byte[] head = backlog.peek();
            int rc = trySend(ByteBuffer.wrap(head));
            if (closed) {
                return true;
            }
            if (rc < 0) {
                return false;
            }
            backlog.poll();
            backlogBytes -= head.length;
        }
        if (droppedInEpisode > 0) {
            CAUGHT_UP.info("client pid {} caught up; {} events were dropped", connection.clientPid(), droppedInEpisode);
            droppedInEpisode = 0;
        }
        return true;
    }

    private int trySend(ByteBuffer msg) {
        try {
            int rc = connection.sendEvent(msg);
            if (rc >= 0) {
                sent++;
            }
            return rc;
        } catch (IpcException e) {
            close();
            return Errno.WOULD_BLOCK;
        }
    }

    /** Drops everything queued; later offers are refused. */
    synchronized void close() {
        closed = true;
        backlog.clear();
        backlogBytes = 0;
    }

    /** @return events queued beyond the ring now */
    public synchronized int queued() {
        return backlog.size();
    }

    /** @return events dropped because the queue was full */
    public synchronized long dropped() {
        return dropped;
    }

    /** @return events written into the client's ring */
    public synchronized long sent() {
        return sent;
    }
}
