package io.jqb.internal.server;

import io.jqb.IpcException;
import io.jqb.internal.posix.DirectoryFiles;
import io.jqb.internal.posix.Posix;
import java.nio.charset.StandardCharsets;

/** The per-connection directory {@code /dev/shm/qb-<serverpid>-<clientpid>-<fd>-XXXXXX}. */
public final class ShmDirectory {
    /** Where libqb puts SHM files on Linux. */
    public static final String SHM_ROOT = "/dev/shm";

    private ShmDirectory() {
    }

    /**
     * Makes the directory with mkdtemp semantics (unique, 0700, fails rather than reuse anything); then
     * {@link #chown(String, int, int, int)} gives it mode 0770 and the client as owner, as libqb does.
     */
    public static String create(int serverPid, int clientPid, int fd) throws IpcException {
        String template = SHM_ROOT + "/qb-" + serverPid + "-" + clientPid + "-" + fd + "-XXXXXX";
        byte[] t = template.getBytes(StandardCharsets.US_ASCII);
        long buf = Posix.allocate(t.length + 1);
        try {
            Posix.MEM.copyMemory(t, 0, buf, t.length);
            if (Posix.C.mkdtemp(buf) == 0) {
                throw IpcException.of("mkdtemp(" + template + ")", Posix.errno(), null);
            }
            Posix.readBytes(buf, t, 0, t.length);
        } finally {
            Posix.free(buf, t.length + 1);
        }
        return new String(t, StandardCharsets.US_ASCII);
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
