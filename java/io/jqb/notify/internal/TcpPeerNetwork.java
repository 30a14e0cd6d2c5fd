package io.jqb.notify.internal;

import io.jqb.internal.Logs;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;

/**
 * A minimal framed TCP link between brokers ({@link FrameDescriptor}): a listening socket, one dialer per configured
 * peer (reconnects with back-off from 100 ms to 5 s), a reader and a writer thread per link, and a bounded queue of
 * {@value #QUEUE} frames per link (full: the frame is dropped and counted).
 */
public final class TcpPeerNetwork implements PeerNetwork {
    static final int QUEUE = 1024;
    private static final Logger LOG = Logs.get(TcpPeerNetwork.class);

    private final Consumer<Note> inbound;
    private final ServerSocket server;
    private final Set<Link> links = ConcurrentHashMap.newKeySet();
    private final Set<Thread> threads = ConcurrentHashMap.newKeySet();
    private volatile boolean closed;

    /**
     * @param listen where to accept peers, or null not to listen
     * @param peers brokers to dial
     * @param inbound gets every notification a peer sends (on a link's reader thread)
     */
    public TcpPeerNetwork(InetSocketAddress listen, List<InetSocketAddress> peers, Consumer<Note> inbound)
            throws IOException {
        this.inbound = inbound;
        if (listen != null) {
            server = new ServerSocket();
            server.setReuseAddress(true);
            server.bind(listen);
            start("jqb-notify-accept", this::acceptLoop);
        } else {
            server = null;
        }
        for (InetSocketAddress p : peers) {
            start("jqb-notify-dial-" + p.getPort(), () -> dialLoop(p));
        }
    }

    private void start(String name, Runnable r) {
        Thread t = new Thread(() -> {
            try {
                r.run();
            } finally {
                threads.remove(Thread.currentThread());
            }
        }, name);
        t.setDaemon(true);
        threads.add(t);
        t.start();
    }

    private void acceptLoop() {
        while (!closed) {
            try {
                Socket s = server.accept();
                start("jqb-notify-peer-" + s.getPort(), () -> runLink(s));
            } catch (IOException e) {
                if (!closed) {
                    LOG.warn("accept on {}: {}", server.getLocalSocketAddress(), e.toString());
                }
                return;
            }
        }
    }

    private void dialLoop(InetSocketAddress peer) {
        long backoff = 100;
        boolean logged = false;
        while (!closed) {
            try (Socket s = new Socket()) {
                s.connect(peer, 5_000);
                backoff = 100;
                logged = false;
                runLink(s);
            } catch (IOException e) {
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

    /** Runs one link on this thread (the reader) until it fails; a writer thread drains its queue. */
    private void runLink(Socket s) {
        Link link = new Link(s);
        try {
            s.setTcpNoDelay(true);
            DataOutputStream out = new DataOutputStream(s.getOutputStream());
            out.write(FrameDescriptor.MAGIC);
            out.flush();
            DataInputStream in = new DataInputStream(s.getInputStream());
            byte[] magic = new byte[FrameDescriptor.MAGIC.length];
            in.readFully(magic);
            if (!Arrays.equals(magic, FrameDescriptor.MAGIC)) {
                LOG.warn("peer {} is not a jqb notification broker (bad magic); closing", s.getRemoteSocketAddress());
                return;
            }
            links.add(link);
            start("jqb-notify-peer-writer-" + s.getPort(), () -> link.writeLoop(out));
            if (closed) {
                return;
            }
            while (!closed) {
                int len = in.readInt();
                if (len < NotifyMessageDescriptor.NOTE_FIXED || len > NotifyMessageDescriptor.MAX_NOTE) {
                    LOG.warn("peer {} sent a frame of {} bytes; closing", s.getRemoteSocketAddress(), len);
                    return;
                }
                byte[] body = new byte[len];
                in.readFully(body);
                Note n;
                try {
                    n = NoteCodec.getNote(ByteBuffer.wrap(body).order(ByteOrder.LITTLE_ENDIAN), 0, len);
                } catch (IllegalArgumentException e) {
                    LOG.warn("peer {}: {}; closing", s.getRemoteSocketAddress(), e.getMessage());
                    return;
                }
                inbound.accept(n);
            }
        } catch (IOException e) {
            LOG.debug("peer link {} ended: {}", s.getRemoteSocketAddress(), e.toString());
        } finally {
            links.remove(link);
            link.close();
        }
    }

    @Override
    public void publish(Note note) {
        if (links.isEmpty()) {
            return;
        }
        ByteBuffer b = ByteBuffer.allocate(FrameDescriptor.LENGTH_BYTES + NoteCodec.noteSize(note));
        b.putInt(0, b.capacity() - FrameDescriptor.LENGTH_BYTES);
        b.position(FrameDescriptor.LENGTH_BYTES);
        NoteCodec.putNote(b, note);
        byte[] frame = b.array();
        for (Link l : links) {
            l.offer(frame);
        }
    }

    @Override
    public int port() {
        return server == null ? -1 : server.getLocalPort();
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
        try {
            if (server != null) {
                server.close();
            }
        } catch (IOException e) {
            LOG.debug("closing listener: {}", e.toString());
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

    /** One connected peer: its socket and bounded outbound queue. */
    private static final class Link {
        private static final byte[] STOP = new byte[0];
        private final Socket socket;
        private final BlockingQueue<byte[]> queue = new ArrayBlockingQueue<>(QUEUE);
        private long dropped;

        Link(Socket socket) {
            this.socket = socket;
        }

        void offer(byte[] frame) {
            if (!queue.offer(frame) && dropped++ == 0) {
                LOG.warn("peer {} is not keeping up; dropping notifications", socket.getRemoteSocketAddress());
            }
        }

        void writeLoop(DataOutputStream out) {
            try {
                while (true) {
                    byte[] f = queue.poll(1, TimeUnit.SECONDS);
                    if (f == STOP || socket.isClosed()) {
                        return;
                    }
                    if (f != null) {
                        out.write(f);
                        if (queue.isEmpty()) {
                            out.flush();
                        }
                    }
                }
            } catch (IOException | InterruptedException e) {
                close();
            }
        }

        void close() {
            queue.clear();
            queue.offer(STOP);
            try {
                socket.close();
            } catch (IOException e) {
                LOG.debug("closing peer socket: {}", e.toString());
            }
        }
    }
}
