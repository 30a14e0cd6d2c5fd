/*
 * libjqbguard: atomic read-modify-writes on shared memory a peer may truncate, without killing the JVM.
 *
 * A client that owns a mapped ring file can ftruncate it; every later access to the vanished pages raises SIGBUS.
 * HotSpot turns SIGBUS in Unsafe loads, stores and copies into an InternalError, but an interpreted Unsafe
 * compare-and-set runs in VM code without that guard: there SIGBUS is a fatal error (issue 10, item 4). These
 * functions do the compare-and-sets in C under a per-thread sigsetjmp guard; a SIGBUS handler installed in front of
 * HotSpot's siglongjmps back when the guard is set and chains to HotSpot's handler otherwise (HotSpot's own uses of
 * SIGBUS are untouched). A fault is a return code, at once, in the caller's thread.
 *
 * Registered ranges (the rings' mappings, Guard.register): a SIGBUS at an address inside one is repaired where it
 * happens instead: the handler maps a private zero page over the vanished page (MAP_FIXED), sets the range's fault
 * flag and returns, so the faulting instruction runs again and succeeds on the zero page. Nothing is left pending in
 * HotSpot (no late InternalError in unrelated code), interpreted and compiled code alike, and the Java side can use
 * plain Unsafe loads and compare-and-sets on the rings and read the flag (one load from private memory) where it
 * used to ask the kernel or this library whether the pages are still there.
 *
 * JNI, class io.jqb.internal.posix.Guard. glibc's 64-bit sem_t word: value in the low 32 bits, waiters above.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <jni.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define SEM_VALUE_MAX 0x7fffffff

static struct sigaction previous;
/* initial-exec: no allocation on first access, so the handler may read it in any thread */
static __thread sigjmp_buf *volatile guard __attribute__((tls_model("initial-exec")));

/*
 * The registry of repairable ranges. A slot is free when start is 0, being filled when start is 1 (BUSY); the handler
 * only uses slots whose start is > 1. Seqlock-style: register writes end and flag, then publishes start (release);
 * the handler reads start (acquire), then end and flag, then start again, and uses the slot only when it did not
 * change. Unregister clears only start: end and flag keep values that are harmless to use (flag never NULL, it points
 * at a static dummy until a slot is first registered), then waits until no handler is inside repair() (`repairing`),
 * so once it returns no handler can still hold the slot's old start, end or flag: the caller may unmap the range and
 * free the flag, and no handler maps a zero page over what is mapped there next or writes the freed flag.
 */
#define RANGES 65536
#define BUSY ((uintptr_t)1)
struct range {
	uintptr_t start;
	uintptr_t end;
	int32_t *flag;
};
static int32_t dummy_flag;
static struct range ranges[RANGES];
static int used;      /* slots [0, used) may be taken: the handler scans only those */
static int in_use;    /* slots registered now (Guard.slotsInUse) */
static int repairing; /* handlers inside repair() now: unregister waits for 0 */
static uintptr_t page_mask;
static size_t page_size;

/* 1 when addr lay in a registered range and its page is now a private zero page */
static int repair(uintptr_t addr)
{
	int n = __atomic_load_n(&used, __ATOMIC_ACQUIRE);

	for (int i = 0; i < n; i++) {
		uintptr_t s = __atomic_load_n(&ranges[i].start, __ATOMIC_SEQ_CST);
		uintptr_t e;
		int32_t *f;

		if (s <= BUSY || addr < s) {
			continue;
		}
		e = __atomic_load_n(&ranges[i].end, __ATOMIC_RELAXED);
		f = __atomic_load_n(&ranges[i].flag, __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&ranges[i].start, __ATOMIC_RELAXED) != s || addr >= e || f == NULL) {
			continue; /* changed under us (unregistered, re-registered) or not this range */
		}
		if (mmap((void *)(addr & page_mask), page_size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED) {
			return 0;
		}
		__atomic_store_n(f, 1, __ATOMIC_SEQ_CST);
		return 1;
	}
	return 0;
}

