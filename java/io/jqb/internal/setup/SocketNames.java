package io.jqb.internal.setup;

import io.jqb.IpcException;
import io.jqb.internal.posix.LibC;
import io.jqb.internal.posix.Posix;
import java.lang.ref.Reference;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * Where a service's listening socket lives, decided as libqb decides: in the abstract namespace, unless the
 * force-filesystem-sockets file exists, then at {@code SOCKETDIR/<name>} (Debian's libqb: {@code /tmp}).
 *
 * <p>System properties (for tests and unusual hosts): {@code jqb.forceFilesystemSocketsFile} (default
 * {@code /etc/libqb/force-filesystem-sockets}) and {@code jqb.socketDir} (default {@code /tmp}). libqb checks the
 * file once per process; jqb checks it each time a service starts or a client connects, so a long-running process
 * follows the host's setting. That check is one {@code access(path, F_OK)} system call (what {@code Files.exists}
 * makes too) on the path encoded once per property value, so a connect pays no path parsing, encoding or
 * allocation for it.</p>
 */
public final class SocketNames {
    public static final String FORCE_FILE_PROPERTY = "jqb.forceFilesystemSocketsFile";
    public static final String SOCKET_DIR_PROPERTY = "jqb.socketDir";
    public static final String DEFAULT_FORCE_FILE = "/etc/libqb/force-filesystem-sockets";
    public static final String DEFAULT_SOCKET_DIR = "/tmp";

    /** The switch file's path as last read from the property, and that path NUL-terminated in native memory. */
    private static final class SwitchFile {
        final String path;
        /** Direct, so the GC frees it once no thread uses this SwitchFile any more (no explicit free to race with). */
        final ByteBuffer cPath;
        final long address;

        SwitchFile(String path) {
            this.path = path;
            // "" names the current directory, as Path.of("") does for Files.exists (which this check replaced).
            byte[] b = (path.isEmpty() ? "." : path).getBytes(StandardCharsets.UTF_8);
            this.cPath = ByteBuffer.allocateDirect(b.length + 1);
            cPath.put(0, b);
            this.address = Posix.bufferAddress(cPath);
        }
    }

    private static volatile SwitchFile switchFile;

    private SocketNames() {
    }

    /** @return true when services and clients must use filesystem sockets (the switch file exists now) */
    public static boolean filesystemMode() {
        String path = System.getProperty(FORCE_FILE_PROPERTY, DEFAULT_FORCE_FILE);
        SwitchFile f = switchFile;
        if (f == null || !f.path.equals(path)) {
            f = new SwitchFile(path);
            switchFile = f;
        }
        try {
            // Files.exists: access(F_OK) follows symlinks, any failure (ENOENT, EACCES on a directory) is "no".
            return Posix.C.syscall(LibC.SYS_access, f.address, LibC.F_OK, 0, 0, 0) == 0;
        } finally {
            Reference.reachabilityFence(f);
        }
    }

    /** @return the directory filesystem sockets live in */
    public static String socketDir() {
        return System.getProperty(SOCKET_DIR_PROPERTY, DEFAULT_SOCKET_DIR);
    }

    /** The address a service named {@code name} listens on (and clients connect to). */
    public static UnixSocket.Address serviceAddress(String name, boolean filesystem) throws IpcException {
        return filesystem ? UnixSocket.filesystemAddress(socketDir() + "/" + name) : UnixSocket.abstractAddress(name);
    }
}
