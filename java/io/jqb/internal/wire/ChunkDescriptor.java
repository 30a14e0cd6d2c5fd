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
 */
public final class ChunkDescriptor {
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

    /** Data file size for an agreed buffer size. */
    public static long dataFileSize(long maxMsgSize) {
        long n = maxMsgSize + DATA_SLACK;
        return (n + PAGE_SIZE - 1) / PAGE_SIZE * PAGE_SIZE;
    }
}
