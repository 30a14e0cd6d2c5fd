package io.jqb.internal.posix;

import io.jqb.Errno;
import io.jqb.IpcException;
import io.jqb.internal.wire.PollFdDescriptor;
import io.jqb.internal.wire.StatDescriptor;

/**
 * Thin checked wrappers over {@link LibC}: each failure becomes an {@link IpcException} naming the operation and
 * the errno. Also the native-memory accessor every other class uses.
 */
public final class Posix {
    /** libc, bound once. */
    public static final LibC C = LibC.INSTANCE;
    /** Raw native memory access. */
    public static final NativeMemory MEM = new NativeMemory();

    private Posix() {
    }

    /** @return errno of this thread's last libc call */
    public static int errno() {
        return LibCBinding.errno();
    }

    /** Throws an {@link IpcException} for the current errno when {@code rc < 0}; returns rc otherwise. */
    public static int check(int rc, String op) throws IpcException {
        if (rc < 0) {
            throw IpcException.of(op, errno(), null);
        }
        return rc;
    }

    /** @see #check(int, String) */
    public static long check(long rc, String op) throws IpcException {
        if (rc < 0) {
            throw IpcException.of(op, errno(), null);
        }
        return rc;
    }

    /**
     * {@link #check(long, String)} naming the operation {@code call + subject + ")"} (e.g. {@code "ftruncate(" +
     * path + ")"}), built only when {@code rc < 0}: the set-up paths make no message string on success. errno is read
     * before the message is built.
     */
    public static long check(long rc, String call, Object subject) throws IpcException {
        if (rc < 0) {
            int e = errno();
            throw IpcException.of(call + subject + ")", e, null);
        }
        return rc;
    }

    /**
     * The NUL-terminated UTF-8 string in the {@code fieldLength}-byte field at {@code address} (a multiple of 4), or
     * null when the field holds no NUL. The NUL is looked for a word at a time (little-endian, as everything jqb
     * maps) and only the string's own bytes are copied: a PATH_MAX field holds a path of a few dozen bytes.
     */
    public static String readCString(long address, int fieldLength) {
        for (int w = 0; w + 4 <= fieldLength; w += 4) {
            int v = MEM.readInt(address + w);
            for (int k = 0; k < 4; k++) {
                if (((v >>> (8 * k)) & 0xff) == 0) { // byte k of the word is at address + w + k
                    byte[] b = new byte[w + k];
                    readBytes(address, b, 0, b.length);
                    return new String(b, java.nio.charset.StandardCharsets.UTF_8);
                }
            }
        }
        return null;
    }

    /** Allocates {@code size} zeroed bytes of native memory; free with {@link #free}. */
    public static long allocate(long size) {
        long a = MEM.allocate(size);
        MEM.setMemory(a, size, (byte) 0);
        return a;
    }

    public static void free(long address, long size) {
        if (address != 0) {
            MEM.freeMemory(address, size);
        }
    }

    /**
     * Polls two fds using the caller's 16-byte scratch at {@code pollfds}.
     *
     * @return the first fd's revents in the low 16 bits, the second's in the high 16 bits; 0 on timeout
     */
    public static int pollTwo(int fd0, int events0, int fd1, int events1, int timeoutMs, long pollfds)
            throws IpcException {
        final long p0 = PollFdDescriptor.entry(pollfds, 0);
        final long p1 = PollFdDescriptor.entry(pollfds, 1);
        MEM.writeInt(p0 + PollFdDescriptor.FD_OFFSET, fd0);
        MEM.writeShort(p0 + PollFdDescriptor.EVENTS_OFFSET, (short) events0);
        MEM.writeShort(p0 + PollFdDescriptor.REVENTS_OFFSET, (short) 0);
        MEM.writeInt(p1 + PollFdDescriptor.FD_OFFSET, fd1);
        MEM.writeShort(p1 + PollFdDescriptor.EVENTS_OFFSET, (short) events1);
        MEM.writeShort(p1 + PollFdDescriptor.REVENTS_OFFSET, (short) 0);
        int rc;
        do {
            rc = C.poll(pollfds, 2, timeoutMs);
        } while (rc < 0 && errno() == io.jqb.Errno.EINTR);
        check(rc, "poll");
        return rc == 0 ? 0 : (MEM.readShort(p0 + PollFdDescriptor.REVENTS_OFFSET) & 0xffff)
                | ((MEM.readShort(p1 + PollFdDescriptor.REVENTS_OFFSET) & 0xffff) << 16);
    }

