/*
 * qbn-floor: the hardware floor of a shared-memory echo round trip.
 *
 *   qbn-floor [--size B=64] [--count N=100000] [--warmup N=20000]
 *             [--client-cpu C=1] [--server-cpu C=0] [--no-pause] [--offset B=0]
 *             [--layout plain|jqb] [--java-locks] [--max-msg-size N] [--series W]
 *
 * Two processes (fork) share one anonymous MAP_SHARED mapping and busy-spin, each pinned to its CPU:
 *
 *   client: memcpy(request area <- private buffer, size); request sequence = i (release store);
 *           spin until response sequence == i (acquire); memcpy(private buffer <- response area, size)
 *   server: spin until request sequence == i (acquire); memcpy(response area <- request area, size);
 *           response sequence = i (release store)
 *
 * That is the least any shared-memory echo can do: the payload crosses once each way, and each way one
 * sequence-number cache line changes owner. No ring bookkeeping, no semaphore, no headers: jqb's spin mode
 * (`bin/jqb echo-server --wait spin` + `bin/jqb bench --wait spin`) is compared with this in bench-compare.
 *
 * Layout of the mapping (every field on its own 128-byte block, i.e. its own pair of 64-byte lines, so that
 * the adjacent-line prefetcher does not couple them):
 *
 *   +0      request sequence  (written by the client, read by the server)
 *   +128    response sequence (written by the server, read by the client)
 *   +256    request area  [size bytes, rounded up to 128]
 *   +256+R  response area [size bytes]
 *
 * Output: the line of `qbn-client bench` / `bin/jqb bench` (client-side RTT of each round trip, timed one by one
 * with CLOCK_MONOTONIC; percentiles = sorted[q * count]):
 *   size=S count=N p50_ns=.. p99_ns=.. p999_ns=.. msgs_per_s=.. MB_per_s=..
 *
 * --offset B starts both payload areas B bytes past a 128-byte boundary (a libqb ring chunk's payload starts 8
 * bytes after a 4-byte-aligned chunk header, so it is rarely cache-line aligned): what misalignment costs.
 *
 * --layout jqb: the same echo through a libqb-compatible ring pair, moved exactly as two spinning jqb ends move it
 * today (`jqb bench --wait spin` <-> `jqb echo-server --wait spin`, both ends said "JQB2": write_pt detection, see
 * docs/DESIGN.md and ShmRing): the lower bound of any implementation of libqb's wire layout on this machine.
 * Two rings (request, response), each a header (its own mapping, libqb's struct qb_ringbuffer_shared_s offsets:
 * write_pt @0, read_pt @4 on line H0; ref_count @8204, sem_t @8208, flow control @8240, jqb's reader-mode flag
 * @8244 on line H1) and a data area of roundup(max_msg_size + 13, 4096) bytes mapped twice back to back, with
 * max_msg_size = max(size + 40, 12328): `jqb bench` asks for size + 40, and a jqb or libqb client asks for at least
 * sizeof(struct qb_ipc_connection_response) = 12328, so up to 12 KiB payloads the rings' data areas are 16 KiB
 * (--max-msg-size N sets another, e.g. size + 40: the 8 KiB rings of a 4 KiB message, which are faster here; see the
 * performance notes, "Spin mode: the 4 KiB gap"). Chunks at libqb's 4-byte positions: length @0, magic @4, message
 * @8: the request is a 16-byte qb_ipc_request_header + payload, the response a 24-byte response header + payload.
 * Every word is in the host's byte order (little-endian on x86, as libqb's native peers and jqb write them).
 * Per message, in jqb's order (ShmRing.claimCached / commit / readDetected / readChunk / validChunk / reclaim):
 *
 *   writer: reads ref_count, flow control, the semaphore word (ShmClientChannel.checkSendable, shouldHold; client
 *           only); claims from its own write_pt and a cached read_pt (reads read_pt only when that says "no room");
 *           length 0, ALLOCATED (release); copies the message; length; one locked add on the 64-bit word
 *           write_pt|read_pt (brings read_pt back); COMMITTED (release); a full fence (Java's fullFence:
 *           lock addl on the stack); reads the reader-mode flag (2 = spinning: no post, no doorbell)
 *   reader: spins reading the semaphore word, read_pt, write_pt (and the magic once they differ); then read_pt,
 *           write_pt, the magic (acquire), the length, every check jqb makes; one memcpy of the whole message
 *           (client: into its buffer; server: the payload straight into the response chunk, as EchoHandler does);
 *           read_pt = next chunk (release) after the response is committed
 *
 * No semaphore post, no doorbell byte, no system call: both ends spin, as in jqb. --java-locks adds the locked
 * instructions of jqb's API on private lines in the same places: the client's ReentrantLocks (send, recv: a CAS in,
 * a volatile store + fence out) and its waiting counter (two locked adds per receive that waits), the server's
 * responseLock monitor (a CAS in, a CAS out), to split the gap between the layout and the Java path.
 *
 * Spinning waits use the PAUSE instruction (as Java's Thread.onSpinWait does) unless --no-pause. A wait that
 * lasts more than 10 s ends the run with an error (a peer that is not running, e.g. two processes on one CPU
 * that never get scheduled in time); the server dies with its parent (PR_SET_PDEATHSIG).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "qbn_common.h"

#define BLOCK        128
#define STALL_NS     10000000000ull  /* 10 s */
#define CHECK_EVERY  (1u << 16)      /* spins between clock reads while waiting */

