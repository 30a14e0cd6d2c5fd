package io.jqb.libipc;

import io.jqb.internal.Logs;
import io.jqb.Errno;
import io.jqb.IpcException;
import io.jqb.MessageTooLargeException;
import io.jqb.libipc.internal.Errors;
import io.jqb.libipc.internal.FrameReader;
import io.jqb.libipc.internal.RawFdWatcher;
import io.jqb.internal.log.RateLimitedLog;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.ClosedSelectorException;
import java.nio.channels.SelectableChannel;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Consumer;
import org.slf4j.Logger;

/**
 * The loop behind {@code waitEvent}: one {@link Selector} (epoll) over the listener, the connections and the extra
 * channels, plus a {@link RawFdWatcher} for raw fds. One event per call.
 *
 * <p>Fairness: sources with something to do (a readable key, a connection with a whole frame still buffered, a raw
 * fd found readable) wait in a FIFO queue. Each call serves the queue's head; a source that still has work after its
 * event (more frames buffered from one read) goes to the tail. A <em>round</em> is the queue's length when it was
 * last refilled; after a round the selector is polled again (without blocking) and newly ready sources join the
 * tail. So a connection that sends without pause gets one event per round, like every other ready source, and a
 * source that became ready waits at most one round. (C libipc scans fds from 0 and serves the lowest ready fd
 * first, so a busy low fd starves the rest.)
 */
final class EventSelector implements AutoCloseable {
    private static final Logger LOG = Logs.get(EventSelector.class);
    private static final Object LISTENER = new Object();

    /** An extra channel added with addFd. */
    private static final class Extra {
        final SelectableChannel channel;
        final SelectionKey key;
        boolean queued;

        Extra(SelectableChannel channel, SelectionKey key) {
            this.channel = channel;
            this.key = key;
        }
    }

    /** A raw fd the watcher found readable. */
    private static final class RawReady {
        final int fd;

        RawReady(int fd) {
            this.fd = fd;
        }
    }

    private final Selector selector;
    private final ArrayDeque<Object> ready = new ArrayDeque<>();
    private final Map<SelectableChannel, Extra> extras = new HashMap<>();
    private final IpcEvent event = new IpcEvent();
    private final Consumer<SelectionKey> onSelected = this::enqueue;
    private final boolean reportServerClose;
    private final RateLimitedLog badFrames = new RateLimitedLog(LOG, 1, 10_000);
    private RawFdWatcher raw;
    private boolean listenerQueued;
    private int roundLeft;
    private int rearmFd = -1;
    /** Accepts one connection, or returns null; set by a server. */
    private java.util.function.Supplier<IpcConnection> acceptor;
    private SelectionKey listenerKey;
    /** While accepts are paused (an accept failed, e.g. EMFILE): nanoTime when OP_ACCEPT is watched again. */
    private long acceptsPausedUntil;
    private boolean acceptsPaused;

    EventSelector(boolean reportServerClose) {
        this.reportServerClose = reportServerClose;
        try {
            this.selector = Selector.open();
        } catch (IOException e) {
            throw Errors.of("Selector.open", e);
        }
    }

    Selector selector() {
        return selector;
    }

    void listen(SelectableChannel listener, java.util.function.Supplier<IpcConnection> acceptor) {
        this.acceptor = acceptor;
        try {
            listenerKey = listener.register(selector, SelectionKey.OP_ACCEPT, LISTENER);
        } catch (IOException e) {
            throw Errors.of("register listener", e);
        }
    }

    /**
     * Stops watching the listener for {@code ms}: an accept failed (EMFILE, ENFILE, ENOBUFS) and the pending
     * connection stays in the backlog, so the listener would be ready again at once and the loop would spin.
     */
    void pauseAccepts(long ms) {
        SelectionKey k = listenerKey;
        if (k == null || !k.isValid()) {
            return;
        }
        k.interestOps(0);
        acceptsPaused = true;
        acceptsPausedUntil = System.nanoTime() + ms * 1_000_000L;
    }

