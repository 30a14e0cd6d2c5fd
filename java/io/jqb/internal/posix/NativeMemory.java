package io.jqb.internal.posix;

import java.lang.invoke.MethodHandle;
import java.lang.ref.Reference;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
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
 * unless the JVM gets {@code --add-opens} flags; a library must start silently (issue 9, item 5). Unsafe is bound
 * reflectively into constant method handles (so no compiler or javadoc warning names it); the JIT inlines them to the
 * same single instructions chronicle's own Unsafe calls compile to.</p>
 *
 * <p>Addresses are absolute; callers validate them (every offset comes from a descriptor, and every index a peer can
 * write is checked before use). A fault on a truncated shared mapping surfaces as {@link InternalError}, as before.</p>
 */
public final class NativeMemory {
    /** See {@link #outstandingBytes()}. */
    private static final LongAdder OUTSTANDING = new LongAdder();
    private static final MethodHandle ALLOCATE;
    private static final MethodHandle FREE;
    private static final MethodHandle SET;
    private static final MethodHandle COPY;
    private static final MethodHandle GET_BYTE;
    private static final MethodHandle PUT_BYTE;
    private static final MethodHandle GET_SHORT;
    private static final MethodHandle PUT_SHORT;
    private static final MethodHandle GET_INT;
    private static final MethodHandle PUT_INT;
    private static final MethodHandle GET_LONG;
    private static final MethodHandle PUT_LONG;
    private static final MethodHandle GET_INT_VOLATILE;
    private static final MethodHandle PUT_INT_VOLATILE;
    private static final MethodHandle PUT_INT_ORDERED;
    private static final MethodHandle GET_AND_ADD_INT;
    private static final MethodHandle GET_LONG_VOLATILE;
    private static final MethodHandle PUT_LONG_VOLATILE;
    private static final MethodHandle CAS_LONG;
    private static final MethodHandle GET_LONG_FIELD;
    private static final long BYTE_ARRAY_BASE;
    /** Offset of {@code java.nio.Buffer.address} (a direct buffer's base address), as Agrona's BufferUtil reads it. */
    private static final long BUFFER_ADDRESS;

