package io.jqb.internal.wire;

/**
 * {@code struct pollfd} (poll(2)), host byte order, and the two-entry array the client's receive loops poll.
 *
 * <pre>
 *  0               4       6       8
 *  +---------------+-------+-------+
 *  |   fd (i32)    |events |revents|     events, revents: i16
 *  +---------------+-------+-------+
 * </pre>
 */
public final class PollFdDescriptor {
    public static final int FD_OFFSET = 0;
    public static final int EVENTS_OFFSET = 4;
    public static final int REVENTS_OFFSET = 6;
    /** Size of one entry. */
    public static final int LENGTH = 8;

    private PollFdDescriptor() {
    }

    /** @return the offset of entry {@code i} in an array of pollfds */
    public static long entry(long base, int i) {
        return base + (long) i * LENGTH;
    }
}
