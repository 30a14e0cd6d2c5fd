package io.jqb.testutil;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * What this JVM holds: open fds ({@code /proc/self/fd}), live threads and {@code /dev/shm/qb-<ourpid>-*} entries.
 * Take a {@link #snapshot()} before a phase, then {@link #assertNoLeak} after it: fds and threads may not grow and
 * /dev/shm must hold the same entries (polling up to a settle time, since servers clean up asynchronously).
 */
public final class LeakProbe {
    /** Threads the JDK starts and ends on its own schedule (process reapers linger 60 s after a child exits). */
    private static final List<String> JDK_TRANSIENT = List.of("process reaper", "Attach Listener",
            "surefire-forkedjvm", "junit-", "ForkJoinPool");

    private LeakProbe() {
    }

    /** A snapshot. */
    public record Snapshot(Map<Integer, String> fds, List<String> threads, List<Path> shm) {
        /** @return a one-line summary: counts */
        public String summary() {
            return "fds=" + fds.size() + " threads=" + threads.size() + " shm=" + shm.size();
        }
    }

    public static Snapshot snapshot() {
        return new Snapshot(fds(), threads(), ShmAssert.entries(ShmAssert.ourPid()));
    }

    /** fd number → what it points to. */
    public static Map<Integer, String> fds() {
        Map<Integer, String> m = new TreeMap<>();
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            for (Path p : (Iterable<Path>) s::iterator) {
                try {
                    m.put(Integer.parseInt(p.getFileName().toString()), Files.readSymbolicLink(p).toString());
                } catch (IOException | NumberFormatException e) {
                    // closed while we listed (e.g. the directory stream's own fd)
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return m;
    }

    /** Names of live threads, except the JDK's and the test framework's transient ones. */
    public static List<String> threads() {
        return Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive).map(Thread::getName)
                .filter(n -> JDK_TRANSIENT.stream().noneMatch(n::startsWith)).sorted().collect(Collectors.toList());
    }

    /**
     * Asserts, polling up to {@code settle}, that no fd, thread or /dev/shm entry was added since {@code before}.
     *
     * @return the final snapshot
     */
    public static Snapshot assertNoLeak(String what, Snapshot before, Duration settle) {
        long deadline = System.nanoTime() + settle.toNanos();
        Snapshot now;
        for (;;) {
            now = snapshot();
            if (problems(before, now).isEmpty() || System.nanoTime() > deadline) {
                break;
            }
            NativeClient.sleep(20);
        }
        List<String> p = problems(before, now);
        if (!p.isEmpty()) {
            fail(what + ": leaked after " + settle + ": " + String.join("; ", p) + "\n  before: " + before.summary()
                    + "\n  after:  " + now.summary());
        }
        return now;
    }

    private static List<String> problems(Snapshot before, Snapshot now) {
        List<String> p = new ArrayList<>();
        if (now.fds().size() > before.fds().size()) {
            Map<Integer, String> extra = new TreeMap<>(now.fds());
            extra.keySet().removeAll(before.fds().keySet());
            p.add((now.fds().size() - before.fds().size()) + " fds " + abbreviate(extra.toString()));
        }
        if (now.threads().size() > before.threads().size()) {
            List<String> extra = new ArrayList<>(now.threads());
            before.threads().forEach(extra::remove);
            p.add((now.threads().size() - before.threads().size()) + " threads " + extra);
        }
        if (!now.shm().equals(before.shm())) {
            List<Path> extra = new ArrayList<>(now.shm());
            extra.removeAll(before.shm());
            if (!extra.isEmpty()) {
                p.add(extra.size() + " /dev/shm entries " + abbreviate(extra.toString()));
            }
        }
        return p;
    }

    private static String abbreviate(String s) {
        return s.length() > 600 ? s.substring(0, 600) + "..." : s;
    }
}
