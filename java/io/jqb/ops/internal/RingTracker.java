package io.jqb.ops.internal;

import io.jqb.internal.wire.ChunkDescriptor;
import io.jqb.internal.wire.MessageHeaderDescriptor;
import io.jqb.internal.wire.RingHeaderDescriptor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;

/**
 * Follows one ring's write pointer between samples and counts what was written, read-only.
 *
 * <p><b>Bytes:</b> each {@link #sample()} reads write_pt and adds {@code (write_pt - last) mod W} words × 4: the
 * ring space the writer used (payload, 8-byte chunk header and padding to 4). The modulo handles the wrap; a writer
 * that went all the way round the ring (W words or more) between two samples is undercounted by whole rings, which
 * is why callers sample often (every few milliseconds) and report over a longer interval.</p>
 *
 * <p><b>Messages:</b> the chunks between the old and the new write_pt are walked: chunk p holds its length in word p
 * (0 once the reader reclaimed it, libqb's reclaim zeroes it) and every libqb message starts with a header whose
 * {@code size} field (payload offset {@value MessageHeaderDescriptor#SIZE_OFFSET}) is the message length, which
 * reclaim leaves alone. The walk is exact when it lands on the new write_pt; when it does not (data overwritten by a
 * later wrap, a message whose header lies, more than {@link #MAX_WALK} chunks) the rest is estimated from the bytes and
 * the average chunk size seen, and the sample is marked estimated.</p>
 */
public final class RingTracker implements AutoCloseable {
    /** Chunks walked per sample at most (each costs one small positional read). */
    static final int MAX_WALK = 4096;

    private final FileReads.Reader header;
    private final FileReads.Reader data;
    private long words = -1;
    private long last = -1;
    private long messages;
    private long bytes;
    private boolean estimated;
    private String error;
    /** Chunk words and chunks seen, for estimates. */
    private long walkedWords;
    private long walkedChunks;

    private RingTracker(FileReads.Reader header, FileReads.Reader data) {
        this.header = header;
        this.data = data;
    }

    /** Opens a ring (read-only) by its header and data file paths. */
    public static RingTracker open(Path headerPath, Path dataPath) throws IOException {
        FileReads.Reader h = FileReads.open(headerPath);
        try {
            return new RingTracker(h, FileReads.open(dataPath));
        } catch (IOException e) {
            h.close();
            throw e;
        }
    }

    /** Samples without a change in a row; an idle ring is sampled less often ({@link #due}). */
    private int idle;
    private int skipped;

    /**
     * Whether this tick should sample the ring: always while it moves, every {@value #IDLE_EVERY}th tick once it
     * has not moved for that many, so that thousands of idle rings cost little and a busy one is never starved.
     */
    public boolean due() {
        if (idle < IDLE_EVERY || ++skipped >= IDLE_EVERY) {
            skipped = 0;
            return true;
        }
        return false;
    }

    static final int IDLE_EVERY = 10;

    /** @return true when the last sample saw the write pointer move */
    public boolean moving() {
        return idle == 0 && last >= 0;
    }

    /** Reads the write pointer and accounts what was written since the previous sample. */
    public void sample() {
        ByteBuffer b;
        try {
            b = header.read(0, RingHeaderDescriptor.WORD_SIZE_OFFSET + 4);
        } catch (IOException e) {
            error = FileReads.why(e);
            return;
        }
        if (b.limit() < RingHeaderDescriptor.WORD_SIZE_OFFSET + 4) {
            error = "truncated header";
            last = -1;
            return;
        }
        long w = RingFiles.u32(b, RingHeaderDescriptor.WRITE_PT_OFFSET);
        long size = RingFiles.u32(b, RingHeaderDescriptor.WORD_SIZE_OFFSET);
        if (size == 0 || w >= size || (words >= 0 && size != words)) {
            error = "garbage: write_pt=" + w + " word_size=" + size;
            last = -1;
            return;
        }
        words = size;
        if (last < 0) {
            last = w;
            return;
        }
        long delta = Math.floorMod(w - last, words);
        idle = delta == 0 ? idle + 1 : 0;
        if (delta > 0) {
            bytes += delta * 4;
            messages += walk(last, w, delta);
        }
        last = w;
    }

    /** Counts the chunks from word {@code from} up to {@code to} ({@code delta} words apart). */
    private long walk(long from, long to, long delta) {
        long p = from;
        long left = delta;
        long n = 0;
        while (left > 0 && n < MAX_WALK) {
            long len = chunkLength(p);
            long step = len < 0 ? -1 : ChunkDescriptor.chunkWords((int) len);
            if (step <= 0 || step > left) {
                break;
            }
            n++;
            walkedChunks++;
            walkedWords += step;
            left -= step;
            p = (p + step) % words;
        }
        if (left > 0) {
            estimated = true;
            long avg = walkedChunks > 0 ? Math.max(1, walkedWords / walkedChunks) : ChunkDescriptor.chunkWords(
                    MessageHeaderDescriptor.RESPONSE_HEADER_LENGTH);
            n += Math.max(1, left / avg);
        }
        return n;
    }

    /** Word index of the message header's size field, relative to the chunk. */
    private static final int SIZE_WORD = ChunkDescriptor.HEADER_WORDS + MessageHeaderDescriptor.SIZE_OFFSET / 4;

    /** The payload length of the chunk at word {@code p}, or -1 when it cannot be told. */
    private long chunkLength(long p) {
        try {
            ByteBuffer b = words(p, SIZE_WORD + 1);
            long len = RingFiles.u32(b, 4 * ChunkDescriptor.LENGTH_WORD);
            if (len == 0) {
                // reclaimed: the length word is zeroed, the message header's size field is still there
                len = RingFiles.u32(b, 4 * SIZE_WORD);
                if (len < MessageHeaderDescriptor.SIZE_OFFSET + 4) {
                    return -1;
                }
            }
            return len > words * 4 - ChunkDescriptor.MARGIN_BYTES ? -1 : len;
        } catch (IOException e) {
            return -1;
        }
    }

    /** {@code n} words from word {@code index} on, wrapping at the end of the ring (one or two reads). */
    private ByteBuffer words(long index, int n) throws IOException {
        long at = index % words;
        long first = Math.min(n, words - at);
        ByteBuffer b = data.read(4 * at, (int) (4 * first));
        if (b.limit() < 4 * first) {
            throw new IOException("data file truncated");
        }
        if (first == n) {
            return b;
        }
        ByteBuffer rest = data.read(0, (int) (4 * (n - first)));
        if (rest.limit() < 4 * (n - first)) {
            throw new IOException("data file truncated");
        }
        return ByteBuffer.allocate(4 * n).order(java.nio.ByteOrder.LITTLE_ENDIAN).put(b).put(rest).flip();
    }

    /** Messages counted since the last {@link #reset()}. */
    public long messages() {
        return messages;
    }

    /** Ring bytes written since the last {@link #reset()}. */
    public long bytes() {
        return bytes;
    }

    /** Whether some of the counted messages were estimated rather than walked. */
    public boolean estimated() {
        return estimated;
    }

    /** The last sample's problem, or null. */
    public String error() {
        return error;
    }

    /** Starts a new measuring interval (the pointer position is kept). */
    public void reset() {
        messages = 0;
        bytes = 0;
        estimated = false;
        error = null;
    }

    @Override
    public void close() {
        header.close();
        data.close();
    }
}
