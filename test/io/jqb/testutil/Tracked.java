package io.jqb.testutil;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * What a test class closes after each test, in reverse order of registration, even when the test failed: the one
 * set-up/tear-down the interop suites share (InteropTestBase, ClientTestSupport, SocketTransportTest,
 * SocketFilesystemModeTest). The first failure is thrown after everything was closed; later ones are suppressed in it.
 */
public final class Tracked {
    private final List<AutoCloseable> resources = Collections.synchronizedList(new ArrayList<>());

    /** Registers {@code r} to be closed by {@link #closeAll()}; returns it. */
    public <T extends AutoCloseable> T add(T r) {
        resources.add(r);
        return r;
    }

    /** Closes everything registered, newest first, and forgets it. */
    public void closeAll() throws Exception {
        List<AutoCloseable> rs;
        synchronized (resources) {
            rs = new ArrayList<>(resources);
            resources.clear();
        }
        Collections.reverse(rs);
        Exception first = null;
        for (AutoCloseable r : rs) {
            try {
                r.close();
            } catch (Exception e) {
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }
}
