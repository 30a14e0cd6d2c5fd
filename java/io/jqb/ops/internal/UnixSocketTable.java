package io.jqb.ops.internal;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Parses {@code /proc/net/unix}: one line per AF_UNIX socket of the reader's network namespace.
 *
 * <pre>
 *  Num               RefCount Protocol Flags    Type St Inode Path
 *  0000000012345678: 00000002 00000000 00010000 0001 01 31337 @echo@@@@...@   (108 chars: NULs shown as '@')
 * </pre>
 *
 * Flags {@code 00010000} is {@code __SO_ACCEPTCON} (a listening socket); Type 1 = STREAM, 2 = DGRAM; the path is
 * absent for unnamed sockets, starts with '@' for the abstract namespace.
 */
public final class UnixSocketTable {
    /** {@code __SO_ACCEPTCON}: the socket listens. */
    static final int FLAG_ACCEPTCON = 0x10000;
    public static final int TYPE_STREAM = 1;
    public static final int TYPE_DGRAM = 2;
    /** {@code sizeof(sun_path)}: libqb binds abstract names padded with NULs to all of it. */
    public static final int SUN_PATH_LENGTH = 108;

    /** One socket. {@code path} is null for an unnamed socket. */
    public record Entry(long inode, int flags, int type, int state, String path) {
        public boolean listening() {
            return (flags & FLAG_ACCEPTCON) != 0;
        }

        public boolean isAbstract() {
            return path != null && path.startsWith("@");
        }

        /**
         * The name libqb gave an abstract socket: the kernel shows {@code "\0" + name + NULs} padded to 108 bytes as
         * '@' + name + '@'..., so a libqb name is what is left after the trailing '@'s are stripped; null when the
         * address is not padded to the full {@code sun_path} (libqb and jqb always pad).
         */
        public String paddedAbstractName() {
            if (!isAbstract() || path.length() != SUN_PATH_LENGTH) {
                return null;
            }
            int end = path.length();
            while (end > 1 && path.charAt(end - 1) == '@') {
                end--;
            }
            return end > 1 ? path.substring(1, end) : null;
        }
    }

    private UnixSocketTable() {
    }

    /** Reads and parses the table at {@code file} (normally /proc/net/unix). */
    public static List<Entry> read(Path file) throws IOException {
        return parse(new String(Files.readAllBytes(file), StandardCharsets.ISO_8859_1));
    }

    /** Parses the table's text; lines that do not parse are skipped. */
    public static List<Entry> parse(String text) {
        List<Entry> out = new ArrayList<>();
        String[] lines = text.split("\n");
        for (int i = 1; i < lines.length; i++) {
            Entry e = parseLine(lines[i]);
            if (e != null) {
                out.add(e);
            }
        }
        return out;
    }

    static Entry parseLine(String line) {
        // fields: Num: RefCount Protocol Flags Type St Inode [Path]; the path may contain spaces
        int pos = 0;
        String[] f = new String[7];
        for (int i = 0; i < 7; i++) {
            while (pos < line.length() && line.charAt(pos) == ' ') {
                pos++;
            }
            int start = pos;
            while (pos < line.length() && line.charAt(pos) != ' ') {
                pos++;
            }
            if (start == pos) {
                return null;
            }
            f[i] = line.substring(start, pos);
        }
        String path = pos + 1 < line.length() ? line.substring(pos + 1) : null;
        try {
            return new Entry(Long.parseLong(f[6]), Integer.parseInt(f[3], 16), Integer.parseInt(f[4], 16),
                    Integer.parseInt(f[5], 16), path);
        } catch (NumberFormatException e) {
            return null;
        }
    }
}
