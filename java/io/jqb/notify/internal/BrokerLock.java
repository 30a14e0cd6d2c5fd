package io.jqb.notify.internal;

import io.jqb.Errno;
import io.jqb.internal.posix.LibC;
import io.jqb.internal.posix.Posix;
import io.jqb.internal.wire.FlockDescriptor;
import io.jqb.internal.wire.StatDescriptor;
import io.jqb.notify.NotificationException;
import io.jqb.notify.NotifyResult;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * The one-broker-per-service lock: an exclusive lock on {@code <dir>/jqb-notify-<service>.lock} (dir: system
 * property {@code jqb.notify.lockDir}, default {@code /tmp}) holding the owner's pid. The kernel releases it when the
 * broker dies, so a killed broker never blocks its successor.
 *
 * <ul>
 * <li>The directory is world-writable by default, so the file is opened without following a symbolic link
 * (O_NOFOLLOW): a link planted there by another user is refused, never written through (a broker run as root would
 * otherwise truncate the file it points to); a file with other names (hard links) is refused too.</li>
 * <li>The lock is an open file description lock ({@code fcntl(F_OFD_SETLK)}), not the process's POSIX lock that
 * Java's {@code FileChannel.tryLock} takes (and that earlier jqb brokers hold: the two kinds exclude each other).
 * A POSIX lock is dropped when the process closes any descriptor of the file, and the JDK refuses a second lock of
 * a file it already locks with an unchecked exception; an OFD lock is only released with its own descriptor, so a
 * second broker of the same JVM is refused like one of another process, and reading the file does not unlock
 * it.</li>
 * <li>A broker that stops removes the file while it still holds the lock. A broker starting at that moment may have
 * opened the old file just before: once it gets the lock, that file has no name any more, while a third broker
 * creates and locks a new one. So the lock is kept only when the name still leads to the locked file (same device
 * and inode, {@code fstat} against {@code lstat}); else the broker starts over.</li>
 * </ul>
 */
public final class BrokerLock implements AutoCloseable {
    /** Attempts when the file keeps being removed or replaced as it is locked (each one a broker stopping). */
    private static final int ATTEMPTS = 3;
    /** The longest first line read back from another broker's file (a pid and its newline fit many times). */
    private static final int PID_TEXT = 32;
    /** Bytes of the native scratch: a struct flock, two struct stat, and the pid text. */
    private static final int SCRATCH = FlockDescriptor.LENGTH + 2 * StatDescriptor.LENGTH + PID_TEXT;

    private final Path path;
    private final int fd;
    private boolean closed;

    private BrokerLock(Path path, int fd) {
        this.path = path;
        this.fd = fd;
    }

    /** @return the lock file of {@code service} */
    public static Path pathFor(String service) {
        return Path.of(System.getProperty("jqb.notify.lockDir", "/tmp"), "jqb-notify-" + service + ".lock");
    }

    /** @throws NotificationException PERMISSION when another broker holds it or the file cannot be made */
    public static BrokerLock acquire(String service) {
        Path p = pathFor(service);
        for (int attempt = 1; ; attempt++) {
            BrokerLock l = tryAcquire(service, p);
            if (l != null) {
                return l;
            }
            if (attempt == ATTEMPTS) {
                throw new NotificationException(NotifyResult.PERMISSION, "cannot lock " + p + ": the file was "
                        + "removed or replaced as it was locked, " + ATTEMPTS + " times");
            }
        }
    }

