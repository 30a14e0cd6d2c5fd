package io.jqb.ops.internal;

import io.jqb.ops.ConnectionInfo;
import io.jqb.ops.HostSnapshot;
import io.jqb.ops.RingInfo;
import io.jqb.ops.ServiceInfo;
import io.jqb.ops.StaleDirectory;
import io.jqb.ops.Transport;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeoutException;

/**
 * One discovery pass: {@code /proc/net/unix} for listening sockets with libqb's addressing, {@code /proc/<pid>/fd}
 * for their owners, {@code /dev/shm/qb-*} for connections, their ring headers for sizes and fill. Read-only;
 * every per-entry read has a deadline; what could not be read is listed in {@link HostSnapshot#unreadable()}.
 */
public final class Scanner {
    /** Where to look (tests point these at a made-up tree). */
    public record Roots(Path proc, Path shm, Path socketDir) {
        /** /proc, /dev/shm and libqb's filesystem socket directory ({@code jqb.socketDir}, default /tmp). */
        public static Roots host() {
            return new Roots(Path.of("/proc"), Path.of("/dev/shm"),
                    Path.of(System.getProperty("jqb.socketDir", "/tmp")));
        }
    }

    private final Roots roots;
    private final long perEntryMillis;

    public Scanner(Roots roots, long perEntryMillis) {
        this.roots = roots;
        this.perEntryMillis = perEntryMillis;
    }

    /** A listening socket that looks like a libqb service. */
    private static final class Listener {
        final String name;
        final String address;
        final long inode;
        int pid;
        final List<String> problems = new ArrayList<>();
        final List<ConnectionInfo> connections = new ArrayList<>();

        Listener(String name, String address, long inode) {
            this.name = name;
            this.address = address;
            this.inode = inode;
        }
    }

    public HostSnapshot scan() throws IOException {
        long t0 = System.nanoTime();
        List<String> unreadable = new ArrayList<>();
        Path table = roots.proc().resolve("net").resolve("unix");
        Map<String, Listener> byName = listeners(UnixSocketTable.read(table));
        ProcessTable procs = new ProcessTable(roots.proc(), perEntryMillis);
        Set<Long> inodes = new HashSet<>();
        byName.values().forEach(l -> inodes.add(l.inode));
        Map<Long, Integer> owners = procs.socketOwners(inodes);
        for (Listener l : byName.values()) {
            l.pid = owners.getOrDefault(l.inode, 0);
        }
        unreadable.addAll(procs.unreadable());

        List<StaleDirectory> stale = new ArrayList<>();
        Map<String, Listener> orphans = new LinkedHashMap<>();
        List<Path> dirs;
        try {
            dirs = ConnectionDirs.list(roots.shm());
        } catch (IOException e) {
            dirs = List.of();
            unreadable.add(roots.shm() + ": " + FileReads.why(e));
        }
        int unlistable = 0;
        for (Path d : dirs) {
            DirRead read = readDir(d);
            ConnectionDirs.Dir dir = read.dir();
            List<RingInfo> rings = read.rings();
            if (dir.service() == null && dir.problem() != null && dir.problem().startsWith("cannot list")) {
                unlistable++;
            }
            boolean serverAlive = procs.alive(dir.serverPid());
            boolean clientAlive = procs.alive(dir.clientPid());
            if (!serverAlive) {
                stale.add(new StaleDirectory(d.toString(), dir.serverPid(), dir.clientPid(), clientAlive,
                        dir.service(), "server " + dir.serverPid() + " gone"));
                continue;
            }
            List<String> problems = new ArrayList<>();
            if (dir.problem() != null) {
                problems.add(dir.problem());
            }
            if (!clientAlive) {
                problems.add("client " + dir.clientPid() + " gone (the server has not noticed yet)");
            }
            for (RingInfo r : rings) {
                if (r.error() != null) {
                    problems.add(r.ring() + ": " + r.error());
                }
            }
            ConnectionInfo c = new ConnectionInfo(dir.service(), dir.serverPid(), dir.clientPid(),
                    procs.command(dir.clientPid()), clientAlive, dir.fd(), d.toString(), dir.transport(), rings,
                    List.copyOf(problems));
            Listener owner = ownerOf(dir, byName);
            if (owner == null) {
                String key = dir.serverPid() + "/" + dir.service();
                owner = orphans.computeIfAbsent(key, k -> {
                    Listener o = new Listener(dir.service() != null ? dir.service() : "?", null, 0);
                    o.pid = dir.serverPid();
                    o.problems.add(dir.service() == null
                            ? "service unknown: its connection directories could not be read"
                            : "no listening socket found for it (withdrawn, another network namespace, or a "
                                    + "filesystem socket outside " + roots.socketDir() + ")");
                    return o;
                });
            }
            if (owner.pid == 0) {
                owner.pid = dir.serverPid();
                owner.problems.add("server pid from its connections' directory names");
            }
            owner.connections.add(c);
        }
        if (unlistable > 0) {
            unreadable.add(roots.shm() + "/qb-*: cannot list " + unlistable + " connection director"
                    + (unlistable == 1 ? "y" : "ies") + " (owned by their clients, mode 0770): service name and "
                    + "rings unknown");
        }
        for (Listener l : byName.values()) {
            if (l.pid == 0) {
                l.problems.add("server unknown: the socket's owner could not be read");
            }
        }
        List<ServiceInfo> services = new ArrayList<>();
        for (Listener l : byName.values()) {
            services.add(toInfo(l, procs));
        }
        for (Listener l : orphans.values()) {
            services.add(toInfo(l, procs));
        }
        int uid = uid(roots.proc());
        return new HostSnapshot(List.copyOf(services), List.copyOf(stale), List.copyOf(unreadable), uid,
                (System.nanoTime() - t0) / 1_000_000);
    }

