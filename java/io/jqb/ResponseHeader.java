package io.jqb;

import io.jqb.internal.wire.MessageHeaderDescriptor;
import java.nio.ByteBuffer;

/**
 * A flyweight over the header every response and event starts with ({@code struct qb_ipc_response_header},
 * 24 bytes, 8-byte aligned):
 *
 * <pre>
 *  0               4               8               12              16              20              24
 *  +---------------+---------------+---------------+---------------+---------------+---------------+
 *  |   id (i32)    |    padding    |  size (i32)   |    padding    |  error (i32)  |    padding    |
 *  +---------------+---------------+---------------+---------------+---------------+---------------+
 * </pre>
 *
 * <p>{@code size} is the whole message's length, header included; {@code error} is 0 or a negated errno. Fields are
 * little-endian whatever the wrapped buffer's {@link ByteBuffer#order() order} is. Like {@link RequestHeader}: no
 * copy, no allocation, position and limit untouched, one instance per thread.</p>
 */
public final class ResponseHeader {
    /** Length of the header in bytes (24). */
    public static final int LENGTH = MessageHeaderDescriptor.RESPONSE_HEADER_LENGTH;

    private final HeaderView view = new HeaderView(LENGTH);

    /** Creates a flyweight that points nowhere yet. */
    public ResponseHeader() {
    }

    /**
     * Points this flyweight at {@code buffer[offset, offset + 24)}.
     *
     * @param buffer the buffer holding the header (heap or direct, any byte order, read-only for reading only)
     * @param offset where the header starts in {@code buffer}
     * @return this
     * @throws IndexOutOfBoundsException when the header does not fit below the buffer's capacity
     */
    public ResponseHeader wrap(ByteBuffer buffer, int offset) {
        view.wrap(buffer, offset);
        return this;
    }

    /**
     * Points this flyweight at native memory. The caller guarantees that 24 bytes are readable (and writable, for
     * the setters) at {@code address}.
     *
     * @param address the native address of the header
     * @return this
     */
    public ResponseHeader wrap(long address) {
        view.wrap(address);
        return this;
    }

    /** @return the message id ({@code id}) */
    public int id() {
        return view.get(MessageHeaderDescriptor.ID_OFFSET);
    }

    /**
     * Sets the message id.
     *
     * @param id the message id
     * @return this
     */
    public ResponseHeader id(int id) {
        view.put(MessageHeaderDescriptor.ID_OFFSET, id);
        return this;
    }

    /** @return the whole message's length, header included ({@code size}) */
    public int size() {
        return view.get(MessageHeaderDescriptor.SIZE_OFFSET);
    }

    /**
     * Sets the whole message's length, header included.
     *
     * @param size header + payload bytes
     * @return this
     */
    public ResponseHeader size(int size) {
        view.put(MessageHeaderDescriptor.SIZE_OFFSET, size);
        return this;
    }

    /** @return 0 or a negated errno ({@code error}) */
    public int error() {
        return view.get(MessageHeaderDescriptor.ERROR_OFFSET);
    }

    /**
     * Sets the error field.
     *
     * @param error 0 or a negated errno, e.g. {@code -Errno.EINVAL}
     * @return this
     */
    public ResponseHeader error(int error) {
        view.put(MessageHeaderDescriptor.ERROR_OFFSET, error);
        return this;
    }

    /**
     * Writes a complete header, padding zeroed.
     *
     * @param id the message id
     * @param size header + payload bytes
     * @param error 0 or a negated errno
     * @return this
     */
    public ResponseHeader set(int id, int size, int error) {
        view.put(MessageHeaderDescriptor.ID_OFFSET, id);
        view.put(MessageHeaderDescriptor.ID_OFFSET + 4, 0);
        view.put(MessageHeaderDescriptor.SIZE_OFFSET, size);
        view.put(MessageHeaderDescriptor.SIZE_OFFSET + 4, 0);
        view.put(MessageHeaderDescriptor.ERROR_OFFSET, error);
        view.put(MessageHeaderDescriptor.ERROR_OFFSET + 4, 0);
        return this;
    }

    @Override
    public String toString() {
        return !view.isWrapped() ? "ResponseHeader{unwrapped}"
                : "ResponseHeader{id=" + id() + ", size=" + size() + ", error=" + error() + "}";
    }
}
