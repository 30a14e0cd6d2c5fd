package io.jqb.internal.posix;

/**
 * Chooses how {@link LibC} is bound, once per process: JNI ({@link JniLibC}, in {@code libjqbguard.so}) when that
 * library is loaded and is of the same build (its {@link JniLibC#ABI}); jnr-ffi otherwise, or when the system
 * property {@code jqb.libc=jnr} asks for it. jnr-ffi's and jffi's classes are only loaded in the second case (so are
 * jffi's direct-buffer helpers, which load jffi's native stub).
 */
final class LibCBinding {
    /** The property that forces the jnr-ffi binding ({@code -Djqb.libc=jnr}). */
    static final String PROPERTY = "jqb.libc";
    /** True when {@link LibC#INSTANCE} is the JNI binding; constant, so the JIT folds {@link #errno()}. */
    static final boolean JNI = !"jnr".equals(System.getProperty(PROPERTY)) && Guard.AVAILABLE && JniLibC.linked();

    private LibCBinding() {
    }

    static LibC load() {
        requireLinuxX8664(System.getProperty("os.name"), System.getProperty("os.arch"));
        return JNI ? new JniLibC() : Jnr.load();
    }

    /**
     * Refuses any platform but Linux on x86-64, before the first libc call: {@link LibC}'s system-call numbers
     * ({@code SYS_futex} = 202, ...), flag values and the struct offsets of the descriptor classes are those of
     * Linux x86-64, and elsewhere they would name other calls and fields, silently.
     *
     * @param osName the {@code os.name} property
     * @param osArch the {@code os.arch} property
     * @throws UnsupportedOperationException on any other platform, naming it
     */
    static void requireLinuxX8664(String osName, String osArch) {
        boolean linux = "Linux".equals(osName);
        boolean x8664 = "amd64".equals(osArch) || "x86_64".equals(osArch);
        if (!linux || !x8664) {
            throw new UnsupportedOperationException("jqb runs on Linux x86-64 only (its system-call numbers and "
                    + "struct layouts are that platform's); this JVM runs on " + osName + " " + osArch);
        }
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
