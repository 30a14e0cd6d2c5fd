package io.jqb.internal.wire;

/**
 * One chunk in a ring's data area (4-byte words, indices modulo W).
 *
 * <pre>
 *  word p       | length in bytes (u32)          |
 *  word p+1     | magic                          |  published with release ordering
 *  word p+2 ... | payload, padded to 4 bytes     |  pad bytes are not cleared
 *  next chunk at (p + 2 + ceil(length / 4)) mod W
 * </pre>
 *
 * <p>Word indices p are always in {@code [0, W)} (the ring validates every pointer a peer wrote before it gets here);
 * the functions below turn them into byte offsets in the double-mapped data area, so the payload of a chunk that
 * wraps is still contiguous. Byte order: little-endian (x86, as libqb's native peers write it).</p>
 */
public final class ChunkDescriptor {
    /** Bytes per ring word: libqb's pointers and sizes count 32-bit words. */
    public static final int WORD_BYTES = 4;
    public static final int LENGTH_WORD = 0;
    public static final int MAGIC_WORD = 1;
    public static final int HEADER_WORDS = 2;
    /** Free space a write needs beyond the payload: the 8-byte chunk header plus a 4-byte margin. */
    public static final int MARGIN_BYTES = 12;
    /** {@code data file size = roundup(max_msg_size + DATA_SLACK, page)}. */
    public static final int DATA_SLACK = 13;
    public static final int PAGE_SIZE = 4096;

    public static final int MAGIC_COMMITTED = 0xA1A1A1A1;
    public static final int MAGIC_ALLOCATED = 0xA110CED0;
    public static final int MAGIC_DEAD = 0xD0D0D0D0;

    private ChunkDescriptor() {
    }

    /** Words a chunk of {@code length} payload bytes occupies. */
    public static int chunkWords(int length) {
        return HEADER_WORDS + ((length + 3) >>> 2);
    }

    /** Byte offset of the length word of the chunk at word {@code p} (libqb {@code QB_RB_CHUNK_SIZE_GET}). */
    public static long lengthOffset(int p) {
        return (long) WORD_BYTES * (p + LENGTH_WORD); // p + 0 < W: no wrap
    }

    /** Byte offset of the magic word of the chunk at word {@code p} in a ring of {@code words} words. */
    public static long magicOffset(int p, int words) {
        return (long) WORD_BYTES * ((p + MAGIC_WORD) % words);
    }

    /** Byte offset of the payload of the chunk at word {@code p} (libqb {@code QB_RB_CHUNK_DATA_GET}). */
    public static int payloadOffset(int p, int words) {
        return WORD_BYTES * ((p + HEADER_WORDS) % words);
    }

    /** Word index of the chunk after the one at {@code p} holding {@code length} bytes. */
    public static int nextChunk(int p, int length, int words) {
        return (int) ((p + (long) chunkWords(length)) % words);
    }

    /** Data file size for an agreed buffer size. */
    public static long dataFileSize(long maxMsgSize) {
        long n = maxMsgSize + DATA_SLACK;
        return (n + PAGE_SIZE - 1) / PAGE_SIZE * PAGE_SIZE;
    }
}
