package io.jqb.cli;

import io.jqb.Service;
import io.jqb.TransportType;
import java.io.OutputStream;
import java.io.PrintStream;

/**
 * The training run {@code bin/jqb} makes once per build to record jqb's classes into an AppCDS archive
 * ({@code -XX:ArchiveClassesAtExit}, JDK 13+; see docs/PERFORMANCE.md, "Cold start"): an echo service and the
 * {@code bench} client in this one process, over SHM and over SOCKET, so that the archive holds both sides' classes.
 * Prints nothing; exit status 0 when every round trip succeeded. Not a user command.
 */
public final class CdsTraining {
    private static final int ROUND_TRIPS = 2000;

    private CdsTraining() {
    }

    /** @param args ignored */
    public static void main(String[] args) {
        System.exit(train());
    }

    /** @return 0 when every round trip over both transports succeeded */
    static int train() {
        int rc = 0;
        PrintStream quiet = new PrintStream(OutputStream.nullOutputStream());
        for (TransportType t : new TransportType[] {TransportType.SHM, TransportType.SOCKET}) {
            String name = "jqb-cds-training-" + ProcessHandle.current().pid() + "-" + t.name().toLowerCase();
            try (Service service = Service.create(name, 0, t, new EchoHandler())) {
                service.run();
                rc |= BenchCommand.run(new String[] {"--service", name, "--count", Integer.toString(ROUND_TRIPS),
                    "--warmup", "0", "--cold"}, quiet);
            } catch (RuntimeException e) {
                rc = 1;
            }
        }
        return rc;
    }
}
