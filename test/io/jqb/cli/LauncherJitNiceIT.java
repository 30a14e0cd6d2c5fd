package io.jqb.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * bin/jqb's JQB_JIT_NICE: off by default (the JIT compiler threads run at the process's own nice value); with
 * {@code JQB_JIT_NICE=N} they run at nice N and the application's threads do not (the JVM's priority policy then gives
 * each thread it starts the absolute nice of its Java priority: 0 for the service's loop thread, whatever the process's
 * own nice; the test checks that where it can, i.e. when it runs at nice 0); a value that is not 0-19 is refused
 * with exit code 2 before a JVM starts. Reads each thread's nice value from /proc of a real {@code bin/jqb echo-server}.
 * Runs after {@code package} (failsafe): it needs the jars.
 */
class LauncherJitNiceIT {
    private static final Path ROOT = Path.of("").toAbsolutePath();
    /** Field 19 of /proc/PID/task/TID/stat, counted from the field after the command name's closing parenthesis. */
    private static final int NICE_AFTER_COMM = 19 - 3;

    /** Each thread's name and nice value, of the echo-server started with {@code env}, read once it is ready. */
    private static Map<String, Integer> threadNice(Map<String, String> env) throws Exception {
        String service = "jqb-jitnice-" + ProcessHandle.current().pid() + "-" + System.nanoTime();
        ProcessBuilder pb = new ProcessBuilder("bash", ROOT.resolve("bin/jqb").toString(), "echo-server", "--service",
                service, "--transport", "socket").redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectError(ProcessBuilder.Redirect.DISCARD);
        pb.environment().remove("JQB_JAVA_OPTS");
        pb.environment().remove("JQB_JIT_NICE");
        pb.environment().put("JQB_LOG_LEVEL", "warn");
        pb.environment().putAll(env);
        Process p = pb.start();
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
            String line;
            while ((line = out.readLine()) != null && !line.contains("ready")) {
                // the server prints a line containing "ready" once it accepts
            }
            assertTrue(line != null, "echo-server ended before 'ready'");
            Map<String, Integer> nice = new TreeMap<>();
            try (Stream<Path> tasks = Files.list(Path.of("/proc", Long.toString(p.pid()), "task"))) {
                for (Path t : tasks.toList()) {
                    String stat = Files.readString(t.resolve("stat"));
                    String name = stat.substring(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
                    String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                    nice.merge(name, Integer.parseInt(f[NICE_AFTER_COMM]), Math::max);
                }
            }
            p.destroy(); // SIGTERM: the server cleans up and exits 0
            assertTrue(p.waitFor(60, TimeUnit.SECONDS), "echo-server did not exit on SIGTERM");
            assertEquals(0, p.exitValue(), "echo-server exit code after SIGTERM");
            return nice;
        } finally {
            p.destroyForcibly().waitFor();
        }
    }

    private static int ownNice() throws IOException {
        String stat = Files.readString(Path.of("/proc/self/stat"));
        return Integer.parseInt(stat.substring(stat.lastIndexOf(')') + 2).split(" ")[NICE_AFTER_COMM]);
    }

    @Test
    void offByDefaultAndCompilerThreadsOnlyWhenSet() throws Exception {
        int base = ownNice();
        Map<String, Integer> byDefault = threadNice(Map.of());
        assertEquals(base, byDefault.get("C2 CompilerThre"), "default: C2 compiler thread " + byDefault);
        assertEquals(base, byDefault.get("C1 CompilerThre"), "default: C1 compiler thread " + byDefault);

        int n = Math.min(19, base + 10);
        Map<String, Integer> niced = threadNice(Map.of("JQB_JIT_NICE", Integer.toString(n)));
        assertEquals(n, niced.get("C2 CompilerThre"), "JQB_JIT_NICE=" + n + ": C2 compiler thread " + niced);
        assertEquals(n, niced.get("C1 CompilerThre"), "JQB_JIT_NICE=" + n + ": C1 compiler thread " + niced);
        assertEquals(base, niced.get("java"), "JQB_JIT_NICE=" + n + ": the main thread keeps its nice " + niced);
        java.util.List<Integer> loops = niced.entrySet().stream().filter(e -> e.getKey().startsWith("jqb-"))
                .map(Map.Entry::getValue).toList();
        assertFalse(loops.isEmpty(), "no jqb- thread found " + niced);
        if (base == 0) { // NORM_PRIORITY maps to nice 0: only then is "unchanged" what the policy gives
            assertEquals(java.util.List.of(0), loops.stream().distinct().toList(),
                    "JQB_JIT_NICE=" + n + ": jqb's own threads keep nice 0 " + niced);
        }
    }

    @Test
    void refusesAValueThatIsNotANiceLevel() throws Exception {
        for (String bad : new String[] {"abc", "20", "-5"}) {
            ProcessBuilder pb = new ProcessBuilder("bash", ROOT.resolve("bin/jqb").toString(), "--help")
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
            pb.environment().put("JQB_JIT_NICE", bad);
            Process p = pb.start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(p.waitFor(60, TimeUnit.SECONDS));
            assertEquals(2, p.exitValue(), "JQB_JIT_NICE=" + bad + ": " + err);
            assertEquals("", out, "JQB_JIT_NICE=" + bad);
            assertTrue(err.contains("JQB_JIT_NICE"), err);
            assertFalse(err.contains("usage: jqb"), "no JVM started: " + err);
        }
    }
}
