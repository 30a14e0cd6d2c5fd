package io.jqb.ops;

import java.util.List;

/**
 * Everything {@link Discovery#scan()} found at one moment.
 *
 * @param services the libqb services, by name
 * @param staleDirectories connection directories without a live server
 * @param unreadable what could not be read, one line each (e.g. "/proc/812/fd: permission denied (12 processes)");
 *        empty when the view is complete
 * @param uid the effective uid the scan ran as (0 = root sees everything)
 * @param scanMillis how long the scan took
 */
public record HostSnapshot(List<ServiceInfo> services, List<StaleDirectory> staleDirectories,
        List<String> unreadable, int uid, long scanMillis) {

    /** @return the service named {@code name}, or null */
    public ServiceInfo service(String name) {
        for (ServiceInfo s : services) {
            if (s.name().equals(name)) {
                return s;
            }
        }
        return null;
    }
}
