package io.jqb.libipc.internal;

import io.jqb.Errno;
import io.jqb.IpcException;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

/**
 * What a server does with the file system around its socket: create the run directory, decide whether an existing
 * socket file is stale (nobody answers) or live (somebody does), and remove only its own socket at close.
 */
public final class SocketFile {
    /** Mode of the run directories jqb creates: rwxr-xr-x, so other users' clients can reach the socket. */
    public static final Set<PosixFilePermission> RUN_DIR_MODE = PosixFilePermissions.fromString("rwxr-xr-x");

    private SocketFile() {
    }

    /**
     * Creates {@code dir} and its missing parents with mode 0755 each (set explicitly, whatever the umask).
     *
     * @throws IpcException when a directory cannot be made
     */
    public static void ensureDirectory(String operation, Path dir) {
        if (Files.isDirectory(dir)) {
            return;
        }
        Path parent = dir.toAbsolutePath().getParent();
        if (parent != null) {
            ensureDirectory(operation, parent);
        }
        try {
            Files.createDirectory(dir);
            Files.setPosixFilePermissions(dir, RUN_DIR_MODE);
        } catch (java.nio.file.FileAlreadyExistsException e) {
            if (!Files.isDirectory(dir)) {
                throw new IpcException(operation, Errno.EEXIST, dir + " exists and is not a directory");
            }
        } catch (IOException e) {
            throw Errors.of(operation + ": creating run directory " + dir, e);
        }
    }

    /**
     * Makes {@code path} free for a new server: nothing there is fine; a socket nobody answers on (stale, left by a
     * crash) is removed; a socket somebody answers on (a live server) and anything that is not a socket are refused.
     *
     * @throws IpcException EADDRINUSE when a live server answers, EEXIST for a non-socket file
     */
    public static void claim(String operation, Path path) {
        BasicFileAttributes a;
        try {
            a = Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        } catch (java.nio.file.NoSuchFileException e) {
            return;
        } catch (IOException e) {
            throw Errors.of(operation + ": stat " + path, e);
        }
        if (!a.isOther()) {
            throw new IpcException(operation, Errno.EEXIST, path + " exists and is not a socket; not removing it");
        }
        int probe = probe(path);
        if (probe == 0) {
            throw new IpcException(operation, Errno.EADDRINUSE, "a live server answers on " + path
                    + "; not taking its socket over");
        }
        if (probe != Errno.ECONNREFUSED && probe != Errno.ENOENT) {
            throw new IpcException(operation, probe, "cannot tell whether a server still answers on " + path
                    + "; not removing it");
        }
        try {
            Files.deleteIfExists(path);
        } catch (IOException e) {
            throw Errors.of(operation + ": removing stale socket " + path, e);
        }
    }

    /**
     * Connects to {@code path} and closes the probe connection at once, unused.
     *
     * @return 0 when somebody answers, else the errno of the failed connect (ECONNREFUSED: a stale socket)
     */
    public static int probe(Path path) {
        try (SocketChannel probe = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            probe.connect(UnixDomainSocketAddress.of(path));
            return 0;
        } catch (IOException e) {
            return Errors.errno(e);
        }
    }

    /** @return the file key (device + inode) of {@code path}, or null when it is gone */
    public static Object fileKey(Path path) {
        try {
            return Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).fileKey();
        } catch (IOException e) {
            return null;
        }
    }

    /** Removes {@code path} if it is still the file {@code key} names (another server's socket is left alone). */
    public static void removeIfSame(Path path, Object key) {
        Object now = fileKey(path);
        if (now != null && now.equals(key)) {
            try {
                Files.deleteIfExists(path);
            } catch (IOException e) {
                // best effort at close: nothing a caller could do
            }
        }
    }
}
