package io.jqb.libipc;

import io.jqb.Errno;
import io.jqb.IpcException;
import io.jqb.MessageTooLargeException;
import io.jqb.internal.Logs;
import io.jqb.libipc.internal.FrameReader;
import io.jqb.libipc.internal.RawSocket;
import io.jqb.internal.log.RateLimitedLog;
import java.io.IOException;
import java.nio.channels.SelectableChannel;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;

/**
 * A client's receive side. While no fd is added with {@code addFd} (the usual case: a caller waiting on its one
 * connection), {@code read} and {@code waitEvent} receive straight on the socket, as the C client does: one blocking
 * {@code recv} into the connection's reusable buffer, which usually yields header and payload at once; a time-out is
 * the socket's {@code SO_RCVTIMEO}, in slices of at most {@link #SLICE_MS} so that an interrupt is noticed. No
 * selector, no lock, nothing allocated per message.
 *
 * <p>Once fds are added, an {@link EventSelector} waits on them and on the connection's fd (added to it as a raw fd,
 * watched by its helper thread); the connection's frames and the extra fds' events then alternate: after a buffered
 * frame is delivered, the next call first looks (without waiting) whether an extra fd is ready.
 */
final class ClientLoop implements AutoCloseable {
    /** Longest single blocking receive: an interrupt or a passed deadline is noticed within this. */
    static final int SLICE_MS = 100;
    private static final Logger LOG = Logs.get(ClientLoop.class);

    /** {@link #await} outcomes. */
    private static final int FRAME = 0;
    private static final int TIMED_OUT = 1;
    private static final int END = 2;
    private static final int INTERRUPTED = 3;

    private final IpcConnection connection;
    private final RawSocket socket;
    private final FrameReader reader;
    private final String name;
    private final IpcEvent event = new IpcEvent();
    private final RateLimitedLog badFrames = new RateLimitedLog(LOG, 1, 10_000);
    /** Created by the first addFd; holds the user's fds, and the connection's fd while it holds any. */
    private EventSelector extras;
    /** The connection's fd is in {@link #extras}. */
    private boolean socketWatched;
    /** The last event was a frame already buffered: look at the extra fds first next time. */
    private boolean lastFromBuffer;

    ClientLoop(IpcConnection connection, String name) {
        this.connection = connection;
        this.socket = connection.raw;
        this.reader = connection.reader;
        this.name = name;
    }

    /** @return true while the user has fds or channels added */
    boolean hasExtras() {
        return extras != null && extras.extraCount() > (socketWatched ? 1 : 0);
    }

    /** The next message, as {@link IpcClient#read} documents. */
    IpcMessage read(long timeoutMs) {
        if (hasExtras()) {
            throw new IllegalStateException("read() while fds are added with addFd: use waitEvent()");
        }
        if (!connection.isOpen()) {
            throw new io.jqb.NotConnectedException(op(), "the connection is closed");
        }
        int r;
        try {
            r = await(timeoutMs);
        } catch (FrameReader.TooLargeException e) {
            connection.close();
            badFrames.warn("libipc: {}: {}; connection closed", connection, e.getMessage());
            throw new MessageTooLargeException(op(), e.getMessage());
        } catch (IOException e) {
            r = END; // ECONNRESET and friends: the server is gone
        }
        switch (r) {
            case FRAME:
                event.reset();
                return event.message(reader.type(), reader.payload());
            case TIMED_OUT:
                return null;
            case INTERRUPTED:
                throw new IpcException(op(), Errno.EINTR, "interrupted");
            default:
                connection.close();
                throw new io.jqb.NotConnectedException(op(), "the server closed the connection");
        }
    }

    private String op() {
        return "read(" + name + ")";
    }

    /** One event, as {@link IpcClient#waitEvent} documents. */
    IpcEvent waitEvent(long timeoutMs) {
        if (hasExtras()) {
            return waitWithExtras(timeoutMs);
        }
        event.reset();
        if (!connection.isOpen()) {
            return idle(timeoutMs);
        }
        try {
            switch (await(timeoutMs)) {
                case FRAME:
                    return frame();
                case TIMED_OUT:
                    return event.set(IpcEventType.TIMEOUT, null);
                case INTERRUPTED:
                    return event.error(null, new IpcException("waitEvent", Errno.EINTR, "interrupted"));
                default:
                    return disconnected();
            }
        } catch (FrameReader.TooLargeException e) {
            return tooLarge(e);
        } catch (IOException e) {
            return disconnected();
        }
    }

    /**
     * Waits until a whole frame is taken from the reader.
     *
     * @param timeoutMs negative: forever; 0: only what is buffered or in the socket now
     * @return FRAME, TIMED_OUT, END (end of stream) or INTERRUPTED (nothing came and the thread is interrupted)
     */
    private int await(long timeoutMs) throws IOException {
        if (reader.next()) {
            return FRAME;
        }
        final long deadline = timeoutMs > 0 ? System.nanoTime() + timeoutMs * 1_000_000L : 0;
        for (;;) {
            int wait;
            if (timeoutMs == 0 || Thread.currentThread().isInterrupted()) {
                wait = 0;
            } else if (timeoutMs < 0) {
                wait = SLICE_MS;
            } else {
                long left = (deadline - System.nanoTime() + 999_999) / 1_000_000L;
                wait = (int) Math.max(0, Math.min(left, SLICE_MS));
            }
            socket.receiveWait(wait);
            int n = reader.fill(socket);
            if (n < 0) {
                return END;
            }
            if (n > 0) {
                if (reader.next()) {
                    return FRAME;
                }
                continue; // part of a frame: wait for the rest within the same time-out
            }
            if (wait == 0) {
                if (Thread.currentThread().isInterrupted()) {
                    return INTERRUPTED;
                }
                if (timeoutMs == 0 || deadline - System.nanoTime() <= 0) {
                    return TIMED_OUT;
                }
            }
        }
    }

