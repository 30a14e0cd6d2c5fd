package io.jqb.libipc.internal;

import io.jqb.Errno;
import io.jqb.IpcException;
import io.jqb.internal.socket.SocketFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

/**
 * What a libipc server does with the file system around its socket before it binds: create the run directory, and
 * take over an existing socket file only when it is stale (nobody answers, see {@link SocketFiles#probe}); a live one
 * or a file that is not a socket is refused. At close the server removes only its own socket:
 * {@link SocketFiles#removeIfSame}.
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
        try {
            Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        } catch (java.nio.file.NoSuchFileException e) {
            return;
        } catch (IOException e) {
            throw Errors.of(operation + ": stat " + path, e);
        }
        if (!SocketFiles.isSocketFile(path)) {
            throw new IpcException(operation, Errno.EEXIST, path + " exists and is not a socket; not removing it");
        }
        int probe = SocketFiles.probe(path);
        if (probe == 0 || probe == Errno.EAGAIN) {
            // EAGAIN: a listener is bound there and its backlog is full: alive, only busy
            throw new IpcException(operation, Errno.EADDRINUSE, "a live server answers on " + path
                    + (probe == 0 ? "" : " (its backlog is full)") + "; not taking its socket over");
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
}
