package io.jqb.notify.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.stream.TcpIpc;
import io.jqb.testutil.ChildOutput;
import io.jqb.testutil.JqbCliProcess;
import io.jqb.testutil.StderrCapture;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * The broker's cross-host endpoint against hosts that misbehave on its TCP port (raw sockets written by the test):
 * what they cost the broker is bounded, and what they make it log is too.
 */
class StreamPeerNetworkTest {
    private static final int FLOOD = 3 * StreamPeerNetwork.MAX_ACCEPTED;

    private static StreamPeerNetwork listening() {
        return new StreamPeerNetwork(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), List.of(),
                note -> { });
    }

    @Test
    void aFloodOfConnectionsCostsABoundedNumberOfLinksAndThreads() throws Exception {
        try (StreamPeerNetwork net = listening()) {
            List<Socket> flood = new ArrayList<>();
            try {
                for (int i = 0; i < FLOOD; i++) {
                    Socket s = new Socket(InetAddress.getLoopbackAddress(), net.port());
                    s.setSoTimeout(5);
                    flood.add(s);
                }
                // every connection past the bound is closed by the broker: its reader sees the end of the stream
                int refused = 0;
                long deadline = System.nanoTime() + 60_000_000_000L;
                List<Socket> open = new ArrayList<>(flood);
                while (refused < FLOOD - StreamPeerNetwork.MAX_ACCEPTED && System.nanoTime() < deadline) {
                    for (int i = open.size() - 1; i >= 0; i--) {
                        if (endOfStream(open.get(i))) {
                            open.remove(i);
                            refused++;
                        }
                    }
                }
                assertEquals(FLOOD - StreamPeerNetwork.MAX_ACCEPTED, refused, "connections closed by the broker");
                awaitPeers(net, StreamPeerNetwork.MAX_ACCEPTED);
                long threads = Thread.getAllStackTraces().keySet().stream()
                        .filter(t -> t.getName().startsWith("jqb-notify-peer")).count();
                assertTrue(threads <= 2L * StreamPeerNetwork.MAX_ACCEPTED, threads + " link threads");
            } finally {
                for (Socket s : flood) {
                    s.close();
                }
            }
            // the flood gone, a peer is accepted again
            awaitPeers(net, 0);
            try (Socket s = new Socket(InetAddress.getLoopbackAddress(), net.port())) {
                awaitPeers(net, 1);
            }
        }
    }

    @Test
    void hostsSendingBrokenFramesDoNotFloodTheLog() throws Exception {
        int hosts = 200;
        try (StreamPeerNetwork net = listening(); StderrCapture err = new StderrCapture()) {
            long t0 = System.nanoTime();
            for (int i = 0; i < hosts; i++) {
                try (Socket s = new Socket(InetAddress.getLoopbackAddress(), net.port())) {
                    s.setSoTimeout(30_000);
                    // a frame header with a foreign prefix: the link is closed at once
                    s.getOutputStream().write(ByteBuffer.allocate(12).putInt(0x12345678).putInt(1).putInt(0)
                            .array());
                    assertEquals(-1, s.getInputStream().read(), "link closed");
                }
            }
            long seconds = (System.nanoTime() - t0) / 1_000_000_000L;
            int lines = err.lines("peer link").size();
            // at most a burst of lines per second, however many hosts misbehave
            // the limiter is one per kind of line for the whole JVM: earlier lines of the same kind (other
            // tests) may have used up the current window, so only the bound is checked
            assertTrue(lines <= 5 * (seconds + 2) && lines < hosts, lines + " lines for " + hosts
                    + " broken links in " + seconds + " s");
        }
    }

    @Test
    void anAcceptFailingWithEmfileDoesNotEndAccepting() throws Exception {
        Process child = new ProcessBuilder(JqbCliProcess.java(), "-Xshare:auto", "-XX:TieredStopAtLevel=1", "-cp",
                JqbCliProcess.classPath(), "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
                PeerFdLimitMain.class.getName()).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .start();
        StringBuffer out = new StringBuffer();
        StringBuffer err = new StringBuffer();
        Thread o = ChildOutput.collect(child.getInputStream(), out, "peer-fd-limit-output");
        Thread e = ChildOutput.collect(child.getErrorStream(), err, "peer-fd-limit-output");
        List<Socket> held = new ArrayList<>();
        try {
            ChildOutput.awaitText(child, out, "limit", err);
            String text = out.toString();
            int port = Integer.parseInt(text.substring(text.indexOf("port ") + 5).split(" ")[0]);
            // each accepted link costs the child one fd: past its limit accept fails with EMFILE
            for (int i = 0; i < 8; i++) {
                held.add(new Socket(InetAddress.getLoopbackAddress(), port));
            }
            ChildOutput.awaitText(child, err, "): EMFILE", out);
            for (Socket s : held) {
                s.close();
            }
            // the links end, their fds are free again: a peer is accepted and its notification delivered
            try (TcpIpc c = TcpIpc.connect("127.0.0.1", port, 5000)) {
                c.writeMessage(PeerFrameDescriptor.PREFIX, PeerFrameDescriptor.MSG_NOTE,
                        PeerFdLimitMain.frame("alive"));
                ChildOutput.awaitText(child, out, "note alive", err);
            }
        } finally {
            for (Socket s : held) {
                s.close();
            }
            child.destroyForcibly();
            child.waitFor(30, TimeUnit.SECONDS);
            o.join(10_000);
            e.join(10_000);
        }
    }


    /**
     * A JVM out of native threads (Thread.start throws OutOfMemoryError; made here by a thread factory, since root
     * is not bound by RLIMIT_NPROC) costs the peers it could not start a thread for, not the port: the link is closed,
     * the accept loop lives on, and once threads can be made again a peer is accepted and its links run.
     */
    @Test
    void aLinkThatGetsNoThreadIsDroppedAndAcceptingGoesOn() throws Exception {
        AtomicBoolean refuse = new AtomicBoolean();
        AtomicInteger refused = new AtomicInteger();
        ThreadFactory factory = refusing(refuse, refused, "jqb-notify-peer");
        try (StreamPeerNetwork net = new StreamPeerNetwork(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0),
                List.of(), note -> { }, factory)) {
            refuse.set(true);
            try (Socket s = new Socket(InetAddress.getLoopbackAddress(), net.port())) {
                s.setSoTimeout(30_000);
                assertEquals(-1, s.getInputStream().read(), "the link without a thread is closed");
            }
            assertTrue(refused.get() >= 1, "a thread start failed");
            assertEquals(0, net.connectedPeers());
            refuse.set(false);
            try (Socket s = new Socket(InetAddress.getLoopbackAddress(), net.port())) {
                awaitPeers(net, 1); // reader and writer threads started: the accept loop survived
            }
            awaitPeers(net, 0);
        }
    }

    /** A thread factory whose threads of the given name prefixes fail to start while {@code refuse} is set. */
    private static ThreadFactory refusing(AtomicBoolean refuse, AtomicInteger refused, String... prefixes) {
        return r -> new Thread(r) {
            @Override
            public synchronized void start() {
                for (String p : prefixes) {
                    if (refuse.get() && getName().startsWith(p)) {
                        refused.incrementAndGet();
                        throw new OutOfMemoryError("unable to create native thread: refused by the test");
                    }
                }
                super.start();
            }
        };
    }

    @Test
    void aLinkWhoseWriterGetsNoThreadIsClosedAndAcceptingGoesOn() throws Exception {
        AtomicBoolean refuse = new AtomicBoolean();
        AtomicInteger refused = new AtomicInteger();
        try (StreamPeerNetwork net = new StreamPeerNetwork(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0),
                List.of(), note -> { }, refusing(refuse, refused, "jqb-notify-peer-writer"))) {
            refuse.set(true);
            for (int i = 0; i < 3; i++) {
                try (Socket s = new Socket(InetAddress.getLoopbackAddress(), net.port())) {
                    s.setSoTimeout(30_000);
                    assertEquals(-1, s.getInputStream().read(), "the link without a writer is closed");
                }
            }
            assertEquals(3, refused.get(), "one writer refused per link");
            assertEquals(0, net.connectedPeers(), "a link that never ran is never listed");
            refuse.set(false);
            // the accepted count went back down with each dropped link: the accept loop takes peers as before
            try (Socket s = new Socket(InetAddress.getLoopbackAddress(), net.port())) {
                awaitPeers(net, 1);
            }
            awaitPeers(net, 0);
        }
    }

    @Test
    void aNetworkThatCannotStartItsThreadsLeavesNoListener() throws Exception {
        AtomicInteger refused = new AtomicInteger();
        int port;
        try (java.net.ServerSocket probe = new java.net.ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = probe.getLocalPort();
        }
        InetSocketAddress listen = new InetSocketAddress(InetAddress.getLoopbackAddress(), port);
        assertThrows(OutOfMemoryError.class, () -> new StreamPeerNetwork(listen, List.of(), note -> { },
                refusing(new AtomicBoolean(true), refused, "jqb-notify-accept")));
        assertEquals(1, refused.get());
        // the listener was closed: the same port can be listened on again at once
        try (StreamPeerNetwork net = new StreamPeerNetwork(listen, List.of(), note -> { })) {
            assertEquals(port, net.port());
        }
    }

    private static boolean endOfStream(Socket s) throws IOException {
        InputStream in = s.getInputStream();
        try {
            return in.read() == -1;
        } catch (SocketTimeoutException e) {
            return false;
        }
    }

    /** Polls until {@code n} links run (the broker's threads take them up and drop them asynchronously). */
    private static void awaitPeers(StreamPeerNetwork net, int n) throws InterruptedException {
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (net.connectedPeers() != n && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertEquals(n, net.connectedPeers());
    }
}
