package io.jqb.bench;

import io.jqb.internal.posix.PointerStore;
import io.jqb.internal.posix.Posix;
import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * A/B of the two memory APIs {@code ShmRing} used for its payload copies (issue 9 item 13, "fewer memory APIs"),
 * in one run on the same native memory: {@code view*} is the old way (a direct ByteBuffer over the data area, made by
 * jffi's {@code MemoryIO}, and {@code ByteBuffer.put(int, ByteBuffer, int, int)}), {@code store*} the new one
 * ({@code PointerStore.write/read(long, ByteBuffer, int, int)}: bounds check, then one Unsafe {@code copyMemory}).
 * {@code copyIn} is a ring write's payload copy from the caller's buffer, {@code copyOut} a client receive's copy
 * into the caller's buffer; the caller's buffer is direct or heap ({@code kind}).
 *
 * <p>Thread topology: one JMH thread, no shared state, no system call. Expected allocation: 0 B/op for all.</p>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {BenchSupport.J5})
public class RingCopyBenchmark {
    /** Payload bytes per copy. */
    @Param({"64", "4096", "65536"})
    public int size;

    /** The caller's buffer: "direct" or "heap". */
    @Param({"direct", "heap"})
    public String kind;

    private static final int AREA = 2 * 65536 + 4096;
    /** Where the payload lands: an odd word, as chunk payloads do. */
    private static final int AT = 4096 + 8;

    private long address;
    private PointerStore store;
    private ByteBuffer view;
    private ByteBuffer user;

    @Setup(Level.Trial)
    public void setUp() {
        address = Posix.allocate(AREA);
        store = new PointerStore(address, AREA);
        view = Posix.directBuffer(address, AREA);
        user = "heap".equals(kind) ? ByteBuffer.allocate(size) : ByteBuffer.allocateDirect(size);
        for (int i = 0; i < size; i++) {
            user.put(i, (byte) i);
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        Posix.free(address, AREA);
    }

    /** Old write path: {@code dataView.put(off, src, src.position(), len)}. */
    @Benchmark
    public int viewCopyIn() {
        view.put(AT, user, 0, size);
        return size;
    }

    /** New write path: {@code data.write(off, src, src.position(), len)}. */
    @Benchmark
    public int storeCopyIn() {
        store.write(AT, user, 0, size);
        return size;
    }

    /** Old receive path: {@code dst.put(dst.position(), view, off, len)}. */
    @Benchmark
    public int viewCopyOut() {
        user.put(0, view, AT, size);
        return size;
    }

    /** New receive path: {@code data.read(off, dst, dst.position(), len)}. */
    @Benchmark
    public int storeCopyOut() {
        store.read(AT, user, 0, size);
        return size;
    }
}
