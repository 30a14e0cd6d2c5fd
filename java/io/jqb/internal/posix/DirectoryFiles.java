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
 *
 * <p>A connection's set-up creates six files and sets the directory's mode and owner, its teardown removes six:
 * opening the directory for each would cost two system calls more per file than libqb (which works by path). Inside
 * {@link #hold(String)}, the helpers on that thread that work in the held directory use its one fd instead.</p>
 */
public final class DirectoryFiles {
    /** The directory {@link #hold} keeps open on this thread (innermost), else null. */
    private static final ThreadLocal<Held> HELD = new ThreadLocal<>();

    private DirectoryFiles() {
    }

    /**
     * A directory kept open on one thread for a batch of operations in it; {@link #close()} ends the batch. Opened
     * like every other use here ({@code O_DIRECTORY|O_NOFOLLOW}), so the batch works in the directory that was at
     * the path when it began (hold a new connection directory right after {@code mkdtemp}, before the client owns
     * it, and every later step works in the directory the server made, whatever the client renames).
     */
    public static final class Held implements AutoCloseable {
        private final String path;
        private final int fd;
        /** The directory was not there (ENOENT): nothing in it can be created or removed either. */
        private final boolean gone;
        private final Held outer;
        private boolean closed;

        private Held(String path, int fd, boolean gone, Held outer) {
            this.path = path;
            this.fd = fd;
            this.gone = gone;
            this.outer = outer;
        }

        /**
         * @return true when the directory did not exist when the batch began (a libqb client removes its connection
         *         directory when it disconnects, before the server's teardown): the batch's file operations in it
         *         then return ENOENT without a system call, and there is no directory left to remove
         */
        public boolean gone() {
            return gone;
        }

        /** Closes the directory fd and ends the batch on this thread. Idempotent. */
        @Override
        public void close() {
            if (closed) {
                return;
            }
            closed = true;
            if (fd >= 0) {
                Posix.C.close(fd);
            }
            if (HELD.get() == this) {
                HELD.set(outer); // set(null), not remove(): the thread's entry stays, so the next hold makes none
            }
        }
    }

    /**
     * Keeps {@code dir} open on this thread until the returned scope is closed. When it cannot be opened (or is
     * null), the helpers open it per call as without the scope, and report the error there.
     *
     * @param dir the directory, or null (a scope that holds nothing)
     * @return the scope: close it on the same thread (try-with-resources)
     */
    public static Held hold(String dir) {
        int fd = dir == null ? -1 : Posix.C.open(dir, LibC.O_RDONLY | LibC.O_DIRECTORY | LibC.O_NOFOLLOW
                | LibC.O_CLOEXEC, 0);
        boolean gone = fd < 0 && dir != null && Posix.errno() == io.jqb.Errno.ENOENT;
        Held h = new Held(dir, fd, gone, HELD.get());
        if (fd >= 0 || gone) {
            HELD.set(h);
        }
        return h;
    }

    /** @return the held fd of {@code dir} on this thread, else -1 (also when the held directory is gone) */
    private static int held(String dir) {
        Held h = HELD.get();
        return h != null && h.path.equals(dir) ? h.fd : -1;
    }

    /** {@link #heldParent}: the held directory is {@code path}'s parent and it is gone. */
    private static final int GONE = Integer.MIN_VALUE;

    /** @return an fd of {@code dir} (the held one, or a new one {@link #done} closes), or a negated errno */
    private static int openDirectory(String dir) {
        int held = held(dir);
        if (held >= 0) {
            return held;
        }
        int fd = Posix.C.open(dir, LibC.O_RDONLY | LibC.O_DIRECTORY | LibC.O_NOFOLLOW | LibC.O_CLOEXEC, 0);
        return fd >= 0 ? fd : -Posix.errno();
    }

    /** Closes {@code dfd} from {@link #openDirectory} unless it is the held one. */
    private static void done(int dfd, String dir) {
        if (dfd != held(dir)) {
            Posix.C.close(dfd);
        }
    }

    /**
     * @return the held fd on this thread when it is {@code path}'s parent directory, {@link #GONE} when that
     *         directory is gone, else -1; makes no substring (a connection's set-up and teardown each work on a
     *         file in the held directory)
     */
    private static int heldParent(String path) {
        Held h = HELD.get();
        if (h == null) {
            return -1;
        }
        int i = path.lastIndexOf('/');
        if (i <= 0 || i != h.path.length() || !path.startsWith(h.path)) {
            return -1;
        }
        return h.gone ? GONE : h.fd;
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
        int held = heldParent(path);
        return createAt(held, held == -1 ? parent(path) : null, name(path), mode);
    }

    /**
     * {@link #createExclusive(String, int)} of {@code name} in {@code dir}, without the path string: a SOCKET
     * connection's control file (its name is the same for every connection of a service).
     *
     * @return the new fd, or a negated errno
     */
    public static int createExclusive(String dir, String name, int mode) {
        return createAt(heldDirectory(dir), dir, name, mode);
    }

    /**
     * The create of both forms: {@code held} is the held directory's fd ({@link #GONE} when it is gone) or -1, and
     * then {@code dir} is opened for the call.
     */
    private static int createAt(int held, String dir, String name, int mode) {
        if (held == GONE) {
            return -io.jqb.Errno.ENOENT;
        }
        int dfd = held >= 0 ? held : openDirectory(dir);
        if (dfd < 0) {
            return dfd;
        }
        try {
            int fd = Posix.C.openat(dfd, name, LibC.O_RDWR | LibC.O_CREAT | LibC.O_EXCL | LibC.O_NOFOLLOW
                    | LibC.O_CLOEXEC, mode);
            return fd >= 0 ? fd : -Posix.errno();
        } finally {
            if (held < 0) {
                done(dfd, dir);
            }
        }
    }

    /** {@link #unlink(String)} of {@code name} in {@code dir}, without the path string. @return 0 or a negated errno */
    public static int unlink(String dir, String name) {
        return unlinkAt(heldDirectory(dir), dir, name);
    }

    /** The unlink of both forms; {@code held} and {@code dir} as for {@link #createAt}. */
    private static int unlinkAt(int held, String dir, String name) {
        if (held == GONE) {
            return -io.jqb.Errno.ENOENT;
        }
        int dfd = held >= 0 ? held : openDirectory(dir);
        if (dfd < 0) {
            return dfd;
        }
        try {
            return Posix.C.unlinkat(dfd, name, 0) == 0 ? 0 : -Posix.errno();
        } finally {
            if (held < 0) {
                done(dfd, dir);
            }
        }
    }

    /** @return the held fd on this thread when it is {@code dir}, {@link #GONE} when that directory is gone, else -1 */
    private static int heldDirectory(String dir) {
        Held h = HELD.get();
        if (h == null || !dir.equals(h.path)) {
            return -1;
        }
        return h.gone ? GONE : h.fd;
    }

    /** Removes {@code path} (never through a symlinked parent). @return 0 or a negated errno */
    public static int unlink(String path) {
        int held = heldParent(path);
        return unlinkAt(held, held == -1 ? parent(path) : null, name(path));
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
            done(dfd, dir);
        }
    }
}
