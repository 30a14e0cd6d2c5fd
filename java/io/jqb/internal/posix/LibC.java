package io.jqb.internal.posix;

/**
 * The libc functions jqb calls: bound with JNI ({@link JniLibC}, compiled into {@code libjqbguard.so}) when that
 * library is loaded, else with jnr-ffi ({@link LibCBinding}).
 *
 * <p>Every pointer argument is passed as a raw {@code long} address of native memory that the caller owns, so no
 * call on the hot path allocates a marshalling object. Linux x86-64 only (the platform libqb's SHM protocol is
 * specified for). The numeric constants are the x86-64 Linux values.</p>
 */
public interface LibC {
    /** The process-wide binding. */
    LibC INSTANCE = LibCBinding.load();

    int AF_UNIX = 1;
    int SOCK_STREAM = 1;
    int SOCK_DGRAM = 2;
    int SOCK_NONBLOCK = 0x800;
    int SOCK_CLOEXEC = 0x80000;
    int SOL_SOCKET = 1;
    int SO_SNDBUF = 7;
    int SO_RCVBUF = 8;
    int SO_PASSCRED = 16;
    int SCM_CREDENTIALS = 2;
    int MSG_PEEK = 0x2;
    int MSG_DONTWAIT = 0x40;
    int MSG_WAITALL = 0x100;
    int MSG_NOSIGNAL = 0x4000;
    int SHUT_RDWR = 2;

    // TCP/IP and stream-socket options (the stream layer, io.jqb.stream).
    int AF_INET = 2;
    int AF_INET6 = 10;
    int SO_REUSEADDR = 2;
    int SO_ERROR = 4;
    int SO_KEEPALIVE = 9;
    int SO_PEERCRED = 17;
    int SO_RCVTIMEO = 20;
    int IPPROTO_TCP = 6;
    int IPPROTO_IPV6 = 41;
    int IPV6_V6ONLY = 26;
    int TCP_NODELAY = 1;
    int TCP_KEEPIDLE = 4;
    int TCP_KEEPINTVL = 5;
    int TCP_KEEPCNT = 6;
    int TCP_USER_TIMEOUT = 18;
    int F_DUPFD_CLOEXEC = 1030;

    int O_RDONLY = 0;
    int O_RDWR = 2;
    int O_CREAT = 0x40;
    int O_EXCL = 0x80;
    int O_TRUNC = 0x200;
    int O_NONBLOCK = 0x800;
    int O_NOFOLLOW = 0x20000;
    int O_NOCTTY = 0x100;
    int O_CLOEXEC = 0x80000;
    int O_DIRECTORY = 0x10000;
    int F_GETFL = 3;
    int F_SETFL = 4;

    int PROT_NONE = 0;
    int PROT_READ = 1;
    int PROT_WRITE = 2;
    int MAP_SHARED = 1;
    int MAP_PRIVATE = 2;
    int MAP_FIXED = 0x10;
    int MAP_ANONYMOUS = 0x20;

    int EPOLL_CLOEXEC = 0x80000;
    int EPOLL_CTL_ADD = 1;
    int EPOLL_CTL_DEL = 2;
    int EPOLL_CTL_MOD = 3;
    int EFD_NONBLOCK = 0x800;
    int EFD_CLOEXEC = 0x80000;

    int POLLIN = 0x1;
    int POLLOUT = 0x4;
    int POLLERR = 0x8;
    int POLLHUP = 0x10;
    int POLLNVAL = 0x20;

    long SYS_mmap = 9;
    long SYS_munmap = 11;
    long SYS_futex = 202;
    /** access(2) (x86-64), for a path already in native memory; with {@link #F_OK}: does it exist. */
    long SYS_access = 21;
    long SYS_fstat = 5;
    long SYS_pread64 = 17;
    /** fcntl(2) with a pointer argument (a {@code struct flock}); {@link #fcntl} takes an int. */
    long SYS_fcntl = 72;
    /** fcntl command: take an open file description lock, without waiting. */
    int F_OFD_SETLK = 37;
    /** What open(O_NOFOLLOW) says of a symlink (not in {@link io.jqb.Errno}'s public list). */
    int ELOOP = 40;
    int F_OK = 0;
    int FUTEX_WAIT = 0;
    int FUTEX_WAKE = 1;

