package io.jqb.stream;

import io.jqb.Errno;
import io.jqb.IpcException;

/**
 * A received frame broke the stream protocol (see {@code docs/STREAM-PROTOCOL.md}): its prefix was not the expected
 * one, it announced more than the caller's size limit, the peer closed the stream in its middle, or its remaining
 * bytes did not arrive within the frame time-out. The stream's framing is lost: the {@link Ipc} is marked in
 * {@linkplain Ipc#error() error} and every later read fails; close it.
 */
public final class FrameException extends IpcException {
    private static final long serialVersionUID = 1L;

    /** What was wrong with the frame. */
    public enum Kind {
        /** The header's prefix was not the one expected. */
        WRONG_PREFIX(Errno.EBADMSG),
        /** The header announced a payload longer than the size limit (nothing was allocated for it). */
        TOO_LARGE(Errno.EMSGSIZE),
        /** The peer closed the stream inside a frame. */
        TRUNCATED(Errno.EBADMSG),
        /** The rest of a started frame did not arrive within the frame time-out. */
        TIMED_OUT(Errno.ETIMEDOUT);

        final int errno;

        Kind(int errno) {
            this.errno = errno;
        }
    }

    /** What was wrong. */
    private final Kind kind;

    /**
     * @param operation what was being done
     * @param kind what was wrong
     * @param detail {@code name=value} context
     */
    public FrameException(String operation, Kind kind, String detail) {
        super(operation, kind.errno, kind.name().toLowerCase(java.util.Locale.ROOT).replace('_', ' ') + ": "
                + detail);
        this.kind = kind;
    }

    /** @return what was wrong with the frame */
    public Kind kind() {
        return kind;
    }
}
