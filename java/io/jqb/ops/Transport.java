package io.jqb.ops;

/** The transport a libqb connection uses, as seen from its files in {@code /dev/shm}. */
public enum Transport {
    /** Three shared-memory rings (request, response, event). */
    SHM,
    /** Datagram sockets plus a 24-byte control file. */
    SOCKET,
    /** Not known: no connection to look at, or its directory could not be read. */
    UNKNOWN
}
