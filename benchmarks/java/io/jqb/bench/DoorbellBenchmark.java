package io.jqb.bench;

import io.jqb.IpcException;
import io.jqb.internal.posix.LibC;
import io.jqb.internal.posix.Posix;
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
 * The SHM request path with its doorbell, without any wake-up: what a request costs in CPU on both sides.
 *
 * <p>Thread topology: one JMH thread plays both ends, on a real ring in {@code /dev/shm} and an AF_UNIX stream
 * socketpair standing in for the setup socket. One op = the client's side of {@code qb_ipcc_send} (ring write,
 * {@code sem_post}, one-byte {@code send(MSG_DONTWAIT|MSG_NOSIGNAL)}) followed by the server's side of serving it
 * ({@code sem_trywait}, validate the chunk, read the request header in place, reclaim, one-byte
 * {@code recv(MSG_DONTWAIT)}). The two system calls dominate; compare with {@link RingBenchmark} for the ring
 * alone.</p>
 *
 * <p>Expected allocation: 0 B/op.</p>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {BenchSupport.J1, BenchSupport.J2, BenchSupport.J3, BenchSupport.J4,
    BenchSupport.J5})
public class DoorbellBenchmark implements ShmRing.ChunkHandler {
    /** Request payload bytes (after the 16-byte header). */
    @Param({"64"})
    public int size;

    private ShmRing ring;
    private ByteBuffer request;
    private ByteBuffer view;
    private int clientFd = -1;
    private int serverFd = -1;
    private long scratch;

    @Setup(Level.Trial)
    public void setUp() throws IpcException {
        ring = ShmRing.create("/dev/shm/" + BenchSupport.uniqueName("doorbell"), 65536, -1, -1, 0600);
        view = ring.view();
        request = BenchSupport.request(BenchSupport.ECHO, size);
        scratch = Posix.allocate(16);
        Posix.check(Posix.C.socketpair(LibC.AF_UNIX, LibC.SOCK_STREAM | LibC.SOCK_NONBLOCK | LibC.SOCK_CLOEXEC, 0,
                scratch), "socketpair");
        clientFd = Posix.MEM.readInt(scratch);
        serverFd = Posix.MEM.readInt(scratch + 4);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        Posix.closeQuietly(clientFd);
        Posix.closeQuietly(serverFd);
        Posix.free(scratch, 16);
        if (ring != null) {
            ring.close(true);
        }
    }

    @Benchmark
    public int requestWithDoorbell() {
        // client: write + post, then the doorbell byte (the request's first byte, as qb_ipcc_send sends)
        int w = ring.write(request);
        Posix.MEM.writeByte(scratch + 8, request.get(0));
        if (w < 0 || Posix.C.send(clientFd, scratch + 8, 1, LibC.MSG_DONTWAIT | LibC.MSG_NOSIGNAL) != 1) {
            throw new IllegalStateException("send " + w);
        }
        // server: take the token, validate, look at the header in place, reclaim, drain the doorbell
        int idLen = ring.read(this);
        if (idLen < 0) {
            throw new IllegalStateException("read " + idLen);
        }
        if (Posix.C.recv(serverFd, scratch + 12, 1, LibC.MSG_DONTWAIT) != 1) {
            throw new IllegalStateException("no doorbell");
        }
        return idLen;
    }

    /** The server's look at the request header in place (id + chunk length, so nothing is optimised away). */
    @Override
    public int onChunk(ShmRing r, int offset, int length) {
        return (view.getInt(offset) & 0xffff) + length;
    }
}
