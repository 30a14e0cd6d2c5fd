package io.jqb.testutil;

import static org.junit.jupiter.api.Assertions.fail;

import io.jqb.internal.setup.SocketNames;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;

/**
 * libqb's switch file {@code /etc/libqb/force-filesystem-sockets}, without ever creating it: while a "window" is open,
 * <ul>
 * <li>native peers started by {@link NativeServer} / {@link NativeClient} run in their own mount namespace
 * ({@code unshare --mount}) in which an overlay on {@code /etc} (or, when the host has {@code /etc/libqb}, a bind mount
 * over it) holds the file: only that process sees it, and it decides for filesystem sockets at its first IPC call;</li>
 * <li>jqb in this JVM reads a private switch file instead (system property {@code jqb.forceFilesystemSocketsFile}).</li>
 * </ul>
 * No other process on the host is affected (issue 9, item 7); {@link HostSwitchWatcher} checks that the real file
 * never appears. Peers started outside a window are unaffected, so {@code with(() -> NativeClient.drive(..))}, not
 * {@code drive} first and {@code with(d::connect)} later.
 *
 * <p>Other test runs of older code on a shared host may still create the real file while holding an exclusive lock
 * on {@code $TMPDIR/jqb-force-filesystem-sockets.lock}; {@link #holdAbstractMode()} holds a shared lock on it while
 * peers that must use the abstract namespace start.</p>
 */
public final class ForceFilesystemSwitch {
    /** The host's real switch file: never created by these tests. */
    public static final Path FILE = Path.of("/etc/libqb/force-filesystem-sockets");
    static final Path LOCK = Path.of(System.getProperty("java.io.tmpdir"), "jqb-force-filesystem-sockets.lock");
    private static final long LOCK_WAIT_MS = 60_000;
    private static Path base;
    private static int windows;
    private static String savedProperty;

    static {
        HostSwitchWatcher.start();
        Runtime.getRuntime().addShutdownHook(new Thread(ForceFilesystemSwitch::cleanUp, "force-fs-switch-cleanup"));
    }

    private ForceFilesystemSwitch() {
    }

