package io.jqb.internal.posix;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.Errno;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.ToLongFunction;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The JNI binding of libc ({@link JniLibC}, native/jqb_libc.c) against the jnr-ffi binding it replaces: every function
 * called through both, same results and same errno, so a wrapper with a wrong argument order or a lost errno shows up
 * here rather than as a mysterious failure of the transport above it.
 */
class JniLibCTest {
    private static final LibC JNR = jnr.ffi.LibraryLoader.create(LibC.class).load("c");
    private static final jnr.ffi.Runtime JNR_RUNTIME = jnr.ffi.Runtime.getSystemRuntime();
    private static final int EBADF = 9;
    private static final int ENOENT = 2;
    private static final int EINVAL = 22;
    private static final long SYS_getpid = 39;

    private final LibC jni = new JniLibC();
    private long scratch;

    @TempDir
    Path dir;

    @BeforeEach
    void allocate() {
        scratch = Posix.allocate(4096);
    }

    @AfterEach
    void free() {
        Posix.free(scratch, 4096);
    }

    @Test
    void theLibraryIsLoadedAndChosen() {
        assertTrue(Guard.AVAILABLE, "libjqbguard.so (make native) must load in the test JVM");
        assertEquals(JniLibC.ABI, JniLibC.abi(), "native/jqb_libc.c and JniLibC disagree: make native");
        assertTrue(LibC.INSTANCE instanceof JniLibC, "LibC.INSTANCE is " + LibC.INSTANCE.getClass());
    }

    @Test
    void identitiesMatchTheJvmsAndJnrs() {
        assertEquals(ProcessHandle.current().pid(), jni.getpid());
        assertEquals(JNR.getuid(), jni.getuid());
        assertEquals(JNR.getgid(), jni.getgid());
        assertEquals(jni.getpid(), jni.syscall(SYS_getpid, 0, 0, 0, 0, 0));
        assertEquals(jni.getpid(), jni.syscall(SYS_getpid, 0, 0, 0, 0, 0, 0));
        assertEquals(0, jni.kill(jni.getpid(), 0));
    }

    /** Each fd call on fd -1 fails with EBADF through both bindings. */
    @Test
    void badFdFailsWithEbadfLikeJnr() {
        long a = scratch;
        long lenp = scratch + 256;
        Posix.MEM.writeInt(lenp, 128);
        check("close", c -> c.close(-1));
        check("shutdown", c -> c.shutdown(-1, LibC.SHUT_RDWR));
        check("listen", c -> c.listen(-1, 1));
        check("bind", c -> c.bind(-1, a, 16));
        check("connect", c -> c.connect(-1, a, 16));
        check("accept4", c -> c.accept4(-1, 0, 0, 0));
        check("getsockname", c -> c.getsockname(-1, a, lenp));
        check("getpeername", c -> c.getpeername(-1, a, lenp));
        check("setsockopt", c -> c.setsockopt(-1, LibC.SOL_SOCKET, LibC.SO_PASSCRED, a, 4));
        check("getsockopt", c -> c.getsockopt(-1, LibC.SOL_SOCKET, LibC.SO_ERROR, a, lenp));
        check("send", c -> c.send(-1, a, 1, 0));
        check("recv", c -> c.recv(-1, a, 1, LibC.MSG_DONTWAIT));
        check("sendmsg", c -> c.sendmsg(-1, a, 0));
        check("recvmsg", c -> c.recvmsg(-1, a, 0));
        check("fcntl", c -> c.fcntl(-1, LibC.F_GETFL, 0));
        check("epoll_ctl", c -> c.epoll_ctl(-1, LibC.EPOLL_CTL_ADD, 0, a));
        check("epoll_wait", c -> c.epoll_wait(-1, a, 1, 0));
        check("read", c -> c.read(-1, a, 1));
        check("write", c -> c.write(-1, a, 1));
        check("ftruncate", c -> c.ftruncate(-1, 0));
        check("fchown", c -> c.fchown(-1, 0, 0));
        check("fchmod", c -> c.fchmod(-1, 0600));
        check("openat", c -> c.openat(-1, "x", LibC.O_RDONLY, 0));
        check("unlinkat", c -> c.unlinkat(-1, "x", 0));
        assertEquals(EBADF, jni.posix_fallocate(-1, 0, 1)); // returns the errno value itself
        assertEquals(JNR.posix_fallocate(-1, 0, 1), jni.posix_fallocate(-1, 0, 1));
    }

