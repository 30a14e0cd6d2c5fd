package io.jqb.internal.server;

import io.jqb.IpcException;
import io.jqb.internal.posix.DirectoryFiles;
import io.jqb.internal.posix.Posix;
import java.nio.charset.StandardCharsets;

/** The per-connection directory {@code /dev/shm/qb-<serverpid>-<clientpid>-<fd>-XXXXXX}. */
public final class ShmDirectory {
    /** Where libqb puts SHM files on Linux. */
    public static final String SHM_ROOT = "/dev/shm";

    private static final byte[] PREFIX = (SHM_ROOT + "/qb-").getBytes(StandardCharsets.US_ASCII);
    private static final byte[] SUFFIX = "-XXXXXX".getBytes(StandardCharsets.US_ASCII);
    /** The prefix, three ints of at most 11 characters with two dashes, the suffix. */
    private static final int TEMPLATE_MAX = PREFIX.length + 3 * 11 + 2 + SUFFIX.length;

    private ShmDirectory() {
    }

    /**
     * Makes the directory with mkdtemp semantics (unique, 0700, fails rather than reuse anything); then
     * {@link #chown(String, int, int, int)} gives it mode 0770 and the client as owner, as libqb does.
     */
    public static String create(int serverPid, int clientPid, int fd) throws IpcException {
        // The template is written into one array (no template string, no encoded copy: a connect makes this once).
        byte[] t = new byte[TEMPLATE_MAX];
        int n = put(t, 0, PREFIX);
        n = putInt(t, n, serverPid);
        t[n++] = '-';
        n = putInt(t, n, clientPid);
        t[n++] = '-';
        n = putInt(t, n, fd);
        n = put(t, n, SUFFIX);
        long buf = Posix.allocate(n + 1);
        try {
            Posix.MEM.copyMemory(t, 0, buf, n);
            if (Posix.C.mkdtemp(buf) == 0) {
                throw IpcException.of("mkdtemp(" + new String(t, 0, n, StandardCharsets.US_ASCII) + ")",
                        Posix.errno(), null);
            }
            Posix.readBytes(buf, t, 0, n);
        } finally {
            Posix.free(buf, n + 1);
        }
        return new String(t, 0, n, StandardCharsets.US_ASCII);
    }

    private static int put(byte[] t, int at, byte[] what) {
        System.arraycopy(what, 0, t, at, what.length);
        return at + what.length;
    }

    /** Writes {@code v} in decimal (as {@code Integer.toString}) at {@code at}; @return the index after it. */
    private static int putInt(byte[] t, int at, int v) {
        long x = v;
        if (x < 0) {
            t[at++] = '-';
            x = -x;
        }
        int digits = 1;
        for (long p = 10; p <= x; p *= 10) {
            digits++;
        }
        for (int i = at + digits - 1; i >= at; i--) {
            t[i] = (byte) ('0' + x % 10);
            x /= 10;
        }
        return at + digits;
    }

    /**
     * chmod {@code mode} and chown to {@code uid}/{@code gid}; errors ignored (a server that is not root cannot
     * chown), as libqb does.
     *
     * @param mode the permission bits, -1 to keep
     */
    public static void chown(String dir, int uid, int gid, int mode) {
        DirectoryFiles.chownDirectory(dir, uid, gid, mode);
    }

    /**
     * Sets the owner again (after accept may have called auth_set); errors ignored. Through an fd opened with
     * O_NOFOLLOW: the client owns the directory by now and may have swapped a symlink in for it, which a path-based
     * chown would follow (a root server would chown the link's target).
     */
    public static void chown(String dir, int uid, int gid) {
        DirectoryFiles.chownDirectory(dir, uid, gid, -1);
    }

    /** Removes the (now empty) directory; errors ignored. */
    public static void remove(String dir) {
        if (dir != null) {
            Posix.C.rmdir(dir);
        }
    }
}
