package io.jqb.internal.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.Errno;
import io.jqb.PollHandlers;
import io.jqb.internal.posix.LibC;
import io.jqb.internal.posix.Posix;
import io.jqb.internal.ring.ShmRing;
import io.jqb.internal.wire.ChunkDescriptor;
import io.jqb.internal.wire.MessageHeaderDescriptor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * In-process tests of the SHM server channel's request reading ({@code ShmRing.read} with the channel's reader) and
 * of the life cycle it shares with the SOCKET channel ({@link AbstractServerChannel}). The client is this test: it
 * opens the request ring the channel created, as a libqb client does, and writes chunks into it.
 */
class ShmServerChannelTest {
    private static final int MAX_MSG = 8192;
    private static final AtomicInteger SEQ = new AtomicInteger();

    private Path dir;
    private long pair;
    private int clientFd = -1;
    private ShmServerChannel channel;
    private ShmRing clientRequest;
    private final Recorder owner = new Recorder();
    private final List<String> seen = new ArrayList<>();

    /** What the channel told its connection. */
    private static final class Recorder implements ServerChannel.Owner {
        String failed;
        String violation;
        int retries;

        @Override
        public void interestChanged() {
        }

        @Override
        public void fail(String why) {
            failed = why;
        }

        @Override
        public void violation(String why) {
            violation = why;
        }

        @Override
        public void recvRetry() {
            retries++;
        }
    }

    @BeforeEach
    void setUp() throws IOException {
        dir = Files.createTempDirectory(Path.of("/dev/shm"),
                "jqbt-shmchan-" + ProcessHandle.current().pid() + "-" + SEQ.incrementAndGet() + "-");
        pair = Posix.allocate(8);
        Posix.check(Posix.C.socketpair(LibC.AF_UNIX, LibC.SOCK_STREAM | LibC.SOCK_NONBLOCK | LibC.SOCK_CLOEXEC, 0,
                pair), "socketpair");
        int serverFd = Posix.MEM.readInt(pair);
        clientFd = Posix.MEM.readInt(pair + 4);
        channel = ShmServerChannel.create(serverFd, dir.toString(), "test", MAX_MSG, -1, -1, 0600, owner);
        clientRequest = ShmRing.open(channel.requestPath(), MAX_MSG);
    }

    @AfterEach
    void tearDown() throws IOException {
        if (clientRequest != null) {
            clientRequest.decrementRefCount();
            clientRequest.close(false);
        }
        try {
            channel.destroy();
            Posix.closeQuietly(clientFd);
            Posix.free(pair, 8);
            try (var s = Files.list(dir)) {
                assertEquals(List.of(), s.toList(), "destroy removes every ring file");
            }
        } finally {
            Files.deleteIfExists(dir); // even when an assertion above failed: no directory left in /dev/shm
        }
    }

    /** A request as a client writes it: header (id, size) then {@code body} bytes. */
    private void sendRequest(int id, int size, int body) {
        ByteBuffer b = ByteBuffer.allocate(MessageHeaderDescriptor.REQUEST_HEADER_LENGTH + body)
                .order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(MessageHeaderDescriptor.ID_OFFSET, id).putInt(MessageHeaderDescriptor.SIZE_OFFSET, size);
        assertEquals(b.remaining(), clientRequest.write(b));
    }

    private void sendRequest(int id, int body) {
        sendRequest(id, MessageHeaderDescriptor.REQUEST_HEADER_LENGTH + body, body);
    }

    /** A sink as Connection's: records id, view bounds and read-only-ness, answers {@code more}. */
    private ServerChannel.RequestSink sink(boolean more) {
        return r -> {
            seen.add(r.getInt(r.position() + MessageHeaderDescriptor.ID_OFFSET) + ":" + r.remaining() + ":"
                    + r.isReadOnly());
            return more;
        };
    }

    /**
     * requestsQueued() may run on a handler's thread while another destroys the connection (unmaps the rings): it
     * answers from the ring while the channel is open and false once it is closed, never reading unmapped memory.
     */
    @Test
    void requestsQueuedRacingDestroyNeverReadsUnmappedRings() throws Exception {
        sendRequest(1, 4);
        assertTrue(channel.requestsQueued());
        for (int i = 0; i < 200; i++) {
            long p = Posix.allocate(8);
            Posix.check(Posix.C.socketpair(LibC.AF_UNIX, LibC.SOCK_STREAM | LibC.SOCK_NONBLOCK | LibC.SOCK_CLOEXEC,
                    0, p), "socketpair");
            int peer = Posix.MEM.readInt(p + 4);
            ShmServerChannel c = ShmServerChannel.create(Posix.MEM.readInt(p), dir.toString(), "race-" + i, MAX_MSG,
                    -1, -1, 0600, new Recorder());
            try {
                ShmRing r = ShmRing.open(c.requestPath(), MAX_MSG);
                r.write(ByteBuffer.allocate(MessageHeaderDescriptor.REQUEST_HEADER_LENGTH).order(ByteOrder.LITTLE_ENDIAN)
                        .putInt(MessageHeaderDescriptor.SIZE_OFFSET, MessageHeaderDescriptor.REQUEST_HEADER_LENGTH)
                        .clear());
                r.close(false);
                CountDownLatch asking = new CountDownLatch(1);
                Thread t = new Thread(() -> {
                    asking.countDown();
                    while (c.requestsQueued()) {
                        Thread.onSpinWait();
                    }
                }, "requests-queued-" + i);
                t.start();
                asking.await();
                c.destroy();
                t.join();
                assertFalse(c.requestsQueued());
            } finally {
                c.destroy();
                Posix.closeQuietly(peer);
                Posix.free(p, 8);
            }
        }
    }

