package io.jqb.stream;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real peer program (socat, nc, openssl) as a child process: raw stdin, stdout collected as bytes (waitable),
 * stderr collected as text. {@link #close()} kills and reaps it.
 */
final class PeerProcess implements AutoCloseable {
    private final Process process;
    private final List<String> command;
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final StringBuffer err = new StringBuffer();
    private final Thread outPump;
    private final Thread errPump;

    private PeerProcess(Process p, List<String> command) {
        this.process = p;
        this.command = command;
        this.outPump = pump(p.getInputStream(), true);
        this.errPump = pump(p.getErrorStream(), false);
    }

    /**
     * Runs a trivial child and a TCP exchange once, so that what the JDK and chronicle-core create lazily on first
     * use (a Cleaner thread, an fd) exists before a leak check's first snapshot.
     */
    static void warmUp() {
        try (PeerProcess p = start("true")) {
            p.waitFor(10_000);
        }
        // and the library's first use (libc binding, chronicle-core's start-up, the JDK's resolver)
        try (TcpIpc l = TcpIpc.listen(0, "127.0.0.1"); TcpIpc c = TcpIpc.connect("localhost", l.localPort(), 5000);
                TcpIpc s = l.accept(5000)) {
            c.writeMessage(Frames.PREFIX, 0, "warm");
            s.readMessage(Frames.PREFIX, 100, 5000);
        }
    }

    static PeerProcess start(String... cmd) {
        try {
            return new PeerProcess(new ProcessBuilder(cmd).start(), List.of(cmd));
        } catch (IOException e) {
            throw new UncheckedIOException("starting " + Arrays.toString(cmd), e);
        }
    }

    private Thread pump(InputStream in, boolean isOut) {
        Thread t = new Thread(() -> {
            byte[] b = new byte[8192];
            try (in) {
                int n;
                while ((n = in.read(b)) > 0) {
                    if (isOut) {
                        synchronized (out) {
                            out.write(b, 0, n);
                            out.notifyAll();
                        }
                    } else {
                        err.append(new String(b, 0, n, StandardCharsets.UTF_8));
                    }
                }
            } catch (IOException e) {
                // process gone
            }
        }, "peer-" + (isOut ? "out" : "err") + "-" + process.pid());
        t.setDaemon(true);
        t.start();
        return t;
    }

    OutputStream stdin() {
        return process.getOutputStream();
    }

    void send(byte[] b) {
        try {
            process.getOutputStream().write(b);
            process.getOutputStream().flush();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    void closeStdin() {
        try {
            process.getOutputStream().close();
        } catch (IOException e) {
            // gone
        }
    }

    /** @return the first {@code n} stdout bytes, waiting up to {@code timeoutMs}; null when they did not come */
    byte[] awaitOutput(int n, long timeoutMs) {
        long deadline = System.nanoTime() + timeoutMs * 1_000_000L;
        synchronized (out) {
            while (out.size() < n) {
                long left = (deadline - System.nanoTime()) / 1_000_000L;
                if (left <= 0) {
                    return null;
                }
                try {
                    out.wait(left);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return null;
                }
            }
            return Arrays.copyOf(out.toByteArray(), n);
        }
    }

    /** @return true once stdout contains {@code text}, waiting up to {@code timeoutMs} */
    boolean awaitText(String text, long timeoutMs) {
        long deadline = System.nanoTime() + timeoutMs * 1_000_000L;
        synchronized (out) {
            while (!out.toString(StandardCharsets.UTF_8).contains(text)) {
                long left = (deadline - System.nanoTime()) / 1_000_000L;
                if (left <= 0) {
                    return false;
                }
                try {
                    out.wait(left);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return false;
                }
            }
            return true;
        }
    }

    String stdoutText() {
        synchronized (out) {
            return out.toString(StandardCharsets.UTF_8);
        }
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

    Integer waitFor(long timeoutMs) {
        try {
            return process.waitFor(timeoutMs, TimeUnit.MILLISECONDS) ? process.exitValue() : null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }

    String describe() {
        return command + " alive=" + process.isAlive() + " stderr=" + stderr();
    }

    @Override
    public void close() {
        process.destroyForcibly();
        waitFor(10_000);
        try {
            outPump.join(5000);
            errPump.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
