package io.jqb.internal.posix;

import io.jqb.Errno;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** What jqb needs to know about other processes: whether one has certainly stopped running. */
public final class Processes {
    private Processes() {
    }

    /**
     * @return true when {@code pid} has exited but is not reaped yet: state {@code Z} (zombie) or {@code X} (dead,
     *         being reaped) in {@code /proc/<pid>/stat}. Either way it runs no code and its mappings are gone.
     */
    public static boolean hasExited(int pid) {
        try {
            String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
            int paren = stat.lastIndexOf(')'); // the command name may contain ')' and spaces
            if (paren < 0 || paren + 2 >= stat.length()) {
                return false;
            }
            char state = stat.charAt(paren + 2);
            return state == 'Z' || state == 'X';
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    /**
     * @return true only when {@code pid} certainly runs no more: no such process ({@code kill(pid, 0)} fails with
     *         ESRCH) or {@link #hasExited}; false for pids 0 and 1, live pids and pids we may not signal
     */
    public static boolean provablyDead(int pid) {
        if (pid <= 1) {
            return false;
        }
        if (Posix.C.kill(pid, 0) < 0) {
            return Posix.errno() == Errno.ESRCH;
        }
        return hasExited(pid);
    }
}
