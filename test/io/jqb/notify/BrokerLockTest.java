package io.jqb.notify;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.notify.internal.BrokerLock;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The broker's lock file lives in a world-writable directory (/tmp by default): a symbolic link another user put
 * at its name is refused, and the file it points to is left as it was.
 */
class BrokerLockTest {
    @TempDir
    Path dir;

    @Test
    void aSymbolicLinkAtTheLockFilesNameIsRefusedAndNotWrittenThrough() throws Exception {
        String saved = System.getProperty("jqb.notify.lockDir");
        System.setProperty("jqb.notify.lockDir", dir.toString());
        try {
            String service = NotifyTestSupport.uniqueService();
            Path victim = Files.writeString(dir.resolve("victim"), "precious\n");
            Path link = Files.createSymbolicLink(BrokerLock.pathFor(service), victim);
            NotificationException e = assertThrows(NotificationException.class,
                    () -> NotificationBroker.start(service, null).close());
            assertEquals(NotifyResult.PERMISSION, e.result());
            assertTrue(e.getMessage().contains("ELOOP") && e.getMessage().contains(link.toString()), e.getMessage());
            assertEquals("precious\n", Files.readString(victim), "the link's target is untouched");
            assertTrue(Files.isSymbolicLink(link), "the link is left for its owner to explain");
        } finally {
            if (saved == null) {
                System.clearProperty("jqb.notify.lockDir");
            } else {
                System.setProperty("jqb.notify.lockDir", saved);
            }
        }
    }

    /**
     * A second broker for the same service in the same JVM is refused with PERMISSION before it opens the file, and
     * the first keeps its lock as other processes see it (python3's lockf, the same POSIX lock as Java's, fails):
     * before, the JDK threw OverlappingFileLockException and left the second channel open, and closing a second
     * channel of the file would have dropped the first broker's lock.
     */
    @Test
    void aSecondBrokerInTheSameJvmIsRefusedAndTheFirstKeepsItsLock() throws Exception {
        String saved = System.getProperty("jqb.notify.lockDir");
        System.setProperty("jqb.notify.lockDir", dir.toString());
        try {
            String service = NotifyTestSupport.uniqueService();
            Path p = BrokerLock.pathFor(service);
            BrokerLock a = BrokerLock.acquire(service);
            try {
                long fds = openFds();
                for (int i = 0; i < 3; i++) {
                    NotificationException e = assertThrows(NotificationException.class,
                            () -> BrokerLock.acquire(service));
                    assertEquals(NotifyResult.PERMISSION, e.result());
                    assertTrue(e.getMessage().contains("(pid " + ProcessHandle.current().pid() + ", lock " + p + ")"),
                            e.getMessage());
                }
                assertEquals(fds, openFds(), "a refused broker leaves no descriptor open");
                assertEquals(1, lockfFromAnotherProcess(p), "the first broker still holds the lock");
            } finally {
                a.close();
                a.close(); // idempotent
            }
            try (BrokerLock b = BrokerLock.acquire(service)) {
                assertTrue(Files.readString(p).startsWith(ProcessHandle.current().pid() + "\n"));
            }
        } finally {
            if (saved == null) {
                System.clearProperty("jqb.notify.lockDir");
            } else {
                System.setProperty("jqb.notify.lockDir", saved);
            }
        }
    }

    private static long openFds() throws Exception {
        try (java.util.stream.Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            return s.count();
        }
    }

    /** @return python3's exit code: 0 when it got the lock, 1 when another process holds it */
    private static int lockfFromAnotherProcess(Path p) throws Exception {
        Process py = new ProcessBuilder("python3", "-c", "import fcntl,sys\nf=open(sys.argv[1],'r+')\ntry:\n"
                + " fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)\nexcept OSError:\n sys.exit(1)\n", p.toString())
                .redirectErrorStream(true).start();
        String out = new String(py.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertTrue(py.waitFor(30, java.util.concurrent.TimeUnit.SECONDS), "python3 ended");
        assertTrue(py.exitValue() <= 1, "python3: " + out);
        return py.exitValue();
    }
}