    int socket(int domain, int type, int protocol);
    /** {@code sv} = address of int[2]. */
    int socketpair(int domain, int type, int protocol, long sv);
    int bind(int fd, long addr, int addrlen);
    int listen(int fd, int backlog);
    int accept4(int fd, long addr, long addrlen, int flags);
    int connect(int fd, long addr, int addrlen);
    /** {@code lenPtr} = address of a socklen_t holding the buffer size on entry. */
    int getsockname(int fd, long addr, long lenPtr);
    /** {@code lenPtr} = address of a socklen_t holding the buffer size on entry. */
    int getpeername(int fd, long addr, long lenPtr);
    int close(int fd);
    int shutdown(int fd, int how);
    int setsockopt(int fd, int level, int name, long value, int len);
    int getsockopt(int fd, int level, int name, long value, long lenPtr);
    long send(int fd, long buf, long len, int flags);
    long recv(int fd, long buf, long len, int flags);
    long sendmsg(int fd, long msghdr, int flags);
    long recvmsg(int fd, long msghdr, int flags);
    int poll(long fds, long nfds, int timeoutMs);
    int fcntl(int fd, int cmd, int arg);

    int epoll_create1(int flags);
    int epoll_ctl(int epfd, int op, int fd, long event);
    int epoll_wait(int epfd, long events, int maxEvents, int timeoutMs);
    int eventfd(int initval, int flags);
    long read(int fd, long buf, long len);
    long write(int fd, long buf, long len);

    int open(String path, int flags, int mode);
    /** lstat(2) (a glibc function since 2.33): fills a {@code struct stat} at {@code buf} without following a link. */
    int lstat(String path, long buf);
    /** openat(2): {@code path} relative to the directory open at {@code dirfd}. */
    int openat(int dirfd, String path, int flags, int mode);
    int ftruncate(int fd, long length);
    /** Returns an errno value (not -1 with errno set). */
    int posix_fallocate(int fd, long offset, long len);
    /**
     * mmap(2) through syscall(2): jnr-ffi 2.3.4's binding of glibc's {@code mmap} returns MAP_FAILED without
     * entering the kernel on this platform (seen with strace), the raw system call works.
     *
     * @return the address, or -1 with errno set
     */
    default long mmap(long addr, long length, int prot, int flags, int fd, long offset) {
        return syscall(SYS_mmap, addr, length, prot, flags, fd, offset);
    }

    /** munmap(2) through syscall(2), like {@link #mmap}. */
    default int munmap(long addr, long length) {
        return (int) syscall(SYS_munmap, addr, length, 0, 0, 0, 0);
    }
    int unlink(String path);
    /** unlinkat(2): {@code path} relative to the directory open at {@code dirfd}. */
    int unlinkat(int dirfd, String path, int flags);
    int rmdir(String path);
    int mkdir(String path, int mode);
    /** Fills the trailing XXXXXX of the NUL-terminated template at {@code template} in place. */
    long mkdtemp(long template);
    int chown(String path, int uid, int gid);
    int chmod(String path, int mode);
    int fchown(int fd, int uid, int gid);
    int fchmod(int fd, int mode);

    int getpid();
    int getuid();
    int getgid();
    int kill(int pid, int sig);

    long syscall(long number, long a1, long a2, long a3, long a4, long a5, long a6);

    /**
     * syscall(2) with at most five arguments. jnr-ffi's allocation-free call path takes at most six parameters;
     * the seven-parameter form above allocates a heap invocation buffer per call, so the hot path (futex wait and
     * wake) uses this one.
     */
    long syscall(long number, long a1, long a2, long a3, long a4, long a5);
}
