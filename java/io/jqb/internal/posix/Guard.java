package io.jqb.internal.posix;

import io.jqb.internal.LazyLogger;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * Atomic read-modify-writes on shared memory a peer may truncate, through {@code libjqbguard.so}
 * (native/jqb_guard.c): a SIGBUS during one of them is a return code in the calling thread, not a fatal error of the
 * JVM (HotSpot guards Unsafe loads, stores and copies, but not an interpreted Unsafe compare-and-set).
 *
 * <p>Ranges {@linkplain #register registered} with the guard (the rings' mappings) need none of these calls: a SIGBUS
 * inside one is repaired where it happens (a private zero page replaces the vanished one, the range's fault flag is
 * set, the access runs again), so plain Unsafe loads, stores and compare-and-sets on them never fault, interpreted or
 * compiled, and nothing is left for HotSpot to throw later; callers read the flag to drop the connection.</p>
 *
 * <p>The library is found, in this order: the system property {@code jqb.guard.library} (a path); {@code
 * native/build/libjqbguard.so} under the working directory (a source checkout after {@code make}); the copy packaged
 * in the jar ({@code io/jqb/native/libjqbguard.so}), extracted to a temporary file. When none loads,
 * {@link #AVAILABLE} is false and callers use Unsafe as before (one DEBUG line says why).</p>
 */
public final class Guard {
    private static final LazyLogger LOG = new LazyLogger(Guard.class);
    /** The property naming the library's path. */
    public static final String LIBRARY_PROPERTY = "jqb.guard.library";
    /** Whether the guarded operations can be used; constant, so the JIT folds the branch. */
    public static final boolean AVAILABLE = load();
    /**
     * The property that, set to {@code false}, keeps rings from {@linkplain #register registering} (the probe and the
     * guarded JNI calls instead of in-place repair: for A/B measurements, and an escape hatch).
     */
    public static final String REPAIR_PROPERTY = "jqb.guard.repair";
    /** Whether rings register their mappings for in-place repair (the library is there and it is not turned off). */
    public static final boolean REPAIR = AVAILABLE && !"false".equals(System.getProperty(REPAIR_PROPERTY));

    private Guard() {
    }

    private static boolean load() {
        String explicit = System.getProperty(LIBRARY_PROPERTY);
        try {
            if (explicit != null && !explicit.isEmpty()) {
                System.load(Path.of(explicit).toAbsolutePath().toString());
            } else {
                Path local = Path.of("native", "build", "libjqbguard.so").toAbsolutePath();
                if (Files.isRegularFile(local)) {
                    System.load(local.toString());
                } else if (!loadPackaged()) {
                    LOG.get().debug("libjqbguard.so not found: a peer truncating its ring files can crash this JVM");
                    return false;
                }
            }
            if (install() != 0) {
                LOG.get().debug("libjqbguard: sigaction(SIGBUS) failed");
                return false;
            }
            return true;
        } catch (UnsatisfiedLinkError | IOException | SecurityException e) {
            LOG.get().debug("libjqbguard not loaded: {}", e.toString());
            return false;
        }
    }

    private static boolean loadPackaged() throws IOException {
        try (InputStream in = Guard.class.getResourceAsStream("/io/jqb/native/libjqbguard.so")) {
            if (in == null) {
                return false;
            }
            Path tmp = Files.createTempFile("libjqbguard", ".so");
            try {
                Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
                System.load(tmp.toString());
            } finally {
                Files.deleteIfExists(tmp); // mapped once loaded: the file is not needed any more
            }
            return true;
        }
    }

    private static native int install();

    /**
     * Compare-and-set of the 64-bit word at {@code address}.
     *
     * @return 1 when swapped, 0 when the word was not {@code expect}, -1 when the memory is gone
     */
    public static native int casLong(long address, long expect, long update);

    /**
     * {@code sem_post} on glibc's 64-bit semaphore word (value low, waiters high).
     *
     * @return 1 when a registered waiter may be asleep (wake one: several waiters, or one and the value was 0; see
     *         {@code SharedSemaphore.needsWake}), 0 when not, -2 at SEM_VALUE_MAX or a negative value, -1 when the
     *         memory is gone
     */
    public static native int semPost(long address);

    /**
     * {@code sem_trywait} on glibc's 64-bit semaphore word.
     *
     * @return 1 when a token was taken, 0 when none, -1 when the memory is gone
     */
    public static native int semTryWait(long address);

    /**
     * Reads one byte at each address under the guard. A file can only lose pages from its end, so a probe of its
     * mapping's last byte tells whether all of it is still there.
     *
     * @return 0 when both can be read, -1 when either is gone
     */
    public static native int probe(long a, long b);

    /**
     * Makes {@code [start, start + length)} repairable: a SIGBUS inside it maps a private zero page over the faulting
     * page and stores 1 into the 32-bit word at {@code flag} (private memory that outlives the registration).
     * {@link #unregister} it before the range is unmapped or the flag freed.
     *
     * @return the slot to unregister, or -1 when the registry is full (then nothing is repaired)
     */
    public static native int register(long start, long length, long flag);

    /**
     * Forgets a slot {@link #register} returned; -1 (and a slot not registered) is ignored. Returns once no SIGBUS
     * handler can still be using the slot's range or flag: the caller may then unmap the range and free the flag.
     */
    public static native void unregister(int slot);

    /** @return how many slots are registered now (a ring holds two): for tests that check none leaks */
    public static native int slotsInUse();

    /**
     * Atomic add on the 32-bit word at {@code address}.
     *
     * @return the new value in the low 32 bits, or a value with bit 32 set when the memory is gone
     */
    public static native long addInt(long address, int delta);
}