    @Test
    void shouldHandEachRequestToTheSinkAsAReadOnlyViewOfItsSize() {
        sendRequest(7, 10);
        sendRequest(8, 0);
        // The header says 20 bytes although the chunk has 24: the view ends where the header says.
        sendRequest(9, 20, 8);
        assertTrue(channel.onEvents(PollHandlers.POLLIN, 16, sink(true)));
        assertEquals(List.of("7:26:true", "8:16:true", "9:20:true"), seen);
        assertEquals(0, clientRequest.semaphore().value(), "all consumed");
        assertNull(owner.failed);
        assertNull(owner.violation);
    }

    @Test
    void shouldEndTheBatchOnBackOffAndKeepTheRest() {
        sendRequest(1, 4);
        sendRequest(2, 4);
        assertTrue(channel.onEvents(PollHandlers.POLLIN, 16, sink(false)));
        assertEquals(List.of("1:20:true"), seen, "the refused batch stops after the request that backed off");
        assertEquals(1, clientRequest.semaphore().value());
        assertTrue(channel.onEvents(PollHandlers.POLLIN, 16, sink(true)));
        assertEquals(List.of("1:20:true", "2:20:true"), seen);
    }

    @Test
    void shouldServeNoMoreThanTheBudget() {
        for (int i = 0; i < 5; i++) {
            sendRequest(i, 0);
        }
        assertTrue(channel.onEvents(PollHandlers.POLLIN, 2, sink(true)));
        assertEquals(2, seen.size());
        assertEquals(3, clientRequest.semaphore().value());
    }

    /** Doorbell bytes queued in the server's end of the socket (a peek: nothing consumed). */
    private int doorbellsQueued() {
        long buf = Posix.allocate(512);
        try {
            long n = Posix.C.recv(channel.fd(), buf, 512, LibC.MSG_PEEK | LibC.MSG_DONTWAIT);
            return n < 0 ? 0 : (int) n;
        } finally {
            Posix.free(buf, 512);
        }
    }

    private void ringDoorbells(int n) {
        long buf = Posix.allocate(n);
        try {
            assertEquals(n, Posix.C.send(clientFd, buf, n, LibC.MSG_DONTWAIT));
        } finally {
            Posix.free(buf, n);
        }
    }

    /**
     * A native client pipelining 40 requests (post, then one byte each) to a loop serving 5 per pass: while requests
     * are still posted the doorbell bytes of those served are left for a later recv (one per DEFER_DRAIN requests
     * instead of one per pass), never a byte of a request not yet served (it keeps the fd readable for that request),
     * and once the ring is empty every byte is read (the fd is quiet until the next request).
     */
    @Test
    void aNativeClientsDoorbellsAreReadOncePerManyBatchesAndNeverAheadOfTheRing() {
        int total = 40;
        for (int i = 0; i < total; i++) {
            sendRequest(i, 0);
        }
        ringDoorbells(total);
        int passes = 0;
        int readPasses = 0;
        while (clientRequest.semaphore().value() > 0) {
            int before = doorbellsQueued();
            assertTrue(channel.onEvents(PollHandlers.POLLIN, 5, sink(true)));
            passes++;
            int unserved = clientRequest.semaphore().value();
            int queued = doorbellsQueued();
            assertTrue(queued >= unserved, "pass " + passes + ": " + queued + " bytes for " + unserved + " requests");
            if (queued < before) {
                readPasses++;
            }
        }
        assertEquals(total, seen.size(), "every request served once");
        for (int i = 0; i < total; i++) {
            assertTrue(seen.get(i).startsWith(i + ":"), "in order: " + seen);
        }
        assertEquals(8, passes);
        assertEquals(0, doorbellsQueued(), "the ring is empty: every doorbell byte was read");
        assertEquals(2, readPasses, "one recv at " + ShmServerChannel.DEFER_DRAIN + " owed, one when the ring emptied");
        assertEquals(passes - readPasses, channel.deferredDrains);
        assertNull(owner.failed);
        assertNull(owner.violation);
    }

