package io.jqb;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.jqb.testutil.InteropTestBase;
import io.jqb.testutil.JqbCliProcess;
import io.jqb.testutil.NativeClient;
import io.jqb.testutil.NativeClient.CheckResult;
import io.jqb.testutil.ShmAssert;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * {@code jqb echo-server} as its own process (the CLI main class on this test's class path, so no jar is needed):
 * prints {@code ready}, serves native clients, and on SIGTERM disconnects them, removes its files and exits 0.
 */
class EchoServerProcessTest extends InteropTestBase {

    /** A running {@code io.jqb.cli.Main echo-server}; output collected line by line. */
    static final class EchoServer implements AutoCloseable {
        final Process process;
        final BlockingQueue<String> lines = new LinkedBlockingQueue<>();
        final StringBuffer all = new StringBuffer();
        /** Collects the output; ends at the process's end-of-stream. */
        final Thread reader;

        EchoServer(String... args) throws IOException {
            List<String> cmd = new ArrayList<>(List.of(
                    JqbCliProcess.java(), "-cp", JqbCliProcess.classPath(), "io.jqb.cli.Main", "echo-server"));
            cmd.addAll(List.of(args));
            process = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            reader = new Thread(() -> {
                try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(),
                        StandardCharsets.UTF_8))) {
                    String l;
                    while ((l = r.readLine()) != null) {
                        all.append(l).append('\n');
                        lines.add(l);
                    }
                } catch (IOException e) {
                    // process gone
                }
            }, "echo-server-out");
            reader.setDaemon(true);
            reader.start();
        }

        /**
         * Waits for the process to exit AND for the reader to reach end-of-stream, so that {@link #all} holds every
         * line the process printed; returns the exit code.
         */
        int awaitExit() throws InterruptedException {
            if (!process.waitFor(60, TimeUnit.SECONDS)) {
                fail("echo-server did not exit within 60 s:\n" + all);
            }
            reader.join(TimeUnit.SECONDS.toMillis(60));
            if (reader.isAlive()) {
                fail("echo-server's output did not end within 60 s of its exit:\n" + all);
            }
            return process.exitValue();
        }

        void awaitReady() throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (System.nanoTime() < deadline) {
                String l = lines.poll(100, TimeUnit.MILLISECONDS);
                if (l != null && l.contains("ready")) {
                    return;
                }
                if (l == null && !process.isAlive()) {
                    break;
                }
            }
            fail("echo-server printed no 'ready' line (alive=" + process.isAlive() + "):\n" + all);
        }

        /** SIGTERM; returns the exit code. */
        int terminate() throws InterruptedException {
            process.destroy();
            if (!process.waitFor(15, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(5, TimeUnit.SECONDS);
                fail("echo-server ignored SIGTERM:\n" + all);
            }
            return process.exitValue();
        }

        @Override
        public void close() throws InterruptedException {
            if (process.isAlive()) {
                process.destroyForcibly();
                process.waitFor(10, TimeUnit.SECONDS);
            }
        }
    }

    @Test
    void echoServerServesNativeClientsAndCleansUpOnSigterm() throws Exception {
        String name = serviceName();
        EchoServer server = track(new EchoServer("--service", name, "--max-msg-size", "100000"));
        server.awaitReady();
        long spid = server.process.pid();

        CheckResult r = NativeClient.check(name, 0, Duration.ofSeconds(60));
        r.assertPassed();
        // --max-msg-size is the enforced minimum: a client asking 5000 gets 100000
        NativeClient nc = drive(name, 5000);
        assertEquals(100_000, nc.connect());
        nc.echo(100_000 - 24);
        assertEquals(1, ShmAssert.entries(spid).size());
        Path dir = ShmAssert.entries(spid).get(0);
        assertTrue(Files.isDirectory(dir));

        assertEquals(0, server.terminate(), "exit code after SIGTERM; output:\n" + server.all);
        ShmAssert.assertNoneLeft(spid);
        nc.expect("recv 300", "err ENOTCONN");
        nc.expect("connected", "ok 0");
        NativeClient late = drive(name);
        late.expect("connect", "err ECONNREFUSED");
    }

    @Test
    void echoServerRejectsBadArguments() throws Exception {
        EchoServer noName = track(new EchoServer());
        assertEquals(2, noName.awaitExit(), noName.all.toString());
        assertTrue(noName.all.toString().contains("--service"), noName.all.toString());
    }
}
