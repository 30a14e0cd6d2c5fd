package io.jqb.ops;

/**
 * A connection directory in {@code /dev/shm} whose server process is gone (or a zombie): nobody will remove it but a
 * later server with the same uid ({@code Service}'s stale sweep), its client's force close (which leaves the empty
 * directory), or an operator.
 *
 * @param directory the path
 * @param serverPid the dead server's pid
 * @param clientPid the client's pid
 * @param clientAlive whether the client still runs (it keeps the rings mapped until it disconnects)
 * @param service the service name from the file names, null when unreadable or empty
 * @param reason why it is stale, e.g. "server 1234 gone"
 */
public record StaleDirectory(String directory, int serverPid, int clientPid, boolean clientAlive, String service,
        String reason) {
}
