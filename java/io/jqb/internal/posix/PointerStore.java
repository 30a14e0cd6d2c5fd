package io.jqb.internal.posix;

import static io.jqb.internal.posix.NativeMemory.BYTE_ARRAY_BASE;
import static io.jqb.internal.posix.NativeMemory.UNSAFE;

/**
 * A bounds-checked window {@code [address, address + length)} of native (usually shared, mapped) memory with the
 * plain, ordered (release), volatile and atomic accesses the ring and semaphore code needs. Offsets are relative to
 * the window; an access outside it throws {@link IndexOutOfBoundsException} instead of touching other memory. It
 * replaces chronicle-bytes' {@code PointerBytesStore} (same method names), whose class initialisation loads
 * chronicle-core and its start-up log lines (see {@link NativeMemory}).
 */
public final class PointerStore {
    private final long address;
    private final long length;

    /**
     * @param address start of the window
     * @param length bytes in the window
     */
    public PointerStore(long address, long length) {
        if (address == 0 || length < 0) {
            throw new IllegalArgumentException("address=" + address + " length=" + length);
        }
        this.address = address;
        this.length = length;
    }

    private long at(long offset, int size) {
        if (offset < 0 || offset > length - size) {
            throw new IndexOutOfBoundsException("offset=" + offset + " size=" + size + " length=" + length);
        }
        return address + offset;
    }

    public int readInt(long offset) {
        return UNSAFE.getInt(at(offset, 4));
    }

    public void writeInt(long offset, int v) {
        UNSAFE.putInt(at(offset, 4), v);
    }

    public int readVolatileInt(long offset) {
        return UNSAFE.getIntVolatile(null, at(offset, 4));
    }

    /** A release store: earlier writes are visible before this one. */
    public void writeOrderedInt(long offset, int v) {
        UNSAFE.putOrderedInt(null, at(offset, 4), v);
    }

    public void writeVolatileInt(long offset, int v) {
        UNSAFE.putIntVolatile(null, at(offset, 4), v);
    }

    /** @return the new value */
    public int addAndGetInt(long offset, int delta) {
        return UNSAFE.getAndAddInt(null, at(offset, 4), delta) + delta;
    }

    public long readVolatileLong(long offset) {
        return UNSAFE.getLongVolatile(null, at(offset, 8));
    }

    public void writeLong(long offset, long v) {
        UNSAFE.putLong(at(offset, 8), v);
    }

    public void writeVolatileLong(long offset, long v) {
        UNSAFE.putLongVolatile(null, at(offset, 8), v);
    }

    public boolean compareAndSwapLong(long offset, long expected, long v) {
        return UNSAFE.compareAndSwapLong(null, at(offset, 8), expected, v);
    }

    public void writeByte(long offset, byte v) {
        UNSAFE.putByte(at(offset, 1), v);
    }

    /** Copies {@code len} bytes of {@code src} from {@code srcOffset} to {@code offset}. */
    public void write(long offset, byte[] src, int srcOffset, int len) {
        if (srcOffset < 0 || len < 0 || srcOffset > src.length - len) {
            throw new IndexOutOfBoundsException("srcOffset=" + srcOffset + " len=" + len + " length=" + src.length);
        }
        UNSAFE.copyMemory(src, BYTE_ARRAY_BASE + srcOffset, null, at(offset, len), len);
    }
}
