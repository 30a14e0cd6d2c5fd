package io.jqb.testutil;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/**
 * For child JVMs of tests that run out of file descriptors on purpose (accept failing with EMFILE): lowers this
 * process's own RLIMIT_NOFILE, with {@code prlimit}, to just above the fds it has open. Call it after everything the
 * child needs later is loaded: a class loaded from a directory costs an fd.
 */
public final class FdLimit {
    private FdLimit() {
    }

    /**
     * Sets this process's soft and hard fd limit to its highest open fd + {@code headroom}. When {@code prlimit}
     * fails, prints "prlimit failed" and exits with status 3 (the parent test reports the child's output).
     *
     * @return the new limit
     */
    public static int lowerToOpenFdsPlus(int headroom) throws IOException, InterruptedException {
        int limit = highestFd() + headroom;
        Process p = new ProcessBuilder("prlimit", "--pid", Long.toString(ProcessHandle.current().pid()),
                "--nofile=" + limit + ":" + limit).inheritIO().start();
        if (p.waitFor() != 0) {
            System.out.println("prlimit failed");
            System.exit(3);
        }
        return limit;
    }

    private static int highestFd() throws IOException {
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            return s.mapToInt(f -> Integer.parseInt(f.getFileName().toString())).max().orElse(0);
        }
    }
}
