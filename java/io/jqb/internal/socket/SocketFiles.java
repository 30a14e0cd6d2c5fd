package io.jqb.internal.socket;

import io.jqb.Errno;
import io.jqb.IpcException;
import io.jqb.internal.posix.Posix;
import io.jqb.internal.setup.UnixSocket;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;

/**
 * A listener's socket file in the file system, for every family that listens on a path (the stream layer's
 * {@code PipeIpc}, the libipc server): whether a socket file left there is stale (nobody answers), and removing only
 * the listener's own file at close. A path can outlive its listener's claim to it: somebody unlinks the file and
 * another listener binds the same path, and the first one's close must not remove the second one's socket. So a
 * listener records the file's key (device + inode) right after it bound, and removes the path at close only if it is
 * still that file.
 */
public final class SocketFiles {
    /** The file-type bits of st_mode, and the type of a socket (sys/stat.h). */
    private static final int S_IFMT = 0170000;
    private static final int S_IFSOCK = 0140000;

    private SocketFiles() {
    }

    /**
     * Connects to {@code path} (non-blocking, native: the errno is the kernel's, not a guess from the JDK's text)
     * and closes the probe connection at once, unused.
     *
     * @return 0 when somebody answers, else the errno of the failed connect (ECONNREFUSED: nobody listens there;
     *         ENOENT: no file; EAGAIN: a listener whose backlog is full)
     */
    public static int probe(Path path) {
        try (UnixSocket.Address a = UnixSocket.filesystemAddress(path.toString())) {
            Posix.closeQuietly(UnixSocket.connect(a, path.toString()));
            return 0;
        } catch (IpcException e) {
            return e.errno();
        }
    }

    /** @return true when {@code path} is a socket file (not followed if a link) and nobody listens on it */
    public static boolean isStale(Path path) {
        return isSocketFile(path) && probe(path) == Errno.ECONNREFUSED;
    }

    /**
     * @return true when {@code path} itself (not a link's target) is a socket: not a FIFO or a device node, which
     *         connect(2) also answers with ECONNREFUSED, so that they would pass for stale sockets
     */
    public static boolean isSocketFile(Path path) {
        try {
            Object mode = Files.getAttribute(path, "unix:mode", LinkOption.NOFOLLOW_LINKS);
            return mode instanceof Integer m && (m & S_IFMT) == S_IFSOCK;
        } catch (IOException | UnsupportedOperationException e) {
            return false;
        }
    }

    /** @return the file key (device + inode) of {@code path} (not followed if a link), or null when it is gone */
    public static Object fileKey(Path path) {
        try {
            return Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).fileKey();
        } catch (IOException e) {
            return null;
        }
    }

    /**
     * Removes {@code path} if it is still the file {@code key} names: a file put there since (another listener's
     * socket) is left alone. Best effort, for a close: nothing a caller could do about a failure.
     *
     * @param key what {@link #fileKey} returned right after the listener bound (null: remove nothing)
     */
    public static void removeIfSame(Path path, Object key) {
        Object now = fileKey(path);
        if (now != null && now.equals(key)) {
            try {
                Files.deleteIfExists(path);
            } catch (IOException e) {
                // at close: the file stays, as it would after a crash; the next listener finds it stale
            }
        }
    }
}