    /** @return the native address of a direct buffer's first byte (index 0, not its position) */
    public static long bufferAddress(java.nio.ByteBuffer direct) {
        if (!direct.isDirect()) {
            throw new IllegalArgumentException("not a direct buffer");
        }
        return NativeMemory.directAddress(direct);
    }

    /**
     * A little-endian direct ByteBuffer over {@code length} bytes of native memory at {@code address} (not owned: it
     * frees nothing). The one place jqb makes a ByteBuffer of native memory, for where a ByteBuffer is the API (a
     * request handed to a handler); everything else reads and writes native memory through {@link PointerStore}.
     * JNI's {@code NewDirectByteBuffer} when libjqbguard.so is loaded (jffi's, which loads jffi, otherwise).
     */
    public static java.nio.ByteBuffer directBuffer(long address, int length) {
        return LibCBinding.newDirectBuffer(address, length).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    }

    /** Copies {@code len} bytes of native memory at {@code address} into {@code dst}. */
    public static void readBytes(long address, byte[] dst, int off, int len) {
        NativeMemory.copyToArray(address, dst, off, len);
    }

    /**
     * Writes {@code a} then {@code b} (either may be null) as UTF-8 into native memory at {@code address}, at most
     * {@code max} bytes (a longer text is cut there, as a byte copy of its UTF-8 form would be), without a
     * terminating NUL. ASCII text (every path and socket name jqb makes) is written character by character, with no
     * intermediate array: the connection set-up paths call this several times per connection.
     *
     * @return the number of bytes written
     */
    public static int putUtf8(long address, String a, String b, int max) {
        return putUtf8(address, a, b, null, null, max);
    }

    /**
     * {@link #putUtf8(long, String, String, int)} of four parts {@code a + b + c + d} (any may be null): a SOCKET
     * connection's socket names are its directory, {@code "/qb-"}, the service name and a suffix, which the server
     * then need not keep as one string per connection.
     *
     * @return the number of bytes written
     */
    public static int putUtf8(long address, String a, String b, String c, String d, int max) {
        int n = putAscii(address, a, 0, max);
        n = n < 0 ? n : putAscii(address, b, n, max);
        n = n < 0 ? n : putAscii(address, c, n, max);
        n = n < 0 ? n : putAscii(address, d, n, max);
        if (n >= 0) {
            return n;
        }
        byte[] u = ((a == null ? "" : a) + (b == null ? "" : b) + (c == null ? "" : c) + (d == null ? "" : d))
                .getBytes(java.nio.charset.StandardCharsets.UTF_8);
        int len = Math.min(u.length, max);
        MEM.copyMemory(u, 0, address, len);
        return len;
    }

    /** @return {@code from} + the bytes written, or -1 at the first non-ASCII character */
    private static int putAscii(long address, String s, int from, int max) {
        if (s == null) {
            return from;
        }
        int n = from;
        for (int i = 0, len = s.length(); i < len && n < max; i++) {
            char c = s.charAt(i);
            if (c >= 0x80) {
                return -1;
            }
            MEM.writeByte(address + n++, (byte) c);
        }
        return n;
    }

    /** Closes an fd, ignoring errors (used on cleanup paths). */
    public static void closeQuietly(int fd) {
        if (fd >= 0) {
            C.close(fd);
        }
    }

    public static void setNonBlocking(int fd) throws IpcException {
        int fl = check(C.fcntl(fd, LibC.F_GETFL, 0), "fcntl(F_GETFL)");
        check(C.fcntl(fd, LibC.F_SETFL, fl | LibC.O_NONBLOCK), "fcntl(F_SETFL)");
    }

    /** setsockopt with an int value. */
    public static void setIntOption(int fd, int level, int name, int value, String op) throws IpcException {
        long v = MEM.allocate(4);
        try {
            MEM.writeInt(v, value);
            check(C.setsockopt(fd, level, name, v, 4), op);
        } finally {
            MEM.freeMemory(v, 4);
        }
    }