    /**
     * With flow control switched on during a batch nothing is deferred: the served requests' bytes are read at once
     * (the loop stops watching the fd, so bytes left there would only shrink the client's socket).
     */
    @Test
    void aDoorbellIsNotDeferredWhenTheConnectionStopsReading() {
        for (int i = 0; i < 10; i++) {
            sendRequest(i, 0);
        }
        ringDoorbells(10);
        ServerChannel.RequestSink stopAfterTwo = r -> {
            seen.add("x");
            if (seen.size() == 2) {
                channel.setFlowControl(1);
            }
            return true;
        };
        assertTrue(channel.onEvents(PollHandlers.POLLIN, 5, stopAfterTwo));
        assertEquals(5, seen.size(), "the batch in progress ends as before");
        assertEquals(5, doorbellsQueued(), "the five served requests' bytes read, the other five left");
        assertEquals(0, channel.deferredDrains);
        channel.setFlowControl(0);
    }

    @Test
    void shouldReportAHeaderWhoseSizeDoesNotFitAsAViolation() {
        sendRequest(3, MessageHeaderDescriptor.REQUEST_HEADER_LENGTH + 100, 4);
        assertFalse(channel.onEvents(PollHandlers.POLLIN, 16, sink(true)));
        assertEquals(List.of(), seen, "the sink never sees it");
        assertEquals("bad request header: chunk 20 bytes, header size 116", owner.violation);
    }

    @Test
    void shouldReportAChunkTooShortForAHeaderAsAViolation() {
        assertEquals(3, clientRequest.write(new byte[] {1, 2, 3}, 0, 3));
        assertFalse(channel.onEvents(PollHandlers.POLLIN, 16, sink(true)));
        assertEquals("bad request header: chunk 3 bytes, header size missing", owner.violation);
    }

    @Test
    void shouldReportACorruptRingAsAViolation() throws IOException {
        sendRequest(4, 0);
        try (var ch = java.nio.channels.FileChannel.open(Path.of(channel.requestPath() + "-data"),
                java.nio.file.StandardOpenOption.READ, java.nio.file.StandardOpenOption.WRITE)) {
            ByteBuffer bad = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(0, 0x0BADF00D);
            ch.write(bad, ChunkDescriptor.magicOffset(0, clientRequest.dataBytes() / ChunkDescriptor.WORD_BYTES));
        }
        assertFalse(channel.onEvents(PollHandlers.POLLIN, 16, sink(true)));
        assertEquals("corrupt request ring (EBADMSG)", owner.violation);
        assertEquals(List.of(), seen);
    }

    @Test
    void shouldConsumeARequestWhoseSinkThrows() {
        sendRequest(5, 0);
        sendRequest(6, 0);
        ServerChannel.RequestSink throwing = r -> {
            throw new IllegalStateException("handler failed");
        };
        assertThrows(IllegalStateException.class, () -> channel.onEvents(PollHandlers.POLLIN, 16, throwing));
        assertEquals(1, clientRequest.semaphore().value(), "the failed request is gone, the next one stays");
        assertTrue(channel.onEvents(PollHandlers.POLLIN, 16, sink(true)));
        assertEquals(List.of("6:16:true"), seen);
    }

    @Test
    void shouldNotReadWhileFlowControlIsOn() {
        sendRequest(1, 0);
        channel.setFlowControl(1);
        assertTrue(channel.onEvents(PollHandlers.POLLIN, 16, sink(true)));
        assertEquals(List.of(), seen);
        assertFalse(channel.pollRequests(16, sink(true)));
        channel.setFlowControl(0);
        assertTrue(channel.pollRequests(16, sink(true)));
        assertEquals(List.of("1:16:true"), seen);
    }

    @Test
    void shouldRefuseSendsOnceClosedAndDestroyOnce() {
        ByteBuffer msg = ByteBuffer.allocate(MessageHeaderDescriptor.RESPONSE_HEADER_LENGTH);
        assertEquals(msg.remaining(), channel.sendResponse(msg));
        assertEquals(msg.remaining(), channel.sendEvent(new ByteBuffer[] {msg}));
        assertEquals(1, channel.eventQueueLength());
        channel.closeSocket();
        channel.closeSocket();
        assertEquals(-Errno.ENOTCONN, channel.sendResponse(msg));
        assertEquals(-Errno.ENOTCONN, channel.sendResponse(new ByteBuffer[] {msg}));
        assertEquals(-Errno.ENOTCONN, channel.sendEvent(msg));
        assertEquals(-Errno.ENOTCONN, channel.sendEvent(new ByteBuffer[] {msg}));
        assertEquals(1, channel.eventQueueLength(), "the queue is still there until destroy");
        clientRequest.decrementRefCount();
        clientRequest.close(false);
        clientRequest = null;
        channel.destroy();
        assertEquals(0, channel.eventQueueLength());
        channel.destroy(); // idempotent; tearDown calls it again too
    }
}
