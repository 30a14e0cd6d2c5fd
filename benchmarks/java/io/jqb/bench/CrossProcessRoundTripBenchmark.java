package io.jqb.bench;

import io.jqb.Client;
import io.jqb.IpcException;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
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
 * Echo round trips from a jqb {@link Client} to native libqb: {@code native/build/qbn-server} (libqb 2.0.6's
 * {@code qb_ipcs} with its own {@code qb_loop}), started as a separate process in {@link #setUp()} and stopped in
 * {@link #tearDown()} (SIGTERM; it removes its files).
 *
 * <p>Thread topology: the JMH thread is the client (blocks on the response semaphore for SHM, in {@code poll} for
 * SOCKET); the server is a single-threaded native process woken by the doorbell byte or the request datagram. Two
 * cross-process wake-ups per round trip; CPU placement is the scheduler's unless both are pinned (run JMH under
 * {@code taskset}; the server inherits the mask).</p>
 *
 * <p>The native peers are found in {@code -Djqb.native.dir}, else {@code native/build} under the working
 * directory ({@code make bench} builds them and runs from the repository root). {@code -prof gc} measures this JVM
 * only, i.e. the client side.</p>
 */
@State(Scope.Thread)
@BenchmarkMode({Mode.AverageTime, Mode.SampleTime})
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {BenchSupport.J1, BenchSupport.J2, BenchSupport.J3, BenchSupport.J4,
    BenchSupport.J5})
public class CrossProcessRoundTripBenchmark {
    private static final int TIMEOUT_MS = 5000;

    @Param({"shm", "socket"})
    public String transport;

    /** Echo payload bytes. */
    @Param({"64", "4096"})
    public int size;

    private Process server;
    private Client client;
    private ByteBuffer request;
    private ByteBuffer response;

    @Setup(Level.Trial)
    public void setUp() throws IOException, IpcException {
        Path exe = BenchSupport.nativeDir().resolve("qbn-server");
        if (!Files.isExecutable(exe)) {
            throw new IllegalStateException(exe + " not found: run 'make -C native' (or set -Djqb.native.dir)");
        }
        String name = BenchSupport.uniqueName("xproc");
        server = new ProcessBuilder(exe.toString(), "--service", name, "--transport", transport)
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        BufferedReader out = new BufferedReader(new InputStreamReader(server.getInputStream(),
                StandardCharsets.UTF_8));
        String line;
        while ((line = out.readLine()) != null && !line.startsWith("ready")) {
            // skip anything before the ready line
        }
        if (line == null) {
            throw new IllegalStateException("qbn-server exited before 'ready' (exit " + waitQuietly() + ")");
        }
        client = Client.connect(name, 65536);
        request = BenchSupport.request(BenchSupport.ECHO, size);
        response = ByteBuffer.allocateDirect(client.bufferSize());
    }

    private int waitQuietly() {
        try {
            return server.waitFor(5, TimeUnit.SECONDS) ? server.exitValue() : -1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        if (client != null) {
            client.close();
        }
        if (server != null) {
            server.destroy(); // SIGTERM: qbn-server shuts its service down and removes its files
            if (waitQuietly() == -1) {
                server.destroyForcibly();
            }
        }
    }

    @Benchmark
    public int echo() throws IpcException {
        client.send(request);
        return BenchSupport.expect(client.recv(response, TIMEOUT_MS), size);
    }
}
