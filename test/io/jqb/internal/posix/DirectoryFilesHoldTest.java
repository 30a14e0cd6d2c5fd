package io.jqb.internal.posix;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@link DirectoryFiles#hold}: inside the scope every helper works in the directory that was at the path when the
 * scope began (one fd), even after the path is given to another directory; outside it, each call resolves the path
 * again; no fd outlives the scope.
 */
class DirectoryFilesHoldTest {
    private Path root;

    @BeforeEach
    void makeRoot() throws Exception {
        root = Files.createTempDirectory("jqb-dirfiles-" + ProcessHandle.current().pid() + "-");
    }

    @AfterEach
    void removeRoot() throws Exception {
        try (Stream<Path> s = Files.walk(root)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    /** @return fds of this JVM open on anything under the test's root directory */
    private long openFds() throws Exception {
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            return s.filter(p -> {
                try {
                    return Files.readSymbolicLink(p).startsWith(root);
                } catch (Exception e) {
                    return false; // closed meanwhile
                }
            }).count();
        }
    }

    @Test
    void heldScopeWorksInTheDirectoryItOpened() throws Exception {
        Path dir = Files.createDirectory(root.resolve("conn"));
        Path moved = root.resolve("moved");
        assertEquals(0, openFds());
        try (DirectoryFiles.Held held = DirectoryFiles.hold(dir.toString())) {
            assertEquals(1, openFds(), "the held directory");
            Files.move(dir, moved);
            Files.createDirectory(dir); // someone else's directory now at the path
            int fd = DirectoryFiles.createExclusive(dir + "/a", 0600);
            assertTrue(fd >= 0, "createExclusive: " + fd);
            Posix.C.close(fd);
            assertEquals(0, DirectoryFiles.chownDirectory(dir.toString(), -1, -1, 0750));
            assertTrue(Files.exists(moved.resolve("a")), "created in the held directory");
            assertFalse(Files.exists(dir.resolve("a")), "not in the one now at the path");
            assertEquals(0, DirectoryFiles.unlink(dir + "/a"));
            assertFalse(Files.exists(moved.resolve("a")), "removed from the held directory");
            assertEquals("rwxr-x---", java.nio.file.attribute.PosixFilePermissions.toString(
                    Files.getPosixFilePermissions(moved)), "mode set on the held directory");
        }
        // Outside the scope the path is resolved again.
        int fd = DirectoryFiles.createExclusive(dir + "/b", 0600);
        assertTrue(fd >= 0);
        Posix.C.close(fd);
        assertTrue(Files.exists(dir.resolve("b")));
        assertEquals(0, openFds(), "fds after the scope");
    }

    /**
     * The (directory, name) forms a SOCKET connection's control file uses: the same held directory, the same
     * resolution outside a scope, the same refusal of a symlink in place of the directory, ENOENT when it is gone.
     */
    @Test
    void theDirectoryAndNameFormsBehaveAsThePathForms() throws Exception {
        Path dir = Files.createDirectory(root.resolve("conn2"));
        Path moved = root.resolve("moved2");
        try (DirectoryFiles.Held held = DirectoryFiles.hold(dir.toString())) {
            Files.move(dir, moved);
            Files.createDirectory(dir);
            int fd = DirectoryFiles.createExclusive(dir.toString(), "a", 0600);
            assertTrue(fd >= 0, "createExclusive: " + fd);
            Posix.C.close(fd);
            assertTrue(Files.exists(moved.resolve("a")), "created in the held directory");
            assertFalse(Files.exists(dir.resolve("a")), "not in the one now at the path");
            assertTrue(DirectoryFiles.createExclusive(dir.toString(), "a", 0600) < 0, "O_EXCL");
            assertEquals(0, DirectoryFiles.unlink(dir.toString(), "a"));
            assertFalse(Files.exists(moved.resolve("a")), "removed from the held directory");
        }
        int fd = DirectoryFiles.createExclusive(dir.toString(), "b", 0600);
        assertTrue(fd >= 0);
        Posix.C.close(fd);
        assertTrue(Files.exists(dir.resolve("b")), "outside the scope: the path's directory");
        assertEquals(0, DirectoryFiles.unlink(dir.toString(), "b"));
        assertFalse(Files.exists(dir.resolve("b")));
        Path link = Files.createSymbolicLink(root.resolve("link2"), moved);
        assertTrue(DirectoryFiles.createExclusive(link.toString(), "c", 0600) < 0, "refused through a symlink");
        assertFalse(Files.exists(moved.resolve("c")), "nothing created through the symlink");
        Path gone = root.resolve("gone2");
        try (DirectoryFiles.Held held = DirectoryFiles.hold(gone.toString())) {
            assertEquals(-io.jqb.Errno.ENOENT, DirectoryFiles.unlink(gone.toString(), "a"));
            assertEquals(-io.jqb.Errno.ENOENT, DirectoryFiles.createExclusive(gone.toString(), "a", 0600));
        }
        assertEquals(0, openFds(), "fds after the scopes");
    }

    @Test
    void otherDirectoriesAndNestedScopesAreUnaffected() throws Exception {
        Path a = Files.createDirectory(root.resolve("a"));
        Path b = Files.createDirectory(root.resolve("b"));
        assertEquals(0, openFds());
        try (DirectoryFiles.Held ha = DirectoryFiles.hold(a.toString())) {
            try (DirectoryFiles.Held hb = DirectoryFiles.hold(b.toString())) {
                Posix.C.close(DirectoryFiles.createExclusive(b + "/x", 0600));
                Posix.C.close(DirectoryFiles.createExclusive(a + "/x", 0600));
            }
            Files.move(a, root.resolve("a2"));
            Posix.C.close(DirectoryFiles.createExclusive(a + "/y", 0600)); // still the held a
        }
        assertTrue(Files.exists(b.resolve("x")));
        assertTrue(Files.exists(root.resolve("a2").resolve("x")));
        assertTrue(Files.exists(root.resolve("a2").resolve("y")), "outer scope restored after the inner one");
        try (DirectoryFiles.Held none = DirectoryFiles.hold(null);
                DirectoryFiles.Held missing = DirectoryFiles.hold(root.resolve("nope").toString())) {
            assertTrue(DirectoryFiles.createExclusive(root.resolve("nope") + "/z", 0600) < 0);
        }
        assertEquals(0, openFds(), "fds after the scopes");
    }

    /**
     * A directory that is gone when the batch begins (a libqb client removes its connection directory when it
     * disconnects): the scope says so, its file operations answer ENOENT without reopening it, no fd is left.
     */
    @Test
    void aGoneDirectoryIsReportedAndItsFileOperationsAnswerEnoent() throws Exception {
        Path dir = root.resolve("gone");
        try (DirectoryFiles.Held held = DirectoryFiles.hold(dir.toString())) {
            assertTrue(held.gone(), "gone");
            assertEquals(-io.jqb.Errno.ENOENT, DirectoryFiles.unlink(dir + "/a"));
            assertEquals(-io.jqb.Errno.ENOENT, DirectoryFiles.createExclusive(dir + "/a", 0600));
            assertFalse(Files.exists(dir), "nothing created");
        }
        try (DirectoryFiles.Held held = DirectoryFiles.hold(Files.createDirectory(dir).toString())) {
            assertFalse(held.gone(), "there");
            int fd = DirectoryFiles.createExclusive(dir + "/a", 0600);
            assertTrue(fd >= 0, "createExclusive: " + fd);
            Posix.C.close(fd);
            assertEquals(0, DirectoryFiles.unlink(dir + "/a"));
        }
        assertEquals(0, openFds(), "fds after the scopes");
    }
}
