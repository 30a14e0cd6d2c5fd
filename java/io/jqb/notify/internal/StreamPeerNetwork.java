package io.jqb.notify.internal;

import io.jqb.IpcException;
import io.jqb.stream.FrameException;
import io.jqb.stream.Ipc;
import io.jqb.stream.Message;
import io.jqb.stream.TcpIpc;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.slf4j.Logger;
import io.jqb.internal.Logs;
import io.jqb.internal.log.RateLimitedLog;

/**
 * The cross-host link over jqb's stream layer ({@link TcpIpc}, framed messages, {@link PeerFrameDescriptor}): a
 * listening endpoint, one dialer per configured peer (reconnects with back-off from 100 ms to 5 s), a reader and a
 * writer thread per link, and a bounded queue of {@value #QUEUE} frames per link (full: the frame is dropped and
 * counted). A peer that stops reading fails the link after a 5 s write time-out. At most {@value #MAX_ACCEPTED}
 * accepted links run at once (each costs two threads): a connection past that is closed at once, so a host that
 * floods the port costs a bounded number of threads and fds. A failing accept (EMFILE...) is retried every
 * {@value #ACCEPT_RETRY_MS} ms: peers are accepted again once the condition passes.
 */
public final class StreamPeerNetwork implements PeerNetwork {
    static final int QUEUE = 1024;
    private static final int WRITE_TIMEOUT_MS = 5_000;
    /** Most accepted (inbound) links at once; dialed links are one per configured peer. */
    static final int MAX_ACCEPTED = 64;
    private static final Logger LOG = Logs.get(StreamPeerNetwork.class);
    /** Lines a connecting host can trigger (a refused connection, a broken frame): a few a second. */
    private static final RateLimitedLog PEER_LOG = new RateLimitedLog(LOG);
    /** A failing accept is retried every {@value #ACCEPT_RETRY_MS} ms and logged once in a while. */
    private static final RateLimitedLog ACCEPT_LOG = new RateLimitedLog(LOG, 1, 10_000);
    private static final int ACCEPT_RETRY_MS = 100;
    /** A link dropped because no thread could be started for it: once in a while. */
    private static final RateLimitedLog THREAD_LOG = new RateLimitedLog(LOG, 1, 10_000);

    private final Consumer<Note> inbound;
    private final TcpIpc server;
    private final Set<Link> links = ConcurrentHashMap.newKeySet();
    private final Set<Thread> threads = ConcurrentHashMap.newKeySet();
    private final AtomicInteger accepted = new AtomicInteger();
    /** Makes the network's threads (a seam: tests make their start fail, as a JVM out of native threads does). */
    private final ThreadFactory threadFactory;
    private volatile boolean closed;

    /**
     * @param listen where to accept peers (a wildcard address: all interfaces), or null not to listen
     * @param peers brokers to dial
     * @param inbound gets every notification a peer sends (on a link's reader thread)
     * @throws IpcException when it cannot listen
     */
    public StreamPeerNetwork(InetSocketAddress listen, List<InetSocketAddress> peers, Consumer<Note> inbound) {
        this(listen, peers, inbound, Thread::new);
    }

    /** As the public constructor, with the factory of every thread the network starts (tests). */
    StreamPeerNetwork(InetSocketAddress listen, List<InetSocketAddress> peers, Consumer<Note> inbound,
            ThreadFactory threadFactory) {
        this.inbound = inbound;
        this.threadFactory = threadFactory;
        server = listen == null ? null : TcpIpc.listen(listen.getPort(),
                listen.getAddress().isAnyLocalAddress() ? null : listen.getAddress().getHostAddress());
        try {
            if (server != null) {
                start("jqb-notify-accept", this::acceptLoop);
            }
            for (InetSocketAddress p : peers) {
                start("jqb-notify-dial-" + p.getPort(), () -> dialLoop(p));
            }
        } catch (RuntimeException | Error e) {
            close(); // the listener and the threads already started: nothing is left behind
            throw e;
        }
    }

    /**
     * Starts a daemon thread running {@code r}.
     *
     * @throws OutOfMemoryError when the JVM cannot create the thread (no thread is left registered)
     */
    private void start(String name, Runnable r) {
        Thread t = threadFactory.newThread(() -> {
            try {
                r.run();
            } finally {
                threads.remove(Thread.currentThread());
            }
        });
        t.setName(name);
        t.setDaemon(true);
        threads.add(t);
        try {
            t.start();
        } catch (OutOfMemoryError e) {
            threads.remove(t);
            throw e;
        }
    }

    private void acceptLoop() {
        while (!closed) {
            try {
                Ipc c = server.accept(1_000);
                if (c == null) {
                    continue;
                }
                if (accepted.incrementAndGet() > MAX_ACCEPTED) {
                    accepted.decrementAndGet();
                    PEER_LOG.warn("peer link from {} refused: {} accepted links already", c.remoteAddress(),
                            MAX_ACCEPTED);
                    c.close();
                    continue;
                }
                try {
                    start("jqb-notify-peer", () -> {
                        try {
                            runLink(c);
                        } finally {
                            accepted.decrementAndGet();
                        }
                    });
                } catch (OutOfMemoryError e) {
                    // No thread for this link (the JVM's native threads ran out): drop this peer, not the port.
                    accepted.decrementAndGet();
                    c.close();
                    THREAD_LOG.warn("peer link from {} dropped: no thread for it ({}); accepting again in {} ms",
                            c.remoteAddress(), e.getMessage(), ACCEPT_RETRY_MS);
                    if (!pause(ACCEPT_RETRY_MS)) {
                        return;
                    }
                }
            } catch (IpcException e) {
                // EMFILE, ENFILE, ENOBUFS...: transient; the listener stays open and is tried again
                if (closed) {
                    return;
                }
                ACCEPT_LOG.warn("accept on port {}: {}; trying again", server.localPort(), e.getMessage());
                if (!pause(ACCEPT_RETRY_MS)) {
                    return;
                }
            }
        }
    }

