package io.jqb;

import io.jqb.internal.wire.MessageHeaderDescriptor;
import java.nio.ByteBuffer;

/**
 * A flyweight over the header every request starts with ({@code struct qb_ipc_request_header}, 16 bytes, 8-byte
 * aligned):
 *
 * <pre>
 *  0               4               8               12              16
 *  +---------------+---------------+---------------+---------------+
 *  |   id (i32)    |    padding    |  size (i32)   |    padding    |
 *  +---------------+---------------+---------------+---------------+
 * </pre>
 *
 * <p>{@code size} is the whole request's length, header included. Fields are little-endian (libqb uses the host's
 * order; jqb runs on x86-64) whatever the wrapped buffer's {@link ByteBuffer#order() order} is. The flyweight holds
 * no copy: {@link #wrap(ByteBuffer, int)} or {@link #wrap(long)} points it at memory, getters and setters read and
 * write there, nothing allocates. Neither the buffer's position nor its limit is used or changed. One instance per
 * thread: it is mutable.</p>
 */
public final class RequestHeader {
    /** Length of the header in bytes (16). */
    public static final int LENGTH = MessageHeaderDescriptor.REQUEST_HEADER_LENGTH;

    private final HeaderView view = new HeaderView(LENGTH);

    /** Creates a flyweight that points nowhere yet. */
    public RequestHeader() {
    }

    /**
     * Points this flyweight at {@code buffer[offset, offset + 16)}.
     *
     * @param buffer the buffer holding the header (heap or direct, any byte order, read-only for reading only)
     * @param offset where the header starts in {@code buffer}
     * @return this
     * @throws IndexOutOfBoundsException when the header does not fit below the buffer's capacity
     */
    public RequestHeader wrap(ByteBuffer buffer, int offset) {
        view.wrap(buffer, offset);
        return this;
    }

    /**
     * Points this flyweight at native memory (e.g. a message in your own mapping). The caller guarantees that 16
     * bytes are readable (and writable, for the setters) at {@code address}.
     *
     * @param address the native address of the header
     * @return this
     */
    public RequestHeader wrap(long address) {
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
    public RequestHeader id(int id) {
        view.put(MessageHeaderDescriptor.ID_OFFSET, id);
        return this;
    }

    /** @return the whole request's length, header included ({@code size}) */
    public int size() {
        return view.get(MessageHeaderDescriptor.SIZE_OFFSET);
    }

    /**
     * Sets the whole request's length, header included.
     *
     * @param size header + payload bytes
     * @return this
     */
    public RequestHeader size(int size) {
        view.put(MessageHeaderDescriptor.SIZE_OFFSET, size);
        return this;
    }

    /**
     * Writes a complete header, padding zeroed.
     *
     * @param id the message id
     * @param size header + payload bytes
     * @return this
     */
    public RequestHeader set(int id, int size) {
        view.put(MessageHeaderDescriptor.ID_OFFSET, id);
        view.put(MessageHeaderDescriptor.ID_OFFSET + 4, 0);
        view.put(MessageHeaderDescriptor.SIZE_OFFSET, size);
        view.put(MessageHeaderDescriptor.SIZE_OFFSET + 4, 0);
        return this;
    }

    @Override
    public String toString() {
        return !view.isWrapped() ? "RequestHeader{unwrapped}"
                : "RequestHeader{id=" + id() + ", size=" + size() + "}";
    }
}
