package io.jqb.libipc.internal;

import io.jqb.Errno;
import io.jqb.IpcException;
import java.nio.charset.StandardCharsets;

/**
 * libipc's socket path rule: {@code <dir> + "/" + <name> + "-" + <index> + "-" + <version>}, where the directory is
 * the environment variable {@code IPC_RUNDIR} when it is set (even empty) and {@code /run/ipc/} otherwise; index and
 * version print as signed decimals, as C's {@code %d}. A JVM cannot change its own environment, so jqb looks, in
 * order, at an explicit directory (the builders' {@code runDirectory}), the system property
 * {@value #PROPERTY}, {@code IPC_RUNDIR}, then {@code /run/ipc/}.
 */
public final class PathRule {
    /** System property naming the run directory (before {@code IPC_RUNDIR}). */
    public static final String PROPERTY = "jqb.libipc.rundir";
    /** The environment variable C libipc reads. */
    public static final String ENV = "IPC_RUNDIR";
    /** libipc's default directory (with its trailing slash, so the path has a double slash, as in C). */
    public static final String DEFAULT_DIR = "/run/ipc/";
    /**
     * Longest socket path: sun_path holds 108 bytes, C libipc would use up to 107 (it does not check, and overflows
     * beyond), the JDK's {@code UnixDomainSocketAddress} binds and connects at most 106.
     */
    public static final int MAX_PATH_BYTES = 106;

    private PathRule() {
    }

    /** @return the run directory: {@code explicit} if not null, else the property, else IPC_RUNDIR, else /run/ipc/ */
    public static String directory(String explicit) {
        if (explicit != null) {
            return explicit;
        }
        String p = System.getProperty(PROPERTY);
        if (p != null) {
            return p;
        }
        String e = System.getenv(ENV);
        return e != null ? e : DEFAULT_DIR;
    }

    /**
     * @return the socket path for a service
     * @throws IpcException ENAMETOOLONG when it does not fit sun_path (107 bytes), EINVAL for an empty name
     */
    public static String socketPath(String operation, String dir, String name, int index, int version) {
        if (name == null || name.isEmpty()) {
            throw new IpcException(operation, Errno.EINVAL, "empty service name");
        }
        String path = dir + "/" + name + "-" + index + "-" + version;
        int bytes = path.getBytes(StandardCharsets.UTF_8).length;
        if (bytes > MAX_PATH_BYTES) {
            throw new IpcException(operation, Errno.ENAMETOOLONG, "socket path " + path + " is " + bytes
                    + " bytes; a unix socket path holds at most " + MAX_PATH_BYTES);
        }
        return path;
    }
}
