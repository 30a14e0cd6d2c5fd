package io.jqb.testutil;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.jqb.Connection;
import io.jqb.ConnectionStats;
import io.jqb.IpcException;
import io.jqb.Service;
import io.jqb.ServiceHandler;
import io.jqb.TransportType;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.TestInfo;

/**
 * Base of the interop tests: unique service names, and services and native clients that are always closed after each
 * test (even a failing one); after each class, nothing of ours may be left in /dev/shm and no child process may be
 * alive.
 */
public abstract class InteropTestBase {
    /** How long the server side may take to notice something a native client did. */
    protected static final Duration SETTLE = Duration.ofSeconds(5);

    private final Tracked tracked = new Tracked();
    private String testName = "t";

    @BeforeEach
    void rememberName(TestInfo info) {
        testName = info.getTestMethod().map(m -> m.getName()).orElse("t");
    }

    @AfterEach
    void closeResources() throws Exception {
        tracked.closeAll();
    }

    @AfterAll
    static void nothingLeft() {
        NativeClient.killAll();
        NativeClient.assertNoChildProcesses();
        ShmAssert.assertNoneLeft();
        HostSwitchWatcher.assertNeverAppeared();
    }

    /** Closes {@code r} after the test (in reverse order of registration). */
    protected <T extends AutoCloseable> T track(T r) {
        return tracked.add(r);
    }

    /** A service name unique to this test and JVM: {@code jqbt-<test>-<pid>} (suffix keeps parallel runs apart). */
    protected String serviceName() {
        return serviceName("");
    }

    protected String serviceName(String suffix) {
        String t = testName.length() > 40 ? testName.substring(0, 40) : testName;
        return "jqbt-" + t + suffix + "-" + ShmAssert.ourPid();
    }

    /** Creates and runs a SHM service on its built-in loop; closed after the test. */
    protected Service start(String name, ServiceHandler handler) throws IpcException {
        Service s = track(Service.create(name, 7, TransportType.SHM, handler));
        s.run();
        return s;
    }

    protected Service start(ServiceHandler handler) throws IpcException {
        return start(serviceName(), handler);
    }

    /** A native {@code qbn-client drive} process (not yet connected); ended after the test. */
    protected NativeClient drive(String service) {
        return track(NativeClient.drive(service));
    }

    protected NativeClient drive(String service, long max) {
        return track(NativeClient.drive(service, max));
    }

    /** The server-side connection of a native client (waits for it). */
    protected static Connection connectionOf(Service s, NativeClient nc) {
        return waitFor("a connection from pid " + nc.pid() + " on " + s.name(),
                () -> s.connections().stream().filter(c -> c.clientPid() == nc.pid()).findFirst().orElse(null));
    }

    /** Polls {@code cond} until true; fails after {@link #SETTLE}. */
    protected static void waitUntil(String what, BooleanSupplier cond) {
        long deadline = System.nanoTime() + SETTLE.toNanos();
        while (!cond.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                fail("timed out after " + SETTLE + " waiting for: " + what);
            }
            NativeClient.sleep(5);
        }
    }

    /** Polls {@code get} until non-null; fails after {@link #SETTLE}. */
    protected static <T> T waitFor(String what, Supplier<T> get) {
        long deadline = System.nanoTime() + SETTLE.toNanos();
        T v;
        while ((v = get.get()) == null) {
            if (System.nanoTime() > deadline) {
                fail("timed out after " + SETTLE + " waiting for: " + what);
            }
            NativeClient.sleep(5);
        }
        return v;
    }

    /** Waits until {@code counter} reaches {@code expected}, then checks it stays there briefly (no extra calls). */
    protected static void assertCountSettles(String what, AtomicInteger counter,
            int expected) {
        waitUntil(what + " == " + expected + " (is " + counter.get() + ")", () -> counter.get() >= expected);
        NativeClient.sleep(50);
        assertEquals(expected, counter.get(), what);
    }

    /**
     * The connection's stats once its response and event counters reached the given values. The server counts a
     * response or event after writing it, so a client can hold it a moment before the counter moves.
     */
    protected static ConnectionStats settledStats(Connection c, long responses, long events) {
        waitUntil("responses=" + responses + " events=" + events + " in " + c.stats(false),
                () -> c.stats(false).responses() >= responses && c.stats(false).events() >= events);
        return c.stats(false);
    }

    protected static void assertNoHookErrors(RecordingHandler h) {
        assertTrue(h.hookErrors.isEmpty(), "handler hooks failed: " + h.hookErrors);
    }
}
