package io.jqb.internal.posix;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.IpcException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link Posix#regularFileSize} and {@link Posix#openExisting}: how a client checks that each file a server names (the
 * SOCKET control file, the SHM ring files) is a regular file large enough, and then opens it; whatever else a hostile
 * server names is refused before it is opened.
 */
class OpenExistingTest {
    private static final int F_GETFD = 1;
    private static final int FD_CLOEXEC = 1;

    @TempDir
    Path dir;

    private static long sizeOf(Path p) {
        return Posix.regularFileSize(p.toString());
    }

    @Test
    void aRegularFilesSizeIsItsSize() throws Exception {
        Path f = dir.resolve("ring-" + ProcessHandle.current().pid());
        Files.write(f, new byte[12345]);
        assertEquals(12345, sizeOf(f));
        Files.write(f, new byte[0]);
        assertEquals(0, sizeOf(f));
    }

    @Test
    void theFdIsNonBlockingAndCloseOnExec() throws Exception {
        Path f = dir.resolve("flags-" + ProcessHandle.current().pid());
        Files.write(f, new byte[64]);
        int fd = Posix.openExisting(f.toString());
        try {
            int fl = Posix.C.fcntl(fd, LibC.F_GETFL, 0);
            assertTrue(fl >= 0 && (fl & LibC.O_NONBLOCK) != 0, "O_NONBLOCK: flags " + Integer.toHexString(fl));
            assertEquals(LibC.O_RDWR, fl & 3, "opened for reading and writing, to map it shared");
            int fdFlags = Posix.C.fcntl(fd, F_GETFD, 0);
            assertTrue(fdFlags >= 0 && (fdFlags & FD_CLOEXEC) != 0, "FD_CLOEXEC: flags " + fdFlags);
        } finally {
            Posix.C.close(fd);
        }
    }

    @Test
    void aFifoOrADeviceIsRefusedBeforeItIsOpened() throws Exception {
        Path fifo = dir.resolve("fifo-" + ProcessHandle.current().pid());
        Process p = new ProcessBuilder("mkfifo", fifo.toString()).start();
        assertEquals(0, p.waitFor());
        IpcException e = assertThrows(IpcException.class, () -> sizeOf(fifo));
        assertTrue(e.getMessage().contains("EBADMSG") && e.getMessage().contains("not a regular file"),
                e.getMessage());
        // A character device: refused by its type, so no driver's open runs (a watchdog would arm, a tape rewind).
        e = assertThrows(IpcException.class, () -> Posix.regularFileSize("/dev/null"));
        assertTrue(e.getMessage().contains("EBADMSG") && e.getMessage().contains("/dev/null"), e.getMessage());
    }

    @Test
    void aDirectoryOrASymlinkOrNothingIsRefused() throws Exception {
        Path target = dir.resolve("target");
        Files.write(target, new byte[4096]);
        Path link = Files.createSymbolicLink(dir.resolve("link"), target);
        IpcException e = assertThrows(IpcException.class, () -> sizeOf(link));
        assertTrue(e.getMessage().contains("ELOOP"), e.getMessage());
        e = assertThrows(IpcException.class, () -> sizeOf(dir.resolve("missing")));
        assertTrue(e.getMessage().contains("ENOENT") && e.getMessage().contains("lstat("), e.getMessage());
        e = assertThrows(IpcException.class, () -> sizeOf(dir));
        assertTrue(e.getMessage().contains("EBADMSG"), e.getMessage());
    }
}
