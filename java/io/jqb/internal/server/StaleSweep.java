package io.jqb.internal.server;

import io.jqb.internal.Logs;
import io.jqb.Errno;
import io.jqb.internal.posix.Posix;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;

/**
 * Removes connection directories that servers which died without cleaning up left in {@code /dev/shm} (libqb #61):
 * {@code qb-<serverpid>-<clientpid>-<fd>-XXXXXX}. A directory is removed only when every one of these holds:
 * <ol>
 * <li>its name has exactly that shape;</li>
 * <li>it is a real directory (not a symlink) owned by our effective uid;</li>
 * <li>{@code <serverpid>} is not us and is provably dead: {@code kill(pid, 0)} fails with ESRCH, or the process is a
 * zombie (a zombie cannot clean up: its mappings are gone);</li>
 * <li>{@code <clientpid>} is not us and is provably dead too: a live client may still use its mappings and cleans up
 * itself when it notices the server is gone (jqb removes files and directory, libqb the files);</li>
 * <li>it holds nothing but regular files named like libqb's ring and control files
 * ({@code qb-(request|response|event)-*-(header|data)}, {@code qb-control-*}): no symlinks, no sub-directories.</li>
 * </ol>
 * Anything else is left alone: a live or unknown pid (including one reused by an unrelated process), a directory
 * owned by someone else (libqb chowns it to the client), unexpected contents.
 */
public final class StaleSweep {
    private static final Logger LOG = Logs.get(StaleSweep.class);
    private static final Pattern DIR = Pattern.compile("qb-(\\d{1,10})-(\\d{1,10})-(\\d{1,10})-[A-Za-z0-9]{6}");
    private static final Pattern FILE = Pattern.compile(
            "qb-(request|response|event)-.+-(header|data)|qb-control-.+");

    private StaleSweep() {
    }

    /** What one sweep did. */
    public static final class Result {
        /** Directories removed. */
        public final List<Path> removed = new ArrayList<>();
        /** Directories of dead servers that had to be left (unexpected contents, or a removal failed). */
        public final List<Path> kept = new ArrayList<>();
    }

    /**
     * Sweeps {@code root} (normally {@code /dev/shm}).
     *
     * @param ourPid never treated as dead
     * @param ourUid only directories owned by this uid are considered
     */
    public static Result sweep(Path root, int ourPid, int ourUid) {
        Result r = new Result();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(root, "qb-*")) {
            for (Path dir : ds) {
                Matcher m = DIR.matcher(dir.getFileName().toString());
                if (!m.matches()) {
                    continue;
                }
                long serverPid = Long.parseLong(m.group(1));
                long clientPid = Long.parseLong(m.group(2));
                if (serverPid == ourPid || clientPid == ourPid || serverPid > Integer.MAX_VALUE
                        || clientPid > Integer.MAX_VALUE || !ownedDirectory(dir, ourUid)
                        || !provablyDead((int) serverPid) || !provablyDead((int) clientPid)) {
                    continue;
                }
                if (removeDirectory(dir)) {
                    r.removed.add(dir);
                    LOG.info("removed stale {} (server pid {} and client pid {} are gone)", dir, serverPid, clientPid);
                } else {
                    r.kept.add(dir);
                }
            }
        } catch (IOException | RuntimeException e) {
            LOG.warn("stale sweep of {} stopped: {}", root, e.toString());
        }
        return r;
    }

    private static boolean ownedDirectory(Path dir, int uid) {
        try {
            BasicFileAttributes a = Files.readAttributes(dir, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            if (!a.isDirectory() || a.isSymbolicLink()) {
                return false;
            }
            Object owner = Files.getAttribute(dir, "unix:uid", LinkOption.NOFOLLOW_LINKS);
            return owner instanceof Integer && (Integer) owner == uid;
        } catch (IOException | UnsupportedOperationException e) {
            return false;
        }
    }

    /**
     * @return true only when {@code pid} certainly does not run any more: no such process, or a zombie
     */
    public static boolean provablyDead(int pid) {
        if (pid <= 1) {
            return false;
        }
        if (Posix.C.kill(pid, 0) < 0) {
            return Posix.errno() == Errno.ESRCH;
        }
        return isZombie(pid);
    }

    private static boolean isZombie(int pid) {
        try {
            String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
            int paren = stat.lastIndexOf(')');
            if (paren < 0 || paren + 2 >= stat.length()) {
                return false;
            }
            char state = stat.charAt(paren + 2);
            return state == 'Z' || state == 'X';
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    /** Removes the expected files, then the directory; touches nothing when anything unexpected is inside. */
    private static boolean removeDirectory(Path dir) {
        List<Path> files = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            for (Path f : ds) {
                BasicFileAttributes a = Files.readAttributes(f, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
                if (!a.isRegularFile() || !FILE.matcher(f.getFileName().toString()).matches()) {
                    LOG.warn("stale {} left alone: unexpected entry {}", dir, f.getFileName());
                    return false;
                }
                files.add(f);
            }
        } catch (IOException e) {
            LOG.debug("stale {} left alone: {}", dir, e.toString());
            return false;
        }
        try {
            for (Path f : files) {
                Files.deleteIfExists(f);
            }
            Files.deleteIfExists(dir);
            return true;
        } catch (IOException e) {
            LOG.warn("stale {} only partly removed: {}", dir, e.toString());
            return false;
        }
    }

    /** Our effective uid (the owner of the files we create), from {@code /proc/self/status}; else the real uid. */
    public static int effectiveUid() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("Uid:")) {
                    String[] f = line.substring(4).trim().split("\\s+");
                    return Integer.parseInt(f[1]);
                }
            }
        } catch (IOException | RuntimeException e) {
            // fall through
        }
        return Posix.C.getuid();
    }
}
