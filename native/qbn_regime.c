/*
 * qbn-regime: which regime this machine's two CPUs are in WHILE something else runs on them.
 *
 *   qbn-regime [--count N=2000] [--period-ms P=20] [--bursts B=0] [--client-cpu C=1] [--server-cpu C=0] [--series]
 *
 * On this project's KVM guest (2 vCPUs, AMD EPYC host) the cost of moving a cache line from one vCPU to the other has
 * levels that change from one second to the next, and within one run: a plain shared-memory ping-pong takes ≈ 0.08 µs
 * (fast: apparently both vCPUs on one host core's caches), ≈ 0.12-0.14 µs (normal) or ≈ 0.5-0.6 µs (slow) per round
 * trip. A spinning jqb pair moves with it (≈ 0.33 / ≈ 1.1 µs at 64 B: the "1 µs level", see the performance notes).
 * To say which level a benchmark ran in, the level has to be measured during that benchmark, on the same CPUs, without
 * letting the vCPUs go idle (an idle vCPU is where the host may move it). So this probe runs at SCHED_FIFO priority:
 * every P ms its two processes (a fork, one pinned per CPU) preempt whatever runs there for one burst of N round
 * trips of a plain ping-pong (one sequence line each way, as qbn-floor's plain floor without the payload), then sleep;
 * the server side waits for the next burst on a futex. The bench that shares the CPUs loses ≈ N x 0.12-0.6 µs per
 * period (≈ 1-5 % of its time at the defaults; one of its round trips per burst is delayed by the burst).
 *
 * Until SIGTERM/SIGINT (or B bursts), then prints one line:
 *   regime=n bursts=.. fast=.. normal=.. slow=.. p50_ns=..
 * the level most bursts were in (f, n, s; "mixed" when no level has 80 % of the bursts), the bursts per level
 * (a burst's median round trip: < 100 ns fast, < 300 ns normal, else slow) and the median of the bursts' medians.
 * --series first prints "series EPOCH_MS:P50 ..." (each burst's CLOCK_REALTIME start and median), to line bursts up
 * with another program's time line (benchmarks/spin-levels.sh, PROBE=1).
 *
 * Needs CAP_SYS_NICE (root) for SCHED_FIFO; without it it exits 2 (it would measure nothing while a spinning peer has
 * the CPU). Linux only. The server child dies with the parent (PR_SET_PDEATHSIG).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LINE 128 /* each word on its own pair of lines (the adjacent-line prefetcher) */
#define FAST_NS 100
#define SLOW_NS 300

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t now_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a;
	uint64_t y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static long futex(volatile uint32_t *addr, int op, uint32_t val)
{
	return syscall(SYS_futex, addr, op, val, NULL, NULL, 0);
}

/* Pins the caller to cpu and makes it SCHED_FIFO; exits 2 when either fails. */
static void pin_fifo(long cpu, const char *who)
{
	cpu_set_t set;
	struct sched_param prio = { .sched_priority = 50 };

	CPU_ZERO(&set);
	CPU_SET((int)cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) != 0) {
		fprintf(stderr, "qbn-regime: pinning the %s to CPU %ld: %s\n", who, cpu, strerror(errno));
		exit(2);
	}
	if (sched_setscheduler(0, SCHED_FIFO, &prio) != 0) {
		fprintf(stderr, "qbn-regime: SCHED_FIFO for the %s: %s (needs CAP_SYS_NICE)\n", who, strerror(errno));
		exit(2);
	}
}

