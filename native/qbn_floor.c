/*
 * qbn-floor: the hardware floor of a shared-memory echo round trip.
 *
 *   qbn-floor [--size B=64] [--count N=100000] [--warmup N=20000]
 *             [--client-cpu C=1] [--server-cpu C=0] [--no-pause] [--offset B=0]
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
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BLOCK        128
#define STALL_NS     10000000000ull  /* 10 s */
#define CHECK_EVERY  (1u << 16)      /* spins between clock reads while waiting */

static int use_pause = 1;

static inline void barrier(void)
{
	__asm__ __volatile__("" ::: "memory");
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
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
			uint64_t t = now_ns();

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

static int parse_long(const char *s, long *out)
{
	char *end = NULL;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 0) {
		return -1;
	}
	*out = v;
	return 0;
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

static void usage(FILE *f)
{
	fprintf(f, "usage: qbn-floor [--size B=64] [--count N=100000] [--warmup N=20000]\n"
		   "                 [--client-cpu C=1] [--server-cpu C=0] [--no-pause] [--offset B=0]\n"
		   "  two forked processes echo a payload through shared memory by busy-spinning;\n"
		   "  prints 'size= count= p50_ns= p99_ns= p999_ns= msgs_per_s= MB_per_s=' like qbn-client bench\n"
		   "  (a CPU of -1 leaves that process unpinned)\n");
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
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	long size = 64, count = 100000, warmup = 20000, client_cpu = 1, server_cpu = 0, offset = 0;
	int opt;

	while ((opt = getopt_long(argc, argv, "z:c:w:C:S:PO:h", longopts, NULL)) != -1) {
		long *target;

		switch (opt) {
		case 'z': target = &size; break;
		case 'c': target = &count; break;
		case 'w': target = &warmup; break;
		case 'C': target = &client_cpu; break;
		case 'S': target = &server_cpu; break;
		case 'O': target = &offset; break;
		case 'P': use_pause = 0; continue;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
		if (strcmp(optarg, "-1") == 0) {
			*target = -1;
		} else if (parse_long(optarg, target) != 0) {
			fprintf(stderr, "qbn-floor: bad numeric argument '%s'\n", optarg);
			return 2;
		}
	}
	if (optind != argc || count <= 0 || size > (1L << 30) || offset >= BLOCK) {
		usage(stderr);
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
			t_start = now_ns();
		}
		uint64_t t0 = now_ns();

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
			rtt[i - warmup - 1] = now_ns() - t0;
		}
	}
	uint64_t t_end = now_ns();
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
	if (size > 0 && memcmp(dst, src, (size_t)size) != 0) {
		fprintf(stderr, "qbn-floor: the echoed payload differs from the request\n");
		return 1;
	}
	qsort(rtt, (size_t)count, sizeof(*rtt), cmp_u64);

	double rate = (double)count / ((double)(t_end - t_start) / 1e9);

	printf("size=%ld count=%ld p50_ns=%llu p99_ns=%llu p999_ns=%llu msgs_per_s=%.0f MB_per_s=%.2f\n",
	       size, count,
	       (unsigned long long)percentile(rtt, (size_t)count, 0.50),
	       (unsigned long long)percentile(rtt, (size_t)count, 0.99),
	       (unsigned long long)percentile(rtt, (size_t)count, 0.999),
	       rate, rate * (double)size / 1e6);
	fflush(stdout);
	free(rtt);
	free(src);
	free(dst);
	munmap(shm, len);
	return 0;
}