    /**
     * The size of a file a peer created and names, checked before it is opened ({@code lstat}): only a regular file
     * passes, so that no driver's open ever runs for a path a hostile peer names (a device node: a watchdog arms, a
     * tape rewinds, a serial line raises DTR; libqb's client would open it) and a FIFO or socket is refused. Then
     * open it with {@link #openExisting}. A peer can still change the file between the two calls: swapped for a FIFO,
     * the mapping fails; truncated (as it can be at any time after it is mapped), the mapping's fault guard answers.
     * A non-root peer cannot put a device node in its place (mknod needs privilege, a hard link cannot cross into
     * /dev), and O_NOFOLLOW refuses a symlink.
     *
     * @return the file's size
     * @throws IpcException naming {@code lstat(path)} (e.g. ENOENT) or {@code open(path)}: ELOOP for a symlink,
     *         EBADMSG "not a regular file" for anything else that is not a regular file
     */
    public static long regularFileSize(String path) throws IpcException {
        long st = MEM.allocate(StatDescriptor.LENGTH);
        try {
            check(C.lstat(path, st), "lstat(", path);
            int type = MEM.readInt(st + StatDescriptor.MODE_OFFSET) & StatDescriptor.S_IFMT;
            if (type != StatDescriptor.S_IFREG) {
                throw new IpcException("open(" + path + ")", type == StatDescriptor.S_IFLNK ? LibC.ELOOP
                        : Errno.EBADMSG, "not a regular file");
            }
            return MEM.readLong(st + StatDescriptor.SIZE_OFFSET);
        } finally {
            MEM.freeMemory(st, StatDescriptor.LENGTH);
        }
    }

    /**
     * Opens a file a peer created, to map it (check it with {@link #regularFileSize} first): O_RDWR, never through a
     * symlink, and O_NONBLOCK and O_NOCTTY so that even a file swapped in after the check (a FIFO) can neither block
     * the open nor become our terminal.
     *
     * @return the fd
     * @throws IpcException naming {@code open(path)}
     */
    public static int openExisting(String path) throws IpcException {
        return (int) check(C.open(path, LibC.O_RDWR | LibC.O_CLOEXEC | LibC.O_NOFOLLOW | LibC.O_NONBLOCK
                | LibC.O_NOCTTY, 0), "open(", path);
    }

    /** getsockopt with an int value. */
    public static int getIntOption(int fd, int level, int name, String op) throws IpcException {
        long v = MEM.allocate(8);
        try {
            MEM.writeInt(v, 0);
            MEM.writeInt(v + 4, 4);
            check(C.getsockopt(fd, level, name, v, v + 4), op);
            return MEM.readInt(v);
        } finally {
            MEM.freeMemory(v, 8);
        }
    }

    /**
     * Polls one fd.
     *
     * @return the revents, 0 on timeout
     */
    public static int pollOne(int fd, int events, int timeoutMs) throws IpcException {
        long p = MEM.allocate(8);
        try {
            return pollOne(fd, events, timeoutMs, p);
        } finally {
            MEM.freeMemory(p, 8);
        }
    }

    /**
     * Polls one fd using the caller's 8-byte {@code struct pollfd} scratch at {@code pollfd}.
     *
     * @return the revents, 0 on timeout
     */
    public static int pollOne(int fd, int events, int timeoutMs, long pollfd) throws IpcException {
        MEM.writeInt(pollfd + PollFdDescriptor.FD_OFFSET, fd);
        MEM.writeShort(pollfd + PollFdDescriptor.EVENTS_OFFSET, (short) events);
        MEM.writeShort(pollfd + PollFdDescriptor.REVENTS_OFFSET, (short) 0);
        int rc;
        do {
            rc = C.poll(pollfd, 1, timeoutMs);
        } while (rc < 0 && errno() == io.jqb.Errno.EINTR);
        check(rc, "poll");
        return rc == 0 ? 0 : MEM.readShort(pollfd + PollFdDescriptor.REVENTS_OFFSET) & 0xffff;
    }
}
