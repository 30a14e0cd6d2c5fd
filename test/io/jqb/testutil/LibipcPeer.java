package io.jqb.testutil;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * The C libipc wire peer {@code native/build/libipc-peer} (plain POSIX sockets, written from the protocol document)
 * as a child process, with {@code IPC_RUNDIR} set for it. {@link #close()} SIGTERMs, then SIGKILLs and reaps it.
 */
public final class LibipcPeer implements AutoCloseable {
    private static final Set<Process> LIVE = ConcurrentHashMap.newKeySet();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> LIVE.forEach(Process::destroyForcibly),
                "libipc-peer-reaper"));
    }

    private final Process process;
    private final List<String> command;

    private LibipcPeer(Process process, List<String> command) {
        this.process = process;
        this.command = command;
    }

    /** The binary ({@code jqb.native.dir} system property, else native/build). */
    public static Path binary() {
        Path p = Path.of(System.getProperty("jqb.native.dir", "native/build"), "libipc-peer").toAbsolutePath();
        if (!Files.isExecutable(p)) {
            throw new IllegalStateException(p + " is missing: run `make -C native` first");
        }
        return p;
    }

    /** Starts {@code libipc-peer args...} with IPC_RUNDIR={@code runDir} (null: unset), stderr merged into stdout. */
    public static LibipcPeer start(String runDir, String... args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(binary().toString());
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        Map<String, String> env = pb.environment();
        if (runDir == null) {
            env.remove("IPC_RUNDIR");
        } else {
            env.put("IPC_RUNDIR", runDir);
        }
        try {
            Process p = pb.start();
            LIVE.add(p);
            return new LibipcPeer(p, cmd);
        } catch (IOException e) {
            throw new UncheckedIOException("starting " + cmd, e);
        }
    }

    /** Starts {@code libipc-peer echo-server name} and waits for its ready line. */
    public static LibipcPeer echoServer(String runDir, String name) {
        LibipcPeer p = start(runDir, "echo-server", name);
        String line = p.readLine();
        if (line == null || !line.startsWith("ready name=" + name)) {
            p.close();
            throw new IllegalStateException("libipc-peer echo-server " + name + ": expected ready, got " + line);
        }
        return p;
    }

    /** The result of a run to completion. */
    public record Result(int exit, String output) {
    }

    /** Runs {@code libipc-peer args...} to completion (at most {@code timeoutMs}, then killed). */
    public static Result run(String runDir, long timeoutMs, String... args) {
        try (LibipcPeer p = start(runDir, args)) {
            StringBuilder out = new StringBuilder();
            Thread reader = new Thread(() -> {
                String l;
                while ((l = p.readLine()) != null) {
                    synchronized (out) {
                        out.append(l).append('\n');
                    }
                }
            }, "libipc-peer-out-" + p.pid());
            reader.setDaemon(true);
            reader.start();
            Integer exit = p.waitFor(timeoutMs);
            try {
                reader.join(5000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            synchronized (out) {
                return new Result(exit == null ? -1 : exit, out.toString());
            }
        }
    }

    private BufferedReader reader;

    /** @return the next output line, or null at EOF */
    public synchronized String readLine() {
        try {
            if (reader == null) {
                reader = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
            }
            return reader.readLine();
        } catch (IOException e) {
            return null;
        }
    }

    /** @return the exit status, or null while still running after {@code timeoutMs} */
    public Integer waitFor(long timeoutMs) {
        try {
            if (!process.waitFor(timeoutMs, TimeUnit.MILLISECONDS)) {
                return null;
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
        LIVE.remove(process);
        return process.exitValue();
    }

    public long pid() {
        return process.pid();
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    /** SIGTERM. */
    public void terminate() {
        process.destroy();
    }

    /** SIGKILL and reap. */
    public void kill() {
        process.destroyForcibly();
        waitFor(10_000);
    }

    @Override
    public void close() {
        if (process.isAlive()) {
            process.destroy();
            if (waitFor(3000) == null) {
                kill();
            }
        }
        waitFor(10_000);
    }

    @Override
    public String toString() {
        return String.join(" ", command) + " (pid " + process.pid() + ")";
    }
}
