package io.jqb.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.testutil.JqbCliProcess;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** Micrometer is optional: the core (with JMX on) runs in a JVM whose class path lacks it. */
class NoMicrometerTest extends OpsInteropTestBase {

    @Test
    void coreRunsWithoutMicrometerClasses() throws Exception {
        String cp = JqbCliProcess.classPath();
        String without = Arrays.stream(cp.split(File.pathSeparator))
                .filter(e -> !e.contains("micrometer") && !e.contains("HdrHistogram") && !e.contains("LatencyUtils"))
                .collect(Collectors.joining(File.pathSeparator));
        assertTrue(cp.contains("micrometer-core"), "the test class path has it");
        assertFalse(without.contains("micrometer"));
        Process p = new ProcessBuilder(JqbCliProcess.java(), "-cp",
                without, NoMicrometerMain.class.getName(), serviceName()).redirectErrorStream(true).start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), out);
        assertEquals(0, p.exitValue(), out);
        assertTrue(out.contains("ok requests=1 closed=1"), out);
    }
}
