package io.jqb.libipc.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;

/**
 * One connection's send side: each frame is encoded (header and payload together) into one buffer and handed to
 * the socket in one write call, as the C library does, so a C reader that expects a frame per recv gets one. What
 * the socket did not take stays pending ({@link #pending()}); later frames are appended behind it
 * ({@link #append}) and go out when the socket has room. The buffer is allocated on the first send and grows to the
 * largest frame or backlog; one grown beyond 1 MiB is given back at the next small frame sent with nothing pending.
 */
public final class FrameWriter {
    /** An empty payload. */
    public static final ByteBuffer EMPTY = ByteBuffer.allocate(0).asReadOnlyBuffer();
    private static final int INITIAL_CAPACITY = 16 * 1024 + 64;
    /** A buffer grown beyond this (a backlog, a huge frame) is given back once a small frame follows. */
    private static final int SHRINK_ABOVE = 1 << 20;

    /** Unsent bytes are [position, limit). */
    private ByteBuffer buf;

    /**
     * Encodes one frame when nothing is pending; then call {@link #flush}.
     *
     * @param payload its remaining bytes are sent; its position does not move
     */
    public void encode(byte type, ByteBuffer payload) {
        int size = FrameDescriptor.HEADER_SIZE + (payload == null ? 0 : payload.remaining());
        if (buf == null || buf.capacity() < size || buf.capacity() > SHRINK_ABOVE && size <= INITIAL_CAPACITY) {
            buf = ByteBuffer.allocateDirect(Math.max(size, INITIAL_CAPACITY));
        }
        buf.clear();
        FrameCodec.encode(buf, type, payload);
        buf.flip();
    }

    /** Appends one frame behind what is pending (growing the buffer if needed). */
    public void append(byte type, ByteBuffer payload) {
        if (pending() == 0) {
            encode(type, payload);
            return;
        }
        int size = FrameDescriptor.HEADER_SIZE + (payload == null ? 0 : payload.remaining());
        buf.compact(); // pending bytes to the front; position = their count
        if (buf.remaining() < size) {
            long want = Math.max(2L * buf.capacity(), (long) buf.position() + size);
            ByteBuffer bigger = ByteBuffer.allocateDirect((int) Math.min(Integer.MAX_VALUE - 8, want));
            buf.flip();
            bigger.put(buf);
            buf = bigger;
        }
        FrameCodec.encode(buf, type, payload);
        buf.flip();
    }

    /**
     * Writes what is pending (one write call).
     *
     * @return true when nothing is pending any more
     */
    public boolean flush(WritableByteChannel ch) throws IOException {
        ch.write(buf);
        return !buf.hasRemaining();
    }

    /** @return bytes encoded but not yet taken by the socket */
    public int pending() {
        return buf == null ? 0 : buf.remaining();
    }

    /** Drops what is pending (the connection is going away). */
    public void discard() {
        if (buf != null) {
            buf.position(buf.limit());
        }
    }
}
