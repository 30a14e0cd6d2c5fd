package io.jqb.testutil;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * What a server process left in /dev/shm: the per-connection directories {@code qb-<serverpid>-<clientpid>-<fd>-XXXXXX}.
 */
public final class ShmAssert {
    public static final Path SHM = Path.of("/dev/shm");
    /** How long cleanup may take before an assertion fails. */
    public static final Duration SETTLE = Duration.ofSeconds(5);

    private ShmAssert() {
    }

    /** @return this JVM's pid: the {@code <serverpid>} of every directory a test service makes */
    public static long ourPid() {
        return ProcessHandle.current().pid();
    }

    /** @return the /dev/shm entries {@code qb-<serverPid>-*}, sorted */
    public static List<Path> entries(long serverPid) {
        String prefix = "qb-" + serverPid + "-";
        try (Stream<Path> s = Files.list(SHM)) {
            return s.filter(p -> p.getFileName().toString().startsWith(prefix)).sorted().collect(Collectors.toList());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Removes the connection directories {@code qb-<serverPid>-*} of a server this test killed (a SIGKILLed server
     * cannot remove them; they hold only files).
     */
    public static void removeAll(long serverPid) {
        for (Path dir : entries(serverPid)) {
            try (Stream<Path> files = Files.list(dir)) {
                for (Path f : (Iterable<Path>) files::iterator) {
                    Files.deleteIfExists(f);
                }
                Files.deleteIfExists(dir);
            } catch (IOException e) {
                throw new UncheckedIOException("removing " + dir, e);
            }
        }
    }

    /** @return the entries of one connection: {@code qb-<serverPid>-<clientPid>-*} */
    public static List<Path> entries(long serverPid, long clientPid) {
        String prefix = "qb-" + serverPid + "-" + clientPid + "-";
        return entries(serverPid).stream().filter(p -> p.getFileName().toString().startsWith(prefix))
                .collect(Collectors.toList());
    }

    /** Asserts (polling up to {@link #SETTLE}) that no {@code qb-<ourpid>-*} entry is left. */
    public static void assertNoneLeft() {
        assertNoneLeft(ourPid());
    }

    /** Asserts (polling up to {@link #SETTLE}) that no {@code qb-<serverPid>-*} entry is left. */
    public static void assertNoneLeft(long serverPid) {
        List<Path> left = poll(() -> entries(serverPid), List::isEmpty);
        if (!left.isEmpty()) {
            fail("left in /dev/shm by server pid " + serverPid + ": " + describe(left));
        }
    }

    /** Asserts (polling) that no entry of the connection of {@code clientPid} is left. */
    public static void assertNoneLeft(long serverPid, long clientPid) {
        List<Path> left = poll(() -> entries(serverPid, clientPid), List::isEmpty);
        if (!left.isEmpty()) {
            fail("left in /dev/shm for client pid " + clientPid + ": " + describe(left));
        }
    }

    /** Asserts {@code p} does not exist (polling up to {@link #SETTLE}). */
    public static void assertGone(Path p) {
        Boolean exists = poll(() -> Files.exists(p), e -> !e);
        if (exists) {
            fail(p + " still exists: " + describe(List.of(p)));
        }
    }

    /** The connection directory of {@code clientPid} under our pid; asserts there is exactly one. */
    public static Path connectionDir(long clientPid) {
        List<Path> dirs = poll(() -> entries(ourPid(), clientPid), l -> l.size() == 1);
        assertEquals(1, dirs.size(), "connection directories for client pid " + clientPid + ": " + dirs);
        return dirs.get(0);
    }

    /** The six file names libqb's SHM transport puts in a connection directory for {@code service}. */
    public static TreeSet<String> sixFiles(String service) {
        TreeSet<String> s = new TreeSet<>();
        for (String ring : List.of("request", "response", "event")) {
            s.add("qb-" + ring + "-" + service + "-header");
            s.add("qb-" + ring + "-" + service + "-data");
        }
        return s;
    }

    /** @return the names of the files in {@code dir} */
    public static TreeSet<String> fileNames(Path dir) {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).collect(Collectors.toCollection(TreeSet::new));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Asserts {@code dir} holds exactly the six ring files of {@code service}. */
    public static void assertSixFiles(Path dir, String service) {
        assertEquals(sixFiles(service), fileNames(dir), "files in " + dir);
    }

    static String describe(List<Path> paths) {
        StringBuilder b = new StringBuilder();
        for (Path p : paths) {
            b.append("\n  ").append(p);
            if (Files.isDirectory(p)) {
                try (Stream<Path> s = Files.list(p)) {
                    s.forEach(f -> b.append("\n    ").append(f.getFileName()));
                } catch (IOException e) {
                    b.append(" (").append(e).append(')');
                }
            }
        }
        return b.toString();
    }

    private static <T> T poll(java.util.function.Supplier<T> what, java.util.function.Predicate<T> done) {
        long deadline = System.nanoTime() + SETTLE.toNanos();
        T v = what.get();
        while (!done.test(v) && System.nanoTime() < deadline) {
            NativeClient.sleep(20);
            v = what.get();
        }
        return v;
    }
}
