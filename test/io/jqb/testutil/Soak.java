package io.jqb.testutil;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;

/**
 * Sizes of the reliability suite: the bounded figure in {@code make test}, a bigger one in {@code make soak}
 * ({@code -Djqb.soak=true}); any single count can be overridden with {@code -Djqb.<name>=N}. Figures the tests
 * reach are printed as {@code [jqb-figure] test key=value} and appended to {@code target/reliability-figures.txt}.
 */
public final class Soak {
    private static final Path FIGURES = Path.of("target", "reliability-figures.txt");

    private Soak() {
    }

    /** @return true under {@code make soak} */
    public static boolean on() {
        return Boolean.getBoolean("jqb.soak");
    }

    /** @return {@code -Djqb.<name>}, else {@code soak} under {@code make soak}, else {@code bounded} */
    public static int count(String name, int bounded, int soak) {
        return Integer.getInteger("jqb." + name, on() ? soak : bounded);
    }

    /** @return {@code -Djqb.seed}, else {@code fallback}: fuzzers log the seed they use so a run can be repeated */
    public static long seed(long fallback) {
        return Long.getLong("jqb.seed", fallback);
    }

    /** Records a figure (stdout and target/reliability-figures.txt). */
    public static synchronized void figure(String test, String key, Object value) {
        String line = "[jqb-figure] " + test + " " + key + "=" + value + (on() ? " (soak)" : "");
        System.out.println(line);
        try {
            Files.createDirectories(FIGURES.getParent());
            Files.writeString(FIGURES, Instant.now() + " " + line + "\n", StandardCharsets.UTF_8,
                    StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        } catch (IOException e) {
            System.out.println("(cannot record figure: " + e + ")");
        }
    }
}
