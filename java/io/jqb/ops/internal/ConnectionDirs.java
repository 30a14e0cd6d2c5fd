package io.jqb.ops.internal;

import io.jqb.ops.Transport;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The connection directories {@code /dev/shm/qb-<serverpid>-<clientpid>-<fd>-XXXXXX} and what their file names say
 * (service name, transport). Reading a directory's entries needs search and read permission: libqb makes it 0770
 * owned by the client, so another user only learns the pids and the fd from the name.
 */
public final class ConnectionDirs {
    private static final Pattern NAME = Pattern.compile("qb-(\\d{1,10})-(\\d{1,10})-(\\d{1,10})-[A-Za-z0-9]{6}");
    private static final String HEADER = "-header";

    /** A directory, parsed. {@code service}/{@code transport} are null/UNKNOWN when its entries were unreadable. */
    public record Dir(Path path, int serverPid, int clientPid, int fd, String service, Transport transport,
            String problem) {
    }

    private ConnectionDirs() {
    }

    /** @return the pids and fd in a directory name, or null when it is not a libqb connection directory */
    static int[] parseName(String name) {
        Matcher m = NAME.matcher(name);
        if (!m.matches()) {
            return null;
        }
        int s = ProcessTable.parseInt(m.group(1));
        int c = ProcessTable.parseInt(m.group(2));
        int f = ProcessTable.parseInt(m.group(3));
        return s < 0 || c < 0 || f < 0 ? null : new int[] {s, c, f};
    }

    /** The libqb connection directory paths directly under {@code root} (not their contents). */
    public static List<Path> list(Path root) throws IOException {
        List<Path> out = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(root, "qb-*")) {
            for (Path p : ds) {
                if (parseName(p.getFileName().toString()) != null
                        && Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                    out.add(p);
                }
            }
        }
        out.sort(null);
        return out;
    }

    /** Reads one directory's entries to learn its service and transport. */
    public static Dir inspect(Path dir) {
        int[] ids = parseName(dir.getFileName().toString());
        String service = null;
        Transport transport = Transport.UNKNOWN;
        String problem = null;
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            for (Path p : ds) {
                String n = p.getFileName().toString();
                if (n.startsWith("qb-request-") && n.endsWith(HEADER)) {
                    service = n.substring("qb-request-".length(), n.length() - HEADER.length());
                    transport = Transport.SHM;
                } else if (n.startsWith("qb-control-") && transport != Transport.SHM) {
                    service = n.substring("qb-control-".length());
                    transport = Transport.SOCKET;
                }
            }
            if (service == null) {
                problem = "no ring or control file in it";
            }
        } catch (IOException e) {
            problem = "cannot list " + dir + ": " + FileReads.why(e);
        }
        return new Dir(dir, ids[0], ids[1], ids[2], service, transport, problem);
    }
}
