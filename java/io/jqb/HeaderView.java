package io.jqb;

import io.jqb.internal.posix.Posix;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The cursor {@link RequestHeader} and {@link ResponseHeader} share: where the header is (a buffer and offset, or a
 * native address) and little-endian 32-bit reads and writes of its fields, whatever the buffer's byte order. Holds no
 * copy and allocates nothing after construction. Package-private: the two public flyweights keep their own methods.
 */
final class HeaderView {
    private static final VarHandle INT = MethodHandles.byteBufferViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
    private static final boolean BIG_ENDIAN_HOST = ByteOrder.nativeOrder() == ByteOrder.BIG_ENDIAN;

    private final int length;
    private ByteBuffer buffer;
    private int offset;
    private long address;

    /** @param length the header's length in bytes (checked by {@link #wrap(ByteBuffer, int)}) */
    HeaderView(int length) {
        this.length = length;
    }

    /** Points at {@code buffer[offset, offset + length)}; throws IndexOutOfBoundsException when it does not fit. */
    void wrap(ByteBuffer buffer, int offset) {
        if (offset < 0 || offset > buffer.capacity() - length) {
            throw new IndexOutOfBoundsException("offset=" + offset + " capacity=" + buffer.capacity()
                    + " length=" + length);
        }
        this.buffer = buffer;
        this.offset = offset;
        this.address = 0;
    }

    /** Points at native memory; throws IllegalArgumentException for address 0. */
    void wrap(long address) {
        if (address == 0) {
            throw new IllegalArgumentException("address=0");
        }
        this.buffer = null;
        this.address = address;
    }

    /** @return whether {@code wrap} was called */
    boolean isWrapped() {
        return buffer != null || address != 0;
    }

    /** @return the little-endian int at {@code field} bytes into the header */
    int get(int field) {
        if (buffer != null) {
            return (int) INT.get(buffer, offset + field);
        }
        int v = Posix.MEM.readInt(base() + field);
        return BIG_ENDIAN_HOST ? Integer.reverseBytes(v) : v;
    }

    /** Writes {@code value} little-endian at {@code field} bytes into the header. */
    void put(int field, int value) {
        if (buffer != null) {
            INT.set(buffer, offset + field, value);
        } else {
            Posix.MEM.writeInt(base() + field, BIG_ENDIAN_HOST ? Integer.reverseBytes(value) : value);
        }
    }

    private long base() {
        if (address == 0) {
            throw new IllegalStateException("header flyweight is not wrapped");
        }
        return address;
    }
}
