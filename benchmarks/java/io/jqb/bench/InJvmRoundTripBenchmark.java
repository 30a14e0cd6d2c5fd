package io.jqb.bench;

import io.jqb.Client;
import io.jqb.IpcException;
import io.jqb.Service;
import io.jqb.TransportType;
import io.jqb.WaitStrategy;
import io.jqb.cli.EchoHandler;
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
 * Echo round trips between a jqb {@link Service} (with the CLI's {@link EchoHandler}) and a jqb {@link Client} in
 * the same JVM, over the real wire protocol (abstract socket handshake, rings in {@code /dev/shm} or datagram
 * sockets).
 *
 * <p>Thread topology: two threads. The JMH thread is the client: it sends a request and blocks in {@code recv}
 * (SHM: on the response ring's semaphore, i.e. {@code futex}; SOCKET: in {@code poll}). The service's built-in
 * {@code EventLoop} thread ({@code jqb-<name>}) sleeps in {@code epoll_wait}, is woken by the doorbell byte (SHM) or
 * the request datagram (SOCKET), runs the handler, which writes the response (SHM: ring + {@code sem_post}, which
 * wakes the client). Each round trip is therefore two cross-thread wake-ups; where the threads run (same vCPU or
 * not) is the scheduler's choice unless the JVM is pinned with {@code taskset}.</p>
 *
 * <ul>
 * <li>{@link #echo()}: request id 1, response of 24 + size bytes (the send, receive and response paths);</li>
 * <li>{@link #event()}: request id 2: a bare 24-byte response, then an event of 24 + size bytes and its
 * notification byte, read with {@code eventRecv} (adds the event path).</li>
 * </ul>
 *
 * <p>{@code -prof gc} counts the allocations of every thread in the JVM, so 0 B/op here means neither the client
 * nor the server side allocates per message.</p>
 */
@State(Scope.Thread)
@BenchmarkMode({Mode.AverageTime, Mode.SampleTime})
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {BenchSupport.J1, BenchSupport.J2, BenchSupport.J3, BenchSupport.J4,
    BenchSupport.J5})
public class InJvmRoundTripBenchmark {
    private static final int TIMEOUT_MS = 5000;

    @Param({"SHM", "SOCKET"})
    public TransportType transport;

    /** Echo payload bytes. */
    @Param({"64", "4096"})
    public int size;

    /**
     * Both ends' wait strategy ({@link WaitStrategy#parse}): "block" (the default, as described above), or e.g.
     * "spin" ({@code -p wait=spin}: the loop and the client spin; between two jqb ends the readers then find chunks
     * from write_pt and the writers skip the semaphore post, so {@code -prof gc} covers that path too).
     */
    @Param({"block"})
    public String wait;

    private Service service;
    private Client client;
    private ByteBuffer echoRequest;
    private ByteBuffer eventRequest;
    private ByteBuffer response;
    private ByteBuffer eventBuffer;

    @Setup(Level.Trial)
    public void setUp() throws IpcException {
        String name = BenchSupport.uniqueName("injvm");
        service = Service.create(name, 0, transport, new EchoHandler());
        service.setWaitStrategy(WaitStrategy.parse(wait));
        service.run();
        client = Client.connect(name, 65536);
        client.setWaitStrategy(WaitStrategy.parse(wait));
        echoRequest = BenchSupport.request(BenchSupport.ECHO, size);
        eventRequest = BenchSupport.request(BenchSupport.EVENT, size);
        response = ByteBuffer.allocateDirect(client.bufferSize());
        eventBuffer = ByteBuffer.allocateDirect(client.bufferSize());
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        if (client != null) {
            client.close();
        }
        if (service != null) {
            service.close();
        }
    }

    @Benchmark
    public int echo() throws IpcException {
        client.send(echoRequest);
        return BenchSupport.expect(client.recv(response, TIMEOUT_MS), size);
    }

    @Benchmark
    public int event() throws IpcException {
        client.send(eventRequest);
        BenchSupport.expect(client.recv(response, TIMEOUT_MS), 0);
        return BenchSupport.expect(client.eventRecv(eventBuffer, TIMEOUT_MS), size);
    }
}
