package io.jqb.internal.ring;

import static io.jqb.internal.wire.ChunkDescriptor.MAGIC_ALLOCATED;
import static io.jqb.internal.wire.ChunkDescriptor.MAGIC_COMMITTED;
import static io.jqb.internal.wire.ChunkDescriptor.MAGIC_DEAD;
import static io.jqb.internal.wire.ChunkDescriptor.MARGIN_BYTES;
import static io.jqb.internal.wire.RingHeaderDescriptor.READ_PT_OFFSET;
import static io.jqb.internal.wire.RingHeaderDescriptor.REF_COUNT_OFFSET;
import static io.jqb.internal.wire.RingHeaderDescriptor.USER_DATA_OFFSET;
import static io.jqb.internal.wire.RingHeaderDescriptor.WRITE_PT_OFFSET;

import io.jqb.Errno;
import io.jqb.IpcException;
import io.jqb.internal.posix.DirectoryFiles;
import io.jqb.internal.posix.FaultSafe;
import io.jqb.internal.posix.Guard;
import io.jqb.internal.posix.LibC;
import io.jqb.internal.posix.PointerStore;
import io.jqb.internal.posix.Posix;
import io.jqb.internal.wire.ChunkDescriptor;
import io.jqb.internal.wire.RingHeaderDescriptor;
import io.jqb.internal.wire.TimespecDescriptor;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * One libqb shared-memory ring: a header file and a data file, both mapped with libc and accessed through one
 * memory API, {@link PointerStore} (bounds-checked, Unsafe-backed: plain, release, volatile and CAS accesses, and
 * copies from and to byte arrays and ByteBuffers). The data file is mapped twice back to back (as libqb does), so
 * every chunk payload is contiguous in memory even when it wraps. The one ByteBuffer over the data area,
 * {@link #view()}, exists for the server's handlers, whose API is a ByteBuffer.
 *
 * <p>A ring has at most one writer and one reader at a time; callers serialise writers (and readers) themselves.
 * Every index and length read from shared memory is validated before use: a hostile peer can make an operation
 * fail with {@code -EBADMSG}, never make it touch memory outside the mapping.</p>
 */
public final class ShmRing {
    /**
     * Between two jqb ends, a reader that spins detects chunks from {@code write_pt} and the writer skips the
     * semaphore post ({@link RingHeaderDescriptor#READER_SPINNING}); {@code -Djqb.spin.writeptDetect=false} turns it
     * off (every chunk posted, as with libqb peers) for A/B comparisons.
     */
    public static final boolean WRITEPT_DETECT =
            !"false".equalsIgnoreCase(System.getProperty("jqb.spin.writeptDetect", "true"));
    /** Most stale tokens {@link #prepareSleep()} takes in one call (a flooding peer cannot keep it busy). */
    private static final int STALE_TOKENS_PER_SLEEP = 64;
    private final String headerPath;
    private final String dataPath;
    private final long headerAddress;
    private final long headerMapLength;
    private final long dataAddress;
    private final int dataBytes;
    private final int words;
    private final PointerStore header;
    private final PointerStore data;
    private final ByteBuffer dataView;
    private final SharedSemaphore semaphore;
    /** Native scratch: the semaphore's timespec at 0, the fault flag at {@link #FAULT_FLAG}. */
    private final long scratch;
    private static final int FAULT_FLAG = TimespecDescriptor.LENGTH;
    private static final int SCRATCH_BYTES = FAULT_FLAG + 8;
    /** Set to 1 by libjqbguard when it repaired a fault in one of the two mappings (the peer truncated a file). */
    private final long faultFlag;
    /** Both mappings are registered with the guard ({@link Guard#register}): faults in them are repaired. */
    private final boolean repaired;
    private final int headerSlot;
    private final int dataSlot;
    private boolean closed;
    /** Word index of the chunk being written (between claim and commit); writers are serialised. */
    private int claimed;
    /**
     * Both ends do write_pt detection ({@link #setDetect}): as writer, skip the post while the
     * reader's flag says {@link RingHeaderDescriptor#READER_SPINNING}; as reader, tolerate tokens without a chunk
     * (posted during a hand-over for a chunk already read by {@code write_pt}: never an error).
     */
    private boolean detect;
    /**
     * Writer of a {@link #detect} ring: its own write_pt and the last read_pt it saw (a lower bound of the reader's
     * position), so a chunk that fits is claimed without reading the header line the reader has just written;
     * {@link #writerPrimed} once both are read. Writers are serialised.
     */
    private int writePos;
    private int cachedReadPt;
    private boolean writerPrimed;
    /**
     * Writer: while set ({@link #setHoldPosts}), commits do not post; {@link #heldPosts} counts the chunks committed
     * without their post (a client holding requests back while the server is busy), until {@link #releaseHeldPosts}.
     * Writers are serialised, and the writer's owner serialises these calls with its writes.
     */
    private boolean holdPosts;
    private int heldPosts;

    private ShmRing(String headerPath, String dataPath, long headerAddress, long headerMapLength, long dataAddress,
            int dataBytes) {
        this.headerPath = headerPath;
        this.dataPath = dataPath;
        this.headerAddress = headerAddress;
        this.headerMapLength = headerMapLength;
        this.dataAddress = dataAddress;
        this.dataBytes = dataBytes;
        this.words = dataBytes >>> 2;
        this.scratch = Posix.allocate(SCRATCH_BYTES);
        this.faultFlag = scratch + FAULT_FLAG;
        int h = -1;
        int d = -1;
        try {
            Posix.MEM.writeInt(faultFlag, 0);
            if (Guard.REPAIR) {
                h = Guard.register(headerAddress, pageAligned(headerMapLength), faultFlag);
                d = h < 0 ? -1 : Guard.register(dataAddress, 2L * dataBytes, faultFlag);
                if (d < 0) {
                    Guard.unregister(h);
                    h = -1;
                }
            }
            this.headerSlot = h;
            this.dataSlot = d;
            this.repaired = d >= 0;
            this.header = new PointerStore(headerAddress, headerMapLength, repaired);
            this.data = new PointerStore(dataAddress, 2L * dataBytes, repaired);
            this.dataView = Posix.directBuffer(dataAddress, 2 * dataBytes);
            this.semaphore = new SharedSemaphore(header, RingHeaderDescriptor.SEMAPHORE_OFFSET,
                    headerAddress + RingHeaderDescriptor.SEMAPHORE_OFFSET, scratch, faultFlag);
        } catch (RuntimeException | Error e) {
            // Not constructed: nothing else will give the slots and the scratch back (the caller unmaps).
            Guard.unregister(d);
            Guard.unregister(h);
            Posix.free(scratch, SCRATCH_BYTES);
            throw e;
        }
    }

    /**
     * The largest {@code max_msg_size} a ring can have: its data file mapped twice must stay addressable by an int
     * (the ByteBuffer view over the double mapping).
     */
    public static final int MAX_MSG_SIZE = (int) ((Integer.MAX_VALUE / 2) / ChunkDescriptor.PAGE_SIZE
            * ChunkDescriptor.PAGE_SIZE - ChunkDescriptor.DATA_SLACK);

    /**
     * The data file size for {@code maxMsgSize}, or an EMSGSIZE IpcException when no ring can be that large
     * ({@code op} + {@code base} + ")" names the operation; built only then).
     */
    private static long dataSizeFor(String op, String base, long maxMsgSize) {
        if (maxMsgSize < 0 || maxMsgSize > MAX_MSG_SIZE) {
            throw new IpcException(op + base + ")", Errno.EMSGSIZE,
                    "max_msg_size=" + maxMsgSize + " limit=" + MAX_MSG_SIZE);
        }
        return ChunkDescriptor.dataFileSize(maxMsgSize);
    }

    private static PointerStore pointer(long address, long length) {
        return new PointerStore(address, length);
    }

    /** The length of the mapping of {@code length} bytes: whole pages. */
    private static long pageAligned(long length) {
        return (length + ChunkDescriptor.PAGE_SIZE - 1) / ChunkDescriptor.PAGE_SIZE * ChunkDescriptor.PAGE_SIZE;
    }

    /**
     * Creates {@code <base>-header} and {@code <base>-data} (O_EXCL, mode 0600) and initialises them as a libqb
     * server does: pointers 0, ref_count 1, process-shared semaphore at 0, flow-control flag 0.
     *
     * @param base absolute base path, e.g. {@code /dev/shm/qb-1-2-3-abcdef/qb-request-echo}
     * @param maxMsgSize the agreed buffer size
     * @param uid owner to give both files (the client's, or what auth_set chose); -1 keeps ours
     * @param gid group to give both files; -1 keeps ours
     * @param mode file mode (0600 unless auth_set chose another)
     */
    public static ShmRing create(String base, int maxMsgSize, int uid, int gid, int mode) throws IpcException {
        String hdrPath = base + "-header";
        String dataPath = base + "-data";
        long dataSize = dataSizeFor("ring create(", base, maxMsgSize);
        long hdr = 0;
        long dat = 0;
        boolean[] createdHdr = new boolean[1];
        boolean[] createdData = new boolean[1];
        boolean ok = false;
        ShmRing r = null;
        try {
            hdr = mapNewFile(hdrPath, RingHeaderDescriptor.FILE_LENGTH, false, uid, gid, mode, createdHdr);
            dat = mapNewFile(dataPath, dataSize, true, uid, gid, mode, createdData);
            r = new ShmRing(hdrPath, dataPath, hdr, RingHeaderDescriptor.FILE_LENGTH, dat, (int) dataSize);
            r.initHeader();
            ok = true;
            return r;
        } finally {
            if (!ok) {
                if (r != null) {
                    r.close(false); // unregisters, frees the scratch and unmaps both
                } else if (dat != 0) {
                    Posix.C.munmap(dat, 2 * dataSize);
                }
                if (r == null && hdr != 0) {
                    Posix.C.munmap(hdr, RingHeaderDescriptor.FILE_LENGTH);
                }
                // Only what we created: whatever was in the way (EEXIST) is not ours to delete.
                if (createdData[0]) {
                    DirectoryFiles.unlink(dataPath);
                }
                if (createdHdr[0]) {
                    DirectoryFiles.unlink(hdrPath);
                }
            }
        }
    }

    /**
     * Opens a ring a server created, as a libqb client does: maps the header, then the data file named in it, checks
     * the geometry against the agreed size and increments ref_count.
     */
    public static ShmRing open(String base, int maxMsgSize) throws IpcException {
        String hdrPath = base + "-header";
        long expectData = dataSizeFor("ring open(", base, maxMsgSize);
        long hdr = mapExisting(hdrPath, RingHeaderDescriptor.STRUCT_LENGTH, false);
        long dat = 0;
        ShmRing r = null;
        try {
            PointerStore header = pointer(hdr, RingHeaderDescriptor.STRUCT_LENGTH);
            int w = header.readInt(RingHeaderDescriptor.WORD_SIZE_OFFSET);
            if ((long) w * 4 != expectData) {
                throw new IpcException("ring open(" + base + ")", Errno.EBADMSG,
                        "word_size=" + w + " expected=" + expectData / 4);
            }
            String dataPath = Posix.readCString(hdr + RingHeaderDescriptor.DATA_PATH_OFFSET,
                    RingHeaderDescriptor.PATH_LENGTH);
            if (dataPath == null || !dataPath.startsWith("/")) {
                throw new IpcException("ring open(" + base + ")", Errno.EBADMSG,
                        "data_path is not an absolute NUL-terminated path");
            }
            dat = mapExisting(dataPath, expectData, true);
            r = new ShmRing(hdrPath, dataPath, hdr, RingHeaderDescriptor.STRUCT_LENGTH, dat, (int) expectData);
            r.addRefCount(1);
            return r;
        } catch (RuntimeException | Error e) {
            if (r != null) {
                r.close(false); // unregisters, frees the scratch and unmaps both
                throw e;
            }
            Posix.C.munmap(hdr, RingHeaderDescriptor.STRUCT_LENGTH);
            if (dat != 0) {
                Posix.C.munmap(dat, 2 * expectData);
            }
            throw e;
        }
    }

    /**
     * Creates, sizes, owns and maps a new file. O_EXCL|O_NOFOLLOW, relative to its directory opened with O_NOFOLLOW
     * ({@link DirectoryFiles}): neither a planted symlink at the file's name nor a symlink swapped in for the
     * (client-owned) directory can redirect the creation.
     */
    private static long mapNewFile(String path, long size, boolean twice, int uid, int gid, int mode,
            boolean[] created) throws IpcException {
        int fd = DirectoryFiles.createExclusive(path, 0600);
        if (fd < 0) {
            throw IpcException.of("open(" + path + ")", -fd, null);
        }
        created[0] = true;
        try {
            Posix.check(Posix.C.ftruncate(fd, size), "ftruncate(", path);
            int rc = Posix.C.posix_fallocate(fd, 0, size);
            if (rc != 0) {
                throw IpcException.of("posix_fallocate(" + path + ")", rc, null);
            }
            // Through the fd, never the path: a peer that owns the directory cannot redirect these to another file.
            if (Posix.C.fchown(fd, uid, gid) < 0 && Posix.errno() != Errno.EPERM) {
                throw IpcException.of("fchown(" + path + ")", Posix.errno(), null);
            }
            Posix.check(Posix.C.fchmod(fd, mode), "fchmod(", path);
            return map(fd, size, twice, path);
        } finally {
            Posix.C.close(fd);
        }
    }

    private static long mapExisting(String path, long size, boolean twice) throws IpcException {
        long actual = Posix.regularFileSize(path);
        if (actual < size) {
            throw new IpcException("ring open(" + path + ")", Errno.EBADMSG, "file_size=" + actual + " need=" + size);
        }
        int fd = Posix.openExisting(path);
        try {
            return map(fd, size, twice, path);
        } finally {
            Posix.C.close(fd);
        }
    }

    private static long map(int fd, long size, boolean twice, String path) throws IpcException {
        int rw = LibC.PROT_READ | LibC.PROT_WRITE;
        if (!twice) {
            long a = Posix.C.mmap(0, size, rw, LibC.MAP_SHARED, fd, 0);
            Posix.check(a == -1 ? -1 : 0, "mmap(", path);
            return a;
        }
        long region = Posix.C.mmap(0, 2 * size, LibC.PROT_NONE, LibC.MAP_PRIVATE | LibC.MAP_ANONYMOUS, -1, 0);
        Posix.check(region == -1 ? -1 : 0, "mmap(reserve ", path);
        long a = Posix.C.mmap(region, size, rw, LibC.MAP_SHARED | LibC.MAP_FIXED, fd, 0);
        long b = a == -1 ? -1 : Posix.C.mmap(region + size, size, rw, LibC.MAP_SHARED | LibC.MAP_FIXED, fd, 0);
        if (a == -1 || b == -1) {
            int e = Posix.errno();
            Posix.C.munmap(region, 2 * size);
            throw IpcException.of("mmap(" + path + ")", e, null);
        }
        return region;
    }

    private void initHeader() throws IpcException {
        header.writeInt(WRITE_PT_OFFSET, 0);
        header.writeInt(READ_PT_OFFSET, 0);
        header.writeInt(RingHeaderDescriptor.WORD_SIZE_OFFSET, words);
        writePath(RingHeaderDescriptor.HDR_PATH_OFFSET, headerPath);
        writePath(RingHeaderDescriptor.DATA_PATH_OFFSET, dataPath);
        semaphore.init();
        header.writeInt(USER_DATA_OFFSET, 0);
        // Self-test of the double mapping, as libqb does: word W lands on word 0.
        data.writeInt((long) words * 4, 5);
        if (data.readInt(0) != 5) {
            throw new IpcException("ring create(" + headerPath + ")", Errno.EIO, "double mapping self-test failed");
        }
        header.writeVolatileInt(REF_COUNT_OFFSET, 1);
    }

    private void writePath(int off, String path) throws IpcException {
        byte[] b = path.getBytes(StandardCharsets.UTF_8);
        if (b.length >= RingHeaderDescriptor.PATH_LENGTH) {
            throw new IpcException("ring create", Errno.ENAMETOOLONG, path);
        }
        header.write(off, b, 0, b.length);
        header.writeByte(off + b.length, (byte) 0);
    }

    // ------------------------------------------------------------------------------------------- writer

    /**
     * Enables {@code write_pt} detection on this ring when {@code bothEnds} (both handshake ends said "JQB2", see
     * {@link io.jqb.internal.wire.ConnectionRequestDescriptor#JQB_WRITEPT_CAPABILITY}) and {@link #WRITEPT_DETECT} is
     * on. Never for a peer that said only "JQB1": it posts every chunk and reads w == r with a token as a full ring.
     * Call before the first chunk is written or read (set-up, one thread).
     */
    public void setDetect(boolean bothEnds) {
        this.detect = WRITEPT_DETECT && bothEnds;
    }

    /** @return whether {@code write_pt} detection is enabled on this ring (see {@link #setDetect}) */
    public boolean detect() {
        return detect;
    }

    /** Largest payload this ring accepts. */
    public int maxPayload() {
        return dataBytes - ChunkDescriptor.DATA_SLACK;
    }

    /**
     * Free bytes for a new chunk, or -1 when the shared pointers are corrupt.
     */
    private long freeBytes() {
        final int w = header.readVolatileInt(WRITE_PT_OFFSET);
        final int r = header.readVolatileInt(READ_PT_OFFSET);
        final int n = words;
        if (w < 0 || w >= n || r < 0 || r >= n) {
            return -1;
        }
        long free;
        if (w > r) {
            free = (long) r - w + n - 1;
        } else if (w < r) {
            free = (long) r - w - 1;
        } else {
            // libqb: empty, or full when the semaphore holds tokens. A writer that keeps libqb's rule (a chunk may
            // take at most W - 1 words) never moves write_pt onto read_pt, so w == r is empty; between jqb ends the
            // semaphore may hold stale tokens (see detect), so it is not asked.
            free = detect || semaphore.value() == 0 ? n : 0;
        }
        return free * 4;
    }

    /**
     * Starts a chunk of {@code length} bytes: checks space and marks it allocated (libqb
     * {@code qb_rb_chunk_alloc}: length 0, then the ALLOCATED magic with release ordering).
     *
     * @return the byte offset of the payload in the double mapping, {@link Errno#WOULD_BLOCK} when full,
     *         {@code -EBADMSG} when the shared pointers are corrupt
     */
    private long claim(int length) {
        if (detect) {
            return claimCached(length);
        }
        long free = freeBytes();
        if (free < 0) {
            return -Errno.EBADMSG;
        }
        if (free < (long) length + MARGIN_BYTES) {
            return Errno.WOULD_BLOCK;
        }
        final int w = header.readVolatileInt(WRITE_PT_OFFSET);
        final int n = words;
        if (w < 0 || w >= n) {
            return -Errno.EBADMSG;
        }
        claimed = w;
        data.writeInt(ChunkDescriptor.lengthOffset(w), 0);
        data.writeOrderedInt(ChunkDescriptor.magicOffset(w, n), MAGIC_ALLOCATED);
        return ChunkDescriptor.payloadOffset(w, n);
    }

    /** Free words between write_pt {@code w} and read_pt {@code r}, w == r being empty (see {@link #freeBytes}). */
    private static long freeWords(int w, int r, int n) {
        return w > r ? (long) r - w + n - 1 : w < r ? (long) r - w - 1 : n;
    }

    /**
     * {@link #claim} on a {@link #detect} ring: from the writer's own write_pt and its cached read_pt; the header is
     * read only when that says "no room" (and the first time). A peer that moves write_pt under us is caught at the
     * commit ({@link #publishCached}), one that moves read_pt out of range when it is read.
     */
    private long claimCached(int length) {
        final int n = words;
        if (!writerPrimed) {
            final int w = header.readVolatileInt(WRITE_PT_OFFSET);
            final int r = header.readVolatileInt(READ_PT_OFFSET);
            if (w < 0 || w >= n || r < 0 || r >= n) {
                return -Errno.EBADMSG;
            }
            writePos = w;
            cachedReadPt = r;
            writerPrimed = true;
        }
        final int w = writePos;
        final long need = (long) length + MARGIN_BYTES;
        if (freeWords(w, cachedReadPt, n) * 4 < need) {
            final int r = header.readVolatileInt(READ_PT_OFFSET);
            if (r < 0 || r >= n) {
                return -Errno.EBADMSG;
            }
            cachedReadPt = r;
            if (freeWords(w, r, n) * 4 < need) {
                return Errno.WOULD_BLOCK;
            }
        }
        claimed = w;
        data.writeInt(ChunkDescriptor.lengthOffset(w), 0);
        data.writeOrderedInt(ChunkDescriptor.magicOffset(w, n), MAGIC_ALLOCATED);
        return ChunkDescriptor.payloadOffset(w, n);
    }

    /**
     * Moves write_pt of a {@link #detect} ring with one locked add on the 64-bit word that holds write_pt (low half)
     * and read_pt (high half): one ownership transfer of the header line instead of a read miss and then an upgrade,
     * and the reader's latest read_pt comes back with it. The add changes only the low half (both write_pt values are
     * in range, so nothing carries), so a concurrent read_pt store of the reader is never lost.
     *
     * @return false when write_pt was not ours or read_pt is out of range (a corrupt ring: drop the peer)
     */
    private boolean publishCached(int w, int next, int n) {
        final long old = header.getAndAddLong(WRITE_PT_OFFSET, (long) next - w);
        final int r = (int) (old >>> 32);
        if ((int) old != w || r < 0 || r >= n) {
            writerPrimed = false;
            return false;
        }
        writePos = next;
        cachedReadPt = r;
        return true;
    }

    /**
     * Publishes the claimed chunk (libqb {@code qb_rb_chunk_commit}): length, then write_pt, then the COMMITTED magic
     * with release ordering (a reader that sees the magic sees the payload and the length), then the semaphore post.
     *
     * <p>With {@link #detect}: write_pt moves by {@link #publishCached} (a locked add that also brings read_pt), the
     * magic follows, then a full fence (StoreLoad: the magic is visible before the flag is read; a locked
     * instruction on the thread's own stack, not on a shared line), then the reader's flag; while it says
     * {@link RingHeaderDescriptor#READER_SPINNING} the post is skipped. A reader going to sleep stores
     * {@link RingHeaderDescriptor#READER_ASLEEP}, fences and re-checks the ring ({@link #prepareSleep}): either it
     * sees this chunk or this writer sees its flag and posts (Dekker).</p>
     *
     * @return false when the peer corrupted the pointers ({@link #publishCached}); the chunk is not posted
     */
    private boolean commit(int length) {
        final int w = claimed;
        final int n = words;
        data.writeInt(ChunkDescriptor.lengthOffset(w), length);
        if (detect) {
            if (!publishCached(w, ChunkDescriptor.nextChunk(w, length, n), n)) {
                return false;
            }
            data.writeOrderedInt(ChunkDescriptor.magicOffset(w, n), MAGIC_COMMITTED);
            VarHandle.fullFence();
            if (header.readVolatileInt(RingHeaderDescriptor.CONSUMER_AWAKE_OFFSET)
                    == RingHeaderDescriptor.READER_SPINNING) {
                return true;
            }
        } else {
            header.writeOrderedInt(WRITE_PT_OFFSET, ChunkDescriptor.nextChunk(w, length, n));
            data.writeOrderedInt(ChunkDescriptor.magicOffset(w, n), MAGIC_COMMITTED);
        }
        if (holdPosts) {
            heldPosts++;
            return true;
        }
        semaphore.post();
        return true;
    }

    /**
     * Writer: from now on (true) commits do not post but count the post as held, until {@link #releaseHeldPosts}.
     * A token reader reads chunks in ring order, one per token, so held chunks stay queued behind the posted ones,
     * invisible to it until their posts are made.
     *
     * @param hold whether commits hold their posts back
     */
    public void setHoldPosts(boolean hold) {
        holdPosts = hold;
    }

    /** @return posts held back by {@link #setHoldPosts} (or taken back, {@link #postTakenBack}) and not yet made */
    public int heldPosts() {
        return heldPosts;
    }

    /**
     * Writer: one post made by {@link #releaseHeldPosts} was taken back (its token taken with
     * {@link SharedSemaphore#tryWait} before the reader took it): the last posted chunk is held again.
     */
    public void postTakenBack() {
        heldPosts++;
    }

    /**
     * Writer: makes the held posts.
     *
     * @return how many were posted
     */
    public int releaseHeldPosts() {
        final int k = heldPosts;
        for (int i = 0; i < k; i++) {
            semaphore.post();
        }
        heldPosts = 0;
        return k;
    }

    /**
     * Writes one chunk holding {@code src}'s remaining bytes (position unchanged) and posts the semaphore.
     *
     * @return the length written, {@link Errno#WOULD_BLOCK}, or -EBADMSG (corrupt ring)
     */
    public int write(ByteBuffer src) {
        checkMapped();
        final int len = src.remaining();
        long off = claim(len);
        if (off < 0) {
            return (int) off;
        }
        data.write(off, src, src.position(), len);
        if (!commit(len)) {
            checkMapped();
            return -Errno.EBADMSG;
        }
        checkMapped(); // a fault repaired during the write: the chunk went to a zero page; drop the peer now
        return len;
    }

    /** Writes the concatenation of {@code srcs} as one chunk; see {@link #write(ByteBuffer)}. */
    public int write(ByteBuffer[] srcs) {
        checkMapped();
        long total = 0;
        for (ByteBuffer b : srcs) {
            total += b.remaining();
        }
        if (total > Integer.MAX_VALUE) {
            return -Errno.EMSGSIZE;
        }
        final int len = (int) total;
        long off = claim(len);
        if (off < 0) {
            return (int) off;
        }
        long pos = off;
        for (ByteBuffer b : srcs) {
            int n = b.remaining();
            data.write(pos, b, b.position(), n);
            pos += n;
        }
        if (!commit(len)) {
            checkMapped();
            return -Errno.EBADMSG;
        }
        checkMapped();
        return len;
    }

    /** Writes {@code len} bytes of {@code src} from {@code srcOffset} as one chunk. */
    public int write(byte[] src, int srcOffset, int len) {
        checkMapped();
        long off = claim(len);
        if (off < 0) {
            return (int) off;
        }
        data.write(off, src, srcOffset, len);
        if (!commit(len)) {
            checkMapped();
            return -Errno.EBADMSG;
        }
        checkMapped();
        return len;
    }

    // ------------------------------------------------------------------------------------------- reader

    /**
     * Receives one chunk from {@link #read}. A reader implements it once (a channel, or a small final object the
     * channel owns per direction), never as a capturing lambda: reading allocates nothing.
     */
    public interface ChunkHandler {
        /**
         * Called with a validated chunk: its payload is {@code length} bytes at {@code offset} of {@link #view()}
         * (absolute indexes; contiguous even when the chunk wraps) or, copied, through {@link #copyTo}.
         *
         * @param ring the ring being read
         * @param offset byte offset of the payload in the double-mapped data area
         * @param length payload length, validated: it fits the ring and the written part of it
         * @return a value ≥ 0 to consume the chunk (it is reclaimed, {@link #read} returns the value); a negative
         *         value other than {@link Errno#WOULD_BLOCK} to leave it queued (the semaphore token is given back,
         *         {@link #read} returns the value). A handler that throws consumes the chunk.
         */
        int onChunk(ShmRing ring, int offset, int length);
    }

    /**
     * Reads the oldest chunk if there is one (libqb {@code qb_rb_chunk_read}): takes a semaphore token
     * ({@code sem_trywait}), validates the chunk, hands it to {@code handler}, then reclaims it; a chunk that fails
     * validation or that the handler refuses stays, and the token is given back.
     *
     * @return {@link Errno#WOULD_BLOCK} when no chunk is queued, {@code -EBADMSG} when the chunk or the pointers are
     *         corrupt, otherwise what the handler returned
     * @throws InternalError when the peer truncated a ring file ({@link #checkMapped()})
     */
    public int read(ChunkHandler handler) {
        // tryWait is fault-safe by itself (a repaired ring's flag, or Guard's CAS); checkMapped only when there is a
        // chunk (on a repaired ring it is one load anyway; otherwise a guarded JNI probe).
        return semaphore.tryWait() ? readTaken(handler) : Errno.WOULD_BLOCK;
    }

    /**
     * As {@link #read}, for a caller that has already taken the semaphore token (it waited for it with
     * {@link SharedSemaphore#await}); the token is given back on every outcome {@link #read} gives it back on.
     *
     * @return {@code -EBADMSG} when the chunk or the pointers are corrupt, otherwise what the handler returned
     */
    public int readTaken(ChunkHandler handler) {
        checkMapped();
        if (detect && chunkAt() == NO_CHUNK) {
            // A token without a chunk: posted during a hand-over for a chunk read by write_pt, or for a chunk still
            // being committed (whose writer posts again). Spurious, never an error: the token is used up. More
            // tokens than the ring can hold chunks are not stale ones but a corrupt semaphore.
            return tokensPlausible() ? Errno.WOULD_BLOCK : -Errno.EBADMSG;
        }
        return readChunk(handler, true);
    }

    /**
     * Reads the oldest chunk found from {@code write_pt}, without a semaphore token (the reader advertises
     * {@link RingHeaderDescriptor#READER_SPINNING}; {@link #detect} rings only). Also takes one token if the
     * semaphore holds any: a post made during a hand-over (or by a writer that always posts) is stale once its chunk
     * was read this way, and must not pile up. Tokens do not matter while the reader spins; {@link #prepareSleep}
     * re-checks the ring before the reader relies on them again.
     *
     * @return {@link Errno#WOULD_BLOCK} when no committed chunk is there, {@code -EBADMSG} when the chunk or the
     *         pointers are corrupt, otherwise what the handler returned
     * @throws InternalError when the peer truncated a ring file ({@link #checkMapped()})
     */
    public int readDetected(ChunkHandler handler) {
        if (semaphore.value() != 0) {
            if (!tokensPlausible()) {
                return -Errno.EBADMSG;
            }
            semaphore.tryWait();
        }
        final int state = chunkAt();
        if (state == NO_CHUNK) {
            return Errno.WOULD_BLOCK;
        }
        checkMapped();
        return readChunk(handler, false);
    }

    /**
     * Tokens are posted one per chunk, and a chunk takes at least 2 words: a semaphore value above W / 2 is no stale
     * token but a peer's write (libqb's rule, one token per chunk, gives the same bound).
     */
    private boolean tokensPlausible() {
        return semaphore.value() <= words / 2;
    }

    /** {@link #chunkAt()}: nothing to read (empty, or the writer has not committed the chunk at read_pt yet). */
    private static final int NO_CHUNK = 0;
    /** {@link #chunkAt()}: a chunk to read (committed, or something the validation will reject). */
    private static final int CHUNK = 1;

    /**
     * What is at {@code read_pt}, judged from {@code write_pt} and the magic (the writer's last store before its
     * fence in {@link #commit}): {@link #NO_CHUNK} when {@code write_pt == read_pt} or the magic still says
     * ALLOCATED, otherwise {@link #CHUNK} (also for pointers out of range or a foreign magic: the read that follows
     * validates and reports them).
     */
    private int chunkAt() {
        final int n = words;
        final int p = header.readVolatileInt(READ_PT_OFFSET);
        final int w = header.readVolatileInt(WRITE_PT_OFFSET);
        if (w == p) {
            return NO_CHUNK;
        }
        if (p < 0 || p >= n) {
            return CHUNK;
        }
        return data.readVolatileInt(ChunkDescriptor.magicOffset(p, n)) == MAGIC_ALLOCATED ? NO_CHUNK : CHUNK;
    }

    /** @return whether a chunk (or something corrupt) waits at read_pt; {@link #detect} rings (any thread) */
    public boolean chunkPending() {
        return chunkAt() != NO_CHUNK;
    }

    /**
     * The reader of a {@link #detect} ring stops spinning on {@code write_pt} and may block: stores
     * {@link RingHeaderDescriptor#READER_ASLEEP} with a full fence, takes stale tokens (at most
     * {@value #STALE_TOKENS_PER_SLEEP}), then re-checks the ring. From here on every chunk is posted (a writer that
     * read the flag before this store committed its chunk before, and the re-check sees it), so tokens count chunks
     * again, plus stale ones the token read treats as spurious.
     *
     * @return true when a chunk is pending: the caller must not block but read it by {@code write_pt} (advertising
     *         {@link RingHeaderDescriptor#READER_SPINNING} again: its post may have been skipped)
     */
    public boolean prepareSleep() {
        header.writeVolatileInt(RingHeaderDescriptor.CONSUMER_AWAKE_OFFSET, RingHeaderDescriptor.READER_ASLEEP);
        if (!tokensPlausible()) {
            return true; // a corrupt semaphore: the read that follows reports it
        }
        for (int i = 0; i < STALE_TOKENS_PER_SLEEP && semaphore.tryWait(); i++) {
            // Each token taken here is stale or belongs to a chunk the re-check below sees.
        }
        return chunkAt() != NO_CHUNK;
    }

    /**
     * @return whether a chunk is queued: a token, or on {@link #detect} rings a chunk found by write_pt (there a token
     *         may be a stale one, left by a post that arrived after its chunk was read by write_pt)
     */
    public boolean queued() {
        return detect ? chunkAt() != NO_CHUNK : semaphore.value() > 0;
    }

    /**
     * @param taken the caller holds a semaphore token for the chunk: given back when the chunk stays
     */
    private int readChunk(ChunkHandler handler, boolean taken) {
        final int n = words;
        final int p = header.readVolatileInt(READ_PT_OFFSET);
        final int len = validChunk(p, n);
        if (len < 0) {
            checkMapped(); // zeros read from a repaired page look corrupt: report the truncation instead
            if (taken) {
                semaphore.post(); // the chunk stays where it is: give back the token we took for it
            }
            return len;
        }
        boolean consumed = true;
        try {
            final int rc = handler.onChunk(this, ChunkDescriptor.payloadOffset(p, n), len);
            consumed = rc >= 0;
            return rc;
        } finally {
            // Whatever the handler threw, the chunk is consumed: a message must not stay in the ring to fail again.
            if (consumed) {
                reclaim(p, len, n);
            } else if (taken) {
                semaphore.post();
            }
        }
    }

    /**
     * Validates the chunk at {@code p} against everything a peer can write: both pointers in range, the COMMITTED
     * magic (an acquire read: the length and the payload were written before it), a length that fits the ring and
     * does not run past {@code write_pt}. libqb checks only the magic and the buffer size.
     *
     * @return the payload length (≥ 0), or -EBADMSG
     */
    private int validChunk(int p, int n) {
        final int w = header.readVolatileInt(WRITE_PT_OFFSET);
        if (p < 0 || p >= n || w < 0 || w >= n) {
            return -Errno.EBADMSG;
        }
        if (data.readVolatileInt(ChunkDescriptor.magicOffset(p, n)) != MAGIC_COMMITTED) {
            return -Errno.EBADMSG;
        }
        final int len = data.readInt(ChunkDescriptor.lengthOffset(p));
        if (len < 0 || len > maxPayload()) {
            return -Errno.EBADMSG;
        }
        int used = w - p;
        if (used <= 0) {
            used += n; // w == p: a full ring (the semaphore said a chunk is there)
        }
        if (ChunkDescriptor.chunkWords(len) > used) {
            return -Errno.EBADMSG;
        }
        return len;
    }

    /**
     * Releases the chunk at {@code p} (libqb {@code qb_rb_chunk_reclaim}): length 0, the DEAD magic (not on
     * {@link #detect} rings), then read_pt with release ordering, so the writer that sees the new read_pt may
     * overwrite the chunk.
     */
    private void reclaim(int p, int length, int n) {
        if (!detect) {
            data.writeInt(ChunkDescriptor.lengthOffset(p), 0);
            data.writeOrderedInt(ChunkDescriptor.magicOffset(p, n), MAGIC_DEAD);
        }
        // Between jqb ends the chunk header is left as it is (proposal 6 in docs/PERFORMANCE.md): the writer rewrites
        // length and magic (ALLOCATED) before it moves write_pt past them, and a jqb reader looks at a magic only
        // when write_pt != read_pt, so no reader can take the old COMMITTED for a new chunk. Two stores less into a
        // line the writer will own again, so the line is not pulled back to this side per message.
        header.writeOrderedInt(READ_PT_OFFSET, ChunkDescriptor.nextChunk(p, length, n));
    }

    /**
     * Copies {@code length} payload bytes at {@code offset} (as given to {@link ChunkHandler#onChunk}) into
     * {@code dst} at its position; the position is unchanged. The caller checked that they fit.
     *
     * @throws InternalError when the peer truncated a ring file before or during the copy: the bytes copied may be
     *         zeros from a repaired page, never to be delivered as a message ({@link #checkMapped()} after the copy)
     */
    public void copyTo(int offset, ByteBuffer dst, int length) {
        data.read(offset, dst, dst.position(), length);
        checkMapped();
    }

    /** A little-endian direct view of the double-mapped data area; use absolute indexes only. */
    public ByteBuffer view() {
        return dataView;
    }

    public SharedSemaphore semaphore() {
        return semaphore;
    }

    /** The flow-control flag (request ring user data). */
    public int flowControl() {
        return header.readVolatileInt(USER_DATA_OFFSET);
    }

    public void setFlowControl(int value) {
        header.writeVolatileInt(USER_DATA_OFFSET, value);
    }

    /** @return the jqb reader-mode flag ({@link RingHeaderDescriptor#READER_ASLEEP} and the other values) */
    public int consumerAwake() {
        return header.readVolatileInt(RingHeaderDescriptor.CONSUMER_AWAKE_OFFSET);
    }

    /**
     * Sets the reader-mode flag with a full fence (the Dekker handshake with the producer's post needs it); to go
     * from {@link RingHeaderDescriptor#READER_SPINNING} to sleep use {@link #prepareSleep} instead.
     */
    public void setConsumerAwake(int value) {
        header.writeVolatileInt(RingHeaderDescriptor.CONSUMER_AWAKE_OFFSET, value);
    }

    public int refCount() {
        return header.readVolatileInt(REF_COUNT_OFFSET);
    }

    /** Forces ref_count (client force-close marks it -1). */
    public void setRefCount(int value) {
        header.writeVolatileInt(REF_COUNT_OFFSET, value);
    }

    /**
     * Gives our reference back. This runs when a connection is torn down, possibly because the peer truncated the
     * header: a truncated header simply has nothing left to release (see {@link #addRefCount}).
     */
    public void decrementRefCount() {
        addRefCount(-1);
    }

    /**
     * Adds {@code delta} to ref_count, safely on a header the peer may have truncated. With the header
     * {@linkplain Guard#register registered} (the usual case) one locked add, as libqb's own: a vanished page is
     * repaired by the guard and the add lands on a private zero page. Otherwise the kernel does it
     * ({@link FaultSafe}, one system call per update: an interpreted atomic on a vanished page would crash the JVM).
     * A connection's three rings each get one update at connect and one at teardown on the client, and one at
     * teardown on a jqb server: nine system calls fewer per connection. The locked add relies on the guard's repair
     * as the semaphore's compare-and-sets do: should the repair itself fail (no mapping left for the zero page), the
     * signal goes on to HotSpot as it did before the guard existed.
     */
    private void addRefCount(int delta) {
        if (repaired) {
            header.addAndGetInt(REF_COUNT_OFFSET, delta);
        } else {
            FaultSafe.addInt(headerAddress + REF_COUNT_OFFSET, delta);
        }
    }

    /**
     * Throws when the peer truncated either file. Called before a write or a read touches the ring, after a write
     * (the chunk may have gone to a zero page), after {@link #copyTo} (the copy may have read zeros), and when a chunk
     * fails validation (zeros look corrupt); a handler that reads the payload through {@link #view()} instead calls it
     * after reading. The connection must be dropped in its own code path, never by a fault surfacing later in another
     * connection's.
     *
     * <p>With both mappings {@linkplain Guard#register registered} (the usual case) a fault never reaches HotSpot:
     * libjqbguard repairs it and sets this ring's fault flag, which this reads (one load from private memory: cheap
     * enough for every spin of a polling loop). The accesses that ran on a repaired page read zeros, which the
     * ring's validation treats as "nothing queued" or a corrupt chunk. Otherwise (registry full) it reads each
     * mapping's last byte under the guard (a JNI call; a file loses pages only from its end), so that a fault there
     * in JIT-compiled code is not thrown at some later point of the thread. Without libjqbguard this does nothing.</p>
     *
     * @throws InternalError when a file is truncated, as HotSpot reports a fault in a mapped file
     */
    public void checkMapped() {
        if (repaired) {
            if (Posix.MEM.readVolatileInt(faultFlag) != 0) {
                throw new InternalError("ring file truncated by the peer: " + headerPath);
            }
        } else if (Guard.AVAILABLE
                && Guard.probe(headerAddress + headerMapLength - 1, dataAddress + dataBytes - 1) < 0) {
            throw new InternalError("ring file truncated by the peer: " + headerPath);
        }
    }

    /** @return whether a fault in this ring's mappings was repaired (the peer truncated a file); see checkMapped */
    public boolean faulted() {
        return repaired && Posix.MEM.readVolatileInt(faultFlag) != 0;
    }

    /**
     * @return false when the header's first page is gone (the peer truncated the file) or a fault in the ring was
     *         repaired; a kernel probe, never a signal: one system call, so off the hot path only
     */
    public boolean headerAccessible() {
        return !faulted() && FaultSafe.accessible(headerAddress);
    }

    public String headerPath() {
        return headerPath;
    }

    public String dataPath() {
        return dataPath;
    }

    /** Data area size in bytes (4·W). */
    public int dataBytes() {
        return dataBytes;
    }

    /**
     * Unmaps the ring and, when {@code unlink}, removes its two files (data first). Idempotent.
     */
    public void close(boolean unlink) {
        if (closed) {
            return;
        }
        closed = true;
        if (repaired) {
            Guard.unregister(dataSlot);
            Guard.unregister(headerSlot);
        }
        Posix.C.munmap(dataAddress, 2L * dataBytes);
        Posix.C.munmap(headerAddress, headerMapLength);
        Posix.free(scratch, SCRATCH_BYTES);
        if (unlink) {
            DirectoryFiles.unlink(dataPath);
            DirectoryFiles.unlink(headerPath);
        }
    }

    public boolean isClosed() {
        return closed;
    }
}
