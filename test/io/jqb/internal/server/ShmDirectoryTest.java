package io.jqb.internal.server;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** {@link ShmDirectory#create}: libqb's name, {@code /dev/shm/qb-<serverpid>-<clientpid>-<fd>-XXXXXX}, made unique. */
class ShmDirectoryTest {
    @Test
    void theNameIsLibqbsAndEachCallMakesANewDirectory() throws Exception {
        int pid = (int) ProcessHandle.current().pid();
        int[][] cases = {{pid, 0, 7}, {pid, Integer.MAX_VALUE, 1_000_000}, {pid, 1, Integer.MAX_VALUE}};
        for (int[] c : cases) {
            String a = ShmDirectory.create(c[0], c[1], c[2]);
            String b = ShmDirectory.create(c[0], c[1], c[2]);
            try {
                String prefix = "/dev/shm/qb-" + c[0] + "-" + c[1] + "-" + c[2] + "-";
                for (String d : new String[] {a, b}) {
                    assertTrue(d.startsWith(prefix) && d.length() == prefix.length() + 6, d);
                    assertFalse(d.endsWith("XXXXXX"), d);
                    assertTrue(Files.isDirectory(Path.of(d)), d);
                }
                assertFalse(a.equals(b), "unique: " + a);
            } finally {
                ShmDirectory.remove(a);
                ShmDirectory.remove(b);
            }
            assertFalse(Files.exists(Path.of(a)) || Files.exists(Path.of(b)), "removed");
        }
    }
}