    /** The listening sockets with libqb's addressing, by service name. */
    private Map<String, Listener> listeners(List<UnixSocketTable.Entry> sockets) {
        Map<String, Listener> byName = new TreeMap<>();
        for (UnixSocketTable.Entry e : sockets) {
            if (!e.listening() || e.type() != UnixSocketTable.TYPE_STREAM || e.path() == null) {
                continue;
            }
            String name = e.paddedAbstractName();
            String address = name == null ? null : "@" + name;
            if (name == null && isFilesystemService(e.path())) {
                name = Path.of(e.path()).getFileName().toString();
                address = e.path();
            }
            if (name != null && !byName.containsKey(name)) {
                byName.put(name, new Listener(name, address, e.inode()));
            }
        }
        return byName;
    }

    private record DirRead(ConnectionDirs.Dir dir, List<RingInfo> rings) {
    }

    /** Lists one directory and reads its rings, within the per-entry deadline. */
    private DirRead readDir(Path d) {
        int[] ids = ConnectionDirs.parseName(d.getFileName().toString());
        try {
            return Bounded.call(() -> {
                ConnectionDirs.Dir x = ConnectionDirs.inspect(d);
                return new DirRead(x, readRings(x));
            }, perEntryMillis);
        } catch (TimeoutException e) {
            return new DirRead(new ConnectionDirs.Dir(d, ids[0], ids[1], ids[2], null, Transport.UNKNOWN,
                    "timed out reading " + d), List.of());
        } catch (Exception e) {
            return new DirRead(new ConnectionDirs.Dir(d, ids[0], ids[1], ids[2], null, Transport.UNKNOWN,
                    "cannot read " + d + ": " + e), List.of());
        }
    }

    private static List<RingInfo> readRings(ConnectionDirs.Dir x) {
        if (x.transport() == Transport.SHM) {
            return RingFiles.readShm(x.path(), x.service());
        }
        if (x.transport() == Transport.SOCKET) {
            return RingFiles.readControl(x.path(), x.service());
        }
        return List.of();
    }

    /** The listener a directory belongs to: by service name (and server pid when both are known). */
    private static Listener ownerOf(ConnectionDirs.Dir dir, Map<String, Listener> byName) {
        if (dir.service() != null) {
            Listener l = byName.get(dir.service());
            if (l != null && (l.pid == 0 || l.pid == dir.serverPid())) {
                return l;
            }
            return null;
        }
        Listener only = null;
        for (Listener l : byName.values()) {
            if (l.pid == dir.serverPid()) {
                if (only != null) {
                    return null; // the server has several services: the name is needed to tell
                }
                only = l;
            }
        }
        return only;
    }

    private static ServiceInfo toInfo(Listener l, ProcessTable procs) {
        Set<Transport> ts = new HashSet<>();
        l.connections.forEach(c -> ts.add(c.transport()));
        ts.remove(Transport.UNKNOWN);
        Transport t = ts.size() == 1 ? ts.iterator().next() : Transport.UNKNOWN;
        return new ServiceInfo(l.name, l.address, l.inode, l.pid, procs.command(l.pid), t,
                List.copyOf(l.connections), List.copyOf(l.problems));
    }

    /**
     * libqb's filesystem mode binds {@code <socketdir>/<name>} and chmods it 0777; a listening socket directly in
     * that directory with that mode is taken for a libqb service.
     */
    private boolean isFilesystemService(String path) {
        if (!path.startsWith("/")) {
            return false;
        }
        Path p = Path.of(path);
        if (p.getParent() == null || !p.getParent().equals(roots.socketDir())) {
            return false;
        }
        try {
            PosixFileAttributes a = Files.readAttributes(p, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            return a.isOther() && a.permissions().containsAll(Set.of(PosixFilePermission.OTHERS_WRITE,
                    PosixFilePermission.OTHERS_READ, PosixFilePermission.GROUP_WRITE, PosixFilePermission.OWNER_WRITE,
                    PosixFilePermission.OTHERS_EXECUTE));
        } catch (IOException e) {
            return false;
        }
    }

    /** The effective uid, from /proc/self/status (no native call needed). */
    private static int uid(Path proc) {
        try {
            for (String line : Files.readAllLines(proc.resolve("self").resolve("status"))) {
                if (line.startsWith("Uid:")) {
                    String[] f = line.substring(4).trim().split("\\s+");
                    return Integer.parseInt(f[1]);
                }
            }
        } catch (IOException | RuntimeException e) {
            // fall through
        }
        return -1;
    }
}