    /** Watches the listener again once the pause is over; @return ms until then (0: not paused) */
    private long resumeAccepts() {
        if (!acceptsPaused) {
            return 0;
        }
        long left = acceptsPausedUntil - System.nanoTime();
        if (left > 0) {
            return (left + 999_999) / 1_000_000L;
        }
        acceptsPaused = false;
        SelectionKey k = listenerKey;
        if (k != null && k.isValid()) {
            k.interestOps(SelectionKey.OP_ACCEPT);
        }
        return 0;
    }

    /** Watches {@code c} (a new or re-added connection). */
    void add(IpcConnection c) {
        if (!c.isOpen()) {
            throw IpcException.of("add", Errno.ENOTCONN, "connection closed");
        }
        c.watched = true;
        try {
            if (c.key == null || !c.key.isValid()) {
                c.key = c.channel.register(selector, SelectionKey.OP_READ, c);
            }
        } catch (IOException e) {
            c.watched = false;
            throw Errors.of("add", e);
        }
        c.updateInterest();
        if (c.reader.hasFrame() && !c.queued) {
            c.queued = true;
            ready.add(c);
        }
    }

    /** Stops watching {@code c} (it stays open). */
    boolean del(IpcConnection c) {
        if (!c.watched) {
            return false;
        }
        c.watched = false;
        c.updateInterest(); // queued output still leaves
        return true;
    }

    void addFd(SelectableChannel ch) {
        if (extras.containsKey(ch)) {
            return;
        }
        try {
            ch.configureBlocking(false);
            SelectionKey k = ch.register(selector, SelectionKey.OP_READ);
            Extra e = new Extra(ch, k);
            k.attach(e);
            extras.put(ch, e);
        } catch (IOException e) {
            throw Errors.of("addFd", e);
        }
    }

    boolean delFd(SelectableChannel ch) {
        Extra e = extras.remove(ch);
        if (e == null) {
            return false;
        }
        e.key.cancel();
        ready.remove(e);
        return true;
    }

    /** @return how many channels and raw fds are added */
    int extraCount() {
        return extras.size() + (raw == null ? 0 : raw.size());
    }

    /** @return true while channels or raw fds are added */
    boolean hasExtras() {
        return !extras.isEmpty() || raw != null;
    }

    void addFd(int fd) {
        if (fd < 0) {
            throw new IpcException("addFd", Errno.EBADF, "fd " + fd);
        }
        if (raw == null) {
            raw = new RawFdWatcher(selector::wakeup);
        }
        raw.add(fd);
    }

    boolean delFd(int fd) {
        if (raw == null || !raw.remove(fd)) {
            return false;
        }
        ready.removeIf(o -> o instanceof RawReady && ((RawReady) o).fd == fd);
        if (rearmFd == fd) {
            rearmFd = -1;
        }
        if (raw.size() == 0) {
            raw.close();
            raw = null;
        }
        return true;
    }

    /** One event, waiting up to {@code timeoutMs} (negative: forever, 0: no wait). */
    IpcEvent waitEvent(long timeoutMs) {
        event.reset();
        if (rearmFd >= 0) {
            if (raw != null) {
                raw.rearm(rearmFd);
            }
            rearmFd = -1;
        }
        final long deadline = timeoutMs > 0 ? System.nanoTime() + timeoutMs * 1_000_000L : 0;
        try {
            for (;;) {
                if (roundLeft <= 0) {
                    long paused = resumeAccepts();
                    if (ready.isEmpty()) {
                        long wait = timeoutMs < 0 ? -1 : timeoutMs == 0 ? 0
                                : Math.max(0, (deadline - System.nanoTime() + 999_999) / 1_000_000L);
                        if (paused > 0 && (wait < 0 || wait > paused)) {
                            wait = paused; // wake up to watch the listener again
                        }
                        if (wait < 0) {
                            selector.select(onSelected);
                        } else if (wait == 0) {
                            selector.selectNow(onSelected);
                        } else {
                            selector.select(onSelected, wait);
                        }
                    } else {
                        selector.selectNow(onSelected);
                    }
                    drainRaw();
                    roundLeft = ready.size();
                    if (ready.isEmpty()) {
                        if (timeoutMs == 0 || timeoutMs > 0 && deadline - System.nanoTime() <= 0) {
                            return event.set(IpcEventType.TIMEOUT, null);
                        }
                        if (Thread.currentThread().isInterrupted()) { // select returns at once while set: report it
                            return event.error(null, new IpcException("waitEvent", Errno.EINTR, "interrupted"));
                        }
                        continue;
                    }
                }
                Object s = ready.poll();
                roundLeft--;
                if (s != null && serve(s)) {
                    return event;
                }
                if (ready.isEmpty()) {
                    roundLeft = 0;
                    if (timeoutMs == 0) {
                        return event.set(IpcEventType.TIMEOUT, null);
                    }
                }
            }
        } catch (IOException e) {
            return event.error(null, Errors.of("waitEvent", e));
        } catch (ClosedSelectorException e) {
            return event.error(null, IpcException.of("waitEvent", Errno.EBADF, "closed"));
        }
    }

