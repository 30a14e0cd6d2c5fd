package io.jqb;

/** The IPC transport a service offers ({@code enum qb_ipc_type}). */
public enum TransportType {
    /** Datagram sockets plus a control file. */
    SOCKET,
    /** Shared-memory ring buffers under /dev/shm. */
    SHM,
    /** SHM on Linux. */
    NATIVE
}
