package io.jqb.libipc;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.testutil.ChildOutput;
import io.jqb.testutil.JqbCliProcess;
import java.io.File;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A libipc server whose accept fails (EMFILE: its process is out of fds, the connection waits in the backlog) does not
 * spin in {@code waitEvent(-1)} or {@code accept(-1)} on the ever-ready listener, and accepts again once fds are
 * free; the line it logs names the errno ({@code accept: EMFILE}). The server runs in a child JVM that lowers its
 * own fd limit ({@link LibipcFdLimitMain}).
 */
class LibipcAcceptLimitTest {
    /** Clock ticks per second of /proc/PID/stat (USER_HZ, 100 on Linux). */
    private static final long TICKS_PER_S = 100;

    @ParameterizedTest
    @ValueSource(strings = {"waitEvent", "accept"})
    void anAcceptFailingWithEmfileNeitherSpinsNorEndsAccepting(String mode) throws Exception {
        Path dir = LibipcTestDirs.runDir();
        String name = LibipcTestDirs.name("fdlimit");
        Process child = new ProcessBuilder(JqbCliProcess.java(), "-Xshare:auto", "-XX:TieredStopAtLevel=1", "-cp",
                JqbCliProcess.classPath(), "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
                LibipcFdLimitMain.class.getName(), dir.toString(), name, mode)
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        StringBuffer out = new StringBuffer();
        StringBuffer err = new StringBuffer();
        Thread o = ChildOutput.collect(child.getInputStream(), out, "libipc-fd-limit-output");
        Thread e = ChildOutput.collect(child.getErrorStream(), err, "libipc-fd-limit-output");
        List<SocketChannel> held = new ArrayList<>();
        try {
            ChildOutput.awaitText(child, out, "ready", err);
            Path socket = dir.resolve(name + "-0-0");
            // each accepted connection costs the child one fd: past its limit accept fails with EMFILE
            for (int i = 0; i < 8; i++) {
                SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
                ch.connect(UnixDomainSocketAddress.of(socket));
                held.add(ch);
            }
            // the line names the errno, not only the JDK's text
            ChildOutput.awaitText(child, err, ": accept: EMFILE (Too many open files)", out);
            // the refused connections wait in the backlog: the listener stays ready while the loop waits forever
            long cpuMs = cpuMillis(child.pid(), 2_000);
            assertTrue(cpuMs < 500, "the server used " + cpuMs + " ms of CPU in 2 s waiting with accept failing");
            for (SocketChannel ch : held) {
                ch.close();
            }
            // their fds free again, a new client is accepted and served
            try (IpcClient c = IpcClient.builder(name).runDirectory(dir.toString()).connect()) {
                c.write(IpcMessage.formatData(new byte[] {4, 2}));
                IpcMessage m = c.read(30_000);
                assertNotNull(m, "no echo from the server:\n" + out + "\n---\n" + err);
                byte[] got = new byte[m.payload().remaining()];
                m.payload().get(got);
                assertArrayEquals(new byte[] {4, 2}, got);
            }
        } finally {
            for (SocketChannel ch : held) {
                ch.close();
            }
            child.destroyForcibly();
            child.waitFor(30, TimeUnit.SECONDS);
            o.join(10_000);
            e.join(10_000);
            LibipcTestDirs.remove(dir);
        }
    }

    /** CPU (user + system) the process {@code pid} used during the next {@code ms} milliseconds. */
    private static long cpuMillis(long pid, long ms) throws IOException, InterruptedException {
        long before = cpuTicks(pid);
        Thread.sleep(ms);
        return (cpuTicks(pid) - before) * 1000 / TICKS_PER_S;
    }

    private static long cpuTicks(long pid) throws IOException {
        String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return Long.parseLong(f[11]) + Long.parseLong(f[12]); // utime, stime (fields 14 and 15)
    }

}