static int use_pause = 1;

static inline void barrier(void)
{
	__asm__ __volatile__("" ::: "memory");
}

static void die(const char *what)
{
	fprintf(stderr, "qbn-floor: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	if (use_pause) {
		__builtin_ia32_pause();
	}
#elif defined(__aarch64__)
	if (use_pause) {
		__asm__ __volatile__("yield" ::: "memory");
	}
#endif
}

/* Spin until *seq == want; 0 on success, -1 after STALL_NS. */
static int wait_for(const uint64_t *seq, uint64_t want)
{
	uint32_t spins = 0;
	uint64_t deadline = 0;

	while (__atomic_load_n(seq, __ATOMIC_ACQUIRE) != want) {
		cpu_relax();
		if (++spins % CHECK_EVERY == 0) {
			uint64_t t = qbn_now_ns();

			if (deadline == 0) {
				deadline = t + STALL_NS;
			} else if (t > deadline) {
				return -1;
			}
		}
	}
	return 0;
}

static void pin(long cpu, const char *who)
{
	cpu_set_t set;

	if (cpu < 0) {
		return;
	}
	CPU_ZERO(&set);
	CPU_SET((int)cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) != 0) {
		fprintf(stderr, "qbn-floor: pinning the %s to CPU %ld: %s\n", who, cpu, strerror(errno));
		exit(1);
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a;
	uint64_t y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t percentile(const uint64_t *sorted, size_t n, double q)
{
	size_t idx = (size_t)(q * (double)n);

	return sorted[idx >= n ? n - 1 : idx];
}

/* Sorts the round-trip times and prints the line bench prints. */
/*
 * Forks the server side: in the child (return 0) it dies with the client (PR_SET_PDEATHSIG) and runs pinned to
 * server_cpu; the parent gets the child's pid.
 */
static pid_t fork_server(long server_cpu)
{
	pid_t parent = getpid();
	pid_t server = fork();

	if (server < 0) {
		die("fork");
	}
	if (server == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent) {
			_exit(1);
		}
		pin(server_cpu, "server");
	}
	return server;
}

/* Waits for the server child (killed first when the client failed); returns 0 when the run succeeded on both sides. */
static int reap_server(pid_t server, int failed)
{
	int status = 0;

	if (failed) {
		kill(server, SIGKILL);
	}
	if (waitpid(server, &status, 0) < 0) {
		die("waitpid");
	}
	if (failed || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "qbn-floor: the run failed\n");
		return 1;
	}
	return 0;
}

/* --series W: the timed round trips in W equal windows, in order (0: no series line). */
static long series_windows;

/*
 * With --series W, prints "series MS:P50 ..." first: each window's start (milliseconds since the first timed round
 * trip, from the sum of the round trips before it) and the median of its round trips (ns), so that one pair's level
 * can be followed through its life (benchmarks/spin-levels.sh). Then sorts the round-trip times and prints the line
 * bench prints, over all of them.
 */
