package io.jqb.quiet;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Library code gets its loggers from {@code io.jqb.internal.Logs}, never from {@code LoggerFactory} (whose first use
 * prints SLF4J's no-provider warning), and never prints to stdout/stderr; the CLI is exempt. Keeps quiet start-up
 * (QuietStartIT) true as families are added.
 */
class LoggingConventionTest {
    @Test
    void libraryCodeUsesLogsAndNeverPrints() throws IOException {
        List<String> offenders;
        try (Stream<Path> s = Files.walk(Path.of("java"))) {
            offenders = s.filter(p -> p.toString().endsWith(".java"))
                    .filter(p -> !p.toString().contains("/cli/") && !p.endsWith(Path.of("io/jqb/internal/Logs.java")))
                    .filter(p -> {
                        try {
                            String src = Files.readString(p);
                            return src.contains("LoggerFactory") || src.contains("System.out.")
                                    || src.contains("System.err.") || src.contains("printStackTrace(");
                        } catch (IOException e) {
                            return true;
                        }
                    }).map(Path::toString).sorted().collect(Collectors.toList());
        }
        assertEquals(List.of(), offenders, "use io.jqb.internal.Logs.get(...) and SLF4J, never LoggerFactory or"
                + " System.out/err in library code");
    }
}
