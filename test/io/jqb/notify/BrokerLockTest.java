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
        withLockDir(() -> {
            String service = NotifyTestSupport.uniqueService();
            Path victim = Files.writeString(dir.resolve("victim"), "precious\n");
            Path link = Files.createSymbolicLink(BrokerLock.pathFor(service), victim);
            NotificationException e = assertThrows(NotificationException.class,
                    () -> NotificationBroker.start(service, null).close());
            assertEquals(NotifyResult.PERMISSION, e.result());
            assertTrue(e.getMessage().contains("ELOOP") && e.getMessage().contains(link.toString()), e.getMessage());
            assertEquals("precious\n", Files.readString(victim), "the link's target is untouched");
            assertTrue(Files.isSymbolicLink(link), "the link is left for its owner to explain");
        });
    }

    /**
     * A second broker for the same service in the same JVM is refused with PERMISSION (its own descriptor's lock
     * attempt fails, as another process's would), and the first keeps its lock as other processes see it (python3's
     * lockf, the same POSIX lock as Java's, fails): with the JDK's POSIX locks a second broker got an unchecked
     * OverlappingFileLockException and left its channel open, and closing a second descriptor of the file drops the
     * process's POSIX lock.
     */
    @Test
    void aSecondBrokerInTheSameJvmIsRefusedAndTheFirstKeepsItsLock() throws Exception {
        withLockDir(() -> {
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
        });
    }

    /** A lock file with a second name (a hard link another user made to it) is refused and left as it was. */
    @Test
    void aLockFileWithOtherNamesIsRefused() throws Exception {
        withLockDir(() -> {
            String service = NotifyTestSupport.uniqueService();
            Path p = Files.writeString(BrokerLock.pathFor(service), "theirs\n");
            Files.createLink(dir.resolve("other-name"), p);
            NotificationException e = assertThrows(NotificationException.class, () -> BrokerLock.acquire(service));
            assertEquals(NotifyResult.PERMISSION, e.result());
            assertTrue(e.getMessage().contains("hard links"), e.getMessage());
            assertEquals("theirs\n", Files.readString(p), "not truncated, not written");
        });
    }

    /**
     * Another process holding the file's POSIX lock (what Java's FileChannel.tryLock takes, and so earlier brokers)
     * keeps a broker out, which names that process's pid; once it is gone the broker starts.
     */
    @Test
    void aPosixLockOfAnotherProcessKeepsTheBrokerOut() throws Exception {
        withLockDir(() -> {
            String service = NotifyTestSupport.uniqueService();
            Path p = BrokerLock.pathFor(service);
            Process py = lockHolder("f=open(sys.argv[1],'w')\nfcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
                    + "f.write(str(os.getpid())+'\\n')\nf.flush()\n", p);
            try {
                NotificationException e = assertThrows(NotificationException.class,
                        () -> BrokerLock.acquire(service));
                assertEquals(NotifyResult.PERMISSION, e.result());
                assertTrue(e.getMessage().contains("(pid " + py.pid() + ", lock " + p + ")"), e.getMessage());
            } finally {
                release(py);
            }
            try (BrokerLock b = BrokerLock.acquire(service)) {
                assertEquals(ProcessHandle.current().pid() + "\n", Files.readString(p));
            }
            assertTrue(!Files.exists(p), "removed on close");
        });
    }

    /**
     * A FIFO at the name, locked by the process that planted it, is refused at once: the file is checked before its
     * lock is tried, and the holder's pid is read from the open descriptor, never by the name (a read of the FIFO
     * would wait forever: the broker's own descriptor keeps a writer on it).
     */
    @Test
    @org.junit.jupiter.api.Timeout(value = 60, threadMode = org.junit.jupiter.api.Timeout.ThreadMode.SEPARATE_THREAD)
    void aLockedFifoAtTheNameIsRefusedWithoutWaiting() throws Exception {
        withLockDir(() -> {
            String service = NotifyTestSupport.uniqueService();
            Path p = BrokerLock.pathFor(service);
            Process py = lockHolder("os.mkfifo(sys.argv[1])\nfd=os.open(sys.argv[1], os.O_RDWR | os.O_NONBLOCK)\n"
                    + "fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\n", p);
            try {
                NotificationException e = assertThrows(NotificationException.class,
                        () -> BrokerLock.acquire(service));
                assertEquals(NotifyResult.PERMISSION, e.result());
                assertTrue(e.getMessage().contains("not a regular file"), e.getMessage());
            } finally {
                release(py);
            }
        });
    }

    /**
     * A broker whose file someone removed (a /tmp cleaner) does not remove, as it stops, the file a newer broker
     * made and locked since: the newer one keeps its lock and its file.
     */
    @Test
    void aStoppingBrokerLeavesANewerBrokersFileAlone() throws Exception {
        withLockDir(() -> {
            String service = NotifyTestSupport.uniqueService();
            Path p = BrokerLock.pathFor(service);
            BrokerLock a = BrokerLock.acquire(service);
            Files.delete(p);
            try (BrokerLock b = BrokerLock.acquire(service)) {
                a.close();
                assertTrue(Files.exists(p), "the newer broker's file is left");
                assertEquals(1, lockfFromAnotherProcess(p), "the newer broker still holds the lock");
            }
            assertTrue(!Files.exists(p), "removed by its own broker");
        });
    }

    /**
     * Starts python3 running {@code lockScript} (with fcntl, os and sys imported, the path as argv[1]), and returns
     * once it says it holds the lock; it keeps it until {@link #release}.
     */
    private static Process lockHolder(String lockScript, Path p) throws Exception {
        Process py = new ProcessBuilder("python3", "-c", "import fcntl,os,sys\n" + lockScript
                + "print('locked', flush=True)\nsys.stdin.read()\n", p.toString()).start();
        java.io.BufferedReader out = new java.io.BufferedReader(new java.io.InputStreamReader(py.getInputStream(),
                java.nio.charset.StandardCharsets.UTF_8));
        if (!"locked".equals(out.readLine())) {
            py.destroyForcibly();
            throw new AssertionError("python3 did not take the lock: "
                    + new String(py.getErrorStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8));
        }
        return py;
    }

    /** Ends a {@link #lockHolder} (its stdin closed: it exits, and the kernel drops its lock). */
    private static void release(Process py) throws Exception {
        py.getOutputStream().close();
        if (!py.waitFor(30, java.util.concurrent.TimeUnit.SECONDS)) {
            py.destroyForcibly();
        }
    }

    private interface Body {
        void run() throws Exception;
    }

    private void withLockDir(Body body) throws Exception {
        String saved = System.getProperty("jqb.notify.lockDir");
        System.setProperty("jqb.notify.lockDir", dir.toString());
        try {
            body.run();
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