static void report(uint64_t *rtt, long size, long count, uint64_t elapsed_ns)
{
	if (series_windows > 0 && count / series_windows > 0) {
		long per = count / series_windows;
		uint64_t at = 0;

		printf("series");
		for (long w = 0; w < series_windows; w++) {
			uint64_t *win = rtt + w * per;
			uint64_t start = at;

			for (long i = 0; i < per; i++) {
				at += win[i];
			}
			qsort(win, (size_t)per, sizeof(*win), cmp_u64);
			printf(" %llu:%llu", (unsigned long long)(start / 1000000), (unsigned long long)win[per / 2]);
		}
		printf("\n");
	}
	qsort(rtt, (size_t)count, sizeof(*rtt), cmp_u64);

	double rate = (double)count / ((double)elapsed_ns / 1e9);

	printf("size=%ld count=%ld p50_ns=%llu p99_ns=%llu p999_ns=%llu msgs_per_s=%.0f MB_per_s=%.2f\n",
	       size, count,
	       (unsigned long long)percentile(rtt, (size_t)count, 0.50),
	       (unsigned long long)percentile(rtt, (size_t)count, 0.99),
	       (unsigned long long)percentile(rtt, (size_t)count, 0.999),
	       rate, rate * (double)size / 1e6);
	fflush(stdout);
}

/* ------------------------------------------------------------------------------------------ --layout jqb */

/* libqb's struct qb_ringbuffer_shared_s and chunk layout (jqb: RingHeaderDescriptor, ChunkDescriptor). */
#define RB_WRITE_PT      0
#define RB_READ_PT       4
#define RB_REF_COUNT     8204
#define RB_SEM           8208
#define RB_USER_DATA     8240
#define RB_READER_MODE   8244
#define RB_HEADER_MAP    12288 /* the 8252-byte header file, mapped in whole pages */
#define READER_SPINNING  2
#define MAGIC_ALLOCATED  0xA110CED0u
#define MAGIC_COMMITTED  0xA1A1A1A1u
#define CHUNK_MARGIN     12
#define DATA_SLACK       13
#define REQ_HEADER       16
#define RES_HEADER       24
#define MSG_SIZE_FIELD   8
#define HOLD_AT          16 /* ShmClientChannel.HOLD_AT: the semaphore value compared in shouldHold */
/*
 * sizeof(struct qb_ipc_connection_response): a libqb client asks for at least this buffer size (ipcc.c:
 * QB_MAX(max_msg_size, sizeof(struct qb_ipc_connection_response))), and so does jqb's (ClientHandshake.MIN_BUFFER_SIZE).
 */
#define CONNECTION_RESPONSE 12328

struct ring {
	uint8_t *hdr;
	uint8_t *data;     /* 2 * bytes: the data area mapped twice back to back */
	uint32_t words;    /* W */
	uint32_t bytes;
	/* writer-private (each process writes one ring): ShmRing.writePos, cachedReadPt, writerPrimed, claimed */
	uint32_t write_pos;
	uint32_t cached_read_pt;
	int primed;
};

/* HotSpot's fence on x86 (VarHandle.fullFence, the store of a volatile field): a locked add on the stack. */
static inline void java_full_fence(void)
{
#if defined(__x86_64__)
	__asm__ __volatile__("lock; addl $0,-64(%%rsp)" ::: "memory", "cc");
#else
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
}

static inline uint32_t ld(const uint8_t *p)
{
	return __atomic_load_n((const uint32_t *)p, __ATOMIC_ACQUIRE);
}

static inline void st_rel(uint8_t *p, uint32_t v)
{
	__atomic_store_n((uint32_t *)p, v, __ATOMIC_RELEASE);
}

static inline void st(uint8_t *p, uint32_t v)
{
	*(volatile uint32_t *)p = v;
}

