package io.jqb.ops.internal;

import io.jqb.internal.wire.ControlFileDescriptor;
import io.jqb.internal.wire.RingHeaderDescriptor;
import io.jqb.internal.wire.SemaphoreDescriptor;
import io.jqb.ops.RingInfo;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.List;

/**
 * Reads a connection's rings (SHM) or control file (SOCKET) from its directory, read-only: each header is copied
 * out with one bounded positional read, so a file its owner truncates or fills with garbage yields an error string
 * in the {@link RingInfo}, never an exception or a fault.
 */
public final class RingFiles {
    /** The three rings, in the order libqb creates them. */
    public static final List<String> RINGS = List.of("request", "response", "event");

    private RingFiles() {
    }

    /** {@code <dir>/qb-<ring>-<service>}: a ring's base name (add "-header" / "-data"). */
    public static Path base(Path dir, String ring, String service) {
        return dir.resolve("qb-" + ring + "-" + service);
    }

    public static Path header(Path dir, String ring, String service) {
        return Path.of(base(dir, ring, service) + "-header");
    }

    public static Path data(Path dir, String ring, String service) {
        return Path.of(base(dir, ring, service) + "-data");
    }

    /** {@code <dir>/qb-control-<service>}: the SOCKET transport's control file. */
    public static Path control(Path dir, String service) {
        return dir.resolve("qb-control-" + service);
    }

    /** Reads the three rings of an SHM connection. */
    public static List<RingInfo> readShm(Path dir, String service) {
        return List.of(readRing(dir, "request", service), readRing(dir, "response", service),
                readRing(dir, "event", service));
    }

    /** A ring's header fields and the data file's size; garbage and truncation are reported in {@code error}. */
    public static RingInfo readRing(Path dir, String ring, String service) {
        Path h = header(dir, ring, service);
        long dataBytes = dataSize(data(dir, ring, service));
        try (FileReads.Reader r = FileReads.open(h)) {
            RingInfo info = null;
            // write_pt == read_pt with messages queued means "full", but the copy is not atomic: a message written
            // between our read of the pointers and of the semaphore looks the same. A full ring stays full (its
            // reader is not reading): believe it only when two copies agree.
            for (int attempt = 0; attempt < 3; attempt++) {
                RingInfo again = decode(ring, r.read(0, RingHeaderDescriptor.STRUCT_LENGTH), dataBytes,
                        ring.equals("request"));
                if (!(again.writePointer() == again.readPointer() && again.queued() > 0 && again.error() == null)
                        || info != null && info.equals(again)) {
                    return again;
                }
                info = again;
            }
            return info;
        } catch (IOException e) {
            return RingInfo.unreadable(ring, h.getFileName() + ": " + FileReads.why(e));
        }
    }

