package io.jqb.testutil;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;

/** A child process's output streams, collected as they come, for tests that wait for a line of it. */
public final class ChildOutput {
    private ChildOutput() {
    }

    /** Starts a daemon thread {@code name} that appends everything read from {@code in} to {@code into}. */
    public static Thread collect(InputStream in, StringBuffer into, String name) {
        Thread t = new Thread(() -> {
            byte[] b = new byte[4096];
            try {
                for (int n; (n = in.read(b)) > 0;) {
                    into.append(new String(b, 0, n, StandardCharsets.UTF_8));
                }
            } catch (IOException x) {
                // the child is gone
            }
        }, name);
        t.setDaemon(true);
        t.start();
        return t;
    }

    /** Polls the child's collected output for {@code what} (60 s); the failure shows both streams. */
    public static void awaitText(Process child, StringBuffer in, String what, StringBuffer other)
            throws InterruptedException {
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (in.indexOf(what) < 0 && child.isAlive() && System.nanoTime() < deadline) {
            Thread.sleep(10); // polls a condition with a deadline; not a synchronisation sleep
        }
        assertTrue(in.indexOf(what) >= 0, "no '" + what + "' from the child:\n" + in + "\n---\n" + other);
    }
}
