package io.jqb.libipc;

import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/** Base of the libipc suites that serve in a private run directory: a fresh one per test, removed afterwards. */
abstract class RunDirTest {
    /** This test's run directory (under /tmp, short enough for socket paths). */
    protected Path dir;

    @BeforeEach
    void createRunDir() {
        dir = LibipcTestDirs.runDir();
    }

    @AfterEach
    void removeRunDir() {
        LibipcTestDirs.remove(dir);
    }
}
