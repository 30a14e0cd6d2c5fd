package io.jqb.testutil;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A jqb echo server ({@code io.jqb.cli.Main echo-server}) in a child JVM, on this test run's class path, so a test
 * can SIGKILL a jqb server. {@link #close()} always ends and reaps it, and leaves none of its files behind.
 */
public final class ChildJvmServer implements AutoCloseable {
    private final Process process;
    private final StringBuffer output = new StringBuffer();
    private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();

    private ChildJvmServer(Process process) {
        this.process = process;
        Thread t = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(),
                    StandardCharsets.UTF_8))) {
                String l;
                while ((l = r.readLine()) != null) {
                    output.append(l).append('\n');
                    lines.add(l);
                }
            } catch (IOException e) {
                // gone
            }
        }, "child-jvm-out-" + process.pid());
        t.setDaemon(true);
        t.start();
    }

    /** Starts {@code jqb echo-server --service NAME} and waits (up to 30 s) for its ready line. */
    public static ChildJvmServer start(String service) throws IOException, InterruptedException {
        return start(service, List.of());
    }

    /**
     * Like {@link #start(String)}, with extra JVM options (before the class name) and extra echo-server options
     * (after {@code --service NAME}), e.g. {@code -XX:MaxDirectMemorySize=64m} and {@code --transport socket}.
     */
    public static ChildJvmServer start(String service, List<String> jvmOptions, String... serverOptions)
            throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(JqbCliProcess.java(), "-Xmx128m", "-XX:TieredStopAtLevel=1",
                "-Xshare:auto"));
        cmd.addAll(jvmOptions);
        cmd.addAll(List.of("-cp", JqbCliProcess.classPath(), "io.jqb.cli.Main", "echo-server", "--service", service));
        cmd.addAll(List.of(serverOptions));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectInput(new File("/dev/null")).start();
        ChildJvmServer s = new ChildJvmServer(p);
        long deadline = System.nanoTime() + 30_000_000_000L;
        for (;;) {
            String l = s.lines.poll(100, TimeUnit.MILLISECONDS);
            if (l != null && l.contains("ready")) {
                return s;
            }
            if (!p.isAlive() || System.nanoTime() > deadline) {
                s.close();
                throw new IllegalStateException("jqb echo-server did not start: " + s.output);
            }
        }
    }

    public long pid() {
        return process.pid();
    }

    /** SIGKILL and reap. */
    public void kill() {
        process.destroyForcibly();
        try {
            process.waitFor(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    public String output() {
        return output.toString();
    }

    /**
     * Stops the server as an operator would (SIGTERM: it disconnects everyone and removes its files), SIGKILL when it
     * has not ended within 10 s; then removes the connection directories a killed server could not (this test's own:
     * the directories of this server's pid), so no run leaves files in /dev/shm.
     */
    @Override
    public void close() {
        if (process.isAlive()) {
            process.destroy();
            try {
                process.waitFor(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        kill();
        ShmAssert.removeAll(process.pid());
    }
}
