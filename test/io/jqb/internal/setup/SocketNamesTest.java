package io.jqb.internal.setup;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link SocketNames#filesystemMode()} keeps the switch file's path encoded between calls (one {@code access} per
 * call, no path building): it must still see the file appear and go away at once, follow a change of the system
 * property to another path, and answer as {@code Files.exists} did for symlinks and unreadable places.
 */
class SocketNamesTest {
    @TempDir
    Path dir;

    @AfterEach
    void clearProperty() {
        System.clearProperty(SocketNames.FORCE_FILE_PROPERTY);
    }

    @Test
    void seesTheSwitchFileAppearAndGoWithoutDelay() throws Exception {
        Path f = dir.resolve("force-" + ProcessHandle.current().pid());
        System.setProperty(SocketNames.FORCE_FILE_PROPERTY, f.toString());
        assertFalse(SocketNames.filesystemMode(), "no file yet");
        Files.createFile(f);
        assertTrue(SocketNames.filesystemMode(), "the next call sees the new file");
        Files.delete(f);
        assertFalse(SocketNames.filesystemMode(), "the next call sees it gone");
    }

    @Test
    void followsAChangeOfTheProperty() throws Exception {
        Path a = Files.createFile(dir.resolve("a"));
        Path b = dir.resolve("b");
        System.setProperty(SocketNames.FORCE_FILE_PROPERTY, a.toString());
        assertTrue(SocketNames.filesystemMode());
        System.setProperty(SocketNames.FORCE_FILE_PROPERTY, b.toString());
        assertFalse(SocketNames.filesystemMode(), "the new path, not the cached one");
        System.setProperty(SocketNames.FORCE_FILE_PROPERTY, a.toString());
        assertTrue(SocketNames.filesystemMode(), "and back");
        // An equal string that is another object: still the same answer.
        System.setProperty(SocketNames.FORCE_FILE_PROPERTY, new String(a.toString().toCharArray()));
        assertTrue(SocketNames.filesystemMode());
    }

    @Test
    void answersAsFilesExistsForSymlinksAndMissingDirectories() throws Exception {
        Path target = dir.resolve("target");
        Path link = Files.createSymbolicLink(dir.resolve("link"), target);
        System.setProperty(SocketNames.FORCE_FILE_PROPERTY, link.toString());
        assertEquals(Files.exists(link), SocketNames.filesystemMode(), "dangling symlink");
        assertFalse(SocketNames.filesystemMode());
        Files.createFile(target);
        assertTrue(SocketNames.filesystemMode(), "symlink to an existing file");
        System.setProperty(SocketNames.FORCE_FILE_PROPERTY, dir.resolve("no-such-dir/file").toString());
        assertFalse(SocketNames.filesystemMode());
        System.setProperty(SocketNames.FORCE_FILE_PROPERTY, "");
        assertEquals(Files.exists(Path.of("")), SocketNames.filesystemMode(), "an empty value names the working directory");
    }

    @Test
    void defaultIsTheHostFile() {
        System.clearProperty(SocketNames.FORCE_FILE_PROPERTY);
        assertEquals(Files.exists(Path.of(SocketNames.DEFAULT_FORCE_FILE)), SocketNames.filesystemMode());
    }
}
