package io.jqb;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.cli.EchoHandler;
import io.jqb.testutil.ForceFilesystemSwitch;
import io.jqb.testutil.NativeClient;
import io.jqb.testutil.ShmAssert;
import io.jqb.testutil.Tracked;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;

/**
 * What the SOCKET service tests share: the host held in abstract-socket mode for the class, the services a test
 * makes closed after it, no native client or ring file left after the class, an echo handler that counts
 * teardowns, and a bounded wait for a condition.
 */
abstract class SocketTestBase {
    /** Services (and other closeables) a test makes, closed after it. */
    final Tracked tracked = new Tracked();
    private static AutoCloseable abstractMode;

    /**
     * Keeps other test runs on this host from opening a force-filesystem-sockets window while a class runs: native
     * peers decide at their first IPC call, and the switch file would put them in filesystem mode.
     */
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

    /** {@link EchoHandler} (the echo server's answers) counting {@code destroyed} callbacks. */
    static final class CountingEcho extends EchoHandler {
        final AtomicInteger destroyed = new AtomicInteger();

        @Override
        public void destroyed(Connection connection) {
            destroyed.incrementAndGet();
        }
    }

    /** Polls {@code cond} every 5 ms until it holds, failing after {@code seconds} with {@code what}. */
    static void waitUntil(int seconds, String what, BooleanSupplier cond) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (!cond.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, "timed out after " + seconds + " s waiting for: " + what);
            NativeClient.sleep(5);
        }
    }
}
