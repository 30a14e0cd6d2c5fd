package io.jqb.testutil;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.function.BooleanSupplier;

/**
 * The REAL libqb switch file {@code /etc/libqb/force-filesystem-sockets}: while it exists, a native libqb process
 * that makes its first IPC call (qb_ipcs_run / qb_ipcc_connect) decides for filesystem sockets for its whole life, and
 * jqb decides the same each time a service runs or a client connects.
 *
 * <p>The file is host-wide, so it exists only for the moment a peer decides: {@link #on()} just before, {@link #off()}
 * right after (or {@link #onUntil}). {@link #off()} is idempotent and also removes {@code /etc/libqb} when this class
 * created it. A JVM shutdown hook removes the file whatever happens; test classes also call {@link #off()} from
 * {@code @AfterEach} and {@code @AfterAll}.</p>
 *
 * <p>Several test runs may share a host (each in its own JVM). {@link #on()} holds an exclusive lock on
 * {@code $TMPDIR/jqb-force-filesystem-sockets.lock} until {@link #off()}; tests whose native peers must decide for the
 * abstract namespace hold a shared lock on it ({@link #holdAbstractMode()}) while they start them, so no other run's
 * switch file can flip them.</p>
 */
public final class ForceFilesystemSwitch {
    public static final Path FILE = Path.of("/etc/libqb/force-filesystem-sockets");
    private static final Path DIR = FILE.getParent();
    private static final Path LOCK = Path.of(System.getProperty("java.io.tmpdir"), "jqb-force-filesystem-sockets.lock");
    private static final long LOCK_WAIT_MS = 60_000;
    private static boolean createdDir;
    private static boolean createdFile;
    private static FileLock exclusive;

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(ForceFilesystemSwitch::off, "force-fs-switch-cleanup"));
    }

    private ForceFilesystemSwitch() {
    }

    /**
     * Takes the host-wide lock: exclusive for a switch window, shared for runs that need the abstract namespace.
     * Waits (polling) up to {@link #LOCK_WAIT_MS}.
     */
    private static FileLock lock(boolean shared) {
        long deadline = System.nanoTime() + LOCK_WAIT_MS * 1_000_000L;
        FileChannel ch = null;
        try {
            ch = FileChannel.open(LOCK, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.READ);
            for (;;) {
                FileLock l;
                try {
                    l = ch.tryLock(0, Long.MAX_VALUE, shared);
                } catch (OverlappingFileLockException e) {
                    l = null; // this JVM holds it (another thread's window): wait like everyone else
                }
                if (l != null) {
                    return l;
                }
                if (System.nanoTime() > deadline) {
                    fail("no " + (shared ? "shared" : "exclusive") + " lock on " + LOCK + " within " + LOCK_WAIT_MS
                            + " ms: another test run keeps the force-filesystem-sockets switch");
                }
                Thread.sleep(10);
            }
        } catch (IOException e) {
            closeQuietly(ch);
            throw new UncheckedIOException("locking " + LOCK, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            closeQuietly(ch);
            throw new IllegalStateException("interrupted waiting for " + LOCK, e);
        } catch (RuntimeException | Error e) {
            closeQuietly(ch);
            throw e;
        }
    }

    private static void release(FileLock l) {
        if (l != null) {
            try {
                l.release();
            } catch (IOException e) {
                // the channel is closed next anyway
            }
            closeQuietly(l.channel());
        }
    }

    private static void closeQuietly(FileChannel ch) {
        if (ch != null) {
            try {
                ch.close();
            } catch (IOException e) {
                // ignore
            }
        }
    }

    /**
     * Holds a shared lock: no other run's switch window opens until it is closed. Hold it while native peers that
     * must be in the abstract namespace start (they decide at their first IPC call).
     */
    public static AutoCloseable holdAbstractMode() {
        FileLock l = lock(true);
        if (!awaitAbsent(10_000)) {
            release(l);
            fail(FILE + " exists although no test run holds the switch: the host is in filesystem-socket mode");
        }
        return () -> release(l);
    }

    /**
     * Creates the switch file (and /etc/libqb when missing), holding the exclusive lock until {@link #off()}. Fails if
     * someone else's switch file is (still) there.
     */
    public static void on() {
        FileLock l = null;
        synchronized (ForceFilesystemSwitch.class) {
            if (exclusive != null) {
                return; // already on (nested)
            }
        }
        l = lock(false);
        synchronized (ForceFilesystemSwitch.class) {
            exclusive = l;
            try {
                if (!Files.isDirectory(DIR)) {
                    Files.createDirectories(DIR);
                    createdDir = true;
                }
                if (!awaitAbsent(10_000)) {
                    off();
                    fail(FILE + " exists and was not created by this test run: the host is in filesystem-socket mode,"
                            + " refusing to run (and to remove it)");
                }
                Files.createFile(FILE);
                createdFile = true;
            } catch (IOException e) {
                off();
                throw new UncheckedIOException("creating " + FILE, e);
            }
        }
    }

    /** Removes the switch file (and /etc/libqb if this class created it) and releases the lock. Never throws. */
    public static synchronized void off() {
        if (createdFile) {
            try {
                Files.deleteIfExists(FILE);
                createdFile = false;
            } catch (IOException e) {
                System.err.println("ForceFilesystemSwitch: cannot remove " + FILE + ": " + e);
            }
        }
        if (createdDir) {
            try {
                Files.deleteIfExists(DIR);
            } catch (IOException e) {
                // not empty: someone else put something there; leave it
            }
            createdDir = false;
        }
        if (exclusive != null) {
            release(exclusive);
            exclusive = null;
        }
    }

    /**
     * Waits until nobody's switch file exists (another test run on the host may hold it for a moment).
     *
     * @return true when it is absent, false when it was still there after {@code maxMs}
     */
    public static boolean awaitAbsent(long maxMs) {
        long deadline = System.nanoTime() + maxMs * 1_000_000L;
        while (Files.exists(FILE)) {
            if (System.nanoTime() > deadline) {
                return false;
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return true;
    }

    /** @return whether this JVM has a switch window open (its own switch file and the exclusive lock) */
    public static synchronized boolean heldHere() {
        return exclusive != null || createdFile;
    }

    /** @return whether the real switch file exists right now (anyone's) */
    public static boolean isOn() {
        return Files.exists(FILE);
    }

    /** Interface for a step that needs the switch file while it runs. */
    public interface Step<T> {
        T run() throws Exception;
    }

    /** Runs {@code step} with the switch file present, removing it afterwards whatever happens. */
    public static <T> T with(Step<T> step) throws Exception {
        on();
        try {
            return step.run();
        } finally {
            off();
        }
    }

    /** Runs {@code step} holding the shared lock ({@link #holdAbstractMode()}): no switch window meanwhile. */
    public static <T> T withoutSwitch(Step<T> step) throws Exception {
        try (AutoCloseable l = holdAbstractMode()) {
            return step.run();
        }
    }

    /**
     * Creates the switch file and starts a watcher that removes it as soon as {@code decided} is true (a peer has
     * connected, so it has made its once-per-process decision), or after {@code maxMs}.
     *
     * @return the watcher thread (join it, or just call {@link #off()})
     */
    public static Thread onUntil(BooleanSupplier decided, long maxMs) {
        on();
        Thread t = new Thread(() -> {
            long deadline = System.nanoTime() + maxMs * 1_000_000L;
            try {
                while (System.nanoTime() < deadline && !decided.getAsBoolean()) {
                    Thread.sleep(2);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (RuntimeException e) {
                // the condition failed: stop waiting
            } finally {
                off();
            }
        }, "force-fs-switch-watcher");
        t.setDaemon(true);
        t.start();
        return t;
    }
}
