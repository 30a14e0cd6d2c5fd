package io.jqb.internal.socket;

import io.jqb.Errno;
import io.jqb.IpcException;
import io.jqb.internal.posix.DirectoryFiles;
import io.jqb.internal.posix.FaultSafe;
import io.jqb.internal.posix.LibC;
import io.jqb.internal.posix.PointerStore;
import io.jqb.internal.posix.Posix;
import io.jqb.internal.wire.ControlFileDescriptor;
import java.nio.file.Files;
import java.nio.file.Path;

/** The SOCKET transport's mapped control file (see {@link ControlFileDescriptor}). */
public final class ControlFile {
    private final String path;
    private final long address;
    private final PointerStore mem;
    private boolean closed;

    private ControlFile(String path, long address) {
        this.path = path;
        this.address = address;
        this.mem = new PointerStore(address, ControlFileDescriptor.LENGTH);
    }

    /**
     * Creates it (O_EXCL, through the fd: owner and mode as given), zeroed. The server's copy does not keep the path
     * (one string per connection): {@link #path()} is null, and the server removes the file itself after
     * {@link #close()}.
     */
    public static ControlFile create(String path, int uid, int gid, int mode) throws IpcException {
        // O_EXCL|O_NOFOLLOW relative to the directory opened with O_NOFOLLOW: see DirectoryFiles.
        int fd = DirectoryFiles.createExclusive(path, 0600);
        if (fd < 0) {
            throw IpcException.of("open(" + path + ")", -fd, null);
        }
        try {
            Posix.check(Posix.C.ftruncate(fd, ControlFileDescriptor.LENGTH), "ftruncate(", path);
            if (Posix.C.fchown(fd, uid, gid) < 0 && Posix.errno() != Errno.EPERM) {
                throw IpcException.of("fchown(" + path + ")", Posix.errno(), null);
            }
            Posix.check(Posix.C.fchmod(fd, mode), "fchmod(", path);
            return new ControlFile(null, map(fd, path));
        } catch (RuntimeException | Error e) {
            DirectoryFiles.unlink(path);
            throw e;
        } finally {
            Posix.C.close(fd);
        }
    }

    /** Opens one a server created. */
    public static ControlFile open(String path) throws IpcException {
        try {
            if (Files.size(Path.of(path)) < ControlFileDescriptor.LENGTH) {
                throw new IpcException("open(" + path + ")", Errno.EBADMSG, "control file too small");
            }
        } catch (java.io.IOException e) {
            throw new IpcException("stat(" + path + ")", Errno.ENOENT, e.toString());
        }
        int fd = (int) Posix.check(Posix.C.open(path, LibC.O_RDWR | LibC.O_CLOEXEC | LibC.O_NOFOLLOW, 0),
                "open(", path);
        try {
            return new ControlFile(path, map(fd, path));
        } finally {
            Posix.C.close(fd);
        }
    }

    private static long map(int fd, String path) throws IpcException {
        long a = Posix.C.mmap(0, ControlFileDescriptor.LENGTH, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED, fd,
                0);
        if (a == -1) {
            throw IpcException.of("mmap(" + path + ")", Posix.errno(), null);
        }
        return a;
    }

    /** @param channel {@link ControlFileDescriptor#REQUEST}, RESPONSE or EVENT */
    public int sent(int channel) {
        return mem.readVolatileInt(channel + ControlFileDescriptor.SENT);
    }

    /**
     * Counts a message sent: an atomic add, as libqb does. It is on every message's path, so it is not routed through
     * the kernel ({@link FaultSafe} costs a system call, ~1 µs); a peer that truncates the file it owns exposes this
     * add to the same fault as the SHM semaphore (docs/RELIABILITY.md, "truncated files").
     */
    public void incrementSent(int channel) {
        mem.addAndGetInt(channel + ControlFileDescriptor.SENT, 1);
    }

    /** Counts a message received; see {@link #incrementSent}. */
    public void decrementSent(int channel) {
        mem.addAndGetInt(channel + ControlFileDescriptor.SENT, -1);
    }

    public int flowControl(int channel) {
        return mem.readVolatileInt(channel + ControlFileDescriptor.FLOW_CONTROL);
    }

    public void setFlowControl(int channel, int value) {
        mem.writeVolatileInt(channel + ControlFileDescriptor.FLOW_CONTROL, value);
    }

    /** @return the path it was opened with; null for one {@link #create}d (a server's) */
    public String path() {
        return path;
    }

    /** Unmaps. Idempotent. */
    public void close() {
        close(false);
    }

    /** Unmaps, and removes the file when {@code unlink} (and its path is kept: see {@link #create}). Idempotent. */
    public synchronized void close(boolean unlink) {
        if (closed) {
            return;
        }
        closed = true;
        Posix.C.munmap(address, ControlFileDescriptor.LENGTH);
        if (unlink && path != null) {
            DirectoryFiles.unlink(path);
        }
    }
}