/* --java-locks: jqb's API locks on a private line. A ReentrantLock: CAS in; volatile store (+ fence) out. */
static inline void lock_in(uint32_t *w)
{
	uint32_t expect = 0;

	if (!__atomic_compare_exchange_n(w, &expect, 1, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
		abort(); /* single-threaded: never contended */
	}
}

static inline void reentrant_out(uint32_t *w)
{
	__atomic_store_n(w, 0, __ATOMIC_RELAXED);
	java_full_fence();
}

/* A thin monitor (synchronized, no biased locking since JDK 15): CAS in, CAS out. */
static inline void monitor_out(uint32_t *w)
{
	uint32_t expect = 1;

	if (!__atomic_compare_exchange_n(w, &expect, 0, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
		abort();
	}
}

static void ring_map(struct ring *r, uint32_t bytes)
{
	int fd = (int)syscall(SYS_memfd_create, "qbn-floor-ring", 0);
	uint8_t *region;

	if (fd < 0) {
		die("memfd_create");
	}
	if (ftruncate(fd, bytes) != 0) {
		die("ftruncate");
	}
	region = mmap(NULL, 2 * (size_t)bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (region == MAP_FAILED
	    || mmap(region, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) == MAP_FAILED
	    || mmap(region + bytes, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) == MAP_FAILED) {
		die("mmap (ring data)");
	}
	close(fd);
	r->hdr = mmap(NULL, RB_HEADER_MAP, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (r->hdr == MAP_FAILED) {
		die("mmap (ring header)");
	}
	memset(r->hdr, 0, RB_HEADER_MAP);
	memset(region, 0, bytes); /* fault every page in before either side starts timing */
	r->data = region;
	r->bytes = bytes;
	r->words = bytes / 4;
	*(uint32_t *)(r->hdr + RB_REF_COUNT) = 2; /* server and client hold it */
	r->primed = 0;
}

static inline uint32_t free_words(uint32_t w, uint32_t r, uint32_t n)
{
	return w > r ? r - w + n - 1 : w < r ? r - w - 1 : n;
}

static inline uint32_t chunk_words(uint32_t len)
{
	return 2 + (len + 3) / 4;
}

/* ShmRing.claimCached: the payload's byte offset, -1 when there is no room (WOULD_BLOCK), -2 when corrupt. */
static inline long ring_claim(struct ring *r, uint32_t len)
{
	const uint32_t n = r->words;
	uint32_t w;

	if (!r->primed) {
		uint32_t ww = ld(r->hdr + RB_WRITE_PT), rr = ld(r->hdr + RB_READ_PT);

		if (ww >= n || rr >= n) {
			return -2;
		}
		r->write_pos = ww;
		r->cached_read_pt = rr;
		r->primed = 1;
	}
	w = r->write_pos;
	if ((uint64_t)free_words(w, r->cached_read_pt, n) * 4 < (uint64_t)len + CHUNK_MARGIN) {
		uint32_t rr = ld(r->hdr + RB_READ_PT);

		if (rr >= n) {
			return -2;
		}
		r->cached_read_pt = rr;
		if ((uint64_t)free_words(w, rr, n) * 4 < (uint64_t)len + CHUNK_MARGIN) {
			return -1;
		}
	}
	st(r->data + 4 * w, 0);
	st_rel(r->data + 4 * ((w + 1) % n), MAGIC_ALLOCATED);
	return 4 * (long)((w + 2) % n);
}

/* ShmRing.commit with detection: 0, or -1 when write_pt was not ours or the reader does not spin. */
static inline int ring_commit(struct ring *r, uint32_t len)
{
	const uint32_t n = r->words, w = r->write_pos, next = (w + chunk_words(len)) % n;
	uint64_t old;

	st(r->data + 4 * w, len);
	old = __atomic_fetch_add((uint64_t *)(r->hdr + RB_WRITE_PT), (uint64_t)next - w, __ATOMIC_SEQ_CST);
	if ((uint32_t)old != w || (uint32_t)(old >> 32) >= n) {
		return -1;
	}
	r->write_pos = next;
	r->cached_read_pt = (uint32_t)(old >> 32);
	st_rel(r->data + 4 * ((w + 1) % n), MAGIC_COMMITTED);
	java_full_fence();
	/* READER_SPINNING: no post, no doorbell; anything else would need the semaphore this floor does not model */
	return ld(r->hdr + RB_READER_MODE) == READER_SPINNING ? 0 : -1;
}

/*
 * ShmRing.readDetected's look (semaphore word, then chunkAt: read_pt, write_pt, the magic) and, when a chunk is
 * there, readChunk/validChunk: the payload's byte offset and *len, or -1 (nothing yet), or -2 (corrupt).
 */
static inline long ring_poll(struct ring *r, uint32_t *len, uint32_t *at)
{
	const uint32_t n = r->words;
	uint32_t p, w, l, used;

	if (ld(r->hdr + RB_SEM) != 0) {
		return -2; /* nobody posts in this floor */
	}
	p = ld(r->hdr + RB_READ_PT);
	w = ld(r->hdr + RB_WRITE_PT);
	if (w == p) {
		return -1;
	}
	if (p < n && ld(r->data + 4 * ((p + 1) % n)) == MAGIC_ALLOCATED) {
		return -1;
	}
	/* readChunk -> validChunk */
	p = ld(r->hdr + RB_READ_PT);
	w = ld(r->hdr + RB_WRITE_PT);
	if (p >= n || w >= n || ld(r->data + 4 * ((p + 1) % n)) != MAGIC_COMMITTED) {
		return -2;
	}
	l = *(volatile uint32_t *)(r->data + 4 * p);
	if (l > r->bytes - DATA_SLACK) {
		return -2;
	}
	used = w > p ? w - p : w - p + n;
	if (chunk_words(l) > used) {
		return -2;
	}
	*len = l;
	*at = p;
	return 4 * (long)((p + 2) % n);
}

/* ShmRing.reclaim with detection: only read_pt (release); the chunk header stays. */
static inline void ring_reclaim(struct ring *r, uint32_t p, uint32_t len)
{
	st_rel(r->hdr + RB_READ_PT, (p + chunk_words(len)) % r->words);
}

struct spin {
	uint32_t spins;
	uint64_t deadline;
};

/* One pause; 0 while waiting may go on, -1 after STALL_NS (checked every CHECK_EVERY spins, as wait_for). */
static inline int spin_once(struct spin *s)
{
	cpu_relax();
	if (++s->spins % CHECK_EVERY == 0) {
		uint64_t t = qbn_now_ns();

		if (s->deadline == 0) {
			s->deadline = t + STALL_NS;
		} else if (t > s->deadline) {
			return -1;
		}
	}
	return 0;
}

/* The server: EventLoop.runSpinning -> ShmServerChannel.pollRequests -> EchoHandler -> sendResponse. */
static int jqb_server(struct ring *req, struct ring *res, long total, int java_locks)
{
	uint32_t *response_lock = aligned_alloc(BLOCK, BLOCK);
	uint8_t header[RES_HEADER];

	if (response_lock == NULL) {
		return 1;
	}
	*response_lock = 0;
	st_rel(req->hdr + RB_READER_MODE, READER_SPINNING);
	java_full_fence(); /* setConsumerAwake: a volatile store */
	for (long i = 1; i <= total; i++) {
		struct spin s = { 0, 0 };
		uint32_t len, p;
		long off;

		while ((off = ring_poll(req, &len, &p)) == -1) {
			if (spin_once(&s) != 0) {
				fprintf(stderr, "qbn-floor: server: no request #%ld for 10 s\n", i);
				return 1;
			}
		}
		if (off < 0) {
			fprintf(stderr, "qbn-floor: server: corrupt request ring at #%ld\n", i);
			return 1;
		}
		/* MessageHeaderDescriptor.requestSize, then EchoHandler: the id, the answer's header */
		uint32_t size = *(volatile uint32_t *)(req->data + off + MSG_SIZE_FIELD);
		uint32_t n = size - REQ_HEADER;

		if (len < REQ_HEADER || size < REQ_HEADER || size > len
		    || *(volatile uint32_t *)(req->data + off) != 1) {
			fprintf(stderr, "qbn-floor: server: bad request #%ld\n", i);
			return 1;
		}
		memset(header, 0, sizeof(header));
		*(uint32_t *)header = 1;
		*(uint32_t *)(header + MSG_SIZE_FIELD) = RES_HEADER + n;
		if (java_locks) {
			lock_in(response_lock);
		}
		long roff = ring_claim(res, RES_HEADER + n);

		if (roff < 0) {
			fprintf(stderr, "qbn-floor: server: response ring full at #%ld\n", i);
			return 1;
		}
		memcpy(res->data + roff, header, RES_HEADER);
		memcpy(res->data + roff + RES_HEADER, req->data + off + REQ_HEADER, n);
		if (ring_commit(res, RES_HEADER + n) != 0) {
			fprintf(stderr, "qbn-floor: server: response commit failed at #%ld\n", i);
			return 1;
		}
		if (java_locks) {
			monitor_out(response_lock);
		}
		ring_reclaim(req, p, len);
	}
	free(response_lock);
	return 0;
}

/* The client: Client.send -> ShmClientChannel.send; Client.recv -> recvDetected -> spinDetected. */
static int jqb_round_trip(struct ring *req, struct ring *res, const uint8_t *msg, uint32_t msg_len, uint8_t *dst,
			  uint32_t dst_len, uint32_t *locks, int java_locks)
{
	struct spin s = { 0, 0 };
	uint32_t len, p;
	long off;

	if (java_locks) {
		lock_in(&locks[0]); /* sendLock */
	}
	if (ld(req->hdr + RB_REF_COUNT) != 2 || ld(req->hdr + RB_USER_DATA) != 0
	    || ld(req->hdr + RB_SEM) >= HOLD_AT) { /* checkSendable, shouldHold */
		return -1;
	}
	/*
	 * A request that does not fit yet (4 KiB: the ring holds one; the server frees the request's chunk just after
	 * committing its response, so the client can be that fast): retried, as `jqb bench` (sendPatiently) does.
	 */
	while ((off = ring_claim(req, msg_len)) == -1) {
		if (spin_once(&s) != 0) {
			return -1;
		}
	}
	if (off < 0) {
		return -1;
	}
	memcpy(req->data + off, msg, msg_len);
	if (ring_commit(req, msg_len) != 0) {
		return -1;
	}
	(void)ld(req->hdr + RB_READER_MODE); /* doorbell(): the flag once more */
	if (java_locks) {
		reentrant_out(&locks[0]);
		lock_in(&locks[32]); /* recvLock, on its own line */
	}
	off = ring_poll(res, &len, &p);
	if (off == -1) {
		if (java_locks) {
			__atomic_fetch_add(&locks[64], 1, __ATOMIC_SEQ_CST); /* beginWait */
		}
		while ((off = ring_poll(res, &len, &p)) == -1) {
			if (spin_once(&s) != 0) {
				return -1;
			}
		}
		if (java_locks) {
			__atomic_fetch_sub(&locks[64], 1, __ATOMIC_SEQ_CST); /* endWait */
		}
	}
	if (off < 0 || len > dst_len) {
		return -1;
	}
	memcpy(dst, res->data + off, len);
	ring_reclaim(res, p, len);
	if (java_locks) {
		reentrant_out(&locks[32]);
	}
	return (int)len;
}

static int run_jqb_layout(long size, long count, long warmup, long client_cpu, long server_cpu, int java_locks,
			  long max_msg_size)
{
	const uint32_t max_msg = (uint32_t)max_msg_size;
	const uint32_t bytes = (max_msg + DATA_SLACK + 4095) / 4096 * 4096;
	const uint32_t msg_len = REQ_HEADER + (uint32_t)size;
	struct ring req, res;
	long total = warmup + count;
	pid_t server;

	ring_map(&req, bytes);
	ring_map(&res, bytes);
	server = fork_server(server_cpu);
	if (server == 0) {
		_exit(jqb_server(&req, &res, total, java_locks));
	}

	pin(client_cpu, "client");
	uint8_t *msg = malloc(msg_len);
	uint8_t *dst = malloc(bytes);
	uint32_t *locks = aligned_alloc(BLOCK, 3 * BLOCK);
	uint64_t *rtt = malloc((size_t)count * sizeof(*rtt));

	if (msg == NULL || dst == NULL || locks == NULL || rtt == NULL) {
		fprintf(stderr, "qbn-floor: out of memory\n");
		kill(server, SIGKILL);
		return 1;
	}
	memset(locks, 0, 3 * BLOCK);
	memset(msg, 0, REQ_HEADER);
	*(uint32_t *)msg = 1;                         /* EchoHandler.ECHO */
	*(uint32_t *)(msg + MSG_SIZE_FIELD) = msg_len; /* size: the whole message */
	for (long j = 0; j < size; j++) {
		msg[REQ_HEADER + j] = (uint8_t)(j * 31 + 7);
	}
	st_rel(res.hdr + RB_READER_MODE, READER_SPINNING);
	java_full_fence();
	/* as a client that connects to a loop already spinning: the server's flag is up before the first request */
	struct spin up = { 0, 0 };

	while (ld(req.hdr + RB_READER_MODE) != READER_SPINNING) {
		if (spin_once(&up) != 0) {
			fprintf(stderr, "qbn-floor: client: the server did not start for 10 s\n");
			kill(server, SIGKILL);
			return 1;
		}
	}

	uint64_t t_start = 0;
	int failed = 0;

	for (long i = 1; i <= total; i++) {
		if (i == warmup + 1) {
			t_start = qbn_now_ns();
		}
		if (size >= 4) {
			/* each request carries its number in its first payload word: every answer is checked, untimed */
			memcpy(msg + REQ_HEADER, &(uint32_t){ (uint32_t)i }, 4);
		}
		uint64_t t0 = qbn_now_ns();
		int got = jqb_round_trip(&req, &res, msg, msg_len, dst, bytes, locks, java_locks);

		barrier();
		if (i > warmup && got >= 0) {
			rtt[i - warmup - 1] = qbn_now_ns() - t0;
		}
		if (got != RES_HEADER + size || (size >= 4 && memcmp(dst + RES_HEADER, &(uint32_t){ (uint32_t)i }, 4) != 0)) {
			fprintf(stderr, "qbn-floor: client: round trip #%ld failed (%d, or not its answer)\n", i, got);
			failed = 1;
			break;
		}
	}
	uint64_t t_end = qbn_now_ns();

	if (reap_server(server, failed) != 0) {
		return 1;
	}
	if (*(uint32_t *)(dst + MSG_SIZE_FIELD) != RES_HEADER + size
	    || memcmp(dst + RES_HEADER, msg + REQ_HEADER, (size_t)size) != 0) {
		fprintf(stderr, "qbn-floor: the echoed payload differs from the request\n");
		return 1;
	}
	report(rtt, size, count, t_end - t_start);
	free(rtt);
	free(msg);
	free(dst);
	free(locks);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: qbn-floor [--size B=64] [--count N=100000] [--warmup N=20000]\n"
		   "                 [--client-cpu C=1] [--server-cpu C=0] [--no-pause] [--offset B=0]\n"
		   "                 [--layout plain|jqb] [--java-locks] [--max-msg-size N] [--series W]\n"
		   "  two forked processes echo a payload through shared memory by busy-spinning;\n"
		   "  prints 'size= count= p50_ns= p99_ns= p999_ns= msgs_per_s= MB_per_s=' like qbn-client bench\n"
		   "  (a CPU of -1 leaves that process unpinned)\n"
		   "  --layout jqb: through libqb-compatible rings, as two spinning jqb ends (\"JQB2\") move it;\n"
		   "  --java-locks adds the locked instructions of jqb's API (client send/recv locks, server response lock);\n"
		   "  --max-msg-size N: the rings' agreed size (default max(size + 40, 12328), as a jqb or libqb client gets)\n"
		   "  --series W: first a line 'series MS:P50 ...', the median of each of W equal windows of the timed\n"
		   "  round trips, in order, with its start in ms\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "size", required_argument, NULL, 'z' },
		{ "count", required_argument, NULL, 'c' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "client-cpu", required_argument, NULL, 'C' },
		{ "server-cpu", required_argument, NULL, 'S' },
		{ "no-pause", no_argument, NULL, 'P' },
		{ "offset", required_argument, NULL, 'O' },
		{ "layout", required_argument, NULL, 'L' },
		{ "java-locks", no_argument, NULL, 'J' },
		{ "max-msg-size", required_argument, NULL, 'M' },
		{ "series", required_argument, NULL, 'W' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	long size = 64, count = 100000, warmup = 20000, client_cpu = 1, server_cpu = 0, offset = 0, max_msg_size = 0;
	int opt, jqb_layout = 0, java_locks = 0;

	while ((opt = getopt_long(argc, argv, "z:c:w:C:S:PO:L:JM:W:h", longopts, NULL)) != -1) {
		long *target;

		switch (opt) {
		case 'z': target = &size; break;
		case 'c': target = &count; break;
		case 'w': target = &warmup; break;
		case 'C': target = &client_cpu; break;
		case 'S': target = &server_cpu; break;
		case 'O': target = &offset; break;
		case 'M': target = &max_msg_size; break;
		case 'W': target = &series_windows; break;
		case 'P': use_pause = 0; continue;
		case 'J': java_locks = 1; continue;
		case 'L':
			if (strcmp(optarg, "jqb") == 0) {
				jqb_layout = 1;
			} else if (strcmp(optarg, "plain") != 0) {
				fprintf(stderr, "qbn-floor: --layout is plain or jqb, not '%s'\n", optarg);
				return 2;
			}
			continue;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
		if (strcmp(optarg, "-1") == 0) {
			*target = -1;
		} else if (qbn_parse_long(optarg, target) != 0 || *target < 0) {
			fprintf(stderr, "qbn-floor: bad numeric argument '%s'\n", optarg);
			return 2;
		}
	}
	if (optind != argc || count <= 0 || size > (1L << 30) || offset >= BLOCK) {
		usage(stderr);
		return 2;
	}
	if (jqb_layout) {
		if (offset != 0 || size > (64L << 20)) {
			fprintf(stderr, "qbn-floor: --layout jqb takes no --offset (libqb fixes chunk positions), size <= 64 MiB\n");
			return 2;
		}
		if (max_msg_size == 0) {
			max_msg_size = size + RES_HEADER + REQ_HEADER; /* what `jqb bench` asks for */
		}
		if (max_msg_size < size + RES_HEADER + REQ_HEADER || max_msg_size > (128L << 20)) {
			fprintf(stderr, "qbn-floor: --max-msg-size must hold the response (size + 40) and be <= 128 MiB\n");
			return 2;
		}
		return run_jqb_layout(size, count, warmup, client_cpu, server_cpu, java_locks, max_msg_size);
	}
	if (java_locks || max_msg_size != 0) {
		fprintf(stderr, "qbn-floor: --java-locks and --max-msg-size need --layout jqb\n");
		return 2;
	}

	size_t area = ((size_t)size + (size_t)offset + BLOCK - 1) / BLOCK * BLOCK;
	size_t len = 2 * BLOCK + 2 * (area ? area : BLOCK);
	uint8_t *shm = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (shm == MAP_FAILED) {
		die("mmap");
	}
	memset(shm, 0, len); /* fault every page in before either side starts timing */
	uint64_t *req_seq = (uint64_t *)shm;
	uint64_t *resp_seq = (uint64_t *)(shm + BLOCK);
	uint8_t *req = shm + 2 * BLOCK + offset;
	uint8_t *resp = req + area;
	long total = warmup + count;
	pid_t server = fork_server(server_cpu);

	if (server == 0) {
		for (long i = 1; i <= total; i++) {
			if (wait_for(req_seq, (uint64_t)i) != 0) {
				fprintf(stderr, "qbn-floor: server: no request #%ld for 10 s\n", i);
				_exit(1);
			}
			memcpy(resp, req, (size_t)size);
			barrier();
			__atomic_store_n(resp_seq, (uint64_t)i, __ATOMIC_RELEASE);
		}
		_exit(0);
	}

	pin(client_cpu, "client");
	uint8_t *src = malloc(area ? area : 1);
	uint8_t *dst = malloc(area ? area : 1);
	uint64_t *rtt = malloc((size_t)count * sizeof(*rtt));

	if (src == NULL || dst == NULL || rtt == NULL) {
		fprintf(stderr, "qbn-floor: out of memory\n");
		kill(server, SIGKILL);
		return 1;
	}
	for (long j = 0; j < size; j++) {
		src[j] = (uint8_t)(j * 31 + 7);
	}
	memset(dst, 0, area ? area : 1);

	uint64_t t_start = 0;
	int failed = 0;

	for (long i = 1; i <= total; i++) {
		if (i == warmup + 1) {
			t_start = qbn_now_ns();
		}
		uint64_t t0 = qbn_now_ns();

		memcpy(req, src, (size_t)size);
		__atomic_store_n(req_seq, (uint64_t)i, __ATOMIC_RELEASE);
		if (wait_for(resp_seq, (uint64_t)i) != 0) {
			fprintf(stderr, "qbn-floor: client: no response #%ld for 10 s\n", i);
			failed = 1;
			break;
		}
		memcpy(dst, resp, (size_t)size);
		barrier(); /* the copy counts as used: the compiler may not drop or sink it */
		if (i > warmup) {
			rtt[i - warmup - 1] = qbn_now_ns() - t0;
		}
	}
	uint64_t t_end = qbn_now_ns();

	if (reap_server(server, failed) != 0) {
		return 1;
	}
	if (size > 0 && memcmp(dst, src, (size_t)size) != 0) {
		fprintf(stderr, "qbn-floor: the echoed payload differs from the request\n");
		return 1;
	}
	report(rtt, size, count, t_end - t_start);
	free(rtt);
	free(src);
	free(dst);
	munmap(shm, len);
	return 0;
}