    /** The private directory holding the switch file jqb reads and the overlays' upper/work directories. */
    private static synchronized Path base() {
        if (base == null) {
            try {
                base = Files.createTempDirectory("jqb-fsns-" + ProcessHandle.current().pid() + "-");
                Files.createDirectories(base.resolve("switch/libqb"));
                Files.createFile(base.resolve("switch/libqb/force-filesystem-sockets"));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return base;
    }

    /** Opens a window: jqb in this JVM and native peers started meanwhile decide for filesystem sockets. */
    public static synchronized void on() {
        if (windows++ == 0) {
            savedProperty = System.getProperty(SocketNames.FORCE_FILE_PROPERTY);
            System.setProperty(SocketNames.FORCE_FILE_PROPERTY,
                    base().resolve("switch/libqb/force-filesystem-sockets").toString());
        }
    }

    /** Closes every window of this JVM. Idempotent, never throws. */
    public static synchronized void off() {
        if (windows > 0) {
            windows = 0;
            if (savedProperty == null) {
                System.clearProperty(SocketNames.FORCE_FILE_PROPERTY);
            } else {
                System.setProperty(SocketNames.FORCE_FILE_PROPERTY, savedProperty);
            }
        }
    }

    private static synchronized void close() {
        if (windows > 0 && --windows == 0) {
            windows = 1;
            off();
        }
    }

    /** @return whether this JVM has a window open */
    public static synchronized boolean heldHere() {
        return windows > 0;
    }

    /**
     * {@code cmd} as it must be started now: unchanged outside a window; inside one, in a private mount namespace
     * that shows the switch file at {@code /etc/libqb/force-filesystem-sockets}. {@code unshare} and {@code sh}
     * exec into the peer, so the process's pid is the peer's.
     */
    public static synchronized List<String> wrap(List<String> cmd) {
        if (windows == 0) {
            return cmd;
        }
        Path ns;
        try {
            ns = Files.createTempDirectory(base(), "ns-");
            Files.createDirectories(ns.resolve("upper/libqb"));
            Files.createFile(ns.resolve("upper/libqb/force-filesystem-sockets"));
            Files.createDirectories(ns.resolve("work"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        List<String> w = new ArrayList<>(List.of("unshare", "--mount", "--propagation", "private", "sh", "-c",
                "mount -t overlay jqb-fsns -o \"lowerdir=/etc,upperdir=$1,workdir=$2\" /etc 2>/dev/null"
                        + " || { [ -d /etc/libqb ] && mount --bind \"$3\" /etc/libqb; }"
                        + " || { echo 'jqb test: cannot show the switch file in a private mount namespace' >&2;"
                        + " exit 97; }; shift 3; exec \"$@\"",
                "jqb-fsns", ns.resolve("upper").toString(), ns.resolve("work").toString(),
                base().resolve("switch/libqb").toString()));
        w.addAll(cmd);
        return w;
    }

    private static synchronized void cleanUp() {
        off();
        if (base != null) {
            try (Stream<Path> s = Files.walk(base)) {
                s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            } catch (IOException | RuntimeException e) {
                // best effort at exit
            }
        }
    }

    /** Interface for a step that runs inside a window. */
    public interface Step<T> {
        T run() throws Exception;
    }

    /** Runs {@code step} inside a window (see the class comment). */
    public static <T> T with(Step<T> step) throws Exception {
        on();
        try {
            return step.run();
        } finally {
            close();
        }
    }

    /** Runs {@code step} holding the shared lock ({@link #holdAbstractMode()}). */
    public static <T> T withoutSwitch(Step<T> step) throws Exception {
        try (AutoCloseable l = holdAbstractMode()) {
            return step.run();
        }
    }

    /**
     * Opens a window and closes it as soon as {@code decided} is true (a peer has connected, so it has made its
     * decision), or after {@code maxMs}.
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

    /**
     * Holds a shared lock on the host-wide lock file while native peers that must use the abstract namespace start:
     * no test run of older code (which creates the real file under an exclusive lock) opens a window meanwhile.
     */
    public static AutoCloseable holdAbstractMode() {
        FileLock l = lock(true, LOCK_WAIT_MS);
        if (l == null) {
            fail("no shared lock on " + LOCK + " within " + LOCK_WAIT_MS + " ms");
        }
        if (!awaitAbsent(10_000)) {
            release(l);
            fail(FILE + " exists: the host is in filesystem-socket mode");
        }
        return () -> release(l);
    }

    /** @return whether the host's real switch file exists right now */
    public static boolean isOn() {
        return Files.exists(FILE);
    }

    /**
     * Waits until the host's real switch file is absent (a test run of older code may hold it for a moment).
     *
     * @return true when absent, false when still there after {@code maxMs}
     */
    public static boolean awaitAbsent(long maxMs) {
        long deadline = System.nanoTime() + maxMs * 1_000_000L;
        while (Files.exists(FILE)) {
            if (System.nanoTime() > deadline) {
                return false;
            }
            NativeClient.sleep(20);
        }
        return true;
    }

    /** A lock on {@link #LOCK}, waiting up to {@code waitMs} (0: try once); null when not obtained. */
    static FileLock lock(boolean shared, long waitMs) {
        long deadline = System.nanoTime() + waitMs * 1_000_000L;
        FileChannel ch = null;
        try {
            ch = FileChannel.open(LOCK, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.READ);
            for (;;) {
                FileLock l;
                try {
                    l = ch.tryLock(0, Long.MAX_VALUE, shared);
                } catch (OverlappingFileLockException e) {
                    l = null;
                }
                if (l != null) {
                    return l;
                }
                if (System.nanoTime() - deadline >= 0) {
                    ch.close();
                    return null;
                }
                NativeClient.sleep(10);
            }
        } catch (IOException e) {
            closeQuietly(ch);
            throw new UncheckedIOException("locking " + LOCK, e);
        }
    }

    static void release(FileLock l) {
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
}
