package io.jqb.internal.posix;

import java.lang.reflect.Field;
import sun.misc.Unsafe;

/**
 * Plain and ordered access to native memory (our own scratch allocations and mapped shared memory), through
 * {@code sun.misc.Unsafe} from the {@code jdk.unsupported} module: no JVM flag needed, nothing logged, no allocation.
 * jqb used chronicle-core's {@code Memory} for this; chronicle-core's start-up (its {@code Jvm} class) logs an INFO
 * line, a java.util.logging WARNING and an ERROR about JDK internals, so jqb no longer loads it (issue 9, item 5).
 * Addresses are absolute; callers validate them (every offset comes from a descriptor and every peer-written index
 * is checked before use).
 */
public final class NativeMemory {
    static final Unsafe UNSAFE;
    static final long BYTE_ARRAY_BASE;

    static {
        try {
            Field f = Unsafe.class.getDeclaredField("theUnsafe");
            f.setAccessible(true); // jdk.unsupported opens sun.misc to everyone
            UNSAFE = (Unsafe) f.get(null);
            BYTE_ARRAY_BASE = UNSAFE.arrayBaseOffset(byte[].class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    NativeMemory() {
    }

    /** @return {@code size} bytes of uninitialised native memory; release with {@link #freeMemory} */
    public long allocate(long size) {
        return UNSAFE.allocateMemory(size);
    }

    /** Releases memory from {@link #allocate}; {@code size} is for symmetry with the allocation. */
    public void freeMemory(long address, long size) {
        UNSAFE.freeMemory(address);
    }

    /** Fills {@code size} bytes at {@code address} with {@code value}. */
    public void setMemory(long address, long size, byte value) {
        UNSAFE.setMemory(address, size, value);
    }

    /** Copies {@code len} bytes of {@code src} from {@code srcOffset} to native {@code address}. */
    public void copyMemory(byte[] src, int srcOffset, long address, int len) {
        if (srcOffset < 0 || len < 0 || srcOffset > src.length - len) {
            throw new IndexOutOfBoundsException("srcOffset=" + srcOffset + " len=" + len + " length=" + src.length);
        }
        UNSAFE.copyMemory(src, BYTE_ARRAY_BASE + srcOffset, null, address, len);
    }

    /** Copies {@code len} bytes at native {@code address} into {@code dst} from {@code dstOffset}. */
    public void copyMemory(long address, byte[] dst, int dstOffset, int len) {
        if (dstOffset < 0 || len < 0 || dstOffset > dst.length - len) {
            throw new IndexOutOfBoundsException("dstOffset=" + dstOffset + " len=" + len + " length=" + dst.length);
        }
        UNSAFE.copyMemory(null, address, dst, BYTE_ARRAY_BASE + dstOffset, len);
    }

    public byte readByte(long address) {
        return UNSAFE.getByte(address);
    }

    public void writeByte(long address, byte v) {
        UNSAFE.putByte(address, v);
    }

    public short readShort(long address) {
        return UNSAFE.getShort(address);
    }

    public void writeShort(long address, short v) {
        UNSAFE.putShort(address, v);
    }

    public int readInt(long address) {
        return UNSAFE.getInt(address);
    }

    public void writeInt(long address, int v) {
        UNSAFE.putInt(address, v);
    }

    public long readLong(long address) {
        return UNSAFE.getLong(address);
    }

    public void writeLong(long address, long v) {
        UNSAFE.putLong(address, v);
    }
}
