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
        String saved = System.getProperty("jqb.notify.lockDir");
        System.setProperty("jqb.notify.lockDir", dir.toString());
        try {
            String service = NotifyTestSupport.uniqueService();
            Path victim = Files.writeString(dir.resolve("victim"), "precious\n");
            Path link = Files.createSymbolicLink(BrokerLock.pathFor(service), victim);
            NotificationException e = assertThrows(NotificationException.class,
                    () -> NotificationBroker.start(service, null).close());
            assertEquals(NotifyResult.PERMISSION, e.result());
            assertTrue(e.getMessage().contains("ELOOP") && e.getMessage().contains(link.toString()), e.getMessage());
            assertEquals("precious\n", Files.readString(victim), "the link's target is untouched");
            assertTrue(Files.isSymbolicLink(link), "the link is left for its owner to explain");
        } finally {
            if (saved == null) {
                System.clearProperty("jqb.notify.lockDir");
            } else {
                System.setProperty("jqb.notify.lockDir", saved);
            }
        }
    }
}
