package io.jqb.internal.socket;

import io.jqb.Errno;
import io.jqb.IpcException;
import io.jqb.internal.posix.DirectoryFiles;
import io.jqb.internal.posix.FaultSafe;
import io.jqb.internal.posix.LibC;
import io.jqb.internal.posix.PointerStore;
import io.jqb.internal.posix.Posix;
import io.jqb.internal.wire.ControlFileDescriptor;

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
     * Creates {@code name} in {@code dir} (O_EXCL, relative to the directory opened with O_NOFOLLOW: see
     * {@link DirectoryFiles}; owner and mode set through the fd), zeroed. The server's copy does not keep the path
     * (one string per connection): {@link #path()} is null, and the server removes the file itself after
     * {@link #close()}.
     */
    public static ControlFile create(String dir, String name, int uid, int gid, int mode) throws IpcException {
        int fd = DirectoryFiles.createExclusive(dir, name, 0600);
        if (fd < 0) {
            throw IpcException.of("open(" + dir + "/" + name + ")", -fd, null);
        }
        try {
            if (Posix.C.ftruncate(fd, ControlFileDescriptor.LENGTH) < 0) {
                throw IpcException.of("ftruncate(" + dir + "/" + name + ")", Posix.errno(), null);
            }
            if (Posix.C.fchown(fd, uid, gid) < 0 && Posix.errno() != Errno.EPERM) {
                throw IpcException.of("fchown(" + dir + "/" + name + ")", Posix.errno(), null);
            }
            if (Posix.C.fchmod(fd, mode) < 0) {
                throw IpcException.of("fchmod(" + dir + "/" + name + ")", Posix.errno(), null);
            }
            long a = Posix.C.mmap(0, ControlFileDescriptor.LENGTH, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED,
                    fd, 0);
            if (a == -1) {
                throw IpcException.of("mmap(" + dir + "/" + name + ")", Posix.errno(), null);
            }
            return new ControlFile(null, a);
        } catch (RuntimeException | Error e) {
            DirectoryFiles.unlink(dir, name);
            throw e;
        } finally {
            Posix.C.close(fd);
        }
    }

    /** Opens one a server created (a regular file of at least {@link ControlFileDescriptor#LENGTH} bytes). */
    public static ControlFile open(String path) throws IpcException {
        if (Posix.regularFileSize(path) < ControlFileDescriptor.LENGTH) {
            throw new IpcException("open(" + path + ")", Errno.EBADMSG, "control file too small");
        }
        int fd = Posix.openExisting(path);
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
            // By path, as libqb's client (and as the directory's rmdir): DirectoryFiles' guard protects a privileged
            // server from a client that swaps its directory for a symlink; a client removes a path the server itself
            // named (it could name any file), so the guard would add nothing but an open and a close.
            Posix.C.unlink(path);
        }
    }
}
