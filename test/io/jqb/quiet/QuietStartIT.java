package io.jqb.quiet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.testutil.JqbCliProcess;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Quiet start-up (issue 9, item 5): a child JVM with nothing but the packaged jar (target/jqb.jar), its runtime
 * libraries (target/lib) and no JVM flag starts a service and a client; nothing may appear on stdout or stderr, with
 * no SLF4J provider and with slf4j-simple at its default level (INFO). Runs after {@code package} (failsafe).
 */
class QuietStartIT {
    private static final Path ROOT = Path.of("").toAbsolutePath();

    @Test
    void noProviderPrintsNothing() throws Exception {
        assertQuiet(false);
    }

    @Test
    void slf4jSimplePrintsNothing() throws Exception {
        assertQuiet(true);
    }

    private static void assertQuiet(boolean simple) throws IOException, InterruptedException {
        Path jar = ROOT.resolve("target/jqb.jar");
        Path lib = ROOT.resolve("target/lib");
        assertTrue(Files.isRegularFile(jar), jar + " missing: QuietStartIT runs after package");
        List<String> cp = new ArrayList<>();
        cp.add(jar.toString());
        try (Stream<Path> s = Files.list(lib)) {
            cp.addAll(s.map(Path::toString).filter(p -> p.endsWith(".jar"))
                    .filter(p -> simple || !p.contains("slf4j-simple")).sorted().collect(Collectors.toList()));
        }
        assertEquals(simple, cp.stream().anyMatch(p -> p.contains("slf4j-simple")), "slf4j-simple in " + lib);
        cp.add(ROOT.resolve("target/test-classes").toString()); // only QuietStartMain is loaded from here
        Path out = Files.createTempFile("jqb-quiet-out-", ".txt");
        Path err = Files.createTempFile("jqb-quiet-err-", ".txt");
        try {
            Process p = new ProcessBuilder(JqbCliProcess.java(), "-cp", String.join(File.pathSeparator, cp),
                    QuietStartMain.class.getName())
                    .redirectOutput(out.toFile()).redirectError(err.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
            boolean done = p.waitFor(120, TimeUnit.SECONDS);
            if (!done) {
                p.destroyForcibly().waitFor();
            }
            String stdout = Files.readString(out, StandardCharsets.UTF_8);
            String stderr = Files.readString(err, StandardCharsets.UTF_8);
            assertTrue(done, "child JVM did not finish; stderr:\n" + stderr);
            assertEquals(0, p.exitValue(), "child failed; stderr:\n" + stderr);
            assertEquals("", stderr, "stderr of a default start-up" + (simple ? " with slf4j-simple" : ""));
            assertEquals("", stdout, "stdout of a default start-up" + (simple ? " with slf4j-simple" : ""));
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }
}
