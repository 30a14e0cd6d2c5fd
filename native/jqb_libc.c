/*
 * libjqbguard, part two: the libc functions of io.jqb.internal.posix.LibC as plain JNI, for class
 * io.jqb.internal.posix.JniLibC. jnr-ffi generates its binding at run time (about 300 classes of jnr-ffi, jffi and
 * ASM loaded, and the binding's own bytecode generated, at every start: most of a short-lived client's time to its
 * first round trip); these wrappers are compiled once, here.
 *
 * Every pointer is a raw address (jlong) of native memory the caller owns, as in the jnr-ffi binding; paths come as
 * NUL-terminated UTF-8 byte arrays (what jnr-ffi passes for a String). After each call the wrapper saves errno in a
 * thread-local that JniLibC.lastErrno() returns (the JVM may make libc calls of its own on the same thread before
 * Java reads it, so errno itself cannot be read later).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <jni.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

static __thread int last_errno __attribute__((tls_model("initial-exec")));

#define PTR(a) ((void *)(uintptr_t)(a))
#define SAVE(expr)                                                                                                     \
	do {                                                                                                           \
		__typeof__(expr) r_ = (expr);                                                                          \
		last_errno = errno;                                                                                    \
		return r_;                                                                                             \
	} while (0)
#define FN(ret, name) JNIEXPORT ret JNICALL Java_io_jqb_internal_posix_JniLibC_##name

/*
 * Copies the NUL-terminated byte array into buf; 0, or -1 with last_errno set: EINVAL when it holds a NUL before its
 * last byte (a Java path with a NUL in it: cut there it would name another file) or does not end with one.
 */
static int path_of(JNIEnv *env, jbyteArray path, char *buf, size_t cap)
{
	jsize n;

	if (path == NULL) {
		last_errno = EFAULT;
		return -1;
	}
	n = (*env)->GetArrayLength(env, path);
	if (n <= 0 || (size_t)n > cap) {
		last_errno = n <= 0 ? EINVAL : ENAMETOOLONG;
		return -1;
	}
	(*env)->GetByteArrayRegion(env, path, 0, n, (jbyte *)buf);
	if (buf[n - 1] != '\0' || memchr(buf, '\0', (size_t)n - 1) != NULL) {
		last_errno = EINVAL;
		return -1;
	}
	return 0;
}

