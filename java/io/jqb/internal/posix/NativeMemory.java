package io.jqb.internal.posix;

import java.lang.ref.Reference;
import java.lang.reflect.Field;
import java.nio.ByteBuffer;
import java.nio.ReadOnlyBufferException;
import java.util.concurrent.atomic.LongAdder;

/**
 * Plain, ordered, volatile and atomic access to native memory (our own scratch allocations and mapped shared
 * memory), through {@code sun.misc.Unsafe} of the {@code jdk.unsupported} module: no JVM flag needed, nothing logged,
 * no allocation.
 *
 * <p>Why not chronicle-core's {@code Memory}, which jqb used before: chronicle-core's start-up (its {@code Jvm} class
 * and its cleaner-service lookup) logs an INFO line, a java.util.logging WARNING and an ERROR about JDK internals
 * unless the JVM gets {@code --add-opens} flags; a library must start silently (issue 9, item 5). The methods call
 * Unsafe directly, one call each, as chronicle did: compiled, each is the single instruction chronicle's own Unsafe
 * calls compile to. (They used to go through constant method handles, so that no compiler warning named Unsafe. C2
 * compiled those to the same instructions, but a short-lived process runs the path interpreted and then as C1 code
 * for its first thousands of calls, and there every {@code invokeExact} went through about ten frames of method
 * handle invokers and lambda forms: a quarter of an interpreted round trip's CPU, and more code for C1 and C2 to
 * compile while they share the CPU with the application. See docs/PERFORMANCE.md, "Cold start", session 9.) The
 * price is javac's "internal proprietary API" warning on the two lines below that name the type.</p>
 *
 * <p>Addresses are absolute; callers validate them (every offset comes from a descriptor, and every index a peer can
 * write is checked before use). A fault on a truncated shared mapping surfaces as {@link InternalError}, as before.</p>
 */
public final class NativeMemory {
    /** See {@link #outstandingBytes()}. */
    private static final LongAdder OUTSTANDING = new LongAdder();
    private static final sun.misc.Unsafe U;
    private static final long BYTE_ARRAY_BASE;
    /** Offset of {@code java.nio.Buffer.address} (a direct buffer's base address), as Agrona's BufferUtil reads it. */
    private static final long BUFFER_ADDRESS;

