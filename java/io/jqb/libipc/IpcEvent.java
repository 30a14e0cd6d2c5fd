package io.jqb.libipc;

import java.nio.channels.SelectableChannel;

/**
 * One event from {@code waitEvent}. The same object is reused by every call of a server's or client's
 * {@code waitEvent} (as C reuses its {@code struct ipc_event}): read what you need before the next call.
 */
public final class IpcEvent {
    private IpcEventType type = IpcEventType.TIMEOUT;
    private IpcConnection connection;
    private final IpcMessage message = new IpcMessage();
    private boolean hasMessage;
    private SelectableChannel channel;
    private int fd = -1;
    private RuntimeException cause;

    IpcEvent() {
    }

    void reset() {
        type = IpcEventType.TIMEOUT;
        connection = null;
        hasMessage = false;
        channel = null;
        fd = -1;
        cause = null;
    }

    IpcEvent set(IpcEventType t, IpcConnection c) {
        type = t;
        connection = c;
        return this;
    }

    IpcMessage message(byte type, java.nio.ByteBuffer payload) {
        message.set(type, payload);
        hasMessage = true;
        return message;
    }

    IpcEvent extra(SelectableChannel ch, int fd) {
        type = IpcEventType.EXTRA_FD;
        this.channel = ch;
        this.fd = fd;
        return this;
    }

    IpcEvent error(IpcConnection c, RuntimeException e) {
        type = IpcEventType.ERROR;
        connection = c;
        cause = e;
        return this;
    }

    /** @return what happened */
    public IpcEventType type() {
        return type;
    }

    /** @return the connection concerned (CONNECTION, MESSAGE, DISCONNECTION, SERVER_CLOSE, some ERRORs), or null */
    public IpcConnection connection() {
        return connection;
    }

    /**
     * @return the message (MESSAGE and SERVER_CLOSE), a view valid until the next {@code waitEvent}; null otherwise
     */
    public IpcMessage message() {
        return hasMessage ? message : null;
    }

    /** @return for EXTRA_FD of a channel added with {@code addFd(SelectableChannel)}: that channel, else null */
    public SelectableChannel channel() {
        return channel;
    }

    /** @return for EXTRA_FD of an fd added with {@code addFd(int)}: that fd, else -1 */
    public int fd() {
        return fd;
    }

    /** @return for ERROR: what failed; else null */
    public RuntimeException cause() {
        return cause;
    }

    @Override
    public String toString() {
        return "IpcEvent[" + type + (connection != null ? " " + connection : "") + (hasMessage ? " " + message : "")
                + (fd >= 0 ? " fd=" + fd : "") + (channel != null ? " " + channel : "")
                + (cause != null ? " " + cause.getMessage() : "") + "]";
    }
}
