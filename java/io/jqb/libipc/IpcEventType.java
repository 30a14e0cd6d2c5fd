package io.jqb.libipc;

/** What {@code waitEvent} reports (C's {@code enum ipc_event_type}, plus TIMEOUT and SERVER_CLOSE). */
public enum IpcEventType {
    /** Something failed; {@link IpcEvent#cause()} says what. A connection named by it is already closed. */
    ERROR,
    /** An fd or channel added with {@code addFd} is readable (or at EOF/error); read it yourself. */
    EXTRA_FD,
    /** A client connected; {@link IpcEvent#connection()} is the new connection, already watched. */
    CONNECTION,
    /** A peer hung up (EOF or reset); its connection is already closed and no longer watched. */
    DISCONNECTION,
    /** A whole message arrived on {@link IpcEvent#connection()}. */
    MESSAGE,
    /** Nothing happened within the time-out (C libipc has no time-out). */
    TIMEOUT,
    /**
     * Client only: the server sent SERVER_CLOSE (type 0) before closing. The connection stays open until the
     * DISCONNECTION that follows.
     */
    SERVER_CLOSE
}
