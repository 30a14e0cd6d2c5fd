package io.jqb;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.internal.posix.NativeMemory;
import io.jqb.testutil.ForceFilesystemSwitch;
import io.jqb.testutil.NativeClient;
import io.jqb.testutil.RecordingHandler;
import io.jqb.testutil.ShmAssert;
import io.jqb.testutil.Tracked;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Issue 14, item 5: a SOCKET connection costs the server no receive memory of its own. The service's connections
 * share one receive area (the loop reads one connection at a time): the native memory of N served connections is
 * one buffer of the largest agreed size plus next to nothing each; it used to be a buffer of that size each
 * (malloc'd on the first request) plus per-connection scratch. The shared area goes with the last connection. Real native libqb clients, each with a 64 KiB buffer.
 */
class SocketMemoryPerConnectionTest {
    private static final int MAX = 65_536;
    private static final int CLIENTS = 6;
    /** Per connection beyond the shared area (its small send scratch), with room for other threads' allocations. */
    private static final long BOUND_PER_CONNECTION = 4_096;
    /** The shared area: one buffer of the largest agreed size, the recvmsg scratch and slack. */
    private static final long SHARED = MAX + 4_096;

    private final Tracked tracked = new Tracked();
    private static AutoCloseable abstractMode;

    @BeforeAll
    static void hostIsInAbstractMode() {
        abstractMode = ForceFilesystemSwitch.holdAbstractMode();
    }

    @AfterAll
    static void nothingLeft() throws Exception {
        if (abstractMode != null) {
            abstractMode.close();
        }
        NativeClient.killAll();
        NativeClient.assertNoChildProcesses();
        ShmAssert.assertNoneLeft();
    }

    @AfterEach
    void closeTracked() throws Exception {
        tracked.closeAll();
    }

    @Test
    void servedSocketConnectionsShareOneReceiveBufferAndItIsFreedWithTheLast() throws Exception {
        String name = "jqbs-mem-" + ProcessHandle.current().pid();
        RecordingHandler h = new RecordingHandler();
        Service s = tracked.add(Service.create(name, 4, TransportType.SOCKET, h));
        s.run();
        long before = NativeMemory.outstandingBytes();

        List<NativeClient> clients = new ArrayList<>();
        for (int i = 0; i < CLIENTS; i++) {
            NativeClient d = tracked.add(NativeClient.drive(name, MAX));
            assertEquals(MAX, d.connect());
            d.echo(64);
            clients.add(d);
        }
        // The largest request touches the shared buffer as far as it goes; every connection still echoes.
        clients.get(0).echo(MAX - 64);
        for (NativeClient d : clients) {
            d.echo(100);
        }
        // RecordingHandler answers with heap buffers, copied through the connection's send scratch, which grows to
        // the largest response it carried: client 0's to MAX, the others' stay at the smallest size.
        long held = NativeMemory.outstandingBytes() - before;
        assertTrue(held <= SHARED + MAX + CLIENTS * BOUND_PER_CONNECTION, "native bytes held for " + CLIENTS
                + " served SOCKET connections: " + held + " (a receive and a send buffer each would be >= " + 2 * CLIENTS * MAX
                + ")");

        for (NativeClient d : clients) {
            d.expect("disconnect", "ok");
        }
        waitUntil("every connection destroyed", () -> h.destroyed.get() == CLIENTS);
        // The destroyed callback runs just before the channel gives its memory back: wait for that too.
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        long left;
        while ((left = NativeMemory.outstandingBytes() - before) > CLIENTS * BOUND_PER_CONNECTION) {
            assertTrue(System.nanoTime() < deadline, "native bytes still held 10 s after the last connection went: "
                    + left);
            NativeClient.sleep(5);
        }
    }

    private static void waitUntil(String what, BooleanSupplier cond) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!cond.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, "timed out after 10 s waiting for: " + what);
            NativeClient.sleep(5);
        }
    }
}
