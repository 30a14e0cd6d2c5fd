package io.jqb.libipc.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;

/**
 * One connection's receive side: bytes read from the socket are appended to a buffer, and whole frames are taken
 * from its front with the {@link FrameCodec}. Partial headers and payloads wait for more bytes; any number of
 * frames read at once are all delivered, one per {@link #next()}.
 *
 * <p>Memory: nothing is allocated until the first read; the buffer starts at {@link #INITIAL_CAPACITY} and grows
 * (doubling, never beyond the frame being assembled) only when it is full of one incomplete frame whose header was
 * already checked against the maximum. A peer that announces a large length and sends nothing costs nothing. After a
 * large frame the buffer goes back to the initial size once it is empty.
 *
 * <p>Not thread-safe: one event loop owns it.
 */
public final class FrameReader {
    /** First buffer size: holds a 16 KiB frame and a little more. */
    public static final int INITIAL_CAPACITY = 16 * 1024 + 64;

    private final int maxPayload;
    private ByteBuffer buf;
    private ByteBuffer view;
    /** First unconsumed byte. Data is [start, end). */
    private int start;
    private int end;
    private byte type;
    private int payloadOffset;
    private int payloadLength;

    /** @param maxPayload largest accepted payload length */
    public FrameReader(int maxPayload) {
        this.maxPayload = maxPayload;
    }

    /** Thrown by {@link #next()} when a header announces more than the maximum; the stream cannot be resynchronised. */
    public static final class TooLargeException extends IOException {
        private static final long serialVersionUID = 1L;
        private final long length;

        TooLargeException(long length, int max) {
            super("frame length " + length + " exceeds the maximum " + max);
            this.length = length;
        }

        /** @return the announced length */
        public long length() {
            return length;
        }
    }

    /**
     * One read from {@code ch} into free space (making room first).
     *
     * @return bytes read, 0 when none were available, -1 at end of stream
     */
    public int fill(ReadableByteChannel ch) throws IOException {
        makeRoom();
        buf.limit(buf.capacity()).position(end);
        int n = ch.read(buf);
        if (n > 0) {
            end += n;
        }
        return n;
    }

    /**
     * Takes the next whole frame, if there is one: afterwards {@link #type()} and {@link #payload()} describe it
     * until the next call of {@link #fill} or {@link #next}.
     *
     * @return true when a frame was taken
     * @throws TooLargeException when the next header announces more than the maximum
     */
    public boolean next() throws TooLargeException {
        if (buf == null) {
            return false;
        }
        int r = FrameCodec.scan(buf, start, end, maxPayload);
        if (r == FrameCodec.TOO_LARGE) {
            throw new TooLargeException(FrameDescriptor.length(buf, start), maxPayload);
        }
        if (r == FrameCodec.NEED_MORE) {
            return false;
        }
        type = FrameDescriptor.type(buf, start);
        payloadOffset = FrameDescriptor.payloadOffset(start);
        payloadLength = r - FrameDescriptor.HEADER_SIZE;
        start += r;
        return true;
    }

    /** @return true when a whole frame is buffered (so {@link #next()} returns true or throws) */
    public boolean hasFrame() {
        return buf != null && FrameCodec.scan(buf, start, end, maxPayload) != FrameCodec.NEED_MORE;
    }

    /** @return bytes buffered that are not yet part of a delivered frame */
    public int buffered() {
        return end - start;
    }

    /** @return the last frame's type byte */
    public byte type() {
        return type;
    }

    /** @return the last frame's payload length */
    public int payloadLength() {
        return payloadLength;
    }

    /** @return a read-only view of the last frame's payload (the same object each time; valid until the next fill) */
    public ByteBuffer payload() {
        if (view == null) {
            return FrameWriter.EMPTY;
        }
        view.limit(payloadOffset + payloadLength).position(payloadOffset);
        return view;
    }

    /** @return the buffer's capacity (0 before the first read), for tests */
    public int capacity() {
        return buf == null ? 0 : buf.capacity();
    }

    private void makeRoom() {
        if (buf == null) {
            allocate(INITIAL_CAPACITY);
            return;
        }
        if (start == end) {
            start = 0;
            end = 0;
            if (buf.capacity() > INITIAL_CAPACITY) {
                allocate(INITIAL_CAPACITY);
            }
            return;
        }
        if (end < buf.capacity()) {
            return;
        }
        // Full: move the incomplete frame to the front, and grow if it still cannot fit.
        int needed = FrameCodec.needed(buf, start, end);
        if (start > 0) {
            int n = end - start;
            buf.limit(end).position(start);
            buf.compact();
            start = 0;
            end = n;
        }
        if (end == buf.capacity() && needed > end) {
            int cap = (int) Math.min(needed, Math.max(2L * buf.capacity(), INITIAL_CAPACITY));
            ByteBuffer bigger = ByteBuffer.allocateDirect(cap);
            buf.limit(end).position(0);
            bigger.put(buf);
            setBuffer(bigger);
        }
    }

    private void allocate(int capacity) {
        setBuffer(ByteBuffer.allocateDirect(capacity));
    }

    private void setBuffer(ByteBuffer b) {
        buf = b;
        view = b.asReadOnlyBuffer();
    }
}
