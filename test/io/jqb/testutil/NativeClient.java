package io.jqb.testutil;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * A real native libqb client: {@code qbn-client drive} started as a process, driven line by line.
 *
 * <p>Every command is answered by exactly one line ({@code ok ...}, {@code err ENAME} or {@code bad ...}).
 * {@link #call} fails the test when no line comes within {@link #DEFAULT_TIMEOUT}. {@link #close()} always ends the
 * process; failure messages carry the transcript and the process's stderr.</p>
 */
public final class NativeClient implements AutoCloseable {
    /** How long a drive command may take before the test fails. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(10);
    private static final String EOF = "\u0000EOF";
    private static final Set<Process> LIVE = ConcurrentHashMap.newKeySet();

    private final String service;
    private final Process process;
    private final OutputStream stdin;
    private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();
    private final StringBuffer stderr = new StringBuffer();
    private final List<String> transcript = new ArrayList<>();
    private final Thread outReader;
    private final Thread errReader;

    private NativeClient(String service, Process process) {
        this.service = service;
        this.process = process;
        this.stdin = process.getOutputStream();
        this.outReader = pump(process.getInputStream(), "qbn-out-" + process.pid(), true);
        this.errReader = pump(process.getErrorStream(), "qbn-err-" + process.pid(), false);
    }

    // ------------------------------------------------------------------------------------------- start

    /** The directory holding qbn-client and qbn-server (system property {@code jqb.native.dir}). */
    public static Path nativeDir() {
        String d = System.getProperty("jqb.native.dir");
        return (d != null ? Path.of(d) : Path.of("native", "build")).toAbsolutePath();
    }

    /** @return the qbn-client executable; fails the test when it has not been built */
    public static Path clientBinary() {
        Path p = nativeDir().resolve("qbn-client");
        if (!Files.isExecutable(p)) {
            fail(p + " is missing: run `make -C native` (or `make test`) first");
        }
        return p;
    }

    /** Starts {@code qbn-client drive --service NAME} (the client's default max, 65536). */
    public static NativeClient drive(String service) {
        return drive(service, 0);
    }

    /**
     * Starts {@code qbn-client drive --service NAME --max MAX}; nothing is connected until {@link #connect()}.
     *
     * @param max the buffer size the client asks for; 0 = the client's default
     */
    public static NativeClient drive(String service, long max) {
        return drive(service, max, -1);
    }

    /**
     * Like {@link #drive(String, long)}, running as {@code uid} (and the same gid, no groups) through
     * {@code setpriv} when {@code uid >= 0}: an unprivileged attacker against a root server. Needs root.
     */
    public static NativeClient drive(String service, long max, int uid) {
        List<String> cmd = new ArrayList<>();
        if (uid >= 0) {
            cmd.addAll(List.of("/usr/bin/setpriv", "--reuid=" + uid, "--regid=" + uid, "--clear-groups"));
        }
        cmd.addAll(List.of(clientBinary().toString(), "drive", "--service", service));
        if (max > 0) {
            cmd.add("--max");
            cmd.add(Long.toString(max));
        }
        try {
            Process p = new ProcessBuilder(ForceFilesystemSwitch.wrap(cmd)).start();
            LIVE.add(p);
            return new NativeClient(service, p);
        } catch (IOException e) {
            throw new UncheckedIOException("starting " + cmd, e);
        }
    }

    private Thread pump(InputStream in, String name, boolean toLines) {
        Thread t = new Thread(() -> {
            ByteArrayOutputStream line = new ByteArrayOutputStream();
            byte[] buf = new byte[4096];
            try {
                int n;
                while ((n = in.read(buf)) > 0) {
                    if (!toLines) {
                        stderr.append(new String(buf, 0, n, StandardCharsets.UTF_8));
                        continue;
                    }
                    for (int i = 0; i < n; i++) {
                        if (buf[i] == '\n') {
                            lines.add(line.toString(StandardCharsets.UTF_8));
                            line.reset();
                        } else {
                            line.write(buf[i]);
                        }
                    }
                }
            } catch (IOException e) {
                // the process went away
            } finally {
                if (toLines) {
                    lines.add(EOF);
                }
            }
        }, name);
        t.setDaemon(true);
        t.start();
        return t;
    }

    // ------------------------------------------------------------------------------------------- driving

    /** Sends one command without waiting for its answer (pair it with {@link #read()}). */
    public void write(String command) {
        synchronized (transcript) {
            transcript.add("> " + command);
        }
        try {
            stdin.write((command + "\n").getBytes(StandardCharsets.US_ASCII));
            stdin.flush();
        } catch (IOException e) {
            fail("qbn-client (pid " + pid() + ") no longer reads commands: " + e + describe());
        }
    }

    /** Reads the next answer line; fails the test after {@link #DEFAULT_TIMEOUT}. */
    public String read() {
        return read(DEFAULT_TIMEOUT);
    }

    public String read(Duration timeout) {
        String l;
        try {
            l = lines.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
        if (l == null) {
            fail("qbn-client (pid " + pid() + ") did not answer within " + timeout + describe());
        }
        if (l.equals(EOF)) {
            lines.add(EOF);
            fail("qbn-client (pid " + pid() + ") ended (exit " + exitCodeOrAlive() + ")" + describe());
        }
        synchronized (transcript) {
            transcript.add("< " + l);
        }
        return l;
    }

    /** Sends a command and returns its answer line. */
    public String call(String command) {
        write(command);
        return read();
    }

    /** Sends a command and asserts its answer is exactly {@code expected}. */
    public void expect(String command, String expected) {
        String got = call(command);
        assertEquals(expected, got, "answer to '" + command + "'" + describe());
    }

    /** Sends a command, asserts the answer starts with "ok" and returns the rest (trimmed). */
    public String ok(String command) {
        String got = call(command);
        assertTrue(got.equals("ok") || got.startsWith("ok "), "answer to '" + command + "' was '" + got + "'"
                + describe());
        return got.length() > 2 ? got.substring(3) : "";
    }

    /** {@code connect}; asserts success and returns the agreed buffer size the client reports. */
    public int connect() {
        String rest = ok("connect");
        Matcher m = Pattern.compile("bufsize=(\\d+)").matcher(rest);
        assertTrue(m.matches(), "connect answer '" + rest + "'" + describe());
        return Integer.parseInt(m.group(1));
    }

    /** {@code echo SIZE}; asserts the echo came back intact. */
    public void echo(int size) {
        expect("echo " + size, "ok");
    }

    /** A parsed {@code ok id=.. size=.. error=.. len=..} answer of {@code recv} / {@code event}. */
    public record Msg(int id, int size, int error, int len) {
        @Override
        public String toString() {
            return "ok id=" + id + " size=" + size + " error=" + error + " len=" + len;
        }
    }

    /** {@code recv MS} or {@code event MS}; asserts a message came and returns its header. */
    public Msg receive(String command) {
        write(command);
        return readMsg(command);
    }

    /** Reads the answer to an already written {@code recv} / {@code event} command; asserts it is a message. */
    public Msg readMsg(String command) {
        String got = read();
        Matcher m = Pattern.compile("ok id=(-?\\d+) size=(-?\\d+) error=(-?\\d+) len=(-?\\d+)").matcher(got);
        assertTrue(m.matches(), "answer to '" + command + "' was '" + got + "'" + describe());
        return new Msg(Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)), Integer.parseInt(m.group(3)),
                Integer.parseInt(m.group(4)));
    }

    public long pid() {
        return process.pid();
    }

    public String service() {
        return service;
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    private String exitCodeOrAlive() {
        return process.isAlive() ? "still running" : Integer.toString(process.exitValue());
    }

    /** The transcript and stderr, for failure messages. */
    public String describe() {
        String t;
        synchronized (transcript) {
            int from = Math.max(0, transcript.size() - 30);
            t = String.join("\n    ", transcript.subList(from, transcript.size()));
        }
        return "\n  qbn-client drive --service " + service + " (pid " + pid() + ") transcript:\n    " + t
                + "\n  stderr: " + (stderr.length() == 0 ? "(empty)" : stderr.toString().strip());
    }

    // ------------------------------------------------------------------------------------------- ending

    /** Kills the process with SIGKILL (a client that dies without disconnecting) and waits for it. */
    public void kill() {
        process.destroyForcibly();
        waitGone(Duration.ofSeconds(10));
    }

    /**
     * Ends the process: closes its stdin (qbn-client disconnects and exits on EOF), then SIGTERM, then SIGKILL.
     * Always leaves no process behind.
     */
    @Override
    public void close() {
        try {
            stdin.close();
        } catch (IOException e) {
            // already gone
        }
        try {
            if (!process.waitFor(3, TimeUnit.SECONDS)) {
                process.destroy();
                if (!process.waitFor(1, TimeUnit.SECONDS)) {
                    process.destroyForcibly();
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
        }
        waitGone(Duration.ofSeconds(10));
    }

    private void waitGone(Duration d) {
        try {
            if (!process.waitFor(d.toMillis(), TimeUnit.MILLISECONDS)) {
                process.destroyForcibly();
                process.waitFor(d.toMillis(), TimeUnit.MILLISECONDS);
            }
            outReader.join(2000);
            errReader.join(2000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (!process.isAlive()) {
            LIVE.remove(process);
        }
    }

    /** Kills every qbn-client this JVM started and has not reaped yet (a safety net for {@code @AfterAll}). */
    public static void killAll() {
        for (Process p : LIVE) {
            p.destroyForcibly();
            try {
                p.waitFor(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            LIVE.remove(p);
        }
    }

    /** Asserts (polling up to 5 s) that this JVM has no child processes left, then kills any stragglers. */
    public static void assertNoChildProcesses() {
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        List<ProcessHandle> kids;
        while (!(kids = ProcessHandle.current().children().filter(ProcessHandle::isAlive).collect(Collectors.toList()))
                .isEmpty() && System.nanoTime() < deadline) {
            sleep(50);
        }
        if (!kids.isEmpty()) {
            String what = kids.stream().map(h -> h.pid() + " " + h.info().commandLine().orElse("?"))
                    .collect(Collectors.joining("; "));
            kids.forEach(ProcessHandle::destroyForcibly);
            killAll();
            fail("child processes left behind: " + what);
        }
    }

    public static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }

    // ------------------------------------------------------------------------------------------- check

    /** Outcome of {@code qbn-client check}. */
    public record CheckResult(int exitCode, String stdout, String stderr, long pid) {
        private static final Pattern SUMMARY = Pattern.compile("(?m)^(\\d+) passed, (\\d+) failed$");

        /** @return the number before "passed" in the last summary line, or -1 */
        public int passed() {
            Matcher m = SUMMARY.matcher(stdout);
            int v = -1;
            while (m.find()) {
                v = Integer.parseInt(m.group(1));
            }
            return v;
        }

        /** @return the number before "failed" in the summary line, or -1 */
        public int failed() {
            Matcher m = SUMMARY.matcher(stdout);
            int v = -1;
            while (m.find()) {
                v = Integer.parseInt(m.group(2));
            }
            return v;
        }

        /** @return the last non-empty stdout line */
        public String lastLine() {
            String[] ls = stdout.strip().split("\n");
            return ls[ls.length - 1];
        }

        /** Asserts exit code 0, a final {@code N passed, 0 failed} line with N ≥ 1, and no FAIL lines. */
        public void assertPassed() {
            String why = "qbn-client check (pid " + pid + ") exit " + exitCode + "\nstdout:\n" + stdout
                    + "\nstderr:\n" + stderr;
            assertTrue(lastLine().matches("\\d+ passed, 0 failed"), "last line '" + lastLine() + "'; " + why);
            assertTrue(passed() > 0, why);
            assertTrue(!stdout.contains("FAIL "), why);
            assertEquals(0, exitCode, why);
        }
    }

    /** Starts {@code qbn-client check} without waiting (see {@link #finish}). */
    public static Process startCheck(String service, long max) {
        List<String> cmd = new ArrayList<>(List.of(clientBinary().toString(), "check", "--service", service));
        if (max > 0) {
            cmd.add("--max");
            cmd.add(Long.toString(max));
        }
        try {
            Process p = new ProcessBuilder(ForceFilesystemSwitch.wrap(cmd)).redirectInput(ProcessBuilder.Redirect.from(new java.io.File(
                    "/dev/null"))).start();
            LIVE.add(p);
            return p;
        } catch (IOException e) {
            throw new UncheckedIOException("starting " + cmd, e);
        }
    }

    /**
     * Waits for a process from {@link #startCheck} and collects its output; kills it and fails after {@code timeout}.
     */
    public static CheckResult finish(Process p, Duration timeout) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        Thread to = copier(p.getInputStream(), out);
        Thread te = copier(p.getErrorStream(), err);
        try {
            boolean done = p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
            if (!done) {
                p.destroyForcibly();
                p.waitFor(5, TimeUnit.SECONDS);
            }
            to.join(5000);
            te.join(5000);
            LIVE.remove(p);
            if (!done) {
                fail("qbn-client check (pid " + p.pid() + ") did not finish within " + timeout + "\nstdout:\n"
                        + out.toString(StandardCharsets.UTF_8) + "\nstderr:\n" + err.toString(StandardCharsets.UTF_8));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            p.destroyForcibly();
            throw new AssertionError("interrupted", e);
        }
        return new CheckResult(p.exitValue(), out.toString(StandardCharsets.UTF_8),
                err.toString(StandardCharsets.UTF_8), p.pid());
    }

    /** Runs {@code qbn-client check --service NAME [--max MAX]} to the end (at most {@code timeout}). */
    public static CheckResult check(String service, long max, Duration timeout) {
        return finish(startCheck(service, max), timeout);
    }

    private static Thread copier(InputStream in, ByteArrayOutputStream to) {
        Thread t = new Thread(() -> {
            byte[] b = new byte[8192];
            int n;
            try {
                while ((n = in.read(b)) > 0) {
                    synchronized (to) {
                        to.write(b, 0, n);
                    }
                }
            } catch (IOException e) {
                // process gone
            }
        }, "qbn-check-out");
        t.setDaemon(true);
        t.start();
        return t;
    }
}
