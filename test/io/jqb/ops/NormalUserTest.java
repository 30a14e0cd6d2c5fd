package io.jqb.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.jqb.testutil.JqbCliProcess;
import io.jqb.testutil.NativeClient;
import io.jqb.testutil.NativeServer;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code jqb ls} as a normal user ({@code runuser -u nobody}) while root runs a native server and client: it lists
 * what it may read (the socket, the pids from the directory names, commands) and says what it could not read.
 */
class NormalUserTest extends OpsInteropTestBase {
    @TempDir
    Path tmp;

    @Test
    void nobodySeesTheServiceAndReportsWhatItCouldNotRead() throws Exception {
        assumeTrue(ExamplesUid.uid() == 0, "needs root to switch to nobody");
        assumeTrue(Files.isExecutable(Path.of("/usr/sbin/runuser")) || Files.isExecutable(Path.of("/sbin/runuser")),
                "runuser");
        String name = serviceName();
        NativeServer server = track(NativeServer.start(name));
        NativeClient nc = drive(name);
        nc.connect();
        OpsTestSupport.scanUntil(name, "a connection", s -> s.connections().size() == 1);

        // a class path nobody can read: our build output and libraries copied to a world-readable directory
        Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path lib = Files.createDirectory(tmp.resolve("lib"));
        StringBuilder cp = new StringBuilder();
        String own = JqbCliProcess.classPath();
        int i = 0;
        for (String e : own.split(File.pathSeparator)) {
            Path p = Path.of(e);
            if (e.endsWith(".jar") && Files.isRegularFile(p)) {
                Path to = lib.resolve(i++ + "-" + p.getFileName());
                Files.copy(p, to, StandardCopyOption.REPLACE_EXISTING);
                to.toFile().setReadable(true, false);
                cp.append(to).append(File.pathSeparator);
            } else if (Files.isDirectory(p) && p.endsWith("classes")) {
                Path to = tmp.resolve("classes" + i++);
                copyTree(p, to);
                cp.append(to).append(File.pathSeparator);
            }
        }
        Process p = new ProcessBuilder("runuser", "-u", "nobody", "--",
                JqbCliProcess.java(), "-cp", cp.toString(),
                "io.jqb.cli.Main", "ls", "--json").redirectError(ProcessBuilder.Redirect.INHERIT).start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
        JsonNode ls = new ObjectMapper().readTree(out);
        assertEquals(65534, ls.get("uid").asInt(), out);
        JsonNode svc = OpsTestSupport.service(ls, name);
        assertNotNull(svc, "the abstract socket is visible to everyone: " + out);
        assertEquals("@" + name, svc.get("address").asText());
        assertEquals(0, svc.get("serverPid").asLong(), "its owner's fds are root's: " + svc);
        assertTrue(svc.get("problems").toString().contains("server unknown"), svc.toString());
        // the connection directory's name is readable (pids, fd), its contents are not: listed apart
        JsonNode conn = null;
        for (JsonNode s : ls.get("services")) {
            if (s.get("serverPid").asLong() == server.pid() && s.get("name").asText().equals("?")) {
                assertTrue(s.get("problems").toString().contains("service unknown"), s.toString());
                assertTrue(s.get("serverCommand").asText().contains("qbn-server"), s.toString());
                for (JsonNode c : s.get("connections")) {
                    if (c.get("clientPid").asLong() == nc.pid()) {
                        conn = c;
                    }
                }
            }
        }
        assertNotNull(conn, out);
        assertTrue(conn.get("clientCommand").asText().contains("qbn-client"), conn.toString());
        assertEquals("UNKNOWN", conn.get("transport").asText(), "its directory is the client's (root), mode 0770");
        String unreadable = ls.get("unreadable").toString();
        assertTrue(unreadable.contains("/proc/<pid>/fd: permission denied"), unreadable);
        assertTrue(unreadable.contains("cannot list"), unreadable);
    }

    private static void copyTree(Path from, Path to) throws Exception {
        try (Stream<Path> s = Files.walk(from)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                Path t = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(t);
                    t.toFile().setExecutable(true, false);
                } else {
                    Files.copy(p, t);
                }
                t.toFile().setReadable(true, false);
            }
        }
    }

    /** This JVM's uid. */
    static final class ExamplesUid {
        static int uid() throws Exception {
            return (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
        }
    }
}
