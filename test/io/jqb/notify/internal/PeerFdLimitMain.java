package io.jqb.notify.internal;

import io.jqb.IpcException;
import io.jqb.stream.TcpIpc;
import io.jqb.testutil.FdLimit;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.slf4j.LoggerFactory;

/**
 * Child JVM for {@link StreamPeerNetworkTest}: a broker's peer endpoint in a process that then lowers its own
 * RLIMIT_NOFILE with {@code prlimit}, so that accepting fails with EMFILE after a few links. Prints
 * {@code port N limit L}, then {@code note ID} for every notification a link delivers; runs until killed.
 */
public final class PeerFdLimitMain {
    private PeerFdLimitMain() {
    }

    public static void main(String[] args) throws Exception {
        CountDownLatch warm = new CountDownLatch(1);
        StreamPeerNetwork net = new StreamPeerNetwork(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0),
                List.of(), n -> {
                    System.out.println("note " + n.id());
                    System.out.flush();
                    warm.countDown();
                });
        // Every code path once before the limit is lowered: with a directory class path each class loaded later
        // would need an fd of its own, and the accept must be the first thing to hit the limit.
        try (TcpIpc c = TcpIpc.connect("127.0.0.1", net.port(), 5000)) {
            c.writeMessage(PeerFrameDescriptor.PREFIX, PeerFrameDescriptor.MSG_NOTE, frame("warm"));
            if (!warm.await(30, TimeUnit.SECONDS)) {
                System.out.println("warm-up failed");
                System.exit(3);
            }
        }
        LoggerFactory.getLogger(PeerFdLimitMain.class).warn("warm {}", new IpcException("warm", 24).errnoName());
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (net.connectedPeers() > 0 && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        int limit = FdLimit.lowerToOpenFdsPlus(3);
        System.out.println("port " + net.port() + " limit " + limit);
        System.out.flush();
        Thread.sleep(Long.MAX_VALUE);
    }

    /** @return a NOTE body with notification id {@code id}, as a peer broker sends it */
    static byte[] frame(String id) {
        Note n = new Note(0, 0, "peer", "*", id, "{}");
        ByteBuffer b = ByteBuffer.allocate(NoteCodec.noteSize(n)).order(ByteOrder.LITTLE_ENDIAN);
        NoteCodec.putNote(b, n);
        return b.array();
    }
}
