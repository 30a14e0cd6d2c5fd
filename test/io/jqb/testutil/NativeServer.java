package io.jqb.testutil;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A real native libqb echo server ({@code native/build/qbn-server}) running as a child process.
 *
 * <pre>{@code
 * try (NativeServer s = NativeServer.start(NativeServer.uniqueName("x"), "--max-msg-size", "100000")) {
 *     s.command("ratelimit off");   // "ok"
 *     s.kill();                     // SIGKILL + reap
 * }
 * }</pre>
 *
 * <p>{@link #close()} always ends and reaps the process (a graceful {@code quit} first, so that the server removes
 * its connections' files, then SIGKILL). A JVM shutdown hook kills whatever a crashed test left running.</p>
 */
public final class NativeServer implements AutoCloseable {
    private static final long READY_TIMEOUT_MS = 10_000;
    private static final long COMMAND_TIMEOUT_MS = 5_000;
    private static final long QUIT_GRACE_MS = 3_000;
    private static final String EOF = new String("<eof>");
    private static final AtomicInteger NAMES = new AtomicInteger();
    private static final Set<Process> LIVE = ConcurrentHashMap.newKeySet();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> LIVE.forEach(Process::destroyForcibly),
                "native-server-reaper"));
    }

    private final String service;
    private final Process process;
    private final OutputStream stdin;
    private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();
    private final StringBuffer stderr = new StringBuffer();
    private final Thread outReader;
    private final Thread errReader;
    private final long pid;

    private NativeServer(String service, Process process) {
        this.service = service;
        this.process = process;
        this.pid = process.pid();
        this.stdin = process.getOutputStream();
        this.outReader = pump("qbn-out-" + pid, process.getInputStream(), line -> lines.add(line), () -> lines.add(EOF));
        this.errReader = pump("qbn-err-" + pid, process.getErrorStream(), line -> stderr.append(line).append('\n'),
                () -> { });
    }

    /** A service name nobody else uses: prefix, this JVM's pid and a counter. */
    public static String uniqueName(String prefix) {
        return "jqbt-" + prefix + "-" + ProcessHandle.current().pid() + "-" + NAMES.incrementAndGet();
    }

    /** The qbn-server binary ({@code jqb.native.dir} system property, else native/build). */
    public static Path binary() {
        String dir = System.getProperty("jqb.native.dir", "native/build");
        Path p = Path.of(dir, "qbn-server").toAbsolutePath();
        if (!Files.isExecutable(p)) {
            throw new IllegalStateException(p + " is missing: run `make -C native` first");
        }
        return p;
    }

    /**
     * Starts {@code qbn-server --service NAME args...} and waits for its {@code ready} line.
     *
     * @throws IllegalStateException when it exits or stays silent instead (with its stderr)
     */
    public static NativeServer start(String service, String... args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(binary().toString());
        cmd.add("--service");
        cmd.add(service);
        cmd.addAll(List.of(args));
        Process p;
        try {
            p = new ProcessBuilder(ForceFilesystemSwitch.wrap(cmd)).start();
        } catch (IOException e) {
            throw new IllegalStateException("cannot start " + cmd, e);
        }
        LIVE.add(p);
        NativeServer s = new NativeServer(service, p);
        boolean ok = false;
        try {
            String line = s.nextLine(READY_TIMEOUT_MS);
            String expect = "ready service=" + service + " pid=" + p.pid();
            if (!expect.equals(line)) {
                s.settle();
                throw new IllegalStateException("qbn-server " + cmd + ": expected '" + expect + "', got '" + line
                        + "'" + s.diagnostics());
            }
            ok = true;
            return s;
        } finally {
            if (!ok) {
                s.close();
            }
        }
    }

    /** Sends one stdin command and returns its one-line answer. */
    public String command(String line) {
        try {
            stdin.write((line + "\n").getBytes(StandardCharsets.UTF_8));
            stdin.flush();
        } catch (IOException e) {
            throw new IllegalStateException("qbn-server: cannot send '" + line + "': " + e + diagnostics(), e);
        }
        String answer = nextLine(COMMAND_TIMEOUT_MS);
        if (answer == null || answer == EOF) {
            settle();
            throw new IllegalStateException("qbn-server: no answer to '" + line + "'" + diagnostics());
        }
        return answer;
    }

    /** Sends a command and insists on the answer {@code expected}. */
    public void expect(String line, String expected) {
        String got = command(line);
        if (!expected.equals(got)) {
            throw new IllegalStateException("qbn-server: '" + line + "' answered '" + got + "', expected '"
                    + expected + "'" + diagnostics());
        }
    }

    private String nextLine(long timeoutMs) {
        try {
            String l = lines.poll(timeoutMs, TimeUnit.MILLISECONDS);
            if (l == EOF) {
                lines.add(EOF); // keep reporting the end
            }
            return l;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted waiting for qbn-server", e);
        }
    }

    /** Pids of the servers started by this JVM that still exist (should be none between test classes). */
    public static java.util.List<Long> stillRunning() {
        return LIVE.stream().filter(Process::isAlive).map(Process::pid).sorted()
                .collect(java.util.stream.Collectors.toList());
    }

    public String service() {
        return service;
    }

    public long pid() {
        return pid;
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    /** Everything the server wrote to stderr so far. */
    public String stderr() {
        return stderr.toString();
    }

    /** Before reporting a failure: give a dying process a moment to exit and its stderr to be read. */
    private void settle() {
        try {
            process.waitFor(1, TimeUnit.SECONDS);
            errReader.join(1_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private String diagnostics() {
        String exit = process.isAlive() ? "running" : "exit " + process.exitValue();
        return " [pid " + pid + ", " + exit + ", stderr: " + stderr.toString().trim() + "]";
    }

    /** SIGKILL, then wait until the process is reaped (no zombie is left for liveness checks to find). */
    public void kill() {
        process.destroyForcibly();
        reap();
    }

    private void reap() {
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                throw new IllegalStateException("qbn-server pid " + pid + " survived SIGKILL");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
        }
        LIVE.remove(process);
    }

    /** Asks the server to quit (so it cleans up its connections), SIGKILLs it if it does not, and reaps it. */
    @Override
    public void close() {
        if (process.isAlive()) {
            try {
                stdin.write("quit\n".getBytes(StandardCharsets.UTF_8));
                stdin.flush();
            } catch (IOException e) {
                // already going away
            }
            try {
                process.waitFor(QUIT_GRACE_MS, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        try {
            stdin.close();
        } catch (IOException e) {
            // ignore
        }
        kill();
        try {
            outReader.join(2_000);
            errReader.join(2_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static Thread pump(String name, InputStream in, java.util.function.Consumer<String> sink, Runnable atEnd) {
        Thread t = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
                String l;
                while ((l = r.readLine()) != null) {
                    sink.accept(l);
                }
            } catch (IOException e) {
                // the process went away
            } finally {
                atEnd.run();
            }
        }, name);
        t.setDaemon(true);
        t.start();
        return t;
    }

    @Override
    public String toString() {
        return "qbn-server(" + service + ", pid " + pid + ")";
    }
}
