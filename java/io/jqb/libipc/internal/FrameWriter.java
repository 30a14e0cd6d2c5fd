package io.jqb.libipc.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;

/**
 * One connection's send side: each frame is encoded (header and payload together) into one buffer and handed to
 * the socket in one write, as the C library does, so a C reader that expects a frame per recv gets one. The buffer
 * is allocated on the first send and grows to the largest frame sent.
 */
public final class FrameWriter {
    /** An empty payload. */
    public static final ByteBuffer EMPTY = ByteBuffer.allocate(0).asReadOnlyBuffer();
    private static final int INITIAL_CAPACITY = 16 * 1024 + 64;

    private ByteBuffer buf;

    /**
     * Encodes one frame; then call {@link #flush} until it returns true.
     *
     * @param payload its remaining bytes are sent; its position does not move
     */
    public void encode(byte type, ByteBuffer payload) {
        int size = FrameDescriptor.HEADER_SIZE + (payload == null ? 0 : payload.remaining());
        if (buf == null || buf.capacity() < size) {
            buf = ByteBuffer.allocateDirect(Math.max(size, INITIAL_CAPACITY));
        }
        buf.clear();
        FrameCodec.encode(buf, type, payload);
        buf.flip();
    }

    /**
     * Writes what is left of the encoded frame (one write call).
     *
     * @return true when the whole frame has been written
     */
    public boolean flush(WritableByteChannel ch) throws IOException {
        ch.write(buf);
        return !buf.hasRemaining();
    }
}
