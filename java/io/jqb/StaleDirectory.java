package io.jqb;

import java.nio.file.Path;

/**
 * A connection directory in {@code /dev/shm} left by a server that died without cleaning up, as found by
 * {@link Service#sweepStaleDirectories(boolean)}.
 *
 * @param directory the directory, {@code /dev/shm/qb-<serverpid>-<clientpid>-<fd>-XXXXXX}
 * @param reason why it is provably stale, e.g. {@code "server pid 12 and client pid 13 are gone"}
 */
public record StaleDirectory(Path directory, String reason) {
}
