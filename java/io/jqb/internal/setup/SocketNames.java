package io.jqb.internal.setup;

import io.jqb.IpcException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where a service's listening socket lives, decided as libqb decides: in the abstract namespace, unless the
 * force-filesystem-sockets file exists, then at {@code SOCKETDIR/<name>} (Debian's libqb: {@code /tmp}).
 *
 * <p>System properties (for tests and unusual hosts): {@code jqb.forceFilesystemSocketsFile} (default
 * {@code /etc/libqb/force-filesystem-sockets}) and {@code jqb.socketDir} (default {@code /tmp}). libqb checks the
 * file once per process; jqb checks it each time a service starts or a client connects, so a long-running process
 * follows the host's setting.</p>
 */
public final class SocketNames {
    public static final String FORCE_FILE_PROPERTY = "jqb.forceFilesystemSocketsFile";
    public static final String SOCKET_DIR_PROPERTY = "jqb.socketDir";
    public static final String DEFAULT_FORCE_FILE = "/etc/libqb/force-filesystem-sockets";
    public static final String DEFAULT_SOCKET_DIR = "/tmp";

    private SocketNames() {
    }

    /** @return true when services and clients must use filesystem sockets */
    public static boolean filesystemMode() {
        return Files.exists(Path.of(System.getProperty(FORCE_FILE_PROPERTY, DEFAULT_FORCE_FILE)));
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
