package io.jqb.ops.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;

/**
 * Bounded, read-only reads of files other processes own (ring headers, data files, control files).
 *
 * <p>Never maps anything: a file truncated by its owner while we read it only gives a short read, where a mapping
 * would raise SIGBUS. Opens O_RDONLY with O_NOFOLLOW after checking (without following links) that the path is a
 * regular file, so a FIFO or a device planted in {@code /dev/shm} is refused rather than blocking the open; the
 * remaining race (a swap between the check and the open) is bounded by {@link Bounded}'s per-entry deadline.</p>
 */
public final class FileReads {
    private FileReads() {
    }

    /** An open read-only file: positional reads ({@code pread(2)}) of at most the requested length. */
    public static final class Reader implements AutoCloseable {
        private final FileChannel ch;
        private final Path path;

        private Reader(Path path, FileChannel ch) {
            this.path = path;
            this.ch = ch;
        }

        /**
         * Reads up to {@code len} bytes at {@code offset}.
         *
         * @return a little-endian buffer holding what was there (its limit is less than {@code len} when the file is
         *         shorter)
         */
        public ByteBuffer read(long offset, int len) throws IOException {
            ByteBuffer b = ByteBuffer.allocate(len).order(ByteOrder.LITTLE_ENDIAN);
            while (b.hasRemaining()) {
                int n = ch.read(b, offset + b.position());
                if (n <= 0) {
                    break;
                }
            }
            return b.flip();
        }

        /** @return the current size of the file (fstat) */
        public long size() throws IOException {
            return ch.size();
        }

        public Path path() {
            return path;
        }

        @Override
        public void close() {
            try {
                ch.close();
            } catch (IOException e) {
                // read-only: nothing to lose
            }
        }
    }

    /**
     * Opens {@code path} read-only.
     *
     * @throws IOException when it is missing, not a regular file, or not readable by us
     */
    public static Reader open(Path path) throws IOException {
        BasicFileAttributes a = Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        if (!a.isRegularFile()) {
            throw new IOException(path + ": not a regular file");
        }
        FileChannel ch = FileChannel.open(path, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS);
        return new Reader(path, ch);
    }

    /** Describes an I/O failure for a report line: "permission denied", "no such file", or the message. */
    public static String why(IOException e) {
        if (e instanceof java.nio.file.AccessDeniedException) {
            return "permission denied";
        }
        if (e instanceof NoSuchFileException) {
            return "gone";
        }
        String m = e.getMessage();
        return m == null ? e.getClass().getSimpleName() : m;
    }
}
