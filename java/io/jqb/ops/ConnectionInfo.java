package io.jqb.ops;

import java.util.List;

/**
 * One connection of a libqb service, found through its directory {@code /dev/shm/qb-<spid>-<cpid>-<fd>-XXXXXX}.
 *
 * @param service the service name from the ring/control file names, null when the directory was unreadable
 * @param serverPid the server's pid (from the directory name)
 * @param clientPid the client's pid (from the directory name: the pid in its credentials)
 * @param clientCommand the client's command line (or {@code [comm]}), null when it could not be read
 * @param clientAlive whether the client process exists (a zombie counts as gone)
 * @param serverFd the server's fd number of the connection's setup socket (from the directory name)
 * @param directory the connection's directory
 * @param transport SHM (rings), SOCKET (control file) or UNKNOWN (directory unreadable)
 * @param rings request, response and event, in that order (empty when unknown)
 * @param problems what could not be read or looks wrong, one phrase each (empty when all is well)
 */
public record ConnectionInfo(String service, int serverPid, int clientPid, String clientCommand, boolean clientAlive,
        int serverFd, String directory, Transport transport, List<RingInfo> rings, List<String> problems) {

    /** @return the ring named {@code name} ("request", "response", "event"), or null */
    public RingInfo ring(String name) {
        for (RingInfo r : rings) {
            if (r.ring().equals(name)) {
                return r;
            }
        }
        return null;
    }
}
