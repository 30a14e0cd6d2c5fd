package io.jqb.internal.wire;

/**
 * The shared ring header file {@code <base>-header} ({@code struct qb_ringbuffer_shared_s}, 8248 bytes, plus user
 * data bytes at the end of the file).
 *
 * <pre>
 *  +-----------------------------+
 *  | write_pt   u32 (volatile)   |     0  word index of the next chunk to write
 *  | read_pt    u32 (volatile)   |     4  word index of the oldest unreclaimed chunk
 *  | word_size  u32              |     8  W: data bytes / 4
 *  | hdr_path[4096]              |    12  this file's absolute path, NUL-terminated
 *  | data_path[4096]             |  4108  the data file's absolute path
 *  | ref_count  i32 (atomic)     |  8204  creator 1, each opener +1
 *  | posix_sem  (glibc sem_t)    |  8208  32 bytes, see SemaphoreDescriptor
 *  | user_data  i32              |  8240  flow-control flag (request ring only)
 *  | pad (jqb: reader mode flag) |  8244  0 asleep, 1 polling the semaphore, 2 spinning on write_pt
 *  +-----------------------------+  8248 (8252 as created: 4 user-data bytes)
 * </pre>
 */
public final class RingHeaderDescriptor {
    public static final int WRITE_PT_OFFSET = 0;
    public static final int READ_PT_OFFSET = 4;
    public static final int WORD_SIZE_OFFSET = 8;
    public static final int HDR_PATH_OFFSET = 12;
    public static final int DATA_PATH_OFFSET = 4108;
    public static final int PATH_LENGTH = 4096;
    public static final int REF_COUNT_OFFSET = 8204;
    public static final int SEMAPHORE_OFFSET = 8208;
    public static final int USER_DATA_OFFSET = 8240;
    /**
     * jqb extension in the struct's tail padding (libqb never touches it): the reader's mode, written only by a jqb
     * reader of this ring (the server's loop on a request ring, the client on a response ring), read by a jqb writer
     * whose peer said "JQB1" or "JQB2" in the handshake ({@link #READER_SPINNING} only when both ends said "JQB2").
     * {@link #READER_ASLEEP} (0, libqb's value) otherwise.
     */
    public static final int CONSUMER_AWAKE_OFFSET = 8244;
    /** The reader may block: every chunk needs its semaphore post (and, on a request ring, its doorbell byte). */
    public static final int READER_ASLEEP = 0;
    /** The reader polls the semaphore without sleeping (request ring): post, but the doorbell byte may be skipped. */
    public static final int READER_POLLING = 1;
    /**
     * The reader spins on {@code write_pt} (jqb to jqb, both ends said "JQB2": {@code jqb.spin.writeptDetect} on at
     * both): neither the post nor the doorbell is needed; the semaphore may hold stale tokens and does not count the
     * chunks, and write_pt == read_pt is always an empty ring (monitoring counts from the pointers). Before it blocks the reader stores {@link #READER_ASLEEP}, fences and re-checks the ring.
     */
    public static final int READER_SPINNING = 2;
    /** sizeof(struct qb_ringbuffer_shared_s). */
    public static final int STRUCT_LENGTH = 8248;
    /** The header file size a libqb server creates: the struct plus 4 bytes of user data. */
    public static final int FILE_LENGTH = STRUCT_LENGTH + 4;

    private RingHeaderDescriptor() {
    }
}