    private static long dataSize(Path data) {
        try {
            BasicFileAttributes a = Files.readAttributes(data, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            return a.isRegularFile() ? a.size() : -1;
        } catch (IOException e) {
            return -1;
        }
    }

    /**
     * Decodes a copied header. {@code header} holds what could be read (its limit may be short).
     *
     * @param dataBytes the data file's size, -1 when unknown
     */
    static RingInfo decode(String ring, ByteBuffer header, long dataBytes, boolean requestRing) {
        int have = header.limit();
        if (have < RingHeaderDescriptor.WORD_SIZE_OFFSET + 4) {
            return new RingInfo(ring, dataBytes, -1, -1, -1, -1, -1, -1,
                    "truncated: header " + have + " of " + RingHeaderDescriptor.STRUCT_LENGTH + " bytes");
        }
        long w = u32(header, RingHeaderDescriptor.WRITE_PT_OFFSET);
        long r = u32(header, RingHeaderDescriptor.READ_PT_OFFSET);
        long words = u32(header, RingHeaderDescriptor.WORD_SIZE_OFFSET);
        int semAt = RingHeaderDescriptor.SEMAPHORE_OFFSET + SemaphoreDescriptor.DATA_OFFSET;
        long queued = have >= semAt + 4 ? u32(header, semAt) : -1;
        // A jqb reader spinning on write_pt (flag 2): its jqb writer skips the posts, so the semaphore counts nothing
        // (0, or a stale token with the ring empty) and write_pt == read_pt is empty, never full. Count from the
        // pointers: 0 when empty, else 1 (at least one chunk; the header alone cannot count them).
        final boolean spinning = have >= RingHeaderDescriptor.CONSUMER_AWAKE_OFFSET + 4
                && header.getInt(RingHeaderDescriptor.CONSUMER_AWAKE_OFFSET) == RingHeaderDescriptor.READER_SPINNING;
        if (spinning) {
            queued = w == r ? 0 : 1;
        }
        int refCount = have >= RingHeaderDescriptor.REF_COUNT_OFFSET + 4
                ? header.getInt(RingHeaderDescriptor.REF_COUNT_OFFSET) : -1;
        int fc = !requestRing ? 0
                : have >= RingHeaderDescriptor.USER_DATA_OFFSET + 4 ? header.getInt(RingHeaderDescriptor.USER_DATA_OFFSET)
                : -1;
        String error = null;
        if (have < RingHeaderDescriptor.STRUCT_LENGTH) {
            error = "truncated: header " + have + " of " + RingHeaderDescriptor.STRUCT_LENGTH + " bytes";
        }
        if (words == 0 || (dataBytes >= 0 && words * 4 != dataBytes)) {
            String e = "garbage: word_size=" + words + (dataBytes >= 0 ? " but the data file has " + dataBytes
                    + " bytes" : "");
            return new RingInfo(ring, dataBytes, w, r, -1, queued, refCount, fc, join(error, e));
        }
        if (w >= words || r >= words) {
            return new RingInfo(ring, dataBytes, w, r, -1, queued, refCount, fc,
                    join(error, "garbage: write_pt=" + w + " read_pt=" + r + " word_size=" + words));
        }
        if (dataBytes < 0) {
            error = join(error, "data file missing");
        }
        long usedWords = Math.floorMod(w - r, words);
        if (usedWords == 0 && queued > 0 && !spinning) {
            usedWords = words; // write_pt caught up with read_pt: full, not empty (libqb's free-space rule)
        }
        return new RingInfo(ring, words * 4, w, r, usedWords * 4, queued, refCount, fc, error);
    }

    /** Reads the SOCKET transport's control file as three channels (queue length and flow-control flag). */
    public static List<RingInfo> readControl(Path dir, String service) {
        Path c = control(dir, service);
        ByteBuffer b;
        try (FileReads.Reader r = FileReads.open(c)) {
            b = r.read(0, ControlFileDescriptor.LENGTH);
        } catch (IOException e) {
            String why = c.getFileName() + ": " + FileReads.why(e);
            return List.of(RingInfo.unreadable("request", why), RingInfo.unreadable("response", why),
                    RingInfo.unreadable("event", why));
        }
        int[] at = {ControlFileDescriptor.REQUEST, ControlFileDescriptor.RESPONSE, ControlFileDescriptor.EVENT};
        RingInfo[] out = new RingInfo[3];
        for (int i = 0; i < 3; i++) {
            String name = RINGS.get(i);
            if (b.limit() < at[i] + ControlFileDescriptor.FLOW_CONTROL + 4) {
                out[i] = RingInfo.unreadable(name, "truncated: control file " + b.limit() + " of "
                        + ControlFileDescriptor.LENGTH + " bytes");
                continue;
            }
            int sent = b.getInt(at[i] + ControlFileDescriptor.SENT);
            int fc = i == 0 ? b.getInt(at[i] + ControlFileDescriptor.FLOW_CONTROL) : 0;
            out[i] = new RingInfo(name, -1, -1, -1, -1, sent, -1, fc,
                    sent < 0 ? "garbage: sent=" + sent : null);
        }
        return List.of(out);
    }

    static long u32(ByteBuffer b, int at) {
        return b.getInt(at) & 0xffff_ffffL;
    }

    private static String join(String a, String b) {
        return a == null ? b : a + "; " + b;
    }
}
