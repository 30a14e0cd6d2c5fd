package io.jqb.internal.posix;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.testutil.JqbCliProcess;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * jqb's system-call numbers and struct layouts are Linux x86-64's: on any other platform the first libc call is
 * refused with a message that names the platform, instead of calling whatever system call 202 is there.
 */
class PlatformCheckTest {
    @Test
    void linuxX8664IsAcceptedUnderBothOfItsArchNames() {
        assertDoesNotThrow(() -> LibCBinding.requireLinuxX8664("Linux", "amd64"));
        assertDoesNotThrow(() -> LibCBinding.requireLinuxX8664("Linux", "x86_64"));
    }

    @Test
    void otherPlatformsAreRefusedByName() {
        UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class,
                () -> LibCBinding.requireLinuxX8664("Linux", "aarch64"));
        assertTrue(e.getMessage().contains("Linux x86-64 only") && e.getMessage().contains("Linux aarch64"),
                e.getMessage());
        e = assertThrows(UnsupportedOperationException.class,
                () -> LibCBinding.requireLinuxX8664("Mac OS X", "x86_64"));
        assertTrue(e.getMessage().contains("Mac OS X x86_64"), e.getMessage());
        assertThrows(UnsupportedOperationException.class, () -> LibCBinding.requireLinuxX8664("Linux", "i386"));
        assertThrows(UnsupportedOperationException.class, () -> LibCBinding.requireLinuxX8664(null, null));
    }

    /** A JVM that reports another architecture: the CLI fails at its first libc call, and says why. */
    @Test
    @Timeout(60)
    void aJvmOnAnotherArchitectureIsToldWhyBeforeAnyCall() throws Exception {
        File err = File.createTempFile("jqb-platform-", ".err");
        try {
            Process p = new ProcessBuilder(JqbCliProcess.java(), "-Dos.arch=aarch64", "-XX:TieredStopAtLevel=1",
                    "-cp", JqbCliProcess.classPath(), "io.jqb.cli.Main",
                    "bench", "--service", "jqb-platform-" + ProcessHandle.current().pid(), "--count", "1")
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .redirectError(err)
                    .start();
            assertTrue(p.waitFor(45, TimeUnit.SECONDS), "the child JVM did not exit");
            String stderr = String.join("\n", java.nio.file.Files.readAllLines(err.toPath(), StandardCharsets.UTF_8));
            assertNotEquals(0, p.exitValue(), stderr);
            assertTrue(stderr.contains("jqb runs on Linux x86-64 only") && stderr.contains("Linux aarch64"), stderr);
            assertEquals(List.of(), List.of(new File("/dev/shm").list((d, n) -> n.contains("jqb-platform-"))));
        } finally {
            err.delete();
        }
    }
}
