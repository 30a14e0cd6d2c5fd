package io.jqb.internal.posix;

import java.nio.charset.StandardCharsets;

/**
 * {@link LibC} as plain JNI wrappers compiled into {@code libjqbguard.so} (native/jqb_libc.c), used whenever that
 * library is loaded ({@link Guard#AVAILABLE}); the jnr-ffi binding is the fall-back. Same functions, arguments and
 * results: raw addresses for pointers, -1 and errno on failure. Why: jnr-ffi generates its binding at run time, and
 * loading jnr-ffi, jffi and ASM and generating the binding was most of a short-lived client's time to its first round
 * trip (see docs/PERFORMANCE.md, "Cold start"); these wrappers cost nothing at start-up and allocate nothing per call
 * (paths excepted: they are encoded to UTF-8, as jnr-ffi does).
 *
 * <p>errno is saved by each wrapper in a thread-local of the library and read with {@link #lastErrno()}
 * ({@link Posix#errno()}).</p>
 */
final class JniLibC implements LibC {
    /**
     * The version of the wrappers' signatures; native/jqb_libc.c returns the same from {@link #abi()}. Bump both
     * when a native method is added, removed or changed.
     */
    static final int ABI = 1;

    JniLibC() {
    }

    /** @return the library's {@link #ABI} */
    static native int abi();

    /** @return true when the loaded library has this class's wrappers (not a library of an older build) */
    static boolean linked() {
        try {
            return abi() == ABI;
        } catch (UnsatisfiedLinkError e) {
            return false;
        }
    }

    /** @return errno as the calling thread's last wrapper call left it */
    static native int lastErrno();

    /** JNI {@code NewDirectByteBuffer} over memory the caller owns. */
    static native java.nio.ByteBuffer newDirectBuffer(long address, long capacity);

    @Override
    public native int socket(int domain, int type, int protocol);

    @Override
    public native int socketpair(int domain, int type, int protocol, long sv);

    @Override
    public native int bind(int fd, long addr, int addrlen);

    @Override
    public native int listen(int fd, int backlog);

    @Override
    public native int accept4(int fd, long addr, long addrlen, int flags);

    @Override
    public native int connect(int fd, long addr, int addrlen);

    @Override
    public native int getsockname(int fd, long addr, long lenPtr);

    @Override
    public native int getpeername(int fd, long addr, long lenPtr);

    @Override
    public native int close(int fd);

    @Override
    public native int shutdown(int fd, int how);

    @Override
    public native int setsockopt(int fd, int level, int name, long value, int len);

    @Override
    public native int getsockopt(int fd, int level, int name, long value, long lenPtr);

    @Override
    public native long send(int fd, long buf, long len, int flags);

    @Override
    public native long recv(int fd, long buf, long len, int flags);

    @Override
    public native long sendmsg(int fd, long msghdr, int flags);

    @Override
    public native long recvmsg(int fd, long msghdr, int flags);

    @Override
    public native int poll(long fds, long nfds, int timeoutMs);

    @Override
    public native int fcntl(int fd, int cmd, int arg);

    @Override
    public native int epoll_create1(int flags);

    @Override
    public native int epoll_ctl(int epfd, int op, int fd, long event);

    @Override
    public native int epoll_wait(int epfd, long events, int maxEvents, int timeoutMs);

    @Override
    public native int eventfd(int initval, int flags);

    @Override
    public native long read(int fd, long buf, long len);

    @Override
    public native long write(int fd, long buf, long len);

    @Override
    public int open(String path, int flags, int mode) {
        return open0(cString(path), flags, mode);
    }

    @Override
    public int lstat(String path, long buf) {
        return lstat0(cString(path), buf);
    }

    @Override
    public int openat(int dirfd, String path, int flags, int mode) {
        return openat0(dirfd, cString(path), flags, mode);
    }

    @Override
    public native int ftruncate(int fd, long length);

    @Override
    public native int posix_fallocate(int fd, long offset, long len);

    @Override
    public int unlink(String path) {
        return unlink0(cString(path));
    }

    @Override
    public int unlinkat(int dirfd, String path, int flags) {
        return unlinkat0(dirfd, cString(path), flags);
    }

    @Override
    public int rmdir(String path) {
        return rmdir0(cString(path));
    }

    @Override
    public int mkdir(String path, int mode) {
        return mkdir0(cString(path), mode);
    }

    @Override
    public native long mkdtemp(long template);

    @Override
    public int chown(String path, int uid, int gid) {
        return chown0(cString(path), uid, gid);
    }

    @Override
    public int chmod(String path, int mode) {
        return chmod0(cString(path), mode);
    }

    @Override
    public native int fchown(int fd, int uid, int gid);

    @Override
    public native int fchmod(int fd, int mode);

    @Override
    public native int getpid();

    @Override
    public native int getuid();

    @Override
    public native int getgid();

    @Override
    public native int kill(int pid, int sig);

    @Override
    public long syscall(long number, long a1, long a2, long a3, long a4, long a5, long a6) {
        return syscall6(number, a1, a2, a3, a4, a5, a6);
    }

    @Override
    public long syscall(long number, long a1, long a2, long a3, long a4, long a5) {
        return syscall5(number, a1, a2, a3, a4, a5);
    }

    /** The path as jnr-ffi passes a String: UTF-8, NUL-terminated (null stays null: EFAULT, as a null pointer). */
    private static byte[] cString(String s) {
        if (s == null) {
            return null;
        }
        int len = s.length();
        byte[] z = new byte[len + 1];
        for (int i = 0; i < len; i++) { // ASCII (every path jqb makes): one array, no UTF-8 encoder's copy
            char c = s.charAt(i);
            if (c >= 0x80) {
                byte[] b = s.getBytes(StandardCharsets.UTF_8);
                z = new byte[b.length + 1];
                System.arraycopy(b, 0, z, 0, b.length);
                return z;
            }
            z[i] = (byte) c;
        }
        return z;
    }

    private static native int open0(byte[] path, int flags, int mode);

    private static native int openat0(int dirfd, byte[] path, int flags, int mode);

    private static native int lstat0(byte[] path, long buf);

    private static native int unlink0(byte[] path);

    private static native int unlinkat0(int dirfd, byte[] path, int flags);

    private static native int rmdir0(byte[] path);

    private static native int mkdir0(byte[] path, int mode);

    private static native int chown0(byte[] path, int uid, int gid);

    private static native int chmod0(byte[] path, int mode);

    private static native long syscall6(long number, long a1, long a2, long a3, long a4, long a5, long a6);

    private static native long syscall5(long number, long a1, long a2, long a3, long a4, long a5);
}
