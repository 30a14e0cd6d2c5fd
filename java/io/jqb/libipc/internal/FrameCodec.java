package io.jqb.libipc.internal;

import java.nio.ByteBuffer;

/**
 * The frame codec: pure functions over a buffer region, no state and no I/O, so that they can be tested on any
 * split or coalesced input.
 */
public final class FrameCodec {
    /** {@link #scan}: fewer than 5 bytes, or the payload is not all there yet. */
    public static final int NEED_MORE = -1;
    /** {@link #scan}: the header announces more than the allowed payload. */
    public static final int TOO_LARGE = -2;

    private FrameCodec() {
    }

    /**
     * Looks at the frame starting at {@code pos} with bytes available up to {@code limit}. Reads only the header; the
     * length is compared with {@code maxPayload} before anybody could allocate for it.
     *
     * @return the frame's total size (5 + length) when it is complete in {@code [pos, limit)}, {@link #NEED_MORE},
     *         or {@link #TOO_LARGE} (as soon as the header is in, whatever follows)
     */
    public static int scan(ByteBuffer b, int pos, int limit, int maxPayload) {
        int avail = limit - pos;
        if (avail < FrameDescriptor.HEADER_SIZE) {
            return NEED_MORE;
        }
        long length = FrameDescriptor.length(b, pos);
        if (length > maxPayload) {
            return TOO_LARGE;
        }
        int total = FrameDescriptor.HEADER_SIZE + (int) length;
        return avail >= total ? total : NEED_MORE;
    }

    /**
     * Bytes needed in the buffer to hold the frame at {@code pos} whole, once its header is in and checked.
     *
     * @return 5 + length, or 5 when the header is incomplete
     */
    public static int needed(ByteBuffer b, int pos, int limit) {
        if (limit - pos < FrameDescriptor.HEADER_SIZE) {
            return FrameDescriptor.HEADER_SIZE;
        }
        return FrameDescriptor.HEADER_SIZE + (int) FrameDescriptor.length(b, pos);
    }

    /**
     * Encodes one frame at {@code dst}'s position: header, then {@code payload}'s remaining bytes (payload's
     * position is not moved). {@code dst}'s position advances by the frame size.
     *
     * @throws java.nio.BufferOverflowException when {@code dst} has no room for the whole frame
     */
    public static void encode(ByteBuffer dst, byte type, ByteBuffer payload) {
        int length = payload == null ? 0 : payload.remaining();
        if (dst.remaining() < FrameDescriptor.HEADER_SIZE + length) {
            throw new java.nio.BufferOverflowException();
        }
        int at = dst.position();
        FrameDescriptor.putHeader(dst, at, type, length);
        if (length > 0) {
            dst.put(FrameDescriptor.payloadOffset(at), payload, payload.position(), length);
        }
        dst.position(at + FrameDescriptor.HEADER_SIZE + length);
    }
}
