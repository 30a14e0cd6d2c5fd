package io.jqb.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * bin/jqb's AppCDS handling (JQB_CDS): the launcher never trains an archive; it maps target/jqb-cds.jsa only when
 * that is newer than both jars (and the JDK) and otherwise runs without it, silently and without writing anything.
 * bin/jqb-cds (run by make) makes the archive. Runs on a copy of the launcher layout (bin/, target/) in a temporary
 * directory, so the project's own archive is never touched. Runs after {@code package} (failsafe): it needs the jars.
 */
class LauncherCdsIT {
    private static final Path ROOT = Path.of("").toAbsolutePath();

    private Path dir;

    /** Exit code, stdout and stderr of one run. */
    record Run(int exit, String out, String err) {
    }

    @BeforeEach
    void layout() throws IOException {
        assertTrue(Files.isRegularFile(ROOT.resolve("target/jqb.jar")), "target/jqb.jar missing: runs after package");
        dir = Files.createTempDirectory("jqb-launcher-cds-" + ProcessHandle.current().pid() + "-");
        Files.createDirectories(dir.resolve("bin"));
        Files.createDirectories(dir.resolve("target"));
        for (String f : List.of("bin/jqb", "bin/jqb-cds", "target/jqb.jar", "target/jqb-cli.jar")) {
            Files.copy(ROOT.resolve(f), dir.resolve(f));
        }
        Files.createSymbolicLink(dir.resolve("target/lib"), ROOT.resolve("target/lib"));
    }

    @AfterEach
    void cleanUp() throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p); // the lib link itself, not what it points to
            }
        }
    }

    private Run run(Map<String, String> env, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("bash"));
        cmd.addAll(List.of(args));
        Path out = Files.createTempFile("jqb-launcher-out-", ".txt");
        Path err = Files.createTempFile("jqb-launcher-err-", ".txt");
        try {
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
            pb.environment().remove("JQB_JAVA_OPTS");
            pb.environment().remove("JQB_CDS");
            pb.environment().putAll(env);
            Process p = pb.start();
            if (!p.waitFor(180, TimeUnit.SECONDS)) {
                p.destroyForcibly().waitFor();
                throw new AssertionError(cmd + " did not end within 180 s");
            }
            return new Run(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
                    Files.readString(err, StandardCharsets.UTF_8));
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }

    private Run help(Map<String, String> env) throws IOException, InterruptedException {
        return run(env, dir.resolve("bin/jqb").toString(), "--help");
    }

    /** Every file under the layout (not under the lib link) with its size and modification time. */
    private Map<String, String> tree() throws IOException {
        Map<String, String> m = new TreeMap<>();
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.toList()) {
                m.put(dir.relativize(p).toString(), Files.isRegularFile(p)
                        ? Files.size(p) + "@" + Files.getLastModifiedTime(p).toMillis() : "");
            }
        }
        return m;
    }

    @Test
    void withAMissingOrStaleArchiveItRunsAsWithoutCdsAndWritesNothing() throws Exception {
        Run off = help(Map.of("JQB_CDS", "0")); // also extracts jffi's stub under target/jffi once
        assertTrue(off.err().contains("usage: jqb"), "JQB_CDS=0 --help: " + off);
        Map<String, String> before = tree();

        assertEquals(off, help(Map.of()), "missing archive");
        assertEquals(before, tree(), "files after a run with no archive");

        Path jsa = dir.resolve("target/jqb-cds.jsa");
        Files.writeString(jsa, "not an archive");
        Files.setLastModifiedTime(jsa, FileTime.fromMillis(0)); // older than the jars: stale
        before = tree();
        assertEquals(off, help(Map.of()), "stale archive");
        assertEquals(before, tree(), "files after a run with a stale archive");
    }

    @Test
    void makesArchiveOnceThenMapsIt() throws Exception {
        Run made = run(Map.of(), dir.resolve("bin/jqb-cds").toString());
        assertEquals(new Run(0, "", ""), made, "bin/jqb-cds: silent when it succeeds");
        Path jsa = dir.resolve("target/jqb-cds.jsa");
        assertTrue(Files.size(jsa) > 0, "archive made");
        try (Stream<Path> s = Files.list(dir.resolve("target"))) {
            assertEquals(List.of(), s.filter(p -> p.getFileName().toString().contains(".tmp")
                    || p.getFileName().toString().endsWith(".log")).toList(), "temporary files left");
        }
        FileTime madeAt = Files.getLastModifiedTime(jsa);
        assertEquals(new Run(0, "", ""), run(Map.of(), dir.resolve("bin/jqb-cds").toString()), "up to date");
        assertEquals(madeAt, Files.getLastModifiedTime(jsa), "an up-to-date archive is not made again");

        Run off = help(Map.of("JQB_CDS", "0"));
        assertEquals(off, help(Map.of()), "--help with the archive mapped");
        Run traced = run(Map.of("JQB_JAVA_OPTS", "-Xlog:class+load=info"), dir.resolve("bin/jqb").toString(),
                "--help");
        assertTrue(traced.out().contains("io.jqb.cli.Main source: shared objects file (top)"),
                "Main mapped from the archive:\n" + traced.out());

        // a jar rebuilt after the archive: the archive is stale, not mapped, left alone
        Files.setLastModifiedTime(dir.resolve("target/jqb-cli.jar"),
                FileTime.fromMillis(Files.getLastModifiedTime(jsa).toMillis() + 60_000));
        Map<String, String> before = tree();
        traced = run(Map.of("JQB_JAVA_OPTS", "-Xlog:class+load=info"), dir.resolve("bin/jqb").toString(), "--help");
        assertTrue(traced.out().contains("io.jqb.cli.Main source: file:"), "Main from the jar:\n" + traced.out());
        assertEquals(off, help(Map.of()), "--help with a stale archive");
        assertEquals(before, tree(), "files after runs with a stale archive");
    }
}
