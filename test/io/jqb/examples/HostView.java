package io.jqb.examples;

import io.jqb.ops.ConnectionInfo;
import io.jqb.ops.Discovery;
import io.jqb.ops.HostSnapshot;
import io.jqb.ops.RingInfo;
import io.jqb.ops.ServiceInfo;

/** Javadoc example of {@code Discovery}: what {@code jqb ls} knows, from Java. Run by {@code OpsExamplesTest}. */
public final class HostView {
    private HostView() {
    }

    /** One line per connection of service {@code name}: client pid, unread responses, response ring fill. */
    public static String responses(String name) {
        StringBuilder out = new StringBuilder();
        // [scan]
        HostSnapshot host = Discovery.scan();          // read-only: /proc/net/unix, /proc/<pid>/fd, /dev/shm
        ServiceInfo svc = host.service(name);          // null when no such service runs
        for (ConnectionInfo c : svc.connections()) {
            RingInfo r = c.ring("response");
            out.append(c.clientPid()).append(": ").append(r.queued()).append(" unread, ")
                    .append(r.usedBytes()).append(" of ").append(r.dataBytes()).append(" bytes\n");
        }
        // [/scan]
        return out.toString();
    }
}
