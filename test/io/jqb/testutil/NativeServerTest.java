package io.jqb.testutil;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The test peer itself: ready line, commands, failed starts reported with stderr, nothing left running. */
class NativeServerTest {
    private static AutoCloseable abstractMode;

    /** No other run's force-filesystem-sockets window may put our servers in filesystem mode meanwhile. */
    @BeforeAll
    static void holdAbstractMode() {
        abstractMode = ForceFilesystemSwitch.holdAbstractMode();
    }

    @AfterAll
    static void release() throws Exception {
        abstractMode.close();
    }

    @Test
    void startsAnswersCommandsAndIsReapedOnClose() {
        NativeServer s = NativeServer.start(NativeServer.uniqueName("self"));
        try {
            assertTrue(s.isAlive());
            assertTrue(ProcessHandle.of(s.pid()).isPresent());
            assertEquals("ok active=0 closed=0", s.command("stats"));
            assertEquals("ok 0", s.command("conns"));
            assertEquals("err EINVAL", s.command("bogus"));
        } finally {
            s.close();
        }
        assertFalse(s.isAlive());
        assertFalse(ProcessHandle.of(s.pid()).isPresent(), "pid " + s.pid() + " still exists (zombie?)");
    }

    @Test
    void killIsSigkillAndReaps() {
        NativeServer s = NativeServer.start(NativeServer.uniqueName("self-kill"));
        try {
            s.kill();
            assertFalse(s.isAlive());
            assertFalse(ProcessHandle.of(s.pid()).isPresent());
            assertThrows(IllegalStateException.class, () -> s.command("stats"));
        } finally {
            s.close();
        }
    }

    @Test
    void aFailedStartIsReportedWithTheServersStderr() {
        try (NativeServer first = NativeServer.start(NativeServer.uniqueName("self-dup"))) {
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> NativeServer.start(first.service()));
            assertTrue(e.getMessage().contains("EADDRINUSE"), e.getMessage());
            assertEquals("ok 0", first.command("conns"));
        }
    }
}