#define WITH_PATH(p, expr)                                                                                             \
	do {                                                                                                           \
		char p[PATH_MAX + 1];                                                                                  \
		if (path_of(env, p##_bytes, p, sizeof(p)) != 0) {                                                      \
			return -1;                                                                                     \
		}                                                                                                      \
		SAVE(expr);                                                                                            \
	} while (0)

/* Must equal JniLibC.ABI: a library from another build than the classes is then not used (jnr-ffi is). */
#define JQB_LIBC_ABI 1

FN(jint, abi)(JNIEnv *env, jclass cls)
{
	(void)env;
	(void)cls;
	return JQB_LIBC_ABI;
}

FN(jint, lastErrno)(JNIEnv *env, jclass cls)
{
	(void)env;
	(void)cls;
	return last_errno;
}

FN(jobject, newDirectBuffer)(JNIEnv *env, jclass cls, jlong addr, jlong capacity)
{
	(void)cls;
	return (*env)->NewDirectByteBuffer(env, PTR(addr), capacity);
}

FN(jint, socket)(JNIEnv *env, jobject self, jint domain, jint type, jint protocol)
{
	(void)env;
	(void)self;
	SAVE(socket(domain, type, protocol));
}

FN(jint, socketpair)(JNIEnv *env, jobject self, jint domain, jint type, jint protocol, jlong sv)
{
	(void)env;
	(void)self;
	SAVE(socketpair(domain, type, protocol, PTR(sv)));
}

FN(jint, bind)(JNIEnv *env, jobject self, jint fd, jlong addr, jint len)
{
	(void)env;
	(void)self;
	SAVE(bind(fd, PTR(addr), (socklen_t)len));
}

FN(jint, listen)(JNIEnv *env, jobject self, jint fd, jint backlog)
{
	(void)env;
	(void)self;
	SAVE(listen(fd, backlog));
}

FN(jint, accept4)(JNIEnv *env, jobject self, jint fd, jlong addr, jlong lenp, jint flags)
{
	(void)env;
	(void)self;
	SAVE(accept4(fd, PTR(addr), PTR(lenp), flags));
}

FN(jint, connect)(JNIEnv *env, jobject self, jint fd, jlong addr, jint len)
{
	(void)env;
	(void)self;
	SAVE(connect(fd, PTR(addr), (socklen_t)len));
}

FN(jint, getsockname)(JNIEnv *env, jobject self, jint fd, jlong addr, jlong lenp)
{
	(void)env;
	(void)self;
	SAVE(getsockname(fd, PTR(addr), PTR(lenp)));
}

FN(jint, getpeername)(JNIEnv *env, jobject self, jint fd, jlong addr, jlong lenp)
{
	(void)env;
	(void)self;
	SAVE(getpeername(fd, PTR(addr), PTR(lenp)));
}

FN(jint, close)(JNIEnv *env, jobject self, jint fd)
{
	(void)env;
	(void)self;
	SAVE(close(fd));
}

FN(jint, shutdown)(JNIEnv *env, jobject self, jint fd, jint how)
{
	(void)env;
	(void)self;
	SAVE(shutdown(fd, how));
}

FN(jint, setsockopt)(JNIEnv *env, jobject self, jint fd, jint level, jint name, jlong value, jint len)
{
	(void)env;
	(void)self;
	SAVE(setsockopt(fd, level, name, PTR(value), (socklen_t)len));
}

FN(jint, getsockopt)(JNIEnv *env, jobject self, jint fd, jint level, jint name, jlong value, jlong lenp)
{
	(void)env;
	(void)self;
	SAVE(getsockopt(fd, level, name, PTR(value), PTR(lenp)));
}

FN(jlong, send)(JNIEnv *env, jobject self, jint fd, jlong buf, jlong len, jint flags)
{
	(void)env;
	(void)self;
	SAVE((jlong)send(fd, PTR(buf), (size_t)len, flags));
}

FN(jlong, recv)(JNIEnv *env, jobject self, jint fd, jlong buf, jlong len, jint flags)
{
	(void)env;
	(void)self;
	SAVE((jlong)recv(fd, PTR(buf), (size_t)len, flags));
}

FN(jlong, sendmsg)(JNIEnv *env, jobject self, jint fd, jlong msg, jint flags)
{
	(void)env;
	(void)self;
	SAVE((jlong)sendmsg(fd, PTR(msg), flags));
}

FN(jlong, recvmsg)(JNIEnv *env, jobject self, jint fd, jlong msg, jint flags)
{
	(void)env;
	(void)self;
	SAVE((jlong)recvmsg(fd, PTR(msg), flags));
}

FN(jint, poll)(JNIEnv *env, jobject self, jlong fds, jlong nfds, jint timeout)
{
	(void)env;
	(void)self;
	SAVE(poll(PTR(fds), (nfds_t)nfds, timeout));
}

FN(jint, fcntl)(JNIEnv *env, jobject self, jint fd, jint cmd, jint arg)
{
	(void)env;
	(void)self;
	SAVE(fcntl(fd, cmd, arg));
}

FN(jint, epoll_1create1)(JNIEnv *env, jobject self, jint flags)
{
	(void)env;
	(void)self;
	SAVE(epoll_create1(flags));
}

FN(jint, epoll_1ctl)(JNIEnv *env, jobject self, jint epfd, jint op, jint fd, jlong event)
{
	(void)env;
	(void)self;
	SAVE(epoll_ctl(epfd, op, fd, PTR(event)));
}

FN(jint, epoll_1wait)(JNIEnv *env, jobject self, jint epfd, jlong events, jint max, jint timeout)
{
	(void)env;
	(void)self;
	SAVE(epoll_wait(epfd, PTR(events), max, timeout));
}

FN(jint, eventfd)(JNIEnv *env, jobject self, jint initval, jint flags)
{
	(void)env;
	(void)self;
	SAVE(eventfd((unsigned int)initval, flags));
}

FN(jlong, read)(JNIEnv *env, jobject self, jint fd, jlong buf, jlong len)
{
	(void)env;
	(void)self;
	SAVE((jlong)read(fd, PTR(buf), (size_t)len));
}

FN(jlong, write)(JNIEnv *env, jobject self, jint fd, jlong buf, jlong len)
{
	(void)env;
	(void)self;
	SAVE((jlong)write(fd, PTR(buf), (size_t)len));
}

FN(jint, open0)(JNIEnv *env, jclass cls, jbyteArray path_bytes, jint flags, jint mode)
{
	(void)cls;
	WITH_PATH(path, open(path, flags, (mode_t)mode));
}

FN(jint, openat0)(JNIEnv *env, jclass cls, jint dirfd, jbyteArray path_bytes, jint flags, jint mode)
{
	(void)cls;
	WITH_PATH(path, openat(dirfd, path, flags, (mode_t)mode));
}

FN(jint, ftruncate)(JNIEnv *env, jobject self, jint fd, jlong length)
{
	(void)env;
	(void)self;
	SAVE(ftruncate(fd, (off_t)length));
}

FN(jint, posix_1fallocate)(JNIEnv *env, jobject self, jint fd, jlong offset, jlong len)
{
	(void)env;
	(void)self;
	SAVE(posix_fallocate(fd, (off_t)offset, (off_t)len));
}

FN(jint, lstat0)(JNIEnv *env, jclass cls, jbyteArray path_bytes, jlong buf)
{
	(void)cls;
	WITH_PATH(path, lstat(path, (struct stat *)(intptr_t)buf));
}

FN(jint, unlink0)(JNIEnv *env, jclass cls, jbyteArray path_bytes)
{
	(void)cls;
	WITH_PATH(path, unlink(path));
}

FN(jint, unlinkat0)(JNIEnv *env, jclass cls, jint dirfd, jbyteArray path_bytes, jint flags)
{
	(void)cls;
	WITH_PATH(path, unlinkat(dirfd, path, flags));
}

FN(jint, rmdir0)(JNIEnv *env, jclass cls, jbyteArray path_bytes)
{
	(void)cls;
	WITH_PATH(path, rmdir(path));
}

FN(jint, mkdir0)(JNIEnv *env, jclass cls, jbyteArray path_bytes, jint mode)
{
	(void)cls;
	WITH_PATH(path, mkdir(path, (mode_t)mode));
}

FN(jlong, mkdtemp)(JNIEnv *env, jobject self, jlong tmpl)
{
	(void)env;
	(void)self;
	SAVE((jlong)(uintptr_t)mkdtemp(PTR(tmpl)));
}

FN(jint, chown0)(JNIEnv *env, jclass cls, jbyteArray path_bytes, jint uid, jint gid)
{
	(void)cls;
	WITH_PATH(path, chown(path, (uid_t)uid, (gid_t)gid));
}

FN(jint, chmod0)(JNIEnv *env, jclass cls, jbyteArray path_bytes, jint mode)
{
	(void)cls;
	WITH_PATH(path, chmod(path, (mode_t)mode));
}

FN(jint, fchown)(JNIEnv *env, jobject self, jint fd, jint uid, jint gid)
{
	(void)env;
	(void)self;
	SAVE(fchown(fd, (uid_t)uid, (gid_t)gid));
}

FN(jint, fchmod)(JNIEnv *env, jobject self, jint fd, jint mode)
{
	(void)env;
	(void)self;
	SAVE(fchmod(fd, (mode_t)mode));
}

FN(jint, getpid)(JNIEnv *env, jobject self)
{
	(void)env;
	(void)self;
	return getpid();
}

FN(jint, getuid)(JNIEnv *env, jobject self)
{
	(void)env;
	(void)self;
	return (jint)getuid();
}

FN(jint, getgid)(JNIEnv *env, jobject self)
{
	(void)env;
	(void)self;
	return (jint)getgid();
}

FN(jint, kill)(JNIEnv *env, jobject self, jint pid, jint sig)
{
	(void)env;
	(void)self;
	SAVE(kill(pid, sig));
}

FN(jlong, syscall6)(JNIEnv *env, jclass cls, jlong nr, jlong a1, jlong a2, jlong a3, jlong a4, jlong a5, jlong a6)
{
	(void)env;
	(void)cls;
	SAVE((jlong)syscall((long)nr, (long)a1, (long)a2, (long)a3, (long)a4, (long)a5, (long)a6));
}

FN(jlong, syscall5)(JNIEnv *env, jclass cls, jlong nr, jlong a1, jlong a2, jlong a3, jlong a4, jlong a5)
{
	(void)env;
	(void)cls;
	SAVE((jlong)syscall((long)nr, (long)a1, (long)a2, (long)a3, (long)a4, (long)a5));
}