static void on_sigbus(int sig, siginfo_t *info, void *context)
{
	sigjmp_buf *g = guard;
	int saved = errno;

	/* only a mapped file's vanished page (BUS_ADRERR), never a memory error (BUS_MCEERR_*) or alignment fault */
	if (info != NULL && info->si_code == BUS_ADRERR) {
		int repaired;

		/* announced before the first read of the registry: unregister sees it or we see its cleared start */
		__atomic_add_fetch(&repairing, 1, __ATOMIC_SEQ_CST);
		repaired = repair((uintptr_t)info->si_addr);
		__atomic_sub_fetch(&repairing, 1, __ATOMIC_SEQ_CST);
		if (repaired) {
			errno = saved;
			return; /* the faulting instruction runs again, on the zero page */
		}
	}
	errno = saved;

	if (g != NULL) {
		guard = NULL;
		siglongjmp(*g, 1);
	}
	if (previous.sa_flags & SA_SIGINFO) {
		if (previous.sa_sigaction != NULL) {
			previous.sa_sigaction(sig, info, context);
		}
		return;
	}
	if (previous.sa_handler == SIG_IGN) {
		return;
	}
	if (previous.sa_handler == SIG_DFL) {
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	previous.sa_handler(sig);
}

JNIEXPORT jint JNICALL Java_io_jqb_internal_posix_Guard_install(JNIEnv *env, jclass cls)
{
	struct sigaction sa;

	(void)env;
	(void)cls;
	page_size = (size_t)sysconf(_SC_PAGESIZE);
	page_mask = ~((uintptr_t)page_size - 1);
	for (int i = 0; i < RANGES; i++) {
		int32_t *none = NULL;

		/* a slot's flag is never NULL: the dummy until its first registration */
		__atomic_compare_exchange_n(&ranges[i].flag, &none, &dummy_flag, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
	}
	if (sigaction(SIGBUS, NULL, &previous) != 0) {
		return -1;
	}
	if ((previous.sa_flags & SA_SIGINFO) && previous.sa_sigaction == on_sigbus) {
		return 0; /* already installed (a second class loader) */
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigbus;
	sa.sa_mask = previous.sa_mask;
	/* SA_NODEFER: siglongjmp leaves the handler without restoring the mask, so SIGBUS must not be blocked in it */
	sa.sa_flags = (previous.sa_flags | SA_SIGINFO | SA_NODEFER) & ~SA_RESETHAND;
	return sigaction(SIGBUS, &sa, NULL) == 0 ? 0 : -1;
}

/* 1 when swapped, 0 when the word was not `expect`, -1 when the memory is gone */
JNIEXPORT jint JNICALL Java_io_jqb_internal_posix_Guard_casLong(JNIEnv *env, jclass cls, jlong address,
								jlong expect, jlong update)
{
	sigjmp_buf jb;
	volatile uint64_t *p = (volatile uint64_t *)(intptr_t)address;
	uint64_t e = (uint64_t)expect;
	int ok;

	(void)env;
	(void)cls;
	if (sigsetjmp(jb, 0) != 0) {
		return -1;
	}
	guard = &jb;
	ok = __atomic_compare_exchange_n(p, &e, (uint64_t)update, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
	guard = NULL;
	return ok ? 1 : 0;
}

/* sem_post: 1 when a sleeper may need the wake-up (wake one), 0 when not, -2 at SEM_VALUE_MAX, -1 when gone */
JNIEXPORT jint JNICALL Java_io_jqb_internal_posix_Guard_semPost(JNIEnv *env, jclass cls, jlong address)
{
	sigjmp_buf jb;
	volatile uint64_t *p = (volatile uint64_t *)(intptr_t)address;
	uint64_t d;

	(void)env;
	(void)cls;
	if (sigsetjmp(jb, 0) != 0) {
		return -1;
	}
	guard = &jb;
	d = __atomic_load_n(p, __ATOMIC_SEQ_CST);
	for (;;) {
		int32_t v = (int32_t)(uint32_t)d;

		if (v == SEM_VALUE_MAX || v < 0) {
			guard = NULL;
			return -2;
		}
		if (__atomic_compare_exchange_n(p, &d, d + 1, 1, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
			break;
		}
	}
	guard = NULL;
	/* wake as SharedSemaphore.needsWake: not for a single waiter when a token was already there (it is awake),
	 * except every 64th token (bounds the stall of a sleeper left behind by a cancelled glibc waiter) */
	return (d >> 32) > 1 || ((d >> 32) == 1 && ((uint32_t)d & 63) == 0) ? 1 : 0;
}

/* sem_trywait: 1 when a token was taken, 0 when the value is 0, -1 when gone. Any non-zero value counts (glibc). */
JNIEXPORT jint JNICALL Java_io_jqb_internal_posix_Guard_semTryWait(JNIEnv *env, jclass cls, jlong address)
{
	sigjmp_buf jb;
	volatile uint64_t *p = (volatile uint64_t *)(intptr_t)address;
	uint64_t d;

	(void)env;
	(void)cls;
	if (sigsetjmp(jb, 0) != 0) {
		return -1;
	}
	guard = &jb;
	d = __atomic_load_n(p, __ATOMIC_SEQ_CST);
	for (;;) {
		if ((uint32_t)d == 0) {
			guard = NULL;
			return 0;
		}
		if (__atomic_compare_exchange_n(p, &d, d - 1, 1, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
			break;
		}
	}
	guard = NULL;
	return 1;
}

/* atomic add on a 32-bit word: the new value in the low 32 bits, or a value with bit 32 set when gone */
JNIEXPORT jlong JNICALL Java_io_jqb_internal_posix_Guard_addInt(JNIEnv *env, jclass cls, jlong address, jint delta)
{
	sigjmp_buf jb;
	volatile int32_t *p = (volatile int32_t *)(intptr_t)address;
	int32_t v;

	(void)env;
	(void)cls;
	if (sigsetjmp(jb, 0) != 0) {
		return (jlong)1 << 32;
	}
	guard = &jb;
	v = __atomic_add_fetch(p, delta, __ATOMIC_SEQ_CST);
	guard = NULL;
	return (jlong)(uint32_t)v;
}

/* 0 when one byte at each address can be read, -1 when either is gone (a truncated file's last page) */
JNIEXPORT jint JNICALL Java_io_jqb_internal_posix_Guard_probe(JNIEnv *env, jclass cls, jlong a, jlong b)
{
	sigjmp_buf jb;

	(void)env;
	(void)cls;
	if (sigsetjmp(jb, 0) != 0) {
		return -1;
	}
	guard = &jb;
	(void)*(volatile const char *)(intptr_t)a;
	(void)*(volatile const char *)(intptr_t)b;
	guard = NULL;
	return 0;
}

/* registers [start, start + length) as repairable, flag (4 bytes of private memory) set on a repair: slot or -1 */
JNIEXPORT jint JNICALL Java_io_jqb_internal_posix_Guard_register(JNIEnv *env, jclass cls, jlong start, jlong length,
								 jlong flag)
{
	(void)env;
	(void)cls;
	if ((uintptr_t)start <= BUSY || length <= 0 || flag == 0
	    || (uintptr_t)start + (uintptr_t)length < (uintptr_t)start) {
		return -1;
	}
	for (int i = 0; i < RANGES; i++) {
		uintptr_t free_slot = 0;

		if (__atomic_compare_exchange_n(&ranges[i].start, &free_slot, BUSY, 0, __ATOMIC_ACQ_REL,
						__ATOMIC_RELAXED)) {
			int n = __atomic_load_n(&used, __ATOMIC_RELAXED);

			while (n <= i && !__atomic_compare_exchange_n(&used, &n, i + 1, 1, __ATOMIC_ACQ_REL,
								     __ATOMIC_RELAXED)) {
			}
			__atomic_store_n(&ranges[i].end, (uintptr_t)start + (uintptr_t)length, __ATOMIC_RELAXED);
			__atomic_store_n(&ranges[i].flag, (int32_t *)(intptr_t)flag, __ATOMIC_RELAXED);
			__atomic_store_n(&ranges[i].start, (uintptr_t)start, __ATOMIC_SEQ_CST);
			__atomic_add_fetch(&in_use, 1, __ATOMIC_RELAXED);
			return i;
		}
	}
	return -1;
}

/*
 * forgets a slot of register(); call before the range is unmapped and its flag freed. Clears only start (a racing
 * handler's re-check then fails), then waits for handlers already inside repair(): after it returns, none can use
 * the slot's old range or flag. A handler never blocks, so the wait is short.
 */
JNIEXPORT void JNICALL Java_io_jqb_internal_posix_Guard_unregister(JNIEnv *env, jclass cls, jint slot)
{
	uintptr_t s;

	(void)env;
	(void)cls;
	if (slot < 0 || slot >= RANGES) {
		return;
	}
	s = __atomic_load_n(&ranges[slot].start, __ATOMIC_ACQUIRE);
	if (s <= BUSY) {
		return; /* free, or another thread's registration in progress: not a slot the caller holds */
	}
	if (!__atomic_compare_exchange_n(&ranges[slot].start, &s, 0, 0, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) {
		return;
	}
	__atomic_sub_fetch(&in_use, 1, __ATOMIC_RELAXED);
	while (__atomic_load_n(&repairing, __ATOMIC_SEQ_CST) != 0) {
		sched_yield();
	}
}

/* slots registered now: for tests that check that rings give theirs back */
JNIEXPORT jint JNICALL Java_io_jqb_internal_posix_Guard_slotsInUse(JNIEnv *env, jclass cls)
{
	(void)env;
	(void)cls;
	return __atomic_load_n(&in_use, __ATOMIC_RELAXED);
}
