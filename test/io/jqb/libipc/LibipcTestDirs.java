package io.jqb.libipc;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

/** Unique service names and run directories for libipc tests (pid in every name; removed afterwards). */
final class LibipcTestDirs {
    private static final AtomicInteger N = new AtomicInteger();

    private LibipcTestDirs() {
    }

    static String name(String prefix) {
        return "jqbt-" + prefix + "-" + ProcessHandle.current().pid() + "-" + N.incrementAndGet();
    }

    /** A fresh run directory under /tmp (short: socket paths must stay under 108 bytes). */
    static Path runDir() {
        try {
            return Files.createTempDirectory(Path.of("/tmp"), "jqb-libipc-" + ProcessHandle.current().pid() + "-");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Removes {@code dir} and everything under it. */
    static void remove(Path dir) {
        if (dir == null || !Files.exists(dir)) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** @return the entries of {@code dir} (names) */
    static java.util.List<String> list(Path dir) {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().collect(java.util.stream.Collectors.toList());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
