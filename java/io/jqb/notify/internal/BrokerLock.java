package io.jqb.notify.internal;

import io.jqb.Errno;
import io.jqb.internal.posix.LibC;
import io.jqb.internal.posix.Posix;
import io.jqb.internal.wire.FlockDescriptor;
import io.jqb.internal.wire.StatDescriptor;
import io.jqb.notify.NotificationException;
import io.jqb.notify.NotifyResult;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
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
    private static final long SYS_FCNTL = 72;
    private static final long SYS_FSTAT = 5;
    private static final int F_OFD_SETLK = 37;
    private static final int ELOOP = 40;
    /** Attempts when the file keeps being removed or replaced as it is locked (each one a broker stopping). */
    private static final int ATTEMPTS = 3;

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
        int fd = Posix.C.open(name, LibC.O_RDWR | LibC.O_CREAT | LibC.O_NOFOLLOW | LibC.O_CLOEXEC | LibC.O_NONBLOCK
                | LibC.O_NOCTTY, 0644);
        if (fd < 0) {
            int e = Posix.errno();
            throw refused(p, "open: " + Errno.name(e)
                    + (e == ELOOP ? " (it is a symbolic link; a lock file is never followed)" : ""));
        }
        boolean keep = false;
        long mem = Posix.MEM.allocate(FlockDescriptor.LENGTH + 2L * StatDescriptor.LENGTH);
        try {
            long fl = mem;
            Posix.MEM.setMemory(fl, FlockDescriptor.LENGTH, (byte) 0);
            Posix.MEM.writeShort(fl + FlockDescriptor.TYPE_OFFSET, FlockDescriptor.F_WRLCK);
            Posix.MEM.writeShort(fl + FlockDescriptor.WHENCE_OFFSET, FlockDescriptor.SEEK_SET);
            // l_start 0, l_len 0: the whole file, as FileChannel.tryLock(); l_pid must be 0 for OFD locks
            if (Posix.C.syscall(SYS_FCNTL, fd, F_OFD_SETLK, fl, 0, 0, 0) < 0) {
                int e = Posix.errno();
                if (e == Errno.EAGAIN || e == Errno.EACCES) {
                    String owner = ownerPid(p);
                    throw new NotificationException(NotifyResult.PERMISSION, "another notification broker for "
                            + "service '" + service + "' is running (pid " + (owner.isEmpty() ? "?" : owner)
                            + ", lock " + p + ")");
                }
                throw refused(p, "fcntl(F_OFD_SETLK): " + Errno.name(e));
            }
            long mine = fl + FlockDescriptor.LENGTH;
            long named = mine + StatDescriptor.LENGTH;
            if (Posix.C.syscall(SYS_FSTAT, fd, mine, 0, 0, 0, 0) < 0) {
                throw refused(p, "fstat: " + Errno.name(Posix.errno()));
            }
            int mode = Posix.MEM.readInt(mine + StatDescriptor.MODE_OFFSET);
            if (!StatDescriptor.isRegular(mode)) {
                throw refused(p, "not a regular file");
            }
            if (Posix.C.lstat(name, named) < 0) {
                int e = Posix.errno();
                if (e == Errno.ENOENT) {
                    return null; // removed by a broker stopping after we opened it
                }
                throw refused(p, "lstat: " + Errno.name(e));
            }
            if (Posix.MEM.readLong(mine + StatDescriptor.DEV_OFFSET) != Posix.MEM.readLong(named
                    + StatDescriptor.DEV_OFFSET) || Posix.MEM.readLong(mine + StatDescriptor.INO_OFFSET)
                    != Posix.MEM.readLong(named + StatDescriptor.INO_OFFSET)) {
                return null; // the name leads to another file now: ours has none
            }
            if (Posix.MEM.readLong(mine + StatDescriptor.NLINK_OFFSET) != 1) {
                throw refused(p, "the file has other names (hard links); a lock file is never shared");
            }
            byte[] pid = (ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.US_ASCII);
            if (Posix.C.ftruncate(fd, 0) < 0) {
                throw refused(p, "ftruncate: " + Errno.name(Posix.errno()));
            }
            Posix.MEM.copyMemory(pid, 0, named, pid.length); // the stat buffer is done with: reused for the pid
            if (Posix.C.write(fd, named, pid.length) != pid.length) {
                throw refused(p, "write: " + Errno.name(Posix.errno()));
            }
            keep = true;
            return new BrokerLock(p, fd);
        } finally {
            Posix.MEM.freeMemory(mem, FlockDescriptor.LENGTH + 2L * StatDescriptor.LENGTH);
            if (!keep) {
                Posix.C.close(fd); // an OFD lock goes with its own descriptor only
            }
        }
    }

    private static NotificationException refused(Path p, String why) {
        return new NotificationException(NotifyResult.PERMISSION, "cannot lock " + p + ": " + why);
    }

    /** @return the first line of the lock file (its holder's pid), or "" */
    private static String ownerPid(Path p) {
        try {
            String text = new String(Files.readAllBytes(p), StandardCharsets.US_ASCII);
            int nl = text.indexOf('\n');
            return (nl < 0 ? text : text.substring(0, nl)).strip();
        } catch (IOException e) {
            return "";
        }
    }

    /** Removes the file, then releases the lock (closing its descriptor). Idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        Posix.C.unlink(path.toString());
        Posix.C.close(fd);
    }
}
