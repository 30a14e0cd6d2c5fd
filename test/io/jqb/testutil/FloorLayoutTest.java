package io.jqb.testutil;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The benchmark peer {@code qbn-floor --layout jqb} (the floor of a libqb-compatible ring, issue 14 item 2): its two
 * processes echo every message through the ring layout across many laps and wraps of the double-mapped data area
 * (64 B: ≈ 46 chunks per lap; 4 KiB and 64 KiB: every chunk wraps or lands at a new word), and the tool itself fails
 * (exit 1) when an answer is not the answer to its own request (each carries its number), the last echoed payload
 * differs, a pointer or magic is not what jqb's rules allow, or a side stalls. So
 * the figures the spin table quotes come from a ring that really moves the bytes; bad option combinations exit 2.
 */
class FloorLayoutTest {
    private static final Pattern LINE = Pattern.compile(
            "^size=(\\d+) count=(\\d+) p50_ns=(\\d+) p99_ns=(\\d+) p999_ns=(\\d+) msgs_per_s=\\d+ MB_per_s=[0-9.]+$");

    private static Path binary() {
        String dir = System.getProperty("jqb.native.dir", "native/build");
        Path p = Path.of(dir, "qbn-floor").toAbsolutePath();
        if (!Files.isExecutable(p)) {
            throw new IllegalStateException(p + " is missing: run `make -C native` first");
        }
        return p;
    }

    /** Runs qbn-floor unpinned (a loaded or one-CPU machine still progresses); returns exit code and stdout. */
    private static String[] run(String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(binary().toString());
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        try {
            // Bounded: the tool gives up by itself after 10 s without progress; this is the outer guard.
            if (!p.waitFor(120, TimeUnit.SECONDS)) {
                throw new AssertionError("qbn-floor " + String.join(" ", args) + " did not finish in 120 s");
            }
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            return new String[] {Integer.toString(p.exitValue()), out};
        } finally {
            p.destroyForcibly();
            p.waitFor();
        }
    }

    @ParameterizedTest
    @CsvSource({"64, ''", "4096, ''", "65536, ''", "64, --java-locks", "4096, --java-locks", "1, ''", "0, ''",
        "64, --max-msg-size 12328", "4096, --max-msg-size 12328", "4096, --max-msg-size 4136"})
    void echoesThroughTheLibqbLayoutAndReports(int size, String extra) throws Exception {
        List<String> args = new ArrayList<>(List.of("--layout", "jqb", "--size", Integer.toString(size),
                "--count", "300", "--warmup", "50", "--client-cpu", "-1", "--server-cpu", "-1"));
        if (!extra.isEmpty()) {
            args.addAll(List.of(extra.split(" ")));
        }
        String[] r = run(args.toArray(new String[0]));
        assertEquals("0", r[0], "exit code of qbn-floor " + args + ": " + r[1]);
        Matcher m = LINE.matcher(r[1]);
        assertTrue(m.matches(), "output line: " + r[1]);
        assertEquals(size, Integer.parseInt(m.group(1)));
        assertEquals(300, Integer.parseInt(m.group(2)));
        long p50 = Long.parseLong(m.group(3));
        long p99 = Long.parseLong(m.group(4));
        assertTrue(p50 > 0 && p50 <= p99, "p50 " + p50 + " p99 " + p99);
    }

    @ParameterizedTest
    @CsvSource({"--layout bogus", "--layout jqb --offset 8", "--java-locks",
        "--layout jqb --size 4096 --max-msg-size 4135", "--layout jqb --max-msg-size 999999999",
        "--max-msg-size 20000"})
    void refusesWhatItDoesNotModel(String argLine) throws Exception {
        String[] r = run(argLine.split(" "));
        assertEquals("2", r[0], "exit code of qbn-floor " + argLine);
    }
}