    private IpcEvent frame() {
        byte type = reader.type();
        event.set(type == IpcMessage.SERVER_CLOSE ? IpcEventType.SERVER_CLOSE : IpcEventType.MESSAGE, connection);
        event.message(type, reader.payload());
        return event;
    }

    private IpcEvent disconnected() {
        unwatchSocket();
        connection.close();
        return event.set(IpcEventType.DISCONNECTION, connection);
    }

    private IpcEvent tooLarge(FrameReader.TooLargeException e) {
        unwatchSocket();
        connection.close();
        badFrames.warn("libipc: {}: {}; connection closed", connection, e.getMessage());
        return event.error(connection, new MessageTooLargeException("read(" + connection + ")", e.getMessage()));
    }

    /** The connection is closed and no fd is added: nothing can happen but the time-out or an interrupt. */
    private IpcEvent idle(long timeoutMs) {
        long deadline = System.nanoTime() + timeoutMs * 1_000_000L;
        for (;;) {
            if (Thread.currentThread().isInterrupted()) {
                return event.error(null, new IpcException("waitEvent", Errno.EINTR, "interrupted"));
            }
            if (timeoutMs < 0) {
                LockSupport.park(this);
                continue;
            }
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return event.set(IpcEventType.TIMEOUT, null);
            }
            LockSupport.parkNanos(this, left);
        }
    }

    /** With fds added: the selector waits on them and on the socket (raw fd). */
    private IpcEvent waitWithExtras(long timeoutMs) {
        event.reset();
        if (connection.isOpen() && !socketWatched) {
            extras.addFd(socket.fd());
            socketWatched = true;
        }
        try {
            if (connection.isOpen() && reader.hasFrame()) {
                if (lastFromBuffer) {
                    // The last event was a buffered frame too: an extra fd ready now goes first.
                    IpcEvent e = extras.waitEvent(0);
                    if (isUserEvent(e)) {
                        lastFromBuffer = false;
                        return copy(e);
                    }
                }
                lastFromBuffer = true;
                reader.next();
                return frame();
            }
            lastFromBuffer = false;
            final long deadline = timeoutMs > 0 ? System.nanoTime() + timeoutMs * 1_000_000L : 0;
            for (;;) {
                long left = timeoutMs <= 0 ? timeoutMs
                        : Math.max(0, (deadline - System.nanoTime() + 999_999) / 1_000_000L);
                IpcEvent e = extras.waitEvent(left);
                if (isUserEvent(e) || e.type() != IpcEventType.EXTRA_FD) {
                    return copy(e);
                }
                // The socket is readable.
                socket.receiveWait(0);
                int n = reader.fill(socket);
                if (n < 0) {
                    return disconnected();
                }
                if (reader.next()) {
                    lastFromBuffer = true;
                    return frame();
                }
                if (timeoutMs == 0 || timeoutMs > 0 && deadline - System.nanoTime() <= 0) {
                    return event.set(IpcEventType.TIMEOUT, null);
                }
            }
        } catch (FrameReader.TooLargeException e) {
            return tooLarge(e);
        } catch (IOException e) {
            return disconnected();
        }
    }

    private boolean isUserEvent(IpcEvent e) {
        return e.type() == IpcEventType.EXTRA_FD && (e.channel() != null || !socketWatched || e.fd() != socket.fd());
    }

    private IpcEvent copy(IpcEvent e) {
        switch (e.type()) {
            case EXTRA_FD:
                return event.extra(e.channel(), e.fd());
            case ERROR:
                return event.error(e.connection(), e.cause());
            default:
                return event.set(e.type(), e.connection());
        }
    }

    private EventSelector extras() {
        if (extras == null) {
            extras = new EventSelector(true);
        }
        return extras;
    }

    void addFd(SelectableChannel channel) {
        extras().addFd(channel);
    }

    void addFd(int fd) {
        extras().addFd(fd);
    }

    boolean delFd(SelectableChannel channel) {
        boolean removed = extras != null && extras.delFd(channel);
        afterDel();
        return removed;
    }

    boolean delFd(int fd) {
        boolean removed = extras != null && (!socketWatched || fd != socket.fd()) && extras.delFd(fd);
        afterDel();
        return removed;
    }

    /** The last user fd is gone: back to receiving straight on the socket (and no helper thread). */
    private void afterDel() {
        if (extras != null && socketWatched && extras.extraCount() == 1) {
            unwatchSocket();
        }
    }

    private void unwatchSocket() {
        if (socketWatched) {
            socketWatched = false;
            extras.delFd(socket.fd());
        }
    }

    /** Closes the selector and its helper thread (not the connection). */
    @Override
    public void close() {
        if (extras != null) {
            extras.close();
        }
    }
}
