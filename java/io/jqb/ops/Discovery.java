package io.jqb.ops;

import io.jqb.ops.internal.Scanner;
import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * Finds every libqb IPC service on this host, native or Java, without their cooperation and without writing
 * anything (what {@code jqb ls} prints).
 *
 * <!-- example: test/io/jqb/examples/HostView.java#scan -->
 * <pre>{@code
 * HostSnapshot host = Discovery.scan();          // read-only: /proc/net/unix, /proc/<pid>/fd, /dev/shm
 * ServiceInfo svc = host.service(name);          // null when no such service runs
 * for (ConnectionInfo c : svc.connections()) {
 *     RingInfo r = c.ring("response");
 *     out.append(c.clientPid()).append(": ").append(r.queued()).append(" unread, ")
 *             .append(r.usedBytes()).append(" of ").append(r.dataBytes()).append(" bytes\n");
 * }
 * }</pre>
 *
 * <p>Sources: {@code /proc/net/unix} (listening sockets: abstract names padded to the whole {@code sun_path}, as
 * libqb binds them, or filesystem sockets directly in libqb's socket directory with mode 0777), {@code /proc/<pid>/fd}
 * (which process holds a socket), {@code /proc/<pid>/cmdline}, and {@code /dev/shm/qb-<spid>-<cpid>-<fd>-XXXXXX}
 * (connections; their ring headers are copied out with bounded reads, never mapped or written). As a normal user,
 * what the kernel hides (other users' fds, client-owned directories) is listed in
 * {@link HostSnapshot#unreadable()}.</p>
 */
public final class Discovery {
    /** Deadline of each per-entry read (one process's fds, one connection directory). */
    public static final long PER_ENTRY_MILLIS = 2_000;

    private Discovery() {
    }

    /**
     * Scans the host.
     *
     * @throws UncheckedIOException when {@code /proc/net/unix} cannot be read (nothing can be listed)
     */
    public static HostSnapshot scan() {
        try {
            return new Scanner(Scanner.Roots.host(), PER_ENTRY_MILLIS).scan();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read /proc/net/unix", e);
        }
    }
}
