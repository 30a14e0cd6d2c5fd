package io.jqb.notify.internal;

import io.jqb.notify.NotificationException;
import io.jqb.notify.NotifyResult;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The one-broker-per-service lock: an exclusive lock on {@code <dir>/jqb-notify-<service>.lock} (dir: system
 * property {@code jqb.notify.lockDir}, default {@code /tmp}) holding the owner's pid. The kernel releases it when the
 * broker dies, so a killed broker never blocks its successor. The directory is world-writable by default, so the
 * file is opened without following a symbolic link (O_NOFOLLOW): a link planted there by another user is refused,
 * never written through (a broker run as root would otherwise truncate the file it points to).
 *
 * <p>Within one JVM the lock file is opened once per path: a second broker of the same JVM is refused before it
 * opens the file. (Java's file locks are the process's POSIX locks, which the kernel drops when any descriptor of
 * the file is closed, so a second channel opened and closed would release the first broker's lock; and the JDK
 * refuses a second lock of a file it already locks with an unchecked OverlappingFileLockException.)</p>
 */
public final class BrokerLock implements AutoCloseable {
    private final Path path;
    private final Path key;
    private final FileChannel channel;
    private final FileLock lock;

    private BrokerLock(Path path, Path key, FileChannel channel, FileLock lock) {
        this.path = path;
        this.key = key;
        this.channel = channel;
        this.lock = lock;
    }

    /** @return the lock file of {@code service} */
    public static Path pathFor(String service) {
        return Path.of(System.getProperty("jqb.notify.lockDir", "/tmp"), "jqb-notify-" + service + ".lock");
    }

    /** Lock files held by this JVM (absolute paths): each is opened by one channel only. */
    private static final Set<Path> HELD = ConcurrentHashMap.newKeySet();

    /** @throws NotificationException PERMISSION when another broker holds it or the file cannot be made */
    public static BrokerLock acquire(String service) {
        Path p = pathFor(service);
        Path key = p.toAbsolutePath().normalize();
        if (!HELD.add(key)) {
            throw new NotificationException(NotifyResult.PERMISSION, "another notification broker for service '"
                    + service + "' is running (pid " + ProcessHandle.current().pid() + ", lock " + p + ")");
        }
        try {
            return open(service, p, key);
        } catch (RuntimeException | Error e) {
            HELD.remove(key);
            throw e;
        }
    }

    private static BrokerLock open(String service, Path p, Path key) {
        FileChannel ch = null;
        try {
            if (Files.isSymbolicLink(p)) {
                throw new NotificationException(NotifyResult.PERMISSION, "cannot lock " + p
                        + ": open: ELOOP (it is a symbolic link; a lock file is never followed)");
            }
            ch = FileChannel.open(p, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.READ,
                    LinkOption.NOFOLLOW_LINKS);
            FileLock l = ch.tryLock();
            if (l == null) {
                String owner = new String(Files.readAllBytes(p), StandardCharsets.US_ASCII).strip();
                ch.close();
                throw new NotificationException(NotifyResult.PERMISSION, "another notification broker for service '"
                        + service + "' is running (pid " + (owner.isEmpty() ? "?" : owner) + ", lock " + p + ")");
            }
            ch.truncate(0);
            ch.write(ByteBuffer.wrap((ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.US_ASCII)), 0);
            return new BrokerLock(p, key, ch, l);
        } catch (IOException e) {
            try {
                if (ch != null) {
                    ch.close();
                }
            } catch (IOException ignored) {
                // already failing
            }
            throw new NotificationException(NotifyResult.PERMISSION, "cannot lock " + p + ": " + e, e);
        }
    }

    private boolean closed;

    @Override
    public synchronized void close() {
        if (closed) {
            return; // a second close must not give back a key a newer broker of this JVM holds
        }
        closed = true;
        try {
            Files.deleteIfExists(path);
            lock.release();
            channel.close();
        } catch (IOException e) {
            // the kernel drops the lock with the fd anyway
        } finally {
            HELD.remove(key);
        }
    }
}
