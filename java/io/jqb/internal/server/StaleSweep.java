package io.jqb.internal.server;

import io.jqb.internal.Logs;
import io.jqb.internal.posix.Posix;
import io.jqb.internal.posix.Processes;
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
 * <li>{@code <serverpid>} is not us and is provably dead: {@code kill(pid, 0)} fails with ESRCH, or the process has
 * exited and waits to be reaped (a zombie cannot clean up: its mappings are gone);</li>
 * <li>{@code <clientpid>} is not us and is provably dead too: a live client may still use its mappings and cleans up
 * itself when it notices the server is gone (jqb removes files and directory, libqb the files);</li>
 * <li>it holds nothing but regular files named like libqb's ring and control files
 * ({@code qb-(request|response|event)-*-(header|data)}, {@code qb-control-*}): no symlinks, no sub-directories;</li>
 * <li>with a service name (what a service does on {@code run()}, by default): the directory is provably that
 * service's: it holds at least one file and every file carries exactly that service name. Without one (the explicit
 * {@code Service.sweepStaleDirectories} and {@code jqb sweep}): any service's.</li>
 * </ol>
 * Anything else is left alone: a live or unknown pid (including one reused by an unrelated process), a directory
 * owned by someone else (libqb chowns it to the client), unexpected contents, another service's directory.
 */
public final class StaleSweep {
    private static final Logger LOG = Logs.get(StaleSweep.class);
    private static final Pattern DIR = Pattern.compile("qb-(\\d{1,10})-(\\d{1,10})-(\\d{1,10})-[A-Za-z0-9]{6}");
    private static final Pattern FILE = Pattern.compile(
            "qb-(request|response|event)-(.+)-(header|data)|qb-control-(.+)");

    private StaleSweep() {
    }

    /**
     * @return where services keep connection directories and sweeps look: {@code /dev/shm}, or the system property
     *         {@code jqb.staleSweepRoot} (tests point it at a private directory, so that no other process's
     *         directories are involved)
     */
    public static Path defaultRoot() {
        return Path.of(System.getProperty("jqb.staleSweepRoot", ShmDirectory.SHM_ROOT));
    }

    /** One directory a sweep removed, would remove (dry run), or had to leave although its processes are gone. */
    public static final class Entry {
        /** The directory. */
        public final Path dir;
        /** Why it is stale, e.g. "server pid 12 and client pid 13 are gone". */
        public final String reason;

        Entry(Path dir, String reason) {
            this.dir = dir;
            this.reason = reason;
        }

        @Override
        public String toString() {
            return dir + " (" + reason + ")";
        }
    }

    /** What one sweep did. */
    public static final class Result {
        /** Directories removed (or, in a dry run, that would be). */
        public final List<Entry> removed = new ArrayList<>();
        /** Directories of dead servers that had to be left (unexpected contents, or a removal failed). */
        public final List<Entry> kept = new ArrayList<>();
    }

    /**
     * Sweeps {@code root} (normally {@code /dev/shm}) for any service's stale directories.
     *
     * @param ourPid never treated as dead
     * @param ourUid only directories owned by this uid are considered
     * @return what was removed
     */
    public static Result sweep(Path root, int ourPid, int ourUid) {
        return sweep(root, ourPid, ourUid, null, false);
    }

    /**
     * Sweeps {@code root} (normally {@code /dev/shm}).
     *
     * @param ourPid never treated as dead
     * @param ourUid only directories owned by this uid are considered
     * @param service only directories provably of this service (see the class comment); null = any service
     * @param dryRun decide and report, remove nothing
     * @return what was (or would be) removed, and what had to be kept
     */
    public static Result sweep(Path root, int ourPid, int ourUid, String service, boolean dryRun) {
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
                String reason = "server pid " + serverPid + " and client pid " + clientPid + " are gone";
                List<Path> files = libqbFiles(dir, service);
                if (files == null) {
                    if (service == null) {
                        r.kept.add(new Entry(dir, reason + "; left: unexpected contents"));
                    }
                    continue;
                }
                if (service != null) {
                    reason = "service " + service + ": " + reason;
                }
                if (dryRun) {
                    r.removed.add(new Entry(dir, reason));
                } else if (remove(dir, files)) {
                    r.removed.add(new Entry(dir, reason));
                    LOG.info("removed stale {} ({})", dir, reason);
                } else {
                    r.kept.add(new Entry(dir, reason + "; left: removal failed"));
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
     * @param pid a process id
     * @return true only when {@code pid} certainly does not run any more (see {@link Processes#provablyDead})
     */
    public static boolean provablyDead(int pid) {
        return Processes.provablyDead(pid);
    }

    /**
     * @return the directory's files when they are all libqb ring/control files (of {@code service}, when given; then
     *         at least one), else null: the directory is left alone
     */
    private static List<Path> libqbFiles(Path dir, String service) {
        List<Path> files = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            for (Path f : ds) {
                BasicFileAttributes a = Files.readAttributes(f, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
                Matcher m = FILE.matcher(f.getFileName().toString());
                if (!a.isRegularFile() || !m.matches()) {
                    if (service == null) {
                        LOG.warn("stale {} left alone: unexpected entry {}", dir, f.getFileName());
                    }
                    return null;
                }
                if (service != null && !service.equals(m.group(2) != null ? m.group(2) : m.group(4))) {
                    return null; // another service's (or not provably ours)
                }
                files.add(f);
            }
        } catch (IOException e) {
            LOG.debug("stale {} left alone: {}", dir, e.toString());
            return null;
        }
        return service != null && files.isEmpty() ? null : files;
    }

    /** Removes the files, then the directory. */
    private static boolean remove(Path dir, List<Path> files) {
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
