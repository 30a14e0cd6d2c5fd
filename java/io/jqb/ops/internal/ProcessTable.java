package io.jqb.ops.internal;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeoutException;

/**
 * What {@code /proc} says about processes: which pid holds which socket inode, command lines, liveness. Every read
 * is bounded ({@link Bounded}); a process that exits while it is being read is simply gone; what could not be read
 * is collected for the report.
 */
public final class ProcessTable {
    /** Longest command line kept (the rest is cut with "..."). */
    static final int MAX_COMMAND = 200;

    private final Path proc;
    private final long perEntryMillis;
    private final Map<Integer, String> commands = new HashMap<>();
    /** Problem kind → pids, for the report ("permission denied" → [812, 900]). */
    private final Map<String, List<Integer>> unreadableFds = new TreeMap<>();

    public ProcessTable(Path proc, long perEntryMillis) {
        this.proc = proc;
        this.perEntryMillis = perEntryMillis;
    }

    /**
     * Finds the processes holding the sockets {@code inodes} by reading every {@code /proc/<pid>/fd}.
     *
     * @return inode → the lowest pid holding it (forked servers share the listener; the parent is usually lowest)
     */
    public Map<Long, Integer> socketOwners(Set<Long> inodes) {
        Map<Long, Integer> owners = new HashMap<>();
        if (inodes.isEmpty()) {
            return owners;
        }
        for (int pid : pids()) {
            Map<Long, Integer> found;
            try {
                found = Bounded.call(() -> socketsOf(pid, inodes), perEntryMillis);
            } catch (AccessDeniedException e) {
                note("permission denied", pid);
                continue;
            } catch (NoSuchFileException e) {
                continue; // exited while we looked
            } catch (TimeoutException e) {
                note("timed out", pid);
                continue;
            } catch (Exception e) {
                note(e.getClass().getSimpleName(), pid);
                continue;
            }
            for (Map.Entry<Long, Integer> f : found.entrySet()) {
                owners.merge(f.getKey(), pid, Math::min);
            }
        }
        return owners;
    }

    /** The sockets among {@code inodes} that {@code pid} has open (values: fd numbers). */
    private Map<Long, Integer> socketsOf(int pid, Set<Long> inodes) throws IOException {
        Map<Long, Integer> out = new HashMap<>();
        try (DirectoryStream<Path> fds = Files.newDirectoryStream(proc.resolve(Integer.toString(pid)).resolve("fd"))) {
            for (Path fd : fds) {
                String target;
                try {
                    target = Files.readSymbolicLink(fd).toString();
                } catch (IOException e) {
                    continue; // closed meanwhile
                }
                long inode = socketInode(target);
                if (inode >= 0 && inodes.contains(inode)) {
                    out.put(inode, parseInt(fd.getFileName().toString()));
                }
            }
        }
        return out;
    }

    /** {@code socket:[12345]} → 12345, else -1. */
    static long socketInode(String link) {
        if (!link.startsWith("socket:[") || !link.endsWith("]")) {
            return -1;
        }
        try {
            return Long.parseLong(link.substring(8, link.length() - 1));
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** @return the pids listed in /proc */
    public List<Integer> pids() {
        List<Integer> out = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(proc)) {
            for (Path p : ds) {
                int pid = parseInt(p.getFileName().toString());
                if (pid > 0) {
                    out.add(pid);
                }
            }
        } catch (IOException e) {
            // no /proc at all: nothing found; the caller reports the missing socket table
        }
        return out;
    }

    /**
     * The command line of {@code pid} (arguments joined by spaces, cut at {@value #MAX_COMMAND} characters), or
     * {@code [comm]} when it has none (kernel thread, zombie); null when the process is gone or unreadable.
     */
    public String command(int pid) {
        if (pid <= 0) {
            return null;
        }
        if (commands.containsKey(pid)) {
            return commands.get(pid);
        }
        String c;
        try {
            c = Bounded.call(() -> readCommand(pid), perEntryMillis);
        } catch (Exception e) {
            c = null;
        }
        commands.put(pid, c);
        return c;
    }

    private String readCommand(int pid) throws IOException {
        Path dir = proc.resolve(Integer.toString(pid));
        byte[] raw;
        try (FileReads.Reader r = openProc(dir.resolve("cmdline"))) {
            var b = r.read(0, 4096);
            raw = new byte[b.remaining()];
            b.get(raw);
        }
        String s = new String(raw, StandardCharsets.UTF_8).replace('\0', ' ').strip();
        if (s.isEmpty()) {
            try (FileReads.Reader r = openProc(dir.resolve("comm"))) {
                var b = r.read(0, 64);
                byte[] c = new byte[b.remaining()];
                b.get(c);
                s = "[" + new String(c, StandardCharsets.UTF_8).strip() + "]";
            }
        }
        return s.length() > MAX_COMMAND ? s.substring(0, MAX_COMMAND - 3) + "..." : s;
    }

    private static FileReads.Reader openProc(Path p) throws IOException {
        return FileReads.open(p);
    }

    private final Map<Integer, Boolean> alive = new HashMap<>();

    /** @return true when {@code pid} exists and is not a zombie (or being reaped); cached for this table's life */
    public boolean alive(int pid) {
        return alive.computeIfAbsent(pid, this::readAlive);
    }

    private boolean readAlive(int pid) {
        if (pid <= 0) {
            return false;
        }
        try {
            return Bounded.call(() -> {
                byte[] stat = Files.readAllBytes(proc.resolve(Integer.toString(pid)).resolve("stat"));
                String s = new String(stat, StandardCharsets.ISO_8859_1);
                int close = s.lastIndexOf(')');
                if (close < 0 || close + 2 >= s.length()) {
                    return true;
                }
                char state = s.charAt(close + 2);
                return state != 'Z' && state != 'X';
            }, perEntryMillis);
        } catch (NoSuchFileException e) {
            return false;
        } catch (Exception e) {
            return Files.exists(proc.resolve(Integer.toString(pid)));
        }
    }

    private void note(String why, int pid) {
        unreadableFds.computeIfAbsent(why, k -> new ArrayList<>()).add(pid);
    }

    /** Report lines for the processes whose fds could not be read. */
    public List<String> unreadable() {
        List<String> out = new ArrayList<>();
        for (Map.Entry<String, List<Integer>> e : unreadableFds.entrySet()) {
            List<Integer> pids = e.getValue();
            String some = pids.size() <= 8 ? pids.toString()
                    : pids.subList(0, 8).toString().replace("]", ", ...]");
            out.add(proc + "/<pid>/fd: " + e.getKey() + " for " + pids.size() + " process"
                    + (pids.size() == 1 ? "" : "es") + " " + some
                    + " (their sockets' owners are unknown)");
        }
        return out;
    }

    static int parseInt(String s) {
        if (s.isEmpty() || s.length() > 10) {
            return -1;
        }
        for (int i = 0; i < s.length(); i++) {
            if (s.charAt(i) < '0' || s.charAt(i) > '9') {
                return -1;
            }
        }
        long v = Long.parseLong(s);
        return v > Integer.MAX_VALUE ? -1 : (int) v;
    }
}
