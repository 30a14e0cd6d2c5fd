package io.jqb.ops;

/**
 * One ring (or, for the SOCKET transport, one channel of the control file) of a connection, read from its header
 * without writing anything. Values that could not be read are -1; {@link #error()} then says why.
 *
 * @param ring "request", "response" or "event"
 * @param dataBytes size of the data file (ring capacity in bytes), -1 for SOCKET or when unreadable
 * @param writePointer the header's write_pt (word index), -1 when unknown
 * @param readPointer the header's read_pt (word index), -1 when unknown
 * @param usedBytes bytes between read_pt and write_pt (chunk headers and padding included), -1 when unknown
 * @param queued messages written and not yet read: the ring semaphore's value (SHM) or the control file's
 *        {@code sent} count (SOCKET); -1 when unknown. While the ring's jqb reader spins on write_pt (the header's
 *        reader-mode flag is 2) the writer skips its posts and the semaphore counts nothing: then 0 when
 *        write_pt == read_pt (empty, never full), else 1 (at least one message; the header alone cannot count them)
 * @param refCount the header's ref_count (2 while both ends have it open), -1 for SOCKET or when unknown
 * @param flowControl the flow-control flag (request ring / request channel only; 0 elsewhere), -1 when unknown
 * @param error null when the ring was read and is consistent, else what went wrong (e.g. "permission denied",
 *        "truncated: header 100 of 8248 bytes", "garbage: write_pt=99999 >= word_size=4096")
 */
public record RingInfo(String ring, long dataBytes, long writePointer, long readPointer, long usedBytes,
        long queued, int refCount, int flowControl, String error) {

    /** @return used bytes as a percentage of the capacity (0..100), or -1 when unknown */
    public double fillPercent() {
        return usedBytes < 0 || dataBytes <= 0 ? -1 : 100.0 * usedBytes / dataBytes;
    }

    /** A ring nothing could be read from. */
    public static RingInfo unreadable(String ring, String why) {
        return new RingInfo(ring, -1, -1, -1, -1, -1, -1, -1, why);
    }
}
