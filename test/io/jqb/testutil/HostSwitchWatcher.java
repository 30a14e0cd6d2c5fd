package io.jqb.testutil;

import java.io.IOException;
import java.nio.channels.FileLock;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Watches (inotify, through a {@link WatchService}) for the host's switch file {@code /etc/libqb/force-filesystem-sockets}
 * (watching {@code /etc} until {@code /etc/libqb} exists, then that directory), from the first use of
 * {@link ForceFilesystemSwitch} to the end of the JVM. Every appearance is recorded, unless a test run of older code
 * holds the host-wide exclusive lock at that moment (it creates the file in its windows, on a shared host);
 * {@link #assertNeverAppeared()} fails the suite on any other appearance: tests must not change machine-wide state.
 */
public final class HostSwitchWatcher {
    private static final List<String> SEEN = new ArrayList<>();
    private static final Path FILE = ForceFilesystemSwitch.FILE;
    private static volatile boolean started;
    private static volatile int checks;

    private HostSwitchWatcher() {
    }

    static synchronized void start() {
        if (started) {
            return;
        }
        started = true;
        Thread t = new Thread(HostSwitchWatcher::run, "host-switch-watcher");
        t.setDaemon(true);
        t.start();
    }

    private static void run() {
        Path etcLibqb = FILE.getParent();
        try (WatchService ws = FileSystems.getDefault().newWatchService()) {
            etcLibqb.getParent().register(ws, StandardWatchEventKinds.ENTRY_CREATE);
            boolean dirWatched = false;
            for (;;) {
                if (!dirWatched && Files.isDirectory(etcLibqb)) {
                    try {
                        etcLibqb.register(ws, StandardWatchEventKinds.ENTRY_CREATE);
                        dirWatched = true;
                    } catch (java.nio.file.NoSuchFileException e) {
                        // removed again meanwhile (another run's window closed): watch /etc for its return
                    }
                }
                check();
                WatchKey k = ws.poll(100, TimeUnit.MILLISECONDS);
                if (k != null) {
                    k.pollEvents();
                    if (!k.reset() && k.watchable().equals(etcLibqb)) {
                        dirWatched = false; // /etc/libqb was removed
                    }
                }
            }
        } catch (IOException | ClosedWatchServiceException e) {
            record("watcher failed: " + e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** One check: the file exists and nobody holds the host-wide exclusive lock (this JVM never takes it). */
    private static void check() {
        checks++;
        if (!Files.exists(FILE)) {
            return;
        }
        FileLock shared = ForceFilesystemSwitch.lock(true, 0);
        if (shared == null) {
            return; // another test run's window (older code), not ours
        }
        try {
            if (Files.exists(FILE)) {
                record(FILE + " exists with no test run holding the switch lock");
            }
        } finally {
            ForceFilesystemSwitch.release(shared);
        }
    }

    private static synchronized void record(String what) {
        if (SEEN.size() < 10) {
            SEEN.add(what);
        }
    }

    /** Fails when the host's switch file appeared (see the class comment); makes sure the watcher runs. */
    public static void assertNeverAppeared() {
        start();
        int before = checks;
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (checks == before && System.nanoTime() < deadline) {
            NativeClient.sleep(5); // one more check, so the end of the last test is covered
        }
        synchronized (HostSwitchWatcher.class) {
            if (!SEEN.isEmpty()) {
                throw new AssertionError("tests changed machine-wide state: " + SEEN);
            }
        }
    }
}
