package io.jqb.cli;

import io.jqb.Service;
import io.jqb.StaleDirectory;
import java.io.PrintStream;
import java.util.List;

/**
 * {@code jqb sweep [--dry-run] [--root DIR]}: removes every service's stale connection directories from {@code /dev/shm} (server
 * and client provably gone, owned by us, only libqb files), printing {@code removed DIR: REASON} for each, or
 * {@code would remove DIR: REASON} with {@code --dry-run}; then {@code N removed} (or {@code N would be removed}).
 * {@code --root} sweeps another directory than {@code /dev/shm}. Exit code 0 (2 for a bad option).
 */
final class SweepCommand {
    private SweepCommand() {
    }

    static int run(String[] args, PrintStream out) {
        boolean dryRun = false;
        java.nio.file.Path root = null;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("--dry-run")) {
                dryRun = true;
            } else if (a.equals("--root") && i + 1 < args.length) {
                root = java.nio.file.Path.of(args[++i]);
            } else {
                System.err.println("jqb sweep: unknown option " + a);
                return 2;
            }
        }
        List<StaleDirectory> found = root == null ? Service.sweepStaleDirectories(dryRun)
                : Service.sweepStaleDirectories(root, dryRun);
        for (StaleDirectory d : found) {
            out.println((dryRun ? "would remove " : "removed ") + d.directory() + ": " + d.reason());
        }
        out.println(found.size() + (dryRun ? " would be removed" : " removed"));
        return 0;
    }
}
