package io.jqb.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.Connection;
import io.jqb.EventLoop;
import io.jqb.Priority;
import io.jqb.Service;
import io.jqb.TransportType;
import io.jqb.internal.posix.Posix;
import io.jqb.internal.setup.UnixSocket;
import io.jqb.internal.wire.ConnectionResponseDescriptor;
import io.jqb.testutil.InteropTestBase;
import io.jqb.testutil.LeakProbe;
import io.jqb.testutil.NativeClient;
import io.jqb.testutil.NonBlockingEchoHandler;
import io.jqb.testutil.RawShmPeer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Every way the server refuses or abandons a connection in set-up (the acceptor's one clean-up path, libqb's
 * {@code send_response:} in {@code handle_new_connection}) leaves nothing behind: no fd, no thread, no
 * {@code /dev/shm/qb-*} entry, no bound socket, and the {@code destroyed} callback for every connection that reached
 * {@code accept}. Real native libqb clients see the refusals they can observe ({@code EACCES} from the accept check,
 * {@code EINVAL} for a buffer size over the limit); raw sockets play the clients that break the protocol or vanish.
 * Each kind runs several times on both transports, next to a connected native client that keeps working.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class RefusalCleanupTest extends InteropTestBase {
    private static final int HANDSHAKE_TIMEOUT_MS = 300;
    private static final int ROUNDS = 8;
    /** Over the acceptor's limit ((2^31-1)/2 minus two pages): refused with EINVAL before anything is made. */
    private static final long HUGE_MAX = Integer.MAX_VALUE;

    /** Accepts everyone but the uid in {@link #refusedUid}; records a {@code created} of a refused connection. */
    static final class UidCheck extends NonBlockingEchoHandler {
        volatile int refusedUid = -1;
        final Set<Long> refused = ConcurrentHashMap.newKeySet();

        @Override
        public int accept(Connection c, int uid, int gid) {
            super.accept(c, uid, gid);
            if (uid == refusedUid) {
                refused.add(c.id());
                return -13; // -EACCES
            }
            return 0;
        }

        @Override
        public void created(Connection c) {
            super.created(c);
            if (refused.contains(c.id())) {
                errors.add(new AssertionError("created() of refused connection " + c.id()));
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = TransportType.class, names = {"SHM", "SOCKET"})
    void everyRefusalKindLeavesNothingBehind(TransportType type) throws Exception {
        UidCheck h = new UidCheck();
        Service s = track(Service.create(serviceName(), 7, type, h));
        s.run(); // the default handshake time-out; the silent client's step shortens it for itself
        NativeClient good = drive(s.name());
        good.connect();
        good.echo(100);
        waitUntil("the good client created", () -> h.created.get() == 1);
        // A first round of each kind loads what the paths need (classes, the loop's timer queue); then the baseline.
        refuseEveryWay(s, h, 1);
        waitUntil("first round destroyed", () -> h.destroyed.get() == h.accepts.get() - 1);
        LeakProbe.Snapshot before = LeakProbe.snapshot();
        List<String> socketsBefore = boundSockets(s.name());
        int acceptsBefore = h.accepts.get();

        refuseEveryWay(s, h, ROUNDS);

        good.echo(100); // refusals never disturbed an established client
        waitUntil("every connection that reached accept destroyed (accepts " + h.accepts.get() + ", destroyed "
                + h.destroyed.get() + ")", () -> h.destroyed.get() == h.accepts.get() - 1);
        assertTrue(h.accepts.get() - acceptsBefore >= 2 * ROUNDS, "accept ran for the refused and vanished clients");
        assertEquals(2 * (ROUNDS + 1), h.refused.size(), "refusals by the accept check");
        LeakProbe.assertNoLeak(type + " refusals", before, Duration.ofSeconds(5));
        waitUntil("no bound socket left", () -> boundSockets(s.name()).equals(socketsBefore));
        assertTrue(h.errors.isEmpty(), "handler errors: " + h.errors);
    }

    /** Handshakes in progress when the service is destroyed are released with it (qb_ipcs_us_withdraw). */
    @ParameterizedTest
    @EnumSource(value = TransportType.class, names = {"SHM", "SOCKET"})
    void destroyReleasesPendingHandshakes(TransportType type) throws Exception {
        NonBlockingEchoHandler h = new NonBlockingEchoHandler();
        // Warm-up service: load the classes so the baseline holds only what this JVM keeps anyway.
        Service warm = Service.create(serviceName("-w"), 7, type, h);
        warm.run();
        warm.destroy();
        LeakProbe.Snapshot before = LeakProbe.snapshot();
        Service s = track(Service.create(serviceName(), 7, type, h));
        s.setHandshakeTimeout(0); // never times out: only destroy can release them
        s.run();
        byte[] request = RawShmPeer.connectionRequest(-1, 24, 65536, 0);
        int[] fds = new int[4];
        try {
            for (int i = 0; i < fds.length; i++) {
                fds[i] = RawShmPeer.rawConnect(s.name());
                assertTrue(RawShmPeer.sendAll(fds[i], Arrays.copyOf(request, 5 * i)));
            }
            assertFalse(RawShmPeer.awaitClosedByPeer(fds[fds.length - 1], 100), "a partial handshake was closed");
            s.destroy();
            for (int fd : fds) {
                assertTrue(RawShmPeer.awaitClosedByPeer(fd, 5_000), "destroy left a handshake open");
            }
        } finally {
            for (int fd : fds) {
                if (fd > 0) {
                    UnixSocket.shutdownAndClose(fd);
                }
            }
        }
        LeakProbe.assertNoLeak(type + " destroy with pending handshakes", before, Duration.ofSeconds(5));
        assertEquals(List.of(), boundSockets(s.name()), "sockets left bound");
        assertEquals(0, h.accepts.get(), "a partial handshake reached accept");
    }

    /**
     * A request that is waiting in the socket when the loop gets to the handshake time-out (the loop was busy past
     * the deadline: a slow callback, a loaded machine) is answered, not dropped unread. The test drives the loop
     * itself: a job sends the request, then keeps the loop busy past the deadline, and the time-out runs next.
     */
    @Test
    void requestWaitingWhenTheTimeOutRunsIsAnswered() throws Exception {
        UidCheck h = new UidCheck();
        h.refusedUid = (int) Posix.C.getuid();
        EventLoop loop = new EventLoop("refusal-busy-" + ProcessHandle.current().pid()); // driven by this thread
        Service s = track(Service.create(serviceName(), 7, TransportType.SHM, h));
        s.setPollHandlers(loop);
        s.setHandshakeTimeout(HANDSHAKE_TIMEOUT_MS);
        byte[] request = RawShmPeer.connectionRequest(-1, 24, 65536, 0);
        int fd = -1;
        try {
            s.run();
            fd = RawShmPeer.rawConnect(s.name());
            // Accepted once the handshake's time-out timer is the loop's only timed work.
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (loop.timeoutMs() < 0 && System.nanoTime() - until < 0) {
                loop.runOnce(100);
            }
            assertTrue(loop.timeoutMs() >= 0, "connection not accepted");
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(HANDSHAKE_TIMEOUT_MS); // or earlier
            int client = fd;
            boolean[] sent = new boolean[1];
            loop.jobAdd(Priority.MED, () -> {
                sent[0] = RawShmPeer.sendAll(client, request);
                while (System.nanoTime() - deadline <= 0) { // a callback that takes longer than the time-out
                    LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(10));
                }
            });
            loop.runOnce(0); // the job, then the overdue time-out
            assertTrue(sent[0], "request not sent");
            byte[] resp = RawShmPeer.recvExactly(fd, ConnectionResponseDescriptor.LENGTH, 5_000);
            assertNotNull(resp, "request dropped unread by the time-out instead of answered");
            assertEquals(-13, ByteBuffer.wrap(resp).order(ByteOrder.LITTLE_ENDIAN)
                    .getInt(ConnectionResponseDescriptor.ERROR_OFFSET));
            assertTrue(RawShmPeer.awaitClosedByPeer(fd, 5_000), "refused connection left open");
            assertEquals(1, h.destroyed.get(), "destroyed callback of the refused connection");
        } finally {
            if (fd > 0) {
                UnixSocket.shutdownAndClose(fd);
            }
            s.destroy();
            loop.close();
        }
        assertTrue(h.errors.isEmpty(), "handler errors: " + h.errors);
    }

    /**
     * A time-out shortened while a handshake with a longer one is pending applies to the clients accepted from then
     * on (the acceptor's one expiry timer was armed for the pending, later deadline and dropped the new client only
     * then). The test drives the loop itself and reads the loop's next timer, so it does not depend on timing.
     */
    @Test
    void shortenedTimeOutIsHonouredWhileALongerOneIsPending() throws Exception {
        UidCheck h = new UidCheck();
        EventLoop loop = new EventLoop("refusal-short-" + ProcessHandle.current().pid()); // driven by this thread
        Service s = track(Service.create(serviceName(), 7, TransportType.SHM, h));
        s.setPollHandlers(loop);
        s.setHandshakeTimeout(60_000);
        int patient = -1;
        int silent = -1;
        try {
            s.run();
            patient = RawShmPeer.rawConnect(s.name());
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (loop.timeoutMs() < 0 && System.nanoTime() - until < 0) {
                loop.runOnce(100);
            }
            assertTrue(loop.timeoutMs() > HANDSHAKE_TIMEOUT_MS, "first client not accepted with the long time-out");
            s.setHandshakeTimeout(HANDSHAKE_TIMEOUT_MS);
            silent = RawShmPeer.rawConnect(s.name());
            while (loop.timeoutMs() > HANDSHAKE_TIMEOUT_MS && System.nanoTime() - until < 0) {
                loop.runOnce(100);
            }
            assertTrue(loop.timeoutMs() <= HANDSHAKE_TIMEOUT_MS, "no timer for the shorter time-out: "
                    + loop.timeoutMs() + " ms");
            while (!RawShmPeer.awaitClosedByPeer(silent, 0) && System.nanoTime() - until < 0) {
                loop.runOnce(HANDSHAKE_TIMEOUT_MS);
            }
            assertTrue(RawShmPeer.awaitClosedByPeer(silent, 0), "silent client kept");
            assertFalse(RawShmPeer.awaitClosedByPeer(patient, 0), "client with the longer time-out dropped");
        } finally {
            for (int fd : new int[] {patient, silent}) {
                if (fd > 0) {
                    UnixSocket.shutdownAndClose(fd);
                }
            }
            s.destroy();
            loop.close();
        }
    }

    /** {@code rounds} times each way the server can refuse or abandon a connection in set-up. */
    private void refuseEveryWay(Service s, UidCheck h, int rounds) throws Exception {
        byte[] request = RawShmPeer.connectionRequest(-1, 24, 65536, 0);
        for (int i = 0; i < rounds; i++) {
            // 1. The accept check rejects the uid: a native client's qb_ipcc_connect fails with EACCES.
            h.refusedUid = (int) Posix.C.getuid();
            try (NativeClient nc = NativeClient.drive(s.name())) {
                assertEquals("err EACCES", nc.call("connect"), "accept check refusal seen by a native client");
            } finally {
                h.refusedUid = -1;
            }
            // 2. A buffer size over the limit: EINVAL, before any file is made.
            try (NativeClient nc = NativeClient.drive(s.name(), HUGE_MAX)) {
                assertEquals("err EINVAL", nc.call("connect"), "oversized request seen by a native client");
            }
            // 3. Garbage instead of an AUTHENTICATE request: closed without an answer.
            int fd = RawShmPeer.rawConnect(s.name());
            try {
                byte[] garbage = request.clone();
                garbage[0] = 7;
                assertTrue(RawShmPeer.sendAll(fd, garbage));
                assertTrue(RawShmPeer.awaitClosedByPeer(fd, 5_000), "garbage request not closed");
            } finally {
                UnixSocket.shutdownAndClose(fd);
            }
            // 4. Gone mid-handshake: half a request, then close.
            fd = RawShmPeer.rawConnect(s.name());
            RawShmPeer.sendAll(fd, Arrays.copyOf(request, 10));
            UnixSocket.shutdownAndClose(fd);
            // 5. Gone right after a complete request: the connection is set up, its response cannot be sent (or is
            //    sent and the hang-up noticed next): torn down either way.
            fd = RawShmPeer.rawConnect(s.name());
            RawShmPeer.sendAll(fd, request);
            UnixSocket.shutdownAndClose(fd);
            // 6. Silent: timed out. The short time-out covers this client alone (it applies to connections accepted
            //    from then on, and the steps run one after another): a real client that a loaded machine pauses
            //    between its connect and its request for longer than it would be dropped too (EPIPE, not the
            //    refusal), which is the time-out working, not a refusal path failing.
            s.setHandshakeTimeout(HANDSHAKE_TIMEOUT_MS);
            fd = RawShmPeer.rawConnect(s.name());
            try {
                assertTrue(RawShmPeer.awaitClosedByPeer(fd, HANDSHAKE_TIMEOUT_MS + 5_000), "silent client kept");
            } finally {
                s.setHandshakeTimeout(Service.DEFAULT_HANDSHAKE_TIMEOUT_MS);
                UnixSocket.shutdownAndClose(fd);
            }
            // 7. A complete request answered with a refusal the raw client reads (accept check), then closed.
            h.refusedUid = (int) Posix.C.getuid();
            fd = RawShmPeer.rawConnect(s.name());
            try {
                assertTrue(RawShmPeer.sendAll(fd, request));
                byte[] resp = RawShmPeer.recvExactly(fd, ConnectionResponseDescriptor.LENGTH, 5_000);
                assertNotNull(resp, "no refusal response");
                assertEquals(-13, ByteBuffer.wrap(resp).order(ByteOrder.LITTLE_ENDIAN)
                        .getInt(ConnectionResponseDescriptor.ERROR_OFFSET));
                assertTrue(RawShmPeer.awaitClosedByPeer(fd, 5_000), "refused connection left open");
            } finally {
                h.refusedUid = -1;
                UnixSocket.shutdownAndClose(fd);
            }
        }
    }

    /** Unix sockets on the host whose name holds {@code service} ({@code /proc/net/unix}: abstract and paths). */
    private static List<String> boundSockets(String service) {
        try {
            return Files.readAllLines(Path.of("/proc/net/unix")).stream().filter(l -> l.contains(service))
                    .map(l -> l.substring(l.lastIndexOf(' ') + 1)).sorted().collect(Collectors.toList());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