    private void enqueue(SelectionKey k) {
        Object a = k.attachment();
        if (a == LISTENER) {
            if (!listenerQueued) {
                listenerQueued = true;
                ready.add(a);
            }
        } else if (a instanceof IpcConnection) {
            IpcConnection c = (IpcConnection) a;
            if (k.isValid() && k.isWritable()) {
                c.flushQueued();
            }
            if (!c.queued && c.watched && k.isValid() && k.isReadable()) {
                c.queued = true;
                ready.add(c);
            }
        } else if (a instanceof Extra) {
            Extra e = (Extra) a;
            if (!e.queued) {
                e.queued = true;
                ready.add(e);
            }
        }
    }

    private void drainRaw() {
        if (raw == null) {
            return;
        }
        for (Integer fd = raw.poll(); fd != null; fd = raw.poll()) {
            ready.add(new RawReady(fd));
        }
    }

    /** @return true when {@link #event} now holds an event */
    private boolean serve(Object s) {
        if (s == LISTENER) {
            listenerQueued = false;
            IpcConnection c = acceptor.get();
            if (c == null) {
                return false;
            }
            add(c);
            event.set(IpcEventType.CONNECTION, c);
            return true;
        }
        if (s instanceof IpcConnection) {
            IpcConnection c = (IpcConnection) s;
            c.queued = false;
            return c.watched && read(c);
        }
        if (s instanceof Extra) {
            Extra e = (Extra) s;
            e.queued = false;
            if (!e.key.isValid()) {
                return false;
            }
            event.extra(e.channel, -1);
            return true;
        }
        RawReady r = (RawReady) s;
        if (raw == null || !raw.contains(r.fd)) {
            return false;
        }
        rearmFd = r.fd;
        event.extra(null, r.fd);
        return true;
    }

    /** Delivers the next frame of {@code c}, reading once if none is buffered. */
    private boolean read(IpcConnection c) {
        FrameReader r = c.reader;
        try {
            if (!r.next()) {
                int n = r.fill(c.channel);
                if (n < 0) {
                    return disconnected(c);
                }
                if (!r.next()) {
                    return false;
                }
            }
        } catch (FrameReader.TooLargeException e) {
            c.close();
            badFrames.warn("libipc: {}: {}; connection closed", c, e.getMessage());
            MessageTooLargeException x = new MessageTooLargeException("read(" + c + ")", e.getMessage());
            event.error(c, x);
            return true;
        } catch (IOException | UncheckedIOException e) {
            // ECONNRESET and friends: the peer is gone
            return disconnected(c);
        }
        if (r.hasFrame() && !c.queued) {
            c.queued = true;
            ready.add(c);
        }
        byte type = r.type();
        if (reportServerClose && type == IpcMessage.SERVER_CLOSE) {
            event.set(IpcEventType.SERVER_CLOSE, c);
        } else {
            event.set(IpcEventType.MESSAGE, c);
        }
        event.message(type, r.payload());
        return true;
    }

    private boolean disconnected(IpcConnection c) {
        c.close();
        event.set(IpcEventType.DISCONNECTION, c);
        return true;
    }

    /** Closes the selector and the raw-fd watcher (not the connections or channels). */
    @Override
    public void close() {
        if (raw != null) {
            raw.close();
            raw = null;
        }
        try {
            selector.close();
        } catch (IOException e) {
            // closing
        }
    }
}