    /** @return the lock, or null when the name no longer leads to the file locked (try again) */
    private static BrokerLock tryAcquire(String service, Path p) {
        String name = p.toString();
        long mem = Posix.MEM.allocate(SCRATCH);
        int fd = -1;
        boolean keep = false;
        try {
            fd = Posix.C.open(name, LibC.O_RDWR | LibC.O_CREAT | LibC.O_NOFOLLOW | LibC.O_CLOEXEC | LibC.O_NONBLOCK
                    | LibC.O_NOCTTY, 0644);
            if (fd < 0) {
                int e = Posix.errno();
                throw refused(p, "open: " + Errno.name(e)
                        + (e == LibC.ELOOP ? " (it is a symbolic link; a lock file is never followed)" : ""));
            }
            long fl = mem;
            long mine = fl + FlockDescriptor.LENGTH;
            long named = mine + StatDescriptor.LENGTH;
            long text = named + StatDescriptor.LENGTH;
            // What was opened, before anything else touches it: a FIFO or device planted at the name is refused
            // here (opened non-blocking, never read), a file with other names too.
            if (Posix.C.syscall(LibC.SYS_fstat, fd, mine, 0, 0, 0) < 0) {
                throw refused(p, "fstat: " + Errno.name(Posix.errno()));
            }
            if (!StatDescriptor.isRegular(Posix.MEM.readInt(mine + StatDescriptor.MODE_OFFSET))) {
                throw refused(p, "not a regular file");
            }
            if (Posix.MEM.readLong(mine + StatDescriptor.NLINK_OFFSET) > 1) {
                throw refused(p, "the file has other names (hard links); a lock file is never shared");
            }
            Posix.MEM.setMemory(fl, FlockDescriptor.LENGTH, (byte) 0);
            Posix.MEM.writeShort(fl + FlockDescriptor.TYPE_OFFSET, FlockDescriptor.F_WRLCK);
            Posix.MEM.writeShort(fl + FlockDescriptor.WHENCE_OFFSET, FlockDescriptor.SEEK_SET);
            // l_start 0, l_len 0: the whole file, as FileChannel.tryLock(); l_pid must be 0 for OFD locks
            if (Posix.C.syscall(LibC.SYS_fcntl, fd, LibC.F_OFD_SETLK, fl, 0, 0) < 0) {
                int e = Posix.errno();
                if (e == Errno.EAGAIN || e == Errno.EACCES) {
                    String owner = ownerPid(fd, text);
                    throw new NotificationException(NotifyResult.PERMISSION, "another notification broker for "
                            + "service '" + service + "' is running (pid " + (owner.isEmpty() ? "?" : owner)
                            + ", lock " + p + ")");
                }
                throw refused(p, "fcntl(F_OFD_SETLK): " + Errno.name(e));
            }
            if (!sameFile(name, mine, named)) {
                return null; // removed, or replaced, by a broker stopping after we opened it: ours has no name
            }
            if (Posix.C.ftruncate(fd, 0) < 0) {
                throw refused(p, "ftruncate: " + Errno.name(Posix.errno()));
            }
            byte[] pid = (ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.US_ASCII);
            Posix.MEM.copyMemory(pid, 0, text, pid.length);
            long w = Posix.C.write(fd, text, pid.length);
            if (w != pid.length) {
                throw refused(p, w < 0 ? "write: " + Errno.name(Posix.errno()) : "write: " + w + " of "
                        + pid.length + " bytes");
            }
            keep = true;
            return new BrokerLock(p, fd);
        } finally {
            Posix.MEM.freeMemory(mem, SCRATCH);
            if (!keep && fd >= 0) {
                Posix.C.close(fd); // an OFD lock goes with its own descriptor only
            }
        }
    }

    /**
     * @param mine a {@code struct stat} of the open file
     * @param scratch room for another
     * @return true when {@code name} (not followed) is that file: same device and inode
     */
    private static boolean sameFile(String name, long mine, long scratch) {
        if (Posix.C.lstat(name, scratch) < 0) {
            return false;
        }
        return Posix.MEM.readLong(mine + StatDescriptor.DEV_OFFSET) == Posix.MEM.readLong(scratch
                + StatDescriptor.DEV_OFFSET) && Posix.MEM.readLong(mine + StatDescriptor.INO_OFFSET)
                == Posix.MEM.readLong(scratch + StatDescriptor.INO_OFFSET);
    }

    private static NotificationException refused(Path p, String why) {
        return new NotificationException(NotifyResult.PERMISSION, "cannot lock " + p + ": " + why);
    }

    /**
     * @param fd the lock file, open (a regular file: checked)
     * @param buf {@value #PID_TEXT} bytes of scratch
     * @return the holder's pid as its first line says, digits only (at most {@value #PID_TEXT} bytes read, from
     *         the descriptor: never by the name, which may lead elsewhere by now), or ""
     */
    private static String ownerPid(int fd, long buf) {
        long n = Posix.C.syscall(LibC.SYS_pread64, fd, buf, PID_TEXT, 0, 0);
        StringBuilder b = new StringBuilder();
        for (long i = 0; i < n; i++) {
            byte c = Posix.MEM.readByte(buf + i);
            if (c < '0' || c > '9') {
                break;
            }
            b.append((char) c);
        }
        return b.toString();
    }

    /**
     * Removes the file, if its name still leads to it (someone may have removed it, and another broker made and
     * locked a new one since), then releases the lock (closing its descriptor). Idempotent.
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        long st = Posix.MEM.allocate(2L * StatDescriptor.LENGTH);
        try {
            if (Posix.C.syscall(LibC.SYS_fstat, fd, st, 0, 0, 0) == 0 && sameFile(path.toString(), st,
                    st + StatDescriptor.LENGTH)) {
                Posix.C.unlink(path.toString());
            }
        } finally {
            Posix.MEM.freeMemory(st, 2L * StatDescriptor.LENGTH);
            Posix.C.close(fd);
        }
    }
}
