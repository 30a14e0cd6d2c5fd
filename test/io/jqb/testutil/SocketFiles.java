package io.jqb.testutil;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.TreeSet;
import java.util.function.Predicate;
import java.util.function.Supplier;
import java.util.stream.Collectors;

/**
 * What the SOCKET transport and filesystem socket mode leave on the host: the AF_UNIX names in {@code /proc/net/unix}
 * (abstract ones shown as {@code @name}, their NUL padding as trailing {@code @}), the 24-byte control file in the
 * connection directory, and the filesystem listening socket {@code /tmp/<name>}.
 */
public final class SocketFiles {
    /** How long cleanup may take before an assertion fails. */
    public static final Duration SETTLE = Duration.ofSeconds(5);
    /** S_IFMT and S_IFSOCK. */
    private static final int S_IFMT = 0170000;
    private static final int S_IFSOCK = 0140000;

    private SocketFiles() {
    }

    /**
     * Every bound AF_UNIX name on the host: filesystem paths as they are, abstract names as {@code @name} with the
     * trailing NUL padding ({@code @@@...}) stripped.
     */
    public static TreeSet<String> unixNames() {
        List<String> lines;
        try {
            lines = Files.readAllLines(Path.of("/proc/net/unix"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        TreeSet<String> names = new TreeSet<>();
        for (String l : lines.subList(1, lines.size())) {
            String[] f = l.trim().split("\\s+", 8);
            if (f.length < 8) {
                continue;
            }
            String n = f[7];
            if (n.startsWith("@")) {
                int end = n.length();
                while (end > 1 && n.charAt(end - 1) == '@') {
                    end--;
                }
                n = n.substring(0, end);
            }
            names.add(n);
        }
        return names;
    }

    /** @return the abstract socket names under {@code dir} ({@code @dir/...}) */
    public static TreeSet<String> abstractNamesUnder(Path dir) {
        String prefix = "@" + dir + "/";
        return unixNames().stream().filter(n -> n.startsWith(prefix)).collect(Collectors.toCollection(TreeSet::new));
    }

    /** The four datagram sockets of one SOCKET connection: {@code @<dir>/qb-<service>-request} etc. */
    public static TreeSet<String> expectedDatagramNames(Path dir, String service) {
        TreeSet<String> s = new TreeSet<>();
        for (String suffix : List.of("request", "response", "event", "event-tx")) {
            s.add("@" + dir + "/qb-" + service + "-" + suffix);
        }
        return s;
    }

    /** Asserts (polling, the client binds its two after the handshake) that exactly the four names are bound. */
    public static void assertDatagramSockets(Path dir, String service) {
        TreeSet<String> want = expectedDatagramNames(dir, service);
        TreeSet<String> got = poll(() -> abstractNamesUnder(dir), want::equals);
        assertEquals(want, got, "datagram sockets of the SOCKET connection in " + dir);
    }

    /** Asserts (polling) that no socket named under {@code dir} is bound any more. */
    public static void assertNoSocketsUnder(Path dir) {
        TreeSet<String> got = poll(() -> abstractNamesUnder(dir), TreeSet::isEmpty);
        assertTrue(got.isEmpty(), "sockets still bound under " + dir + ": " + got);
    }

    /** @return whether the abstract name {@code @name} (a listening service) is bound */
    public static boolean abstractNameBound(String name) {
        return unixNames().contains("@" + name);
    }

    /** @return whether a filesystem socket with this path is bound */
    public static boolean pathBound(Path p) {
        return unixNames().contains(p.toString());
    }

    /**
     * Asserts the connection directory holds exactly the 24-byte control file {@code qb-control-<service>} (no SHM
     * ring files) with this owner and mode.
     */
    public static void assertControlFileOnly(Path dir, String service, int uid, int gid, int mode) {
        Path ctl = dir.resolve("qb-control-" + service);
        assertEquals(new TreeSet<>(List.of("qb-control-" + service)), ShmAssert.fileNames(dir),
                "files in the SOCKET connection directory " + dir + " (SHM would have six ring files)");
        try {
            assertEquals(24L, Files.size(ctl), "size of " + ctl);
            assertEquals(uid, (int) Files.getAttribute(ctl, "unix:uid", LinkOption.NOFOLLOW_LINKS), "owner of " + ctl);
            assertEquals(gid, (int) Files.getAttribute(ctl, "unix:gid", LinkOption.NOFOLLOW_LINKS), "group of " + ctl);
            assertEquals(Integer.toOctalString(0100000 | mode),
                    Integer.toOctalString((int) Files.getAttribute(ctl, "unix:mode", LinkOption.NOFOLLOW_LINKS)),
                    "mode of " + ctl + " (regular file)");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Asserts {@code p} is a socket with permission bits {@code perms} and returns its inode. */
    public static long assertSocketFile(Path p, int perms) {
        try {
            int mode = (int) Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS);
            assertEquals(Integer.toOctalString(S_IFSOCK), Integer.toOctalString(mode & S_IFMT), p + " is not a socket");
            assertEquals(Integer.toOctalString(perms), Integer.toOctalString(mode & 07777), "permissions of " + p);
            return (long) Files.getAttribute(p, "unix:ino", LinkOption.NOFOLLOW_LINKS);
        } catch (IOException e) {
            fail(p + ": " + e);
            return -1;
        }
    }

    /** The one connection directory {@code /dev/shm/qb-<serverPid>-<clientPid>-*} (polling until there is one). */
    public static Path connectionDir(long serverPid, long clientPid) {
        List<Path> dirs = poll(() -> ShmAssert.entries(serverPid, clientPid), l -> l.size() == 1);
        assertEquals(1, dirs.size(), "connection directories of server " + serverPid + " / client " + clientPid);
        return dirs.get(0);
    }

    /** Asserts (polling) that {@code p} no longer exists. */
    public static void assertGone(Path p) {
        boolean exists = poll(() -> Files.exists(p, LinkOption.NOFOLLOW_LINKS), e -> !e);
        if (exists) {
            fail(p + " still exists" + (Files.isDirectory(p) ? ", holding " + ShmAssert.fileNames(p) : ""));
        }
    }

    /** Polls {@code what} until {@code done} or {@link #SETTLE}; returns the last value. */
    public static <T> T poll(Supplier<T> what, Predicate<T> done) {
        long deadline = System.nanoTime() + SETTLE.toNanos();
        T v = what.get();
        while (!done.test(v) && System.nanoTime() < deadline) {
            NativeClient.sleep(10);
            v = what.get();
        }
        return v;
    }
}