    /** Waits {@code ms} unless closed meanwhile; @return false when closed or interrupted */
    private boolean pause(long ms) {
        synchronized (this) {
            if (closed) {
                return false;
            }
            try {
                wait(ms);
            } catch (InterruptedException e) {
                return false;
            }
            return !closed;
        }
    }

    private void dialLoop(InetSocketAddress peer) {
        long backoff = 100;
        boolean logged = false;
        while (!closed) {
            try {
                Ipc c = TcpIpc.connect(peer.getAddress().getHostAddress(), peer.getPort(), 5_000);
                if (runLink(c)) {
                    backoff = 100; // a link ran: the next failure starts the back-off again
                    logged = false;
                }
            } catch (IpcException e) {
                if (!logged && !closed) {
                    LOG.info("peer {} unreachable ({}); retrying with back-off", peer, e.getMessage());
                    logged = true;
                }
            }
            synchronized (this) {
                if (closed) {
                    return;
                }
                try {
                    wait(backoff);
                } catch (InterruptedException e) {
                    return;
                }
            }
            backoff = Math.min(backoff * 2, 5_000);
        }
    }

    /**
     * Runs one link on this thread (the reader) until it fails; a writer thread drains its queue.
     *
     * @return false when the link never ran (no thread for its writer): it is closed
     */
    private boolean runLink(Ipc ipc) {
        Link link = new Link(ipc);
        ipc.setWriteTimeout(WRITE_TIMEOUT_MS);
        try {
            start("jqb-notify-peer-writer", link::writeLoop);
        } catch (OutOfMemoryError e) {
            THREAD_LOG.warn("peer link {} dropped: no thread for its writer ({})", ipc.remoteAddress(),
                    e.getMessage());
            link.close();
            return false;
        }
        links.add(link);
        try {
            while (!closed) {
                Message m = ipc.readMessage(PeerFrameDescriptor.PREFIX, NotifyMessageDescriptor.MAX_NOTE, 1_000);
                if (m == null) {
                    if (ipc.eof()) {
                        return true;
                    }
                    continue;
                }
                if (m.msgId() != PeerFrameDescriptor.MSG_NOTE) {
                    PEER_LOG.warn("peer {} sent message id {}; closing the link", ipc.remoteAddress(), m.msgId());
                    return true;
                }
                byte[] body = m.payload();
                inbound.accept(NoteCodec.getNote(ByteBuffer.wrap(body).order(ByteOrder.LITTLE_ENDIAN), 0,
                        body.length));
            }
        } catch (FrameException | IllegalArgumentException e) {
            PEER_LOG.warn("peer link {}: {}; closing it", ipc.remoteAddress(), e.getMessage());
        } catch (IpcException e) {
            LOG.debug("peer link ended: {}", e.getMessage());
        } finally {
            links.remove(link);
            link.close();
        }
        return true;
    }

    @Override
    public void publish(Note note) {
        if (links.isEmpty()) {
            return;
        }
        ByteBuffer b = ByteBuffer.allocate(NoteCodec.noteSize(note));
        NoteCodec.putNote(b, note);
        byte[] frame = b.array();
        for (Link l : links) {
            l.offer(frame);
        }
    }

    @Override
    public int port() {
        return server == null ? -1 : server.localPort();
    }

    @Override
    public int connectedPeers() {
        return links.size();
    }

    @Override
    public void close() {
        closed = true;
        synchronized (this) {
            notifyAll();
        }
        if (server != null) {
            server.close();
        }
        for (Link l : links) {
            l.close();
        }
        for (Thread t : threads) {
            try {
                t.join(5_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /** One connected peer: its endpoint and bounded outbound queue. */
    private static final class Link {
        private static final byte[] STOP = new byte[0];
        private final Ipc ipc;
        private final BlockingQueue<byte[]> queue = new ArrayBlockingQueue<>(QUEUE);
        private volatile boolean closed;
        private long dropped;

        Link(Ipc ipc) {
            this.ipc = ipc;
        }

        void offer(byte[] frame) {
            if (!queue.offer(frame) && dropped++ == 0) {
                LOG.warn("a peer broker is not keeping up; dropping notifications for it");
            }
        }

        void writeLoop() {
            try {
                while (!closed) {
                    byte[] f = queue.poll(1, TimeUnit.SECONDS);
                    if (f == STOP) {
                        return;
                    }
                    if (f != null) {
                        ipc.writeMessage(PeerFrameDescriptor.PREFIX, PeerFrameDescriptor.MSG_NOTE, f);
                    }
                }
            } catch (IpcException | InterruptedException e) {
                close();
            }
        }

        void close() {
            closed = true;
            queue.clear();
            queue.offer(STOP);
            ipc.close();
        }
    }
}
