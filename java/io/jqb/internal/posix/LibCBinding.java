package io.jqb.internal.posix;

/**
 * Chooses how {@link LibC} is bound, once per process: JNI ({@link JniLibC}, in {@code libjqbguard.so}) when that
 * library is loaded, jnr-ffi otherwise, or when the system property {@code jqb.libc=jnr} asks for it. jnr-ffi's
 * and jffi's
 * classes are only loaded in the second case (so are jffi's direct-buffer helpers, which load jffi's native stub).
 */
final class LibCBinding {
    /** The property that forces the jnr-ffi binding ({@code -Djqb.libc=jnr}). */
    static final String PROPERTY = "jqb.libc";
    /** True when {@link LibC#INSTANCE} is the JNI binding; constant, so the JIT folds {@link #errno()}. */
    static final boolean JNI = !"jnr".equals(System.getProperty(PROPERTY)) && Guard.AVAILABLE;

    private LibCBinding() {
    }

    static LibC load() {
        return JNI ? new JniLibC() : Jnr.load();
    }

    /** @return errno of this thread's last {@link LibC} call */
    static int errno() {
        return JNI ? JniLibC.lastErrno() : Jnr.RUNTIME.getLastError();
    }

    static java.nio.ByteBuffer newDirectBuffer(long address, int capacity) {
        if (capacity < 0) {
            throw new IllegalArgumentException("capacity=" + capacity);
        }
        return JNI ? JniLibC.newDirectBuffer(address, capacity) : Jnr.MEMORY_IO.newDirectByteBuffer(address, capacity);
    }

    /** jnr-ffi, in a class of its own so that nothing of jnr-ffi is loaded when JNI is used. */
    private static final class Jnr {
        static final jnr.ffi.Runtime RUNTIME = jnr.ffi.Runtime.getSystemRuntime();
        static final com.kenai.jffi.MemoryIO MEMORY_IO = com.kenai.jffi.MemoryIO.getInstance();

        static LibC load() {
            return jnr.ffi.LibraryLoader.create(LibC.class).load("c");
        }
    }
}
