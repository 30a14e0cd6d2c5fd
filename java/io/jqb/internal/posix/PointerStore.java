package io.jqb.internal.posix;

import java.nio.ByteBuffer;

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
    /** The window is {@linkplain Guard#register registered}: a fault in it is repaired, Unsafe atomics are safe. */
    private final boolean repaired;

    /**
     * @param address start of the window
     * @param length bytes in the window
     */
    public PointerStore(long address, long length) {
        this(address, length, false);
    }

    /**
     * @param address start of the window
     * @param length bytes in the window
     * @param repaired the window lies in a range {@linkplain Guard#register registered} with the fault guard: the
     *        atomics use Unsafe directly instead of the guard's JNI calls
     */
    public PointerStore(long address, long length, boolean repaired) {
        if (address == 0 || length < 0) {
            throw new IllegalArgumentException("address=" + address + " length=" + length);
        }
        this.address = address;
        this.length = length;
        this.repaired = repaired;
    }

    /** @return whether a fault in this window is repaired by the guard (see {@link Guard#register}) */
    public boolean repaired() {
        return repaired;
    }

    private long at(long offset, int size) {
        if (offset < 0 || offset > length - size) {
            throw new IndexOutOfBoundsException("offset=" + offset + " size=" + size + " length=" + length);
        }
        return address + offset;
    }

    public int readInt(long offset) {
        return NativeMemory.getInt(at(offset, 4));
    }

    public void writeInt(long offset, int v) {
        NativeMemory.putInt(at(offset, 4), v);
    }

    public int readVolatileInt(long offset) {
        return NativeMemory.getIntVolatile(at(offset, 4));
    }

    /** A release store: earlier writes are visible before this one. */
    public void writeOrderedInt(long offset, int v) {
        NativeMemory.putIntOrdered(at(offset, 4), v);
    }

    public void writeVolatileInt(long offset, int v) {
        NativeMemory.putIntVolatile(at(offset, 4), v);
    }

    /** @return the new value */
    public int addAndGetInt(long offset, int delta) {
        if (Guard.AVAILABLE && !repaired) {
            long r = Guard.addInt(at(offset, 4), delta);
            if ((r >>> 32) != 0) {
                throw new InternalError("shared memory is gone (the peer truncated the file)");
            }
            return (int) r;
        }
        return NativeMemory.getAndAddInt(at(offset, 4), delta) + delta;
    }

    /**
     * Atomically adds {@code delta} to the 64-bit value (one locked instruction: a full fence).
     *
     * @return the value before the addition
     */
    public long getAndAddLong(long offset, long delta) {
        if (Guard.AVAILABLE && !repaired) {
            for (;;) { // the guarded CAS: a fault is an InternalError here, not a SIGBUS
                long v = readVolatileLong(offset);
                if (compareAndSwapLong(offset, v, v + delta)) {
                    return v;
                }
            }
        }
        return NativeMemory.getAndAddLong(at(offset, 8), delta);
    }

    public long readVolatileLong(long offset) {
        return NativeMemory.getLongVolatile(at(offset, 8));
    }

    public void writeLong(long offset, long v) {
        NativeMemory.putLong(at(offset, 8), v);
    }

    public void writeVolatileLong(long offset, long v) {
        NativeMemory.putLongVolatile(at(offset, 8), v);
    }

    public boolean compareAndSwapLong(long offset, long expected, long v) {
        if (Guard.AVAILABLE && !repaired) {
            // An interpreted Unsafe CAS on a page the peer truncated away is a fatal SIGBUS: see Guard.
            int r = Guard.casLong(at(offset, 8), expected, v);
            if (r < 0) {
                throw new InternalError("shared memory is gone (the peer truncated the file)");
            }
            return r == 1;
        }
        return NativeMemory.casLong(at(offset, 8), expected, v);
    }

    public void writeByte(long offset, byte v) {
        NativeMemory.putByte(at(offset, 1), v);
    }

    /** Copies {@code len} bytes of {@code src} from {@code srcOffset} to {@code offset}. */
    public void write(long offset, byte[] src, int srcOffset, int len) {
        NativeMemory.copyFromArray(src, srcOffset, at(offset, len), len);
    }

    /**
     * Copies {@code len} bytes of {@code src} from its absolute index {@code srcIndex} to {@code offset}; the
     * buffer's position and limit are unchanged. Heap or direct, read-only or not.
     */
    public void write(long offset, ByteBuffer src, int srcIndex, int len) {
        NativeMemory.copyFromBuffer(src, srcIndex, at(offset, len), len);
    }

    /** Copies {@code len} bytes at {@code offset} into {@code dst} from {@code dstOffset}. */
    public void read(long offset, byte[] dst, int dstOffset, int len) {
        NativeMemory.copyToArray(at(offset, len), dst, dstOffset, len);
    }

    /**
     * Copies {@code len} bytes at {@code offset} into {@code dst} at its absolute index {@code dstIndex}; the
     * buffer's position and limit are unchanged.
     *
     * @throws java.nio.ReadOnlyBufferException when {@code dst} is read-only
     */
    public void read(long offset, ByteBuffer dst, int dstIndex, int len) {
        NativeMemory.copyToBuffer(at(offset, len), dst, dstIndex, len);
    }
}
