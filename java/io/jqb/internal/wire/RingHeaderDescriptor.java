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
 *  | pad (jqb: consumer awake)   |  8244
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
     * jqb extension in the struct's tail padding (libqb never touches it): on a request ring, 1 while a jqb server's
     * loop is spinning on this ring, so a jqb client may skip the doorbell byte; 0 otherwise (libqb's value).
     */
    public static final int CONSUMER_AWAKE_OFFSET = 8244;
    /** sizeof(struct qb_ringbuffer_shared_s). */
    public static final int STRUCT_LENGTH = 8248;
    /** The header file size a libqb server creates: the struct plus 4 bytes of user data. */
    public static final int FILE_LENGTH = STRUCT_LENGTH + 4;

    private RingHeaderDescriptor() {
    }
}