static void spin_until(volatile uint64_t *word, uint64_t want)
{
	while (__atomic_load_n(word, __ATOMIC_ACQUIRE) != want) {
		__builtin_ia32_pause();
	}
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "count", required_argument, NULL, 'c' },
		{ "period-ms", required_argument, NULL, 'p' },
		{ "bursts", required_argument, NULL, 'b' },
		{ "client-cpu", required_argument, NULL, 'C' },
		{ "server-cpu", required_argument, NULL, 'S' },
		{ "series", no_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	long count = 2000, period_ms = 20, max_bursts = 0, client_cpu = 1, server_cpu = 0;
	int opt, series = 0;

	while ((opt = getopt_long(argc, argv, "c:p:b:C:S:s", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': count = atol(optarg); break;
		case 'p': period_ms = atol(optarg); break;
		case 'b': max_bursts = atol(optarg); break;
		case 'C': client_cpu = atol(optarg); break;
		case 'S': server_cpu = atol(optarg); break;
		case 's': series = 1; break;
		default:
			fprintf(stderr, "usage: qbn-regime [--count N=2000] [--period-ms P=20] [--bursts B=0 (until SIGTERM)]"
					" [--client-cpu C=1] [--server-cpu C=0] [--series]\n");
			return 2;
		}
	}
	if (count <= 0 || period_ms <= 0 || max_bursts < 0 || optind != argc) {
		fprintf(stderr, "qbn-regime: --count and --period-ms must be positive\n");
		return 2;
	}
	uint8_t *shm = mmap(NULL, 4 * LINE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (shm == MAP_FAILED) {
		perror("qbn-regime: mmap");
		return 1;
	}
	memset(shm, 0, 4 * LINE);
	volatile uint64_t *req = (uint64_t *)shm;
	volatile uint64_t *resp = (uint64_t *)(shm + LINE);
	volatile uint32_t *go = (uint32_t *)(shm + 2 * LINE); /* burst number the server may start; UINT32_MAX: end */
	pid_t parent = getpid();
	pid_t server = fork();

	if (server < 0) {
		perror("qbn-regime: fork");
		return 1;
	}
	if (server == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent) {
			_exit(1);
		}
		pin_fifo(server_cpu, "server");
		uint64_t seq = 0;

		for (uint32_t b = 0;; b++) {
			uint32_t g;

			while ((g = __atomic_load_n(go, __ATOMIC_ACQUIRE)) == b) {
				futex(go, FUTEX_WAIT, b);
			}
			if (g == UINT32_MAX) {
				_exit(0);
			}
			for (long i = 0; i < count; i++) {
				spin_until(req, ++seq);
				__atomic_store_n(resp, seq, __ATOMIC_RELEASE);
			}
		}
	}
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	pin_fifo(client_cpu, "client");
	size_t cap = 1024, bursts = 0;
	uint64_t *rtt = malloc((size_t)count * sizeof(*rtt));
	uint64_t *p50 = malloc(cap * sizeof(*p50));
	uint64_t *start = malloc(cap * sizeof(*start));
	uint64_t seq = 0, next = now_ns(CLOCK_MONOTONIC);

	if (rtt == NULL || p50 == NULL || start == NULL) {
		fprintf(stderr, "qbn-regime: out of memory\n");
		return 1;
	}
	while (!stop && (max_bursts == 0 || (long)bursts < max_bursts)) {
		next += (uint64_t)period_ms * 1000000ull;
		struct timespec at = { (time_t)(next / 1000000000ull), (long)(next % 1000000000ull) };

		if (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL) != 0 || stop) {
			continue; /* EINTR: the loop condition sees the signal */
		}
		if (bursts == cap) {
			cap *= 2;
			p50 = realloc(p50, cap * sizeof(*p50));
			start = realloc(start, cap * sizeof(*start));
			if (p50 == NULL || start == NULL) {
				fprintf(stderr, "qbn-regime: out of memory\n");
				return 1;
			}
		}
		start[bursts] = now_ns(CLOCK_REALTIME) / 1000000ull;
		__atomic_store_n(go, (uint32_t)bursts + 1, __ATOMIC_RELEASE);
		futex(go, FUTEX_WAKE, 1);
		for (long i = 0; i < count; i++) {
			uint64_t t0 = now_ns(CLOCK_MONOTONIC);

			__atomic_store_n(req, ++seq, __ATOMIC_RELEASE);
			spin_until(resp, seq);
			rtt[i] = now_ns(CLOCK_MONOTONIC) - t0;
		}
		qsort(rtt, (size_t)count, sizeof(*rtt), cmp_u64);
		p50[bursts++] = rtt[count / 2];
	}
	__atomic_store_n(go, UINT32_MAX, __ATOMIC_RELEASE);
	futex(go, FUTEX_WAKE, 1);
	waitpid(server, NULL, 0);

	long fast = 0, normal = 0, slow = 0;

	if (series) {
		printf("series");
		for (size_t b = 0; b < bursts; b++) {
			printf(" %llu:%llu", (unsigned long long)start[b], (unsigned long long)p50[b]);
		}
		printf("\n");
	}
	for (size_t b = 0; b < bursts; b++) {
		if (p50[b] < FAST_NS) {
			fast++;
		} else if (p50[b] < SLOW_NS) {
			normal++;
		} else {
			slow++;
		}
	}
	const char *level = "none";

	if (bursts > 0) {
		level = fast * 5 >= (long)bursts * 4 ? "f" : normal * 5 >= (long)bursts * 4 ? "n"
			: slow * 5 >= (long)bursts * 4 ? "s" : "mixed";
		qsort(p50, bursts, sizeof(*p50), cmp_u64);
	}
	printf("regime=%s bursts=%zu fast=%ld normal=%ld slow=%ld p50_ns=%llu\n", level, bursts, fast, normal, slow,
	       (unsigned long long)(bursts ? p50[bursts / 2] : 0));
	return 0;
}
