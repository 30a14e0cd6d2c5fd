package io.jqb.internal.wire;

/**
 * {@code struct stat} on x86-64 Linux (what {@code lstat(2)} fills), host byte order: only the fields jqb reads.
 *
 * <pre>
 *  0               8               16              24      28      32      36      40              48              56
 *  +---------------+---------------+---------------+-------+-------+-------+-------+---------------+---------------+
 *  | st_dev (u64)  | st_ino (u64)  | st_nlink (u64)|st_mode|st_uid |st_gid | pad   | st_rdev (u64) | st_size (i64) |
 *  +---------------+---------------+---------------+-------+-------+-------+-------+---------------+---------------+
 *  56: st_blksize, st_blocks, st_atim, st_mtim, st_ctim, 3 reserved longs (144 bytes in all)
 * </pre>
 */
public final class StatDescriptor {
    public static final int DEV_OFFSET = 0;
    public static final int INO_OFFSET = 8;
    public static final int NLINK_OFFSET = 16;
    public static final int MODE_OFFSET = 24;
    public static final int SIZE_OFFSET = 48;
    public static final int LENGTH = 144;
    /** The file-type bits of {@code st_mode}. */
    public static final int S_IFMT = 0170000;
    /** A regular file. */
    public static final int S_IFREG = 0100000;
    /** A symbolic link ({@code lstat} only). */
    public static final int S_IFLNK = 0120000;

    private StatDescriptor() {
    }

    /** @return true when {@code mode} ({@code st_mode}) is a regular file's */
    public static boolean isRegular(int mode) {
        return (mode & S_IFMT) == S_IFREG;
    }
}
