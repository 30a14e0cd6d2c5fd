package io.jqb;

import io.jqb.internal.posix.Posix;
import io.jqb.internal.wire.MessageHeaderDescriptor;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

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

    static final VarHandle INT = MethodHandles.byteBufferViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
    static final boolean BIG_ENDIAN_HOST = ByteOrder.nativeOrder() == ByteOrder.BIG_ENDIAN;

    private ByteBuffer buffer;
    private int offset;
    private long address;

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
        if (offset < 0 || offset > buffer.capacity() - LENGTH) {
            throw new IndexOutOfBoundsException("offset=" + offset + " capacity=" + buffer.capacity()
                    + " length=" + LENGTH);
        }
        this.buffer = buffer;
        this.offset = offset;
        this.address = 0;
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
        if (address == 0) {
            throw new IllegalArgumentException("address=0");
        }
        this.buffer = null;
        this.address = address;
        return this;
    }

    /** @return the message id ({@code id}) */
    public int id() {
        return get(MessageHeaderDescriptor.ID_OFFSET);
    }

    /**
     * Sets the message id.
     *
     * @param id the message id
     * @return this
     */
    public RequestHeader id(int id) {
        put(MessageHeaderDescriptor.ID_OFFSET, id);
        return this;
    }

    /** @return the whole request's length, header included ({@code size}) */
    public int size() {
        return get(MessageHeaderDescriptor.SIZE_OFFSET);
    }

    /**
     * Sets the whole request's length, header included.
     *
     * @param size header + payload bytes
     * @return this
     */
    public RequestHeader size(int size) {
        put(MessageHeaderDescriptor.SIZE_OFFSET, size);
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
        put(MessageHeaderDescriptor.ID_OFFSET, id);
        put(MessageHeaderDescriptor.ID_OFFSET + 4, 0);
        put(MessageHeaderDescriptor.SIZE_OFFSET, size);
        put(MessageHeaderDescriptor.SIZE_OFFSET + 4, 0);
        return this;
    }

    private int get(int field) {
        return buffer != null ? getInt(buffer, offset + field) : getInt(base(address) + field);
    }

    private void put(int field, int value) {
        if (buffer != null) {
            putInt(buffer, offset + field, value);
        } else {
            putInt(base(address) + field, value);
        }
    }

    static int getInt(ByteBuffer b, int at) {
        return (int) INT.get(b, at);
    }

    static void putInt(ByteBuffer b, int at, int v) {
        INT.set(b, at, v);
    }

    static int getInt(long at) {
        int v = Posix.MEM.readInt(at);
        return BIG_ENDIAN_HOST ? Integer.reverseBytes(v) : v;
    }

    static void putInt(long at, int v) {
        Posix.MEM.writeInt(at, BIG_ENDIAN_HOST ? Integer.reverseBytes(v) : v);
    }

    static long base(long a) {
        if (a == 0) {
            throw new IllegalStateException("header flyweight is not wrapped");
        }
        return a;
    }

    @Override
    public String toString() {
        return (buffer == null && address == 0) ? "RequestHeader{unwrapped}"
                : "RequestHeader{id=" + id() + ", size=" + size() + "}";
    }
}
