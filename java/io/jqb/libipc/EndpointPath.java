package io.jqb.libipc;

import io.jqb.IpcException;
import io.jqb.libipc.internal.PathRule;
import java.nio.file.Path;

/**
 * The path fields both builders share ({@link IpcClient.Builder}, {@link IpcServer.Builder}): service name, run
 * directory, index and version, and the libipc path rule ({@link PathRule}) that turns them into
 * {@code <run dir>/<name>-<index>-<version>}. Package-private: the builders' public setters write these fields.
 */
final class EndpointPath {
    final String name;
    /** The explicit run directory, or null for the property / IPC_RUNDIR / default. */
    String runDirectory;
    int index;
    int version;

    EndpointPath(String name) {
        this.name = name;
    }

    /**
     * @param operation the operation named in errors, e.g. {@code connect(name)}
     * @return the socket path
     * @throws IpcException ENAMETOOLONG when it does not fit, EINVAL for an empty name
     */
    Path socketPath(String operation) {
        return Path.of(PathRule.socketPath(operation, PathRule.directory(runDirectory), name, index, version));
    }
}
