package io.jqb.ops;

import io.jqb.testutil.ForceFilesystemSwitch;
import io.jqb.testutil.InteropTestBase;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * Base of the operations tests that start native peers: they must bind abstract names, so this holds the shared lock
 * that keeps other test runs on this host from switching libqb to filesystem sockets meanwhile.
 */
public abstract class OpsInteropTestBase extends InteropTestBase {
    private static AutoCloseable abstractMode;

    @BeforeAll
    static void holdAbstractMode() {
        abstractMode = ForceFilesystemSwitch.holdAbstractMode();
    }

    @AfterAll
    static void releaseAbstractMode() throws Exception {
        if (abstractMode != null) {
            abstractMode.close();
            abstractMode = null;
        }
    }
}
