package io.jqb.bench;

import io.jqb.IpcException;
import io.jqb.internal.ring.SharedSemaphore;
import io.jqb.internal.ring.ShmRing;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Group;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The glibc-compatible process-shared semaphore of a ring header in {@code /dev/shm} ({@link SharedSemaphore}).
 *
 * <p>Thread topology:</p>
 * <ul>
 * <li>{@link #postTryWait()}: one JMH thread posts and takes the token back: two 64-bit CASes on shared memory,
 * no waiter registered, so no system call. This is the whole notification cost when the reader is already
 * awake.</li>
 * <li>{@code pingPong} group: two JMH threads, {@code ping} and {@code pong}, and two semaphores. Ping posts A and
 * waits on B; pong waits on A and posts B. Every wait finds the value at 0, registers as a waiter and sleeps in
 * {@code futex(FUTEX_WAIT)}; every post sees the waiter and calls {@code futex(FUTEX_WAKE)}. One op = one
 * ping-pong, i.e. two sleeps and two cross-thread wake-ups: the floor under any blocking round trip (jqb or libqb)
 * on this machine. Where the two threads run (same vCPU or not) is up to the scheduler; pin the JVM with
 * {@code taskset} to choose.</li>
 * </ul>
 *
 * <p>Expected allocation: 0 B/op.</p>
 */
@State(Scope.Group)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {BenchSupport.J1, BenchSupport.J2, BenchSupport.J3, BenchSupport.J4,
    BenchSupport.J5})
public class SemaphoreBenchmark {
    /** Bounded waits so that a thread left waiting at the end of an iteration returns. */
    private static final long WAIT_NANOS = 100_000_000L;

    private ShmRing ringA;
    private ShmRing ringB;
    private SharedSemaphore a;
    private SharedSemaphore b;

    @Setup(Level.Trial)
    public void setUp() throws IpcException {
        ringA = ShmRing.create("/dev/shm/" + BenchSupport.uniqueName("sem-a"), 4096, -1, -1, 0600);
        ringB = ShmRing.create("/dev/shm/" + BenchSupport.uniqueName("sem-b"), 4096, -1, -1, 0600);
        a = ringA.semaphore();
        b = ringB.semaphore();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        if (ringA != null) {
            ringA.close(true);
        }
        if (ringB != null) {
            ringB.close(true);
        }
    }

    /** {@code sem_post} + {@code sem_trywait}, uncontended. */
    @Benchmark
    @Group("postTryWait")
    public boolean postTryWait() {
        a.post();
        return a.tryWait();
    }

    /** Posts A, sleeps until pong posts B. */
    @Benchmark
    @Group("pingPong")
    public int ping() {
        a.post();
        return b.await(WAIT_NANOS);
    }

    /** Sleeps until ping posts A, posts B. */
    @Benchmark
    @Group("pingPong")
    public int pong() {
        int rc = a.await(WAIT_NANOS);
        if (rc == 0) {
            b.post();
        }
        return rc;
    }
}
