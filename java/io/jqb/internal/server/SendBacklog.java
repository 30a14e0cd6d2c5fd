package io.jqb.internal.server;

import io.jqb.Errno;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;

/**
 * Messages of one direction (responses or events) of one connection that could not be sent yet because the
 * client's ring or socket was full, in order, bounded in bytes. Each queued message is a heap copy (the slow path:
 * the client is not reading); the copies are garbage once sent, so nothing stays allocated after a drain.
 *
 * <p>A message is admitted when the backlog is empty (so one message of the agreed size always fits) or when the
 * bytes queued plus its length stay within the limit.</p>
 */
public final class SendBacklog {
    /** Sends one message. */
    public interface Sender {
        /**
         * @param msg the message (position..limit)
         * @return a length, {@link Errno#WOULD_BLOCK} or a negated errno
         */
        int send(ByteBuffer msg);
    }

    /**
     * The empty backlog a connection holds until its first message is queued (most connections never queue, and two
     * backlogs each were 64 bytes of every connection): always empty; {@link #offer} refuses it, the rest are no-ops
     * that return before taking its monitor and never write its fields (it is one object for every connection of
     * every service: a lock or a write there would make them all contend on it).
     */
    public static final SendBacklog NONE = new SendBacklog();

    /** Made by the first {@link #offer}: most connections never queue (two backlogs per connection). */
    private ArrayDeque<ByteBuffer> queue;
    private long bytes;
    private volatile boolean nonEmpty;

    /** @return true while messages wait (a volatile read, for the hot path) */
    public boolean isEmpty() {
        return !nonEmpty;
    }

    /** @return bytes queued */
    public long bytes() {
        if (this == NONE) {
            return 0;
        }
        synchronized (this) {
            return bytes;
        }
    }

    /** @return messages queued */
    public int size() {
        if (this == NONE) {
            return 0;
        }
        synchronized (this) {
            return queue == null ? 0 : queue.size();
        }
    }

    /**
     * Copies {@code msgs} (position..limit of each, positions unchanged) as one message.
     *
     * @return false when it does not fit under {@code limit}
     */
    public boolean offer(long limit, ByteBuffer... msgs) {
        if (this == NONE) {
            throw new IllegalStateException("SendBacklog.NONE takes no message");
        }
        synchronized (this) {
            return add(limit, msgs);
        }
    }

    private boolean add(long limit, ByteBuffer... msgs) {
        long len = 0;
        for (ByteBuffer b : msgs) {
            len += b.remaining();
        }
        if (queue == null) {
            queue = new ArrayDeque<>();
        } else if (!queue.isEmpty() && bytes + len > limit) {
            return false;
        }
        ByteBuffer copy = ByteBuffer.allocate((int) len);
        for (ByteBuffer b : msgs) {
            copy.put(b.duplicate());
        }
        copy.flip();
        queue.add(copy);
        bytes += len;
        nonEmpty = true;
        return true;
    }

    /**
     * Sends queued messages in order until one would block.
     *
     * @return 0 when all went, {@link Errno#WOULD_BLOCK} when some wait, or the first hard error (negated errno;
     *         the backlog is then cleared)
     */
    public int flush(Sender sender) {
        if (this == NONE) {
            return 0;
        }
        synchronized (this) {
            return drain(sender);
        }
    }

    private int drain(Sender sender) {
        ByteBuffer head;
        while (queue != null && (head = queue.peek()) != null) {
            int rc = sender.send(head);
            if (rc == Errno.WOULD_BLOCK) {
                return rc;
            }
            if (rc < 0) {
                drop();
                return rc;
            }
            queue.poll();
            bytes -= head.remaining();
        }
        nonEmpty = false;
        return 0;
    }

    /** Drops everything queued. */
    public void clear() {
        if (this == NONE) {
            return;
        }
        synchronized (this) {
            drop();
        }
    }

    private void drop() {
        if (queue != null) {
            queue.clear();
        }
        bytes = 0;
        nonEmpty = false;
    }
}
