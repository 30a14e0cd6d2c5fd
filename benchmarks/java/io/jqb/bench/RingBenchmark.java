package io.jqb.bench;

import io.jqb.IpcException;
import io.jqb.internal.ring.ShmRing;
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
 * One chunk written to and read back from a real {@link ShmRing} in {@code /dev/shm} (header and data files,
 * data area mapped twice), the way a libqb client writes a request and the server consumes it.
 *
 * <p>Thread topology: one JMH thread is both producer and consumer; nobody waits, so no system call is made. Each
 * operation: free-space check, claim, copy {@code size} bytes in, commit (release store of the magic),
 * {@code sem_post} (64-bit CAS, no waiter so no futex), then {@code sem_trywait} (CAS), validate, copy {@code size}
 * bytes out into a direct buffer, reclaim. The ring's files are removed in {@link #tearDown()}.</p>
 *
 * <p>Expected allocation: 0 B/op ({@code -prof gc}).</p>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {BenchSupport.J1, BenchSupport.J2, BenchSupport.J3, BenchSupport.J4,
    BenchSupport.J5})
public class RingBenchmark implements ShmRing.ChunkHandler {
    /** Payload bytes per chunk. */
    @Param({"64", "4096", "65536"})
    public int size;

    private ShmRing ring;
    private ByteBuffer src;
    private ByteBuffer dst;

    @Setup(Level.Trial)
    public void setUp() throws IpcException {
        // Room for one 64 KiB message plus headers, like a client asking for 65536+40.
        ring = ShmRing.create("/dev/shm/" + BenchSupport.uniqueName("ring"), 65536 + 64, -1, -1, 0600);
        src = BenchSupport.request(BenchSupport.ECHO, size - BenchSupport.REQUEST_HEADER);
        dst = ByteBuffer.allocateDirect(size);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        if (ring != null) {
            ring.close(true);
        }
    }

    /** Write one chunk, then consume it: the request ring's whole life cycle for one message. */
    @Benchmark
    public int writeRead() {
        final ShmRing r = ring;
        int w = r.write(src);
        int len = w < 0 ? w : r.read(this);
        if (len < 0) {
            throw new IllegalStateException("write " + w + " read " + len);
        }
        return len;
    }

    /** The consumer's copy out into a direct buffer, as a client's receive does. */
    @Override
    public int onChunk(ShmRing r, int offset, int length) {
        r.copyTo(offset, dst, length);
        return length;
    }
}
