package io.jqb.notify;

import static org.junit.jupiter.api.Assertions.fail;

import io.jqb.testutil.JqbCliProcess;
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
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * A peer process (a {@code bin/jqb} command in a child JVM, or native/build/qbn-notify) whose stdout lines a test
 * reads one by one. {@link #close()} stops it (SIGTERM, SIGKILL after 10 s) and reaps it.
 */
final class LineProcess implements AutoCloseable {
    static final long LINE_TIMEOUT_MS = 60_000;
    private static final String EOF = new String("<eof>");

    private final Process process;
    private final List<String> command;
    private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();
    private final StringBuffer out = new StringBuffer();
    private final StringBuffer err = new StringBuffer();
    private final List<Thread> pumps = new ArrayList<>();

    private LineProcess(List<String> command) {
        this.command = command;
        try {
            process = new ProcessBuilder(command).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                    .start();
        } catch (IOException e) {
            throw new UncheckedIOException("starting " + command, e);
        }
        pump(process.getInputStream(), true);
        pump(process.getErrorStream(), false);
    }

    /** {@code bin/jqb args...} in a child JVM with this test's class path. */
    static LineProcess jqb(String... args) {
        List<String> cmd = new ArrayList<>(List.of(JqbCliProcess.java(),
                "-Dorg.slf4j.simpleLogger.log.net.openhft=off", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
                "-XX:TieredStopAtLevel=1", "-Xshare:auto", "-cp", JqbCliProcess.classPath(), "io.jqb.cli.Main"));
        cmd.addAll(List.of(args));
        return new LineProcess(cmd);
    }

    /** native/build/qbn-notify args... */
    static LineProcess qbn(String... args) {
        return command(nativeBinary().toString(), args);
    }

    /** Any program. */
    static LineProcess command(String program, String... args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(program);
        cmd.addAll(List.of(args));
        return new LineProcess(cmd);
    }

    static Path nativeBinary() {
        return Path.of(System.getProperty("jqb.native.dir", "native/build"), "qbn-notify");
    }

    private void pump(InputStream in, boolean stdout) {
        Thread t = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
                String l;
                while ((l = r.readLine()) != null) {
                    (stdout ? out : err).append(l).append('\n');
                    if (stdout) {
                        lines.add(l);
                    }
                }
            } catch (IOException e) {
                // gone
            } finally {
                if (stdout) {
                    lines.add(EOF);
                }
            }
        }, "line-process-" + (stdout ? "out" : "err"));
        t.setDaemon(true);
        t.start();
        pumps.add(t);
    }

    /** @return the next stdout line, failing the test at EOF or after {@link #LINE_TIMEOUT_MS} */
    String next() {
        try {
            String l = lines.poll(LINE_TIMEOUT_MS, TimeUnit.MILLISECONDS);
            if (l == null || l == EOF) {
                if (l == EOF) {
                    lines.add(EOF);
                }
                fail("no line from " + describe());
            }
            return l;
        } catch (InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }

    /** @return the next line, or null when none comes within {@code ms} */
    String poll(long ms) throws InterruptedException {
        String l = lines.poll(ms, TimeUnit.MILLISECONDS);
        if (l == EOF) {
            lines.add(EOF);
            return null;
        }
        return l;
    }

    /** Skips lines until one matches; @return it */
    String await(Predicate<String> p) {
        while (true) {
            String l = next();
            if (p.test(l)) {
                return l;
            }
        }
    }

    /** Waits for the {@code ready} line. */
    LineProcess ready() {
        await(l -> l.contains("ready"));
        return this;
    }

    /** @return the exit code (fails after 60 s) */
    int exit() {
        try {
            if (!process.waitFor(LINE_TIMEOUT_MS, TimeUnit.MILLISECONDS)) {
                fail("still running: " + describe());
            }
            for (Thread t : pumps) {
                t.join(LINE_TIMEOUT_MS);   // all output read
            }
            return process.exitValue();
        } catch (InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }

    String stdout() {
        return out.toString();
    }

    String stderr() {
        return err.toString();
    }

    long pid() {
        return process.pid();
    }

    boolean isAlive() {
        return process.isAlive();
    }

    void terminate() {
        process.destroy();
    }

    void kill() {
        process.destroyForcibly();
        try {
            process.waitFor(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    String describe() {
        return String.join(" ", command.subList(Math.max(0, command.size() - 12), command.size())) + " (pid "
                + process.pid() + (process.isAlive() ? ", running" : ", exit " + process.exitValue())
                + ")\n stdout:\n" + out + " stderr:\n" + err;
    }

    @Override
    public void close() {
        // SIGTERM first, as an operator stops a broker: SIGKILL right after a client left cut the broker's removal
        // of that connection's /dev/shm files short (a half-removed directory per run).
        if (process.isAlive()) {
            terminate();
            try {
                process.waitFor(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        kill();
    }
}
