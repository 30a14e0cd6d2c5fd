package io.jqb.testutil;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.internal.setup.SocketNames;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/** The switch window reaches only the peers started in it and this JVM's jqb, never the host (issue 9, item 7). */
class ForceFilesystemSwitchTest {

    private static int exitOf(List<String> cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).inheritIO().start();
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        return p.exitValue();
    }

    private static final List<String> SEES_SWITCH = List.of("sh", "-c",
            "test -e /etc/libqb/force-filesystem-sockets");

    @Test
    void onlyAPeerStartedInAWindowSeesTheSwitchFile() throws Exception {
        assertTrue(ForceFilesystemSwitch.awaitAbsent(10_000));
        assertEquals(1, exitOf(ForceFilesystemSwitch.wrap(SEES_SWITCH)), "outside a window: no switch file");
        assertFalse(SocketNames.filesystemMode(), "jqb outside a window");
        ForceFilesystemSwitch.with(() -> {
            assertEquals(0, exitOf(ForceFilesystemSwitch.wrap(SEES_SWITCH)), "a peer started in the window sees it");
            assertTrue(SocketNames.filesystemMode(), "jqb in the window");
            assertFalse(ForceFilesystemSwitch.isOn(), "the host never sees it");
            assertEquals(1, exitOf(SEES_SWITCH), "an unwrapped process (any other on the host) does not see it");
            return null;
        });
        assertFalse(SocketNames.filesystemMode(), "jqb after the window");
        assertFalse(ForceFilesystemSwitch.heldHere());
    }

    @Test
    void aWrappedPeerKeepsItsPid() throws Exception {
        Process p = ForceFilesystemSwitch.with(() -> new ProcessBuilder(ForceFilesystemSwitch.wrap(
                List.of("sh", "-c", "echo $$"))).start());
        String pid = new String(p.getInputStream().readAllBytes()).trim();
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        assertEquals(Long.toString(p.pid()), pid, "unshare and sh exec into the peer");
    }

    @AfterAll
    static void hostUntouched() {
        HostSwitchWatcher.assertNeverAppeared();
    }
}
