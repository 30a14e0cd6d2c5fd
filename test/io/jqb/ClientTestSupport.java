package io.jqb;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.internal.posix.LibC;
import io.jqb.internal.posix.Posix;
import io.jqb.testutil.Tracked;
import io.jqb.testutil.EchoWire;
import io.jqb.testutil.ForceFilesystemSwitch;
import io.jqb.testutil.NativeServer;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;

/**
 * Shared plumbing of the client tests: everything {@link #track}ed (clients, services, native servers) is closed
 * after each test in reverse order, even when the test failed.
 */
abstract class ClientTestSupport {
    /** Generous bound for things that normally take microseconds; only reached when something is broken. */
    static final int TIMEOUT_MS = 5_000;
    static final long OUR_PID = ProcessHandle.current().pid();

    private final Tracked tracked = new Tracked();
    private static AutoCloseable abstractMode;

    /**
     * Native peers and jqb pick abstract or filesystem sockets when they start or connect, from the host-wide
     * /etc/libqb/force-filesystem-sockets. Other test runs on this host switch it on for moments; holding the shared
     * lock keeps them from doing so while this class runs (a server started in such a window is unreachable for an
     * abstract-mode client: ECONNREFUSED). Runs before the subclasses' own {@code @BeforeAll}.
     */
    @BeforeAll
    static void holdAbstractMode() {
        abstractMode = ForceFilesystemSwitch.holdAbstractMode();
    }

    /** Runs after the subclasses' own {@code @AfterAll}: by then every native server must be gone. */
    @AfterAll
    static void releaseAbstractModeAndCheckNoServerLeft() throws Exception {
        if (abstractMode != null) {
            abstractMode.close();
            abstractMode = null;
        }
        assertEquals(List.of(), NativeServer.stillRunning(), "qbn-server processes left running");
    }

    @AfterEach
    void closeTracked() throws Exception {
        tracked.closeAll();
    }

    <T extends AutoCloseable> T track(T r) {
        return tracked.add(r);
    }

    Client connect(String service, int max) throws IpcException {
        return track(Client.connect(service, max));
    }

    NativeServer nativeServer(String prefix, String... args) {
        return track(NativeServer.start(NativeServer.uniqueName(prefix), args));
    }

    /**
     * Sends, retrying while the request ring is full. A libqb server reclaims a request chunk only after its
     * msg_process returned, i.e. after it sent the response: right after a round trip the previous request can still
     * occupy the ring, and a large send gets WOULD_BLOCK for a few microseconds (libqb's own client does the same).
     */
    static int send(Client c, ByteBuffer msg) throws IpcException {
        long deadline = System.nanoTime() + TIMEOUT_MS * 1_000_000L;
        int rc;
        while ((rc = c.send(msg)) == Errno.WOULD_BLOCK && System.nanoTime() < deadline) {
            Thread.yield();
        }
        return rc;
    }

    /** {@link Client#sendRecv}, retrying while the request ring is full (see {@link #send}). */
    static int sendRecv(Client c, ByteBuffer msg, ByteBuffer dst, int timeoutMs) throws IpcException {
        long deadline = System.nanoTime() + TIMEOUT_MS * 1_000_000L;
        int rc;
        while ((rc = c.sendRecv(msg, dst, timeoutMs)) == Errno.WOULD_BLOCK && System.nanoTime() < deadline) {
            Thread.yield();
        }
        return rc;
    }

    /** One echo round trip of n payload bytes, checked byte for byte. */
    static void echo(Client c, ByteBuffer req, ByteBuffer resp, int n, int seed) throws IpcException {
        EchoWire.request(req, EchoWire.ECHO, n, seed);
        assertEquals(EchoWire.REQUEST_HEADER + n, send(c, req), "send of " + n + " payload bytes");
        int len = c.recv(resp.clear(), TIMEOUT_MS);
        EchoWire.assertEcho(resp, len, n, seed);
    }

    static void echo(Client c, int n) throws IpcException {
        ByteBuffer req = EchoWire.buffer(EchoWire.REQUEST_HEADER + n);
        ByteBuffer resp = EchoWire.buffer(EchoWire.RESPONSE_HEADER + n);
        echo(c, req, resp, n, n % EchoWire.MAX_SEED);
    }

    /** poll(2) on one fd. */
    static int poll(int fd, int timeoutMs) throws IpcException {
        return Posix.pollOne(fd, LibC.POLLIN, timeoutMs);
    }

    static void assertReadable(int fd, int timeoutMs, String what) throws IpcException {
        int rev = poll(fd, timeoutMs);
        assertTrue((rev & LibC.POLLIN) != 0, what + ": fd " + fd + " not readable after " + timeoutMs + " ms (revents "
                + rev + ")");
    }

    static long millisSince(long startNanos) {
        return (System.nanoTime() - startNanos) / 1_000_000L;
    }
}
