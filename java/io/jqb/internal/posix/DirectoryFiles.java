package io.jqb.internal.posix;

/**
 * File operations inside a connection directory that never follow a symlink in place of that directory.
 *
 * <p>A connection directory belongs to the client (libqb chowns it so), and /dev/shm is sticky, so the client may
 * rename its directory and put a symlink to any directory in its place. Paths resolved through it would let a
 * privileged server create, chown or delete files wherever the client likes. These helpers open the directory with
 * {@code O_DIRECTORY|O_NOFOLLOW} and work relative to that fd ({@code openat}, {@code unlinkat}, {@code fchown}): a
 * swapped-in symlink fails with ELOOP; a swapped-in real directory can only be another directory of the same
 * tmpfs.</p>
 */
public final class DirectoryFiles {
    private DirectoryFiles() {
    }

    private static int openDirectory(String dir) {
        int fd = Posix.C.open(dir, LibC.O_RDONLY | LibC.O_DIRECTORY | LibC.O_NOFOLLOW | LibC.O_CLOEXEC, 0);
        return fd >= 0 ? fd : -Posix.errno();
    }

    private static String parent(String path) {
        int i = path.lastIndexOf('/');
        return i <= 0 ? "/" : path.substring(0, i);
    }

    private static String name(String path) {
        return path.substring(path.lastIndexOf('/') + 1);
    }

    /**
     * Creates {@code path} with {@code O_RDWR|O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC} and {@code mode}, its parent
     * directory opened without following a symlink.
     *
     * @return the new fd, or a negated errno (EEXIST when anything, a symlink included, is in the way; ELOOP when the
     *         parent is a symlink)
     */
    public static int createExclusive(String path, int mode) {
        int dfd = openDirectory(parent(path));
        if (dfd < 0) {
            return dfd;
        }
        try {
            int fd = Posix.C.openat(dfd, name(path), LibC.O_RDWR | LibC.O_CREAT | LibC.O_EXCL | LibC.O_NOFOLLOW
                    | LibC.O_CLOEXEC, mode);
            return fd >= 0 ? fd : -Posix.errno();
        } finally {
            Posix.C.close(dfd);
        }
    }

    /** Removes {@code path} (never through a symlinked parent). @return 0 or a negated errno */
    public static int unlink(String path) {
        int dfd = openDirectory(parent(path));
        if (dfd < 0) {
            return dfd;
        }
        try {
            return Posix.C.unlinkat(dfd, name(path), 0) == 0 ? 0 : -Posix.errno();
        } finally {
            Posix.C.close(dfd);
        }
    }

    /**
     * chown and/or chmod of a directory itself, through an fd opened without following a symlink.
     *
     * @param uid -1 to keep
     * @param gid -1 to keep
     * @param mode -1 to keep
     * @return 0, or the first negated errno
     */
    public static int chownDirectory(String dir, int uid, int gid, int mode) {
        int dfd = openDirectory(dir);
        if (dfd < 0) {
            return dfd;
        }
        try {
            int rc = 0;
            if (mode >= 0 && Posix.C.fchmod(dfd, mode) < 0) {
                rc = -Posix.errno();
            }
            if ((uid != -1 || gid != -1) && Posix.C.fchown(dfd, uid, gid) < 0 && rc == 0) {
                rc = -Posix.errno();
            }
            return rc;
        } finally {
            Posix.C.close(dfd);
        }
    }
}