    private void check(String name, ToLongFunction<LibC> call) {
        long j = call.applyAsLong(JNR);
        int jErrno = JNR_RUNTIME.getLastError();
        long n = call.applyAsLong(jni);
        int nErrno = JniLibC.lastErrno();
        assertEquals(-1, n, name);
        assertEquals(EBADF, nErrno, name + " errno");
        assertEquals(j, n, name + " result vs jnr");
        assertEquals(jErrno, nErrno, name + " errno vs jnr");
        assertEquals(EBADF, Posix.errno(), name + " Posix.errno()");
    }

    @Test
    void pathsCreateChangeAndRemoveFiles() throws Exception {
        String sub = dir.resolve("d-é").toString(); // non-ASCII: encoded as UTF-8, as jnr-ffi does
        assertEquals(0, jni.mkdir(sub, 0700));
        assertTrue(Files.isDirectory(Path.of(sub)));
        assertEquals(-1, jni.mkdir(sub, 0700));
        assertEquals(17, JniLibC.lastErrno()); // EEXIST
        String file = sub + "/f";
        int fd = jni.open(file, LibC.O_RDWR | LibC.O_CREAT | LibC.O_EXCL | LibC.O_CLOEXEC, 0600);
        assertTrue(fd >= 0, "open: errno " + JniLibC.lastErrno());
        assertEquals(0, jni.ftruncate(fd, 4096));
        assertEquals(4096, Files.size(Path.of(file)));
        assertEquals(0, jni.fchmod(fd, 0640));
        assertEquals(0, jni.chmod(file, 0600));
        assertEquals(0, jni.chown(file, jni.getuid(), jni.getgid()));
        assertEquals(0, jni.fchown(fd, jni.getuid(), jni.getgid()));
        assertEquals(0, jni.close(fd));
        int dfd = jni.open(sub, LibC.O_RDONLY | LibC.O_DIRECTORY | LibC.O_CLOEXEC, 0);
        assertTrue(dfd >= 0);
        int fd2 = jni.openat(dfd, "f", LibC.O_RDONLY | LibC.O_CLOEXEC, 0);
        assertTrue(fd2 >= 0);
        jni.close(fd2);
        assertEquals(0, jni.unlinkat(dfd, "f", 0));
        jni.close(dfd);
        assertEquals(-1, jni.unlink(file));
        assertEquals(ENOENT, Posix.errno());
        assertEquals(-1, jni.open(file, LibC.O_RDONLY, 0));
        assertEquals(ENOENT, Posix.errno());
        assertEquals(0, jni.rmdir(sub));
        assertEquals(-1, jni.rmdir(sub));
        assertEquals(ENOENT, Posix.errno());

        byte[] template = (dir.resolve("t-XXXXXX").toString() + "\0").getBytes(StandardCharsets.UTF_8);
        Posix.MEM.copyMemory(template, 0, scratch, template.length);
        assertEquals(scratch, jni.mkdtemp(scratch));
        byte[] made = new byte[template.length - 1];
        Posix.readBytes(scratch, made, 0, made.length);
        Path created = Path.of(new String(made, StandardCharsets.UTF_8));
        assertTrue(Files.isDirectory(created), created.toString());
        assertNotEquals(new String(template, StandardCharsets.UTF_8).trim(), created.toString());
        assertEquals(-1, jni.unlink(dir.resolve("none").toString()));
        assertEquals(ENOENT, Posix.errno());
        Files.delete(created);
    }

    /** A path with a NUL in it is refused (EINVAL), not cut at the NUL to name another file. */
    @Test
    void aPathWithANulIsRefusedWithEinval() throws Exception {
        Path cut = dir.resolve("a");
        String nul = cut + "\0b";
        assertEquals(-1, jni.open(nul, LibC.O_RDWR | LibC.O_CREAT | LibC.O_CLOEXEC, 0600));
        assertEquals(EINVAL, JniLibC.lastErrno());
        assertEquals(-1, jni.mkdir(nul, 0700));
        assertEquals(EINVAL, Posix.errno());
        assertTrue(Files.notExists(cut), "created " + cut);
        Files.createFile(cut);
        assertEquals(-1, jni.unlink(nul));
        assertEquals(EINVAL, Posix.errno());
        assertEquals(-1, jni.unlinkat(-100, nul, 0)); // AT_FDCWD
        assertEquals(EINVAL, Posix.errno());
        assertTrue(Files.exists(cut), "removed " + cut);
        assertEquals(0, jni.unlink(cut.toString()));
    }