    static {
        try {
            Field f = Class.forName("sun.misc.Unsafe").getDeclaredField("theUnsafe");
            f.setAccessible(true); // jdk.unsupported opens sun.misc to everyone
            U = (sun.misc.Unsafe) f.get(null);
            // Reading the field's offset needs no access to java.nio (no --add-opens): only Field lookup.
            BUFFER_ADDRESS = U.objectFieldOffset(java.nio.Buffer.class.getDeclaredField("address"));
            BYTE_ARRAY_BASE = U.arrayBaseOffset(byte[].class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    NativeMemory() {
    }

    // ------------------------------------------------------------------------------- absolute addresses (static)

    static byte getByte(long a) {
        return U.getByte(a);
    }

    static void putByte(long a, byte x) {
        U.putByte(a, x);
    }

    static int getInt(long a) {
        return U.getInt(a);
    }

    static void putInt(long a, int x) {
        U.putInt(a, x);
    }

    static long getLong(long a) {
        return U.getLong(a);
    }

    static void putLong(long a, long x) {
        U.putLong(a, x);
    }

    static int getIntVolatile(long a) {
        return U.getIntVolatile(null, a);
    }

    static void putIntVolatile(long a, int x) {
        U.putIntVolatile(null, a, x);
    }

    static void putIntOrdered(long a, int x) {
        U.putOrderedInt(null, a, x);
    }

    static int getAndAddInt(long a, int delta) {
        return U.getAndAddInt(null, a, delta);
    }

    static long getAndAddLong(long a, long delta) {
        return U.getAndAddLong(null, a, delta);
    }

    static long getLongVolatile(long a) {
        return U.getLongVolatile(null, a);
    }

    static void putLongVolatile(long a, long x) {
        U.putLongVolatile(null, a, x);
    }

    static boolean casLong(long a, long expected, long x) {
        return U.compareAndSwapLong(null, a, expected, x);
    }

    /** Copies {@code len} bytes of {@code src} from {@code srcOffset} to native {@code address}. */
    static void copyFromArray(byte[] src, int srcOffset, long address, int len) {
        if (srcOffset < 0 || len < 0 || srcOffset > src.length - len) {
            throw new IndexOutOfBoundsException("srcOffset=" + srcOffset + " len=" + len + " length=" + src.length);
        }
        U.copyMemory(src, BYTE_ARRAY_BASE + srcOffset, null, address, len);
    }

    /** Copies {@code len} bytes at native {@code address} into {@code dst} from {@code dstOffset}. */
    static void copyToArray(long address, byte[] dst, int dstOffset, int len) {
        java.util.Objects.checkFromIndexSize(dstOffset, len, dst.length);
        U.copyMemory(null, address, dst, BYTE_ARRAY_BASE + dstOffset, len);
    }

    /** @return the native address of a direct buffer's index 0 (one field read; no JNI call) */
    static long directAddress(ByteBuffer direct) {
        return U.getLong(direct, BUFFER_ADDRESS);
    }

    /**
     * Copies {@code len} bytes of {@code src} from absolute index {@code index} (position and limit unchanged) to
     * native {@code address}: one {@code copyMemory} from the array or the direct buffer's memory, as
     * {@code ByteBuffer.put(int, ByteBuffer, int, int)} ends in. Bounds as that method: {@code [index, index + len)}
     * within {@code src}'s limit.
     */
    static void copyFromBuffer(ByteBuffer src, int index, long address, int len) {
        java.util.Objects.checkFromIndexSize(index, len, src.limit());
        try {
            if (src.isDirect()) {
                U.copyMemory(null, directAddress(src) + index, null, address, len);
            } else if (src.hasArray()) {
                U.copyMemory(src.array(), BYTE_ARRAY_BASE + src.arrayOffset() + index, null, address, len);
            } else {
                // A read-only heap buffer hides its array: byte by byte, rare and still allocation-free.
                for (int i = 0; i < len; i++) {
                    U.putByte(address + i, src.get(index + i));
                }
            }
        } finally {
            Reference.reachabilityFence(src); // a direct buffer's memory must outlive the copy from its address
        }
    }

    /**
     * Copies {@code len} bytes at native {@code address} into {@code dst} at absolute index {@code index} (position
     * and limit unchanged); bounds as {@code ByteBuffer.put(int, ByteBuffer, int, int)}.
     *
     * @throws ReadOnlyBufferException when {@code dst} is read-only
     */
    static void copyToBuffer(long address, ByteBuffer dst, int index, int len) {
        if (dst.isReadOnly()) {
            throw new ReadOnlyBufferException();
        }
        java.util.Objects.checkFromIndexSize(index, len, dst.limit());
        try {
            if (dst.isDirect()) {
                U.copyMemory(null, address, null, directAddress(dst) + index, len);
            } else {
                U.copyMemory(null, address, dst.array(), BYTE_ARRAY_BASE + dst.arrayOffset() + index, len);
            }
        } finally {
            Reference.reachabilityFence(dst);
        }
    }

    // ------------------------------------------------------------------------------- Posix.MEM (instance API)

    /**
     * Bytes allocated through {@link #allocate} and not yet given back through {@link #freeMemory}, as the callers
     * state the sizes (set-up paths only: hot paths allocate nothing). What tests use to bound jqb's native memory
     * per connection.
     *
     * @return the bytes outstanding
     */
    public static long outstandingBytes() {
        return OUTSTANDING.sum();
    }

    /** @return {@code size} bytes of uninitialised native memory; release with {@link #freeMemory} */
    public long allocate(long size) {
        long a = U.allocateMemory(size);
        OUTSTANDING.add(size);
        return a;
    }

    /** Releases memory from {@link #allocate}; {@code size} is for symmetry with the allocation. */
    public void freeMemory(long address, long size) {
        U.freeMemory(address);
        OUTSTANDING.add(-size);
    }

    /** Fills {@code size} bytes at {@code address} with {@code value}. */
    public void setMemory(long address, long size, byte value) {
        U.setMemory(address, size, value);
    }

    /** Copies {@code len} bytes of {@code src} from {@code srcOffset} to native {@code address}. */
    public void copyMemory(byte[] src, int srcOffset, long address, int len) {
        copyFromArray(src, srcOffset, address, len);
    }

    public byte readByte(long address) {
        return getByte(address);
    }

    public void writeByte(long address, byte v) {
        putByte(address, v);
    }

    public short readShort(long address) {
        return U.getShort(address);
    }

    public void writeShort(long address, short v) {
        U.putShort(address, v);
    }

    public int readInt(long address) {
        return getInt(address);
    }

    /** A volatile load (on x86 a plain load the JIT may not hoist out of a loop). */
    public int readVolatileInt(long address) {
        return getIntVolatile(address);
    }

    public void writeInt(long address, int v) {
        putInt(address, v);
    }

    public long readLong(long address) {
        return getLong(address);
    }

    public void writeLong(long address, long v) {
        putLong(address, v);
    }
}