    static {
        try {
            Class<?> type = Class.forName("sun.misc.Unsafe");
            Field f = type.getDeclaredField("theUnsafe");
            f.setAccessible(true); // jdk.unsupported opens sun.misc to everyone
            Object u = f.get(null);
            MethodHandles.Lookup l = MethodHandles.lookup();
            Class<?> v = void.class;
            Class<?> o = Object.class;
            Class<?> j = long.class;
            Class<?> i = int.class;
            ALLOCATE = l.findVirtual(type, "allocateMemory", MethodType.methodType(j, j)).bindTo(u);
            FREE = l.findVirtual(type, "freeMemory", MethodType.methodType(v, j)).bindTo(u);
            SET = l.findVirtual(type, "setMemory", MethodType.methodType(v, j, j, byte.class)).bindTo(u);
            COPY = l.findVirtual(type, "copyMemory", MethodType.methodType(v, o, j, o, j, j)).bindTo(u);
            GET_BYTE = l.findVirtual(type, "getByte", MethodType.methodType(byte.class, j)).bindTo(u);
            PUT_BYTE = l.findVirtual(type, "putByte", MethodType.methodType(v, j, byte.class)).bindTo(u);
            GET_SHORT = l.findVirtual(type, "getShort", MethodType.methodType(short.class, j)).bindTo(u);
            PUT_SHORT = l.findVirtual(type, "putShort", MethodType.methodType(v, j, short.class)).bindTo(u);
            GET_INT = l.findVirtual(type, "getInt", MethodType.methodType(i, j)).bindTo(u);
            PUT_INT = l.findVirtual(type, "putInt", MethodType.methodType(v, j, i)).bindTo(u);
            GET_LONG = l.findVirtual(type, "getLong", MethodType.methodType(j, j)).bindTo(u);
            PUT_LONG = l.findVirtual(type, "putLong", MethodType.methodType(v, j, j)).bindTo(u);
            GET_INT_VOLATILE = l.findVirtual(type, "getIntVolatile", MethodType.methodType(i, o, j)).bindTo(u);
            PUT_INT_VOLATILE = l.findVirtual(type, "putIntVolatile", MethodType.methodType(v, o, j, i)).bindTo(u);
            PUT_INT_ORDERED = l.findVirtual(type, "putOrderedInt", MethodType.methodType(v, o, j, i)).bindTo(u);
            GET_AND_ADD_INT = l.findVirtual(type, "getAndAddInt", MethodType.methodType(i, o, j, i)).bindTo(u);
            GET_LONG_VOLATILE = l.findVirtual(type, "getLongVolatile", MethodType.methodType(j, o, j)).bindTo(u);
            PUT_LONG_VOLATILE = l.findVirtual(type, "putLongVolatile", MethodType.methodType(v, o, j, j)).bindTo(u);
            CAS_LONG = l.findVirtual(type, "compareAndSwapLong", MethodType.methodType(boolean.class, o, j, j, j))
                    .bindTo(u);
            GET_LONG_FIELD = l.findVirtual(type, "getLong", MethodType.methodType(j, o, j)).bindTo(u);
            // Reading the field's offset needs no access to java.nio (no --add-opens): only Field lookup.
            BUFFER_ADDRESS = (long) l.findVirtual(type, "objectFieldOffset", MethodType.methodType(j, Field.class))
                    .bindTo(u).invoke(java.nio.Buffer.class.getDeclaredField("address"));
            BYTE_ARRAY_BASE = (int) l.findVirtual(type, "arrayBaseOffset", MethodType.methodType(i, Class.class))
                    .bindTo(u).invoke(byte[].class);
        } catch (Throwable e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    NativeMemory() {
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException) {
            throw (RuntimeException) t;
        }
        if (t instanceof Error) {
            throw (Error) t; // e.g. the InternalError of a fault on a truncated mapping
        }
        throw new IllegalStateException(t);
    }

    // ------------------------------------------------------------------------------- absolute addresses (static)

    static byte getByte(long a) {
        try {
            return (byte) GET_BYTE.invokeExact(a);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static void putByte(long a, byte x) {
        try {
            PUT_BYTE.invokeExact(a, x);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static int getInt(long a) {
        try {
            return (int) GET_INT.invokeExact(a);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static void putInt(long a, int x) {
        try {
            PUT_INT.invokeExact(a, x);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static long getLong(long a) {
        try {
            return (long) GET_LONG.invokeExact(a);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static void putLong(long a, long x) {
        try {
            PUT_LONG.invokeExact(a, x);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static int getIntVolatile(long a) {
        try {
            return (int) GET_INT_VOLATILE.invokeExact((Object) null, a);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static void putIntVolatile(long a, int x) {
        try {
            PUT_INT_VOLATILE.invokeExact((Object) null, a, x);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static void putIntOrdered(long a, int x) {
        try {
            PUT_INT_ORDERED.invokeExact((Object) null, a, x);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static int getAndAddInt(long a, int delta) {
        try {
            return (int) GET_AND_ADD_INT.invokeExact((Object) null, a, delta);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static long getLongVolatile(long a) {
        try {
            return (long) GET_LONG_VOLATILE.invokeExact((Object) null, a);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static void putLongVolatile(long a, long x) {
        try {
            PUT_LONG_VOLATILE.invokeExact((Object) null, a, x);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static boolean casLong(long a, long expected, long x) {
        try {
            return (boolean) CAS_LONG.invokeExact((Object) null, a, expected, x);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Copies {@code len} bytes of {@code src} from {@code srcOffset} to native {@code address}. */
    static void copyFromArray(byte[] src, int srcOffset, long address, int len) {
        if (srcOffset < 0 || len < 0 || srcOffset > src.length - len) {
            throw new IndexOutOfBoundsException("srcOffset=" + srcOffset + " len=" + len + " length=" + src.length);
        }
        try {
            COPY.invokeExact((Object) src, BYTE_ARRAY_BASE + srcOffset, (Object) null, address, (long) len);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Copies {@code len} bytes at native {@code address} into {@code dst} from {@code dstOffset}. */
    static void copyToArray(long address, byte[] dst, int dstOffset, int len) {
        java.util.Objects.checkFromIndexSize(dstOffset, len, dst.length);
        try {
            COPY.invokeExact((Object) null, address, (Object) dst, BYTE_ARRAY_BASE + dstOffset, (long) len);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** @return the native address of a direct buffer's index 0 (one field read; no JNI call) */
    static long directAddress(ByteBuffer direct) {
        try {
            return (long) GET_LONG_FIELD.invokeExact((Object) direct, BUFFER_ADDRESS);
        } catch (Throwable t) {
            throw rethrow(t);
        }
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
                COPY.invokeExact((Object) null, directAddress(src) + index, (Object) null, address, (long) len);
            } else if (src.hasArray()) {
                COPY.invokeExact((Object) src.array(), BYTE_ARRAY_BASE + src.arrayOffset() + index, (Object) null,
                        address, (long) len);
            } else {
                // A read-only heap buffer hides its array: byte by byte, rare and still allocation-free.
                for (int i = 0; i < len; i++) {
                    PUT_BYTE.invokeExact(address + i, src.get(index + i));
                }
            }
        } catch (Throwable t) {
            throw rethrow(t);
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
                COPY.invokeExact((Object) null, address, (Object) null, directAddress(dst) + index, (long) len);
            } else {
                COPY.invokeExact((Object) null, address, (Object) dst.array(),
                        BYTE_ARRAY_BASE + dst.arrayOffset() + index, (long) len);
            }
        } catch (Throwable t) {
            throw rethrow(t);
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
        try {
            long a = (long) ALLOCATE.invokeExact(size);
            OUTSTANDING.add(size);
            return a;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Releases memory from {@link #allocate}; {@code size} is for symmetry with the allocation. */
    public void freeMemory(long address, long size) {
        try {
            FREE.invokeExact(address);
            OUTSTANDING.add(-size);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Fills {@code size} bytes at {@code address} with {@code value}. */
    public void setMemory(long address, long size, byte value) {
        try {
            SET.invokeExact(address, size, value);
        } catch (Throwable t) {
            throw rethrow(t);
        }
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
        try {
            return (short) GET_SHORT.invokeExact(address);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void writeShort(long address, short v) {
        try {
            PUT_SHORT.invokeExact(address, v);
        } catch (Throwable t) {
            throw rethrow(t);
        }
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