    @Test
    void socketsPollEpollAndEventfdCarryData() {
        long sv = scratch;
        assertEquals(0, jni.socketpair(LibC.AF_UNIX, LibC.SOCK_DGRAM | LibC.SOCK_CLOEXEC, 0, sv));
        int a = Posix.MEM.readInt(sv);
        int b = Posix.MEM.readInt(sv + 4);
        int ep = jni.epoll_create1(LibC.EPOLL_CLOEXEC);
        int ev = jni.eventfd(0, LibC.EFD_NONBLOCK | LibC.EFD_CLOEXEC);
        try {
            long buf = scratch + 64;
            byte[] msg = "hello".getBytes(StandardCharsets.US_ASCII);
            Posix.MEM.copyMemory(msg, 0, buf, msg.length);
            assertEquals(msg.length, jni.send(a, buf, msg.length, LibC.MSG_NOSIGNAL));

            long pfd = scratch + 128; // struct pollfd { int fd; short events; short revents; }
            Posix.MEM.writeInt(pfd, b);
            Posix.MEM.writeShort(pfd + 4, (short) LibC.POLLIN);
            Posix.MEM.writeShort(pfd + 6, (short) 0);
            assertEquals(1, jni.poll(pfd, 1, 5000));
            assertEquals(LibC.POLLIN, Posix.MEM.readShort(pfd + 6) & LibC.POLLIN);

            long in = scratch + 256;
            assertEquals(msg.length, jni.recv(b, in, 64, LibC.MSG_DONTWAIT));
            byte[] got = new byte[msg.length];
            Posix.readBytes(in, got, 0, got.length);
            assertArrayEquals(msg, got);
            assertEquals(-1, jni.recv(b, in, 64, LibC.MSG_DONTWAIT));
            assertEquals(Errno.EAGAIN, Posix.errno());

            long event = scratch + 512; // struct epoll_event, packed: u32 events, u64 data
            Posix.MEM.writeInt(event, LibC.POLLIN);
            Posix.MEM.writeLong(event + 4, 42L);
            assertEquals(0, jni.epoll_ctl(ep, LibC.EPOLL_CTL_ADD, ev, event));
            assertEquals(0, jni.epoll_wait(ep, scratch + 1024, 4, 0));
            Posix.MEM.writeLong(buf, 3);
            assertEquals(8, jni.write(ev, buf, 8));
            assertEquals(1, jni.epoll_wait(ep, scratch + 1024, 4, 5000));
            assertEquals(42L, Posix.MEM.readLong(scratch + 1024 + 4));
            assertEquals(8, jni.read(ev, in, 8));
            assertEquals(3, Posix.MEM.readLong(in));
            assertTrue(jni.fcntl(ev, LibC.F_GETFL, 0) >= 0);
        } finally {
            jni.close(ev);
            jni.close(ep);
            jni.close(a);
            jni.close(b);
        }
    }

    @Test
    void directBuffersViewNativeMemory() {
        ByteBuffer view = Posix.directBuffer(scratch, 128);
        assertEquals(128, view.capacity());
        assertEquals(scratch, Posix.bufferAddress(view));
        view.put(5, (byte) 9);
        assertEquals(9, Posix.MEM.readByte(scratch + 5));
        view.putInt(8, 0x01020304); // little-endian, as every wire struct
        assertEquals(4, Posix.MEM.readByte(scratch + 8));
        ByteBuffer own = ByteBuffer.allocateDirect(16);
        long addr = Posix.bufferAddress(own);
        Posix.MEM.writeByte(addr + 3, (byte) 7);
        assertEquals(7, own.get(3));
    }

    @Test
    void errnoIsPerThread() throws Exception {
        assertEquals(-1, jni.close(-1));
        AtomicInteger other = new AtomicInteger(-100);
        Thread t = new Thread(() -> {
            jni.mkdir(dir.toString(), 0700); // EEXIST in that thread
            other.set(JniLibC.lastErrno());
        });
        t.start();
        t.join();
        assertEquals(17, other.get());
        assertEquals(EBADF, JniLibC.lastErrno());
    }
}
