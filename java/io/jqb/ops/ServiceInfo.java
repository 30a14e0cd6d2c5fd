package io.jqb.ops;

import java.util.List;

/**
 * One libqb IPC service: a listening socket with libqb's addressing, or (when no such socket was found) the
 * connections of a live server process that name the service.
 *
 * @param name the service name clients connect to
 * @param address how {@code /proc/net/unix} shows the socket: {@code @name} (abstract, shown without libqb's NUL
 *        padding) or the filesystem path; null when no listening socket was found
 * @param inode the listening socket's inode, 0 when none was found
 * @param serverPid the server's pid, 0 when unknown (the socket's owner could not be read and no connection shows it)
 * @param serverCommand the server's command line (or {@code [comm]}), null when unknown
 * @param transport the transport of its connections; UNKNOWN without connections (libqb's listening socket does not
 *        tell: only a connection would)
 * @param connections the live connections
 * @param problems what could not be read, one phrase each
 */
public record ServiceInfo(String name, String address, long inode, int serverPid, String serverCommand,
        Transport transport, List<ConnectionInfo> connections, List<String> problems) {
}
