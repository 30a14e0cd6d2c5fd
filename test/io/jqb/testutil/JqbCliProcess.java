package io.jqb.testutil;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * {@code io.jqb.cli.Main} (what {@code bin/jqb} runs) in a child JVM with this test's class path, so that a jqb
 * peer can be SIGTERMed, SIGKILLed and timed like a native one. {@link #close()} always ends and reaps it.
 */
public final class JqbCliProcess implements AutoCloseable {
    private static final String EOF = new String("<eof>");
    private static final Set<Process> LIVE = ConcurrentHashMap.newKeySet();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> LIVE.forEach(Process::destroyForcibly),
                "jqb-cli-reaper"));
    }

    private final Process process;
    private final List<String> command;
    private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();
    private final StringBuffer stdout = new StringBuffer();
    private final StringBuffer stderr = new StringBuffer();
    private final Thread outReader;
    private final Thread errReader;

    private JqbCliProcess(Process process, List<String> command) {
        this.process = process;
        this.command = command;
        this.outReader = pump(process.getInputStream(), true);
        this.errReader = pump(process.getErrorStream(), false);
    }

    /** The {@code java} launcher of this test JVM. */
    public static String java() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    /** The class path of this test JVM (surefire's real one when it runs us through a manifest-only jar). */
    public static String classPath() {
        String cp = System.getProperty("surefire.test.class.path");
        if (cp == null || cp.isBlank()) {
            cp = System.getProperty("java.class.path");
        }
        return cp;
    }

    /** Starts {@code java ... io.jqb.cli.Main args...}, stdin from /dev/null. */
    public static JqbCliProcess start(String... args) {
        return start(java.util.Map.of(), args);
    }

    /**
     * Starts {@code java ... io.jqb.cli.Main args...} with extra environment variables (a null value removes one),
     * stdin from /dev/null.
     */
    public static JqbCliProcess start(java.util.Map<String, String> env, String... args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(java());
        // as bin/jqb: no JVM flag but the log level
        cmd.addAll(List.of("-Dorg.slf4j.simpleLogger.defaultLogLevel=info",
                "-XX:TieredStopAtLevel=1", "-Xshare:auto",
                "-cp", classPath(), "io.jqb.cli.Main"));
        cmd.addAll(List.of(args));
        try {
            ProcessBuilder pb = new ProcessBuilder(cmd)
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
            env.forEach((k, v) -> {
                if (v == null) {
                    pb.environment().remove(k);
                } else {
                    pb.environment().put(k, v);
                }
            });
            Process p = pb.start();
            LIVE.add(p);
            return new JqbCliProcess(p, cmd);
        } catch (IOException e) {
            throw new UncheckedIOException("starting " + cmd, e);
        }
    }

    private Thread pump(InputStream in, boolean out) {
        Thread t = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
                String l;
                while ((l = r.readLine()) != null) {
                    if (out) {
                        stdout.append(l).append('\n');
                        lines.add(l);
                    } else {
                        stderr.append(l).append('\n');
                    }
                }
            } catch (IOException e) {
                // process gone
            } finally {
                if (out) {
                    lines.add(EOF);
                }
            }
        }, "jqb-cli-" + (out ? "out" : "err") + "-" + process.pid());
        t.setDaemon(true);
        t.start();
        return t;
    }

    /** @return the next stdout line, or null at EOF or after {@code timeoutMs} */
    public String nextLine(long timeoutMs) {
        try {
            String l = lines.poll(timeoutMs, TimeUnit.MILLISECONDS);
            if (l == EOF) {
                lines.add(EOF);
                return null;
            }
            return l;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }

    /** Waits for the exit (at most {@code timeoutMs}); returns the exit code, or null when still running. */
    public Integer waitFor(long timeoutMs) {
        try {
            if (!process.waitFor(timeoutMs, TimeUnit.MILLISECONDS)) {
                return null;
            }
            outReader.join(2000);
            errReader.join(2000);
            LIVE.remove(process);
            return process.exitValue();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }

    /** SIGTERM. */
    public void terminate() {
        process.destroy();
    }

    /** SIGKILL, and reap. */
    public void kill() {
        process.destroyForcibly();
        waitFor(10_000);
    }

    public long pid() {
        return process.pid();
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    public String stdout() {
        return stdout.toString();
    }

    /** Command, exit state, stdout and stderr, for failure messages. */
    public String describe() {
        return "\n  " + "jqb " + String.join(" ", command.subList(command.indexOf("io.jqb.cli.Main") + 1, command.size())) + " (pid " + pid() + ", "
                + (process.isAlive() ? "running" : "exit " + process.exitValue()) + ")\n  stdout:\n" + stdout
                + "  stderr:\n" + stderr;
    }

    @Override
    public void close() {
        if (process.isAlive()) {
            process.destroyForcibly();
        }
        waitFor(10_000);
    }
}
