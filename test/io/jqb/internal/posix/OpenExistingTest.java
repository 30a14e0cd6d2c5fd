package io.jqb.internal.posix;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.IpcException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link Posix#openExisting} and {@link Posix#regularFileSize}: how a client opens the files a server names (the
 * SOCKET control file, the SHM ring files) and checks, through the fd it will map, that each is a regular file large
 * enough; whatever else a hostile server names is refused without blocking.
 */
class OpenExistingTest {
    @TempDir
    Path dir;

    private static long sizeOf(Path p) {
        int fd = Posix.openExisting(p.toString());
        try {
            return Posix.regularFileSize(fd);
        } finally {
            Posix.C.close(fd);
        }
    }

    @Test
    void aRegularFilesSizeComesFromTheOpenFd() throws Exception {
        Path f = dir.resolve("ring-" + ProcessHandle.current().pid());
        Files.write(f, new byte[12345]);
        assertEquals(12345, sizeOf(f));
        Files.write(f, new byte[0]);
        assertEquals(0, sizeOf(f));
    }

    @Test
    void aFifoOpensWithoutBlockingAndHasNoBytesToMap() throws Exception {
        Path fifo = dir.resolve("fifo-" + ProcessHandle.current().pid());
        Process p = new ProcessBuilder("mkfifo", fifo.toString()).start();
        assertEquals(0, p.waitFor());
        // No writer: a blocking open would wait forever (5 s is far beyond an open that does not wait).
        assertEquals(0, assertTimeoutPreemptively(Duration.ofSeconds(5), () -> sizeOf(fifo)));
    }

    @Test
    void aDirectoryOrASymlinkOrNothingIsRefused() throws Exception {
        Path target = dir.resolve("target");
        Files.write(target, new byte[4096]);
        Path link = Files.createSymbolicLink(dir.resolve("link"), target);
        IpcException e = assertThrows(IpcException.class, () -> sizeOf(link));
        assertTrue(e.getMessage().contains("ELOOP"), e.getMessage());
        e = assertThrows(IpcException.class, () -> sizeOf(dir.resolve("missing")));
        assertTrue(e.getMessage().contains("ENOENT") && e.getMessage().contains("open("), e.getMessage());
        e = assertThrows(IpcException.class, () -> sizeOf(dir)); // O_RDWR on a directory: EISDIR
        assertTrue(e.getMessage().contains("EISDIR"), e.getMessage());
    }
}
