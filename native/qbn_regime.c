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
 * the CPU). Linux only.
 *
 * It never spins unbounded at FIFO: the two CPUs must differ and be in its cpuset (else exit 2, before anything runs);
 * a burst that cannot fit in half a period at the slow level (N x 0.6 µs > P / 2) or N > 100000 is refused (exit 2);
 * the client waits (time-out 5 s, not at FIFO) for the server child to say it is pinned; every spin loop looks, every
 * 4096 pauses, at SIGTERM/SIGINT, at a per-burst deadline (max(50 ms, P)) and (client) at whether the server child
 * still runs. When the child is gone or a burst overruns, the client drops back to SCHED_OTHER, SIGKILLs the child and
 * exits 1. A period missed (the host did not run us) is skipped, not made up back to back. The child dies with the
 * client (PR_SET_PDEATHSIG SIGKILL), the client with the process that started it (PR_SET_PDEATHSIG SIGTERM).
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

#include "qbn_common.h"

#define LINE 128 /* each word on its own pair of lines (the adjacent-line prefetcher) */
#define FAST_NS 100
#define SLOW_NS 300
#define SLOW_RTT_NS 600ull /* a plain round trip at the slow level (≈ 0.5-0.6 µs): sizes the largest burst */
#define MAX_COUNT 100000L
#define CHECK_EVERY 4096 /* pauses between looks at stop / deadline / the child */
#define MIN_BURST_DEADLINE_NS 50000000ull
#define READY_TIMEOUT_NS 5000000000ull
#define REAP_TIMEOUT_NS 1000000000ull

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

static long futex_wait(volatile uint32_t *addr, uint32_t val, uint64_t timeout_ns)
{
	struct timespec ts = { (time_t)(timeout_ns / 1000000000ull), (long)(timeout_ns % 1000000000ull) };

	return syscall(SYS_futex, addr, FUTEX_WAIT, val, timeout_ns ? &ts : NULL, NULL, 0);
}

static long futex_wake(volatile uint32_t *addr)
{
	return syscall(SYS_futex, addr, FUTEX_WAKE, 1, NULL, NULL, 0);
}

/* Pins the caller to cpu and makes it SCHED_FIFO; 0, or -1 (with a message) when either fails. */
static int pin_fifo(long cpu, const char *who)
{
	cpu_set_t set;
	struct sched_param prio = { .sched_priority = 50 };

	CPU_ZERO(&set);
	CPU_SET((int)cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) != 0) {
		fprintf(stderr, "qbn-regime: pinning the %s to CPU %ld: %s\n", who, cpu, strerror(errno));
		return -1;
	}
	if (sched_setscheduler(0, SCHED_FIFO, &prio) != 0) {
		fprintf(stderr, "qbn-regime: SCHED_FIFO for the %s: %s (needs CAP_SYS_NICE)\n", who, strerror(errno));
		return -1;
	}
	return 0;
}

static void unfifo(void)
{
	struct sched_param prio = { .sched_priority = 0 };

	sched_setscheduler(0, SCHED_OTHER, &prio);
}

/* What a bounded spin ended with. */
enum spin_end { SPIN_OK, SPIN_STOP, SPIN_LATE, SPIN_CHILD_GONE };

/*
 * Spins until *word == want, looking every CHECK_EVERY pauses at stop, at *go == UINT32_MAX (the child: the client
 * ended), at the deadline (CLOCK_MONOTONIC ns) and, when child > 0, at whether that child still runs (then *status).
 */
static enum spin_end spin_until(volatile uint64_t *word, uint64_t want, volatile uint32_t *go, uint64_t deadline,
				pid_t child, int *status)
{
	unsigned n = 0;

	while (__atomic_load_n(word, __ATOMIC_ACQUIRE) != want) {
		__builtin_ia32_pause();
		if (++n % CHECK_EVERY != 0) {
			continue;
		}
		if (stop || (go != NULL && __atomic_load_n(go, __ATOMIC_ACQUIRE) == UINT32_MAX)) {
			return SPIN_STOP;
		}
		if (now_ns(CLOCK_MONOTONIC) > deadline) {
			return SPIN_LATE;
		}
		if (child > 0 && waitpid(child, status, WNOHANG) == child) {
			return SPIN_CHILD_GONE;
		}
	}
	return SPIN_OK;
}

/* Waits up to REAP_TIMEOUT_NS for the child to exit after the end word, then SIGKILLs it; the child's status. */
static int reap(pid_t child)
{
	uint64_t deadline = now_ns(CLOCK_MONOTONIC) + REAP_TIMEOUT_NS;
	int status = 0;

	for (;;) {
		pid_t r = waitpid(child, &status, WNOHANG);

		if (r == child || (r < 0 && errno != EINTR)) {
			return status;
		}
		if (now_ns(CLOCK_MONOTONIC) > deadline) {
			kill(child, SIGKILL);
			waitpid(child, &status, 0);
			return status;
		}
		struct timespec ts = { 0, 1000000 };

		nanosleep(&ts, NULL); /* not FIFO here: the client dropped to SCHED_OTHER first */
	}
}

static void describe_child(int status, char *buf, size_t len)
{
	if (WIFEXITED(status)) {
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
	} else if (WIFSIGNALED(status)) {
		snprintf(buf, len, "was killed by signal %d", WTERMSIG(status));
	} else {
		snprintf(buf, len, "ended (status 0x%x)", (unsigned)status);
	}
}

/* Drops FIFO, SIGKILLs the (still running) child, reaps it and exits 1. */
static void fail(pid_t child, int child_running, const char *why, int status)
{
	char what[64];

	unfifo();
	if (child_running) {
		kill(child, SIGKILL);
		waitpid(child, &status, 0);
		fprintf(stderr, "qbn-regime: %s; killed the server child\n", why);
	} else {
		describe_child(status, what, sizeof(what));
		fprintf(stderr, "qbn-regime: the server child %s (%s)\n", what, why);
	}
	exit(1);
}

static int usage(void)
{
	fprintf(stderr, "usage: qbn-regime [--count N=2000] [--period-ms P=20] [--bursts B=0 (until SIGTERM)]"
			" [--client-cpu C=1] [--server-cpu C=0] [--series]\n");
	return 2;
}

/* The server child: pinned at FIFO, says so in *ready, then answers one burst per go; never returns. */
static void serve(long cpu, long count, uint64_t burst_deadline_ns, pid_t parent, volatile uint64_t *req,
		  volatile uint64_t *resp, volatile uint32_t *go, volatile uint32_t *ready)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent) {
		_exit(1);
	}
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	if (pin_fifo(cpu, "server") != 0) {
		_exit(2);
	}
	__atomic_store_n(ready, 1, __ATOMIC_RELEASE);
	futex_wake(ready);
	uint64_t seq = 0;
	uint32_t b = 0; /* the last burst answered */

	for (;;) {
		uint32_t g;

		while ((g = __atomic_load_n(go, __ATOMIC_ACQUIRE)) == b) {
			futex_wait(go, b, 0);
			if (getppid() != parent) {
				_exit(1);
			}
		}
		if (g == UINT32_MAX) {
			_exit(0);
		}
		uint64_t deadline = now_ns(CLOCK_MONOTONIC) + burst_deadline_ns;

		for (long i = 0; i < count; i++) {
			enum spin_end end = spin_until(req, ++seq, go, deadline, 0, NULL);

			if (end == SPIN_STOP) {
				_exit(0);
			}
			if (end != SPIN_OK) {
				_exit(1); /* the client overran too and will say so; a FIFO child never outlives its burst */
			}
			__atomic_store_n(resp, seq, __ATOMIC_RELEASE);
		}
		b = g;
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
	pid_t starter = getppid();

	prctl(PR_SET_PDEATHSIG, SIGTERM); /* die with the script that started us */
	if (getppid() != starter) {
		return 1;
	}
	while ((opt = getopt_long(argc, argv, "c:p:b:C:S:s", longopts, NULL)) != -1) {
		long *target;

		switch (opt) {
		case 'c': target = &count; break;
		case 'p': target = &period_ms; break;
		case 'b': target = &max_bursts; break;
		case 'C': target = &client_cpu; break;
		case 'S': target = &server_cpu; break;
		case 's': series = 1; continue;
		default: return usage();
		}
		if (qbn_parse_long(optarg, target) != 0 || *target < 0) {
			fprintf(stderr, "qbn-regime: bad numeric argument '%s' (a decimal number >= 0)\n", optarg);
			return 2;
		}
	}
	if (count <= 0 || period_ms <= 0 || period_ms > 60000 || optind != argc) {
		fprintf(stderr, "qbn-regime: --count and --period-ms must be positive (period <= 60000 ms), no operands\n");
		return 2;
	}
	if (count > MAX_COUNT || (uint64_t)count * SLOW_RTT_NS > (uint64_t)period_ms * 1000000ull / 2) {
		fprintf(stderr, "qbn-regime: --count %ld is too large: at most %ld, and a burst must fit in half a period at the"
			" slow level (count x %llu ns <= period / 2, here count <= %llu)\n", count, MAX_COUNT,
			SLOW_RTT_NS, (unsigned long long)((uint64_t)period_ms * 1000000ull / 2 / SLOW_RTT_NS));
		return 2;
	}
	cpu_set_t allowed;

	if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0) {
		perror("qbn-regime: sched_getaffinity");
		return 1;
	}
	if (client_cpu == server_cpu) {
		fprintf(stderr, "qbn-regime: --client-cpu and --server-cpu must differ (both %ld: two FIFO spinners on"
			" one CPU never hand over)\n", client_cpu);
		return 2;
	}
	if (client_cpu >= CPU_SETSIZE || !CPU_ISSET((int)client_cpu, &allowed)
	    || server_cpu >= CPU_SETSIZE || !CPU_ISSET((int)server_cpu, &allowed)) {
		fprintf(stderr, "qbn-regime: --client-cpu %ld / --server-cpu %ld: both must be CPUs this process may run"
			" on (its cpuset has %d)\n", client_cpu, server_cpu, CPU_COUNT(&allowed));
		return 2;
	}
	uint64_t period_ns = (uint64_t)period_ms * 1000000ull;
	uint64_t burst_deadline_ns = period_ns > MIN_BURST_DEADLINE_NS ? period_ns : MIN_BURST_DEADLINE_NS;
	uint8_t *shm = mmap(NULL, 4 * LINE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (shm == MAP_FAILED) {
		perror("qbn-regime: mmap");
		return 1;
	}
	memset(shm, 0, 4 * LINE);
	volatile uint64_t *req = (uint64_t *)shm;
	volatile uint64_t *resp = (uint64_t *)(shm + LINE);
	volatile uint32_t *go = (uint32_t *)(shm + 2 * LINE); /* burst number the server may start; UINT32_MAX: end */
	volatile uint32_t *ready = (uint32_t *)(shm + 3 * LINE); /* 1: the server is pinned at FIFO */
	struct sigaction sa;

	sigset_t mask;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigemptyset(&mask); /* a starter may hand down a mask that blocks them (a JVM thread can): SIGTERM must end us */
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_UNBLOCK, &mask, NULL);
	pid_t parent = getpid();
	pid_t server = fork();

	if (server < 0) {
		perror("qbn-regime: fork");
		return 1;
	}
	if (server == 0) {
		serve(server_cpu, count, burst_deadline_ns, parent, req, resp, go, ready);
	}
	/* Wait (at SCHED_OTHER) for the child to be pinned; it exits 2 when it cannot be. */
	uint64_t ready_deadline = now_ns(CLOCK_MONOTONIC) + READY_TIMEOUT_NS;
	int status = 0;

	while (__atomic_load_n(ready, __ATOMIC_ACQUIRE) == 0) {
		if (waitpid(server, &status, WNOHANG) == server) {
			char what[64];

			describe_child(status, what, sizeof(what));
			fprintf(stderr, "qbn-regime: the server child %s before it was ready\n", what);
			return WIFEXITED(status) && WEXITSTATUS(status) == 2 ? 2 : 1;
		}
		if (stop) {
			fail(server, 1, "stopped before the server child was ready", 0);
		}
		if (now_ns(CLOCK_MONOTONIC) > ready_deadline) {
			fail(server, 1, "the server child was not ready within 5 s", 0);
		}
		futex_wait(ready, 0, 10000000ull);
	}
	if (pin_fifo(client_cpu, "client") != 0) {
		unfifo();
		kill(server, SIGKILL);
		waitpid(server, NULL, 0);
		return 2;
	}
	size_t cap = 1024, bursts = 0;
	uint64_t *rtt = malloc((size_t)count * sizeof(*rtt));
	uint64_t *p50 = malloc(cap * sizeof(*p50));
	uint64_t *start = malloc(cap * sizeof(*start));
	uint64_t seq = 0, next = now_ns(CLOCK_MONOTONIC);

	if (rtt == NULL || p50 == NULL || start == NULL) {
		fail(server, 1, "out of memory", 0);
	}
	while (!stop && (max_bursts == 0 || (long)bursts < max_bursts)) {
		uint64_t now = now_ns(CLOCK_MONOTONIC);

		next += period_ns;
		if (next < now) {
			next = now + period_ns; /* missed periods are skipped, not run back to back */
		}
		struct timespec at = { (time_t)(next / 1000000000ull), (long)(next % 1000000000ull) };

		if (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL) != 0 || stop) {
			continue; /* EINTR: the loop condition sees the signal */
		}
		if (waitpid(server, &status, WNOHANG) == server) {
			fail(server, 0, "between bursts", status);
		}
		if (bursts == cap) {
			cap *= 2;
			p50 = realloc(p50, cap * sizeof(*p50));
			start = realloc(start, cap * sizeof(*start));
			if (p50 == NULL || start == NULL) {
				fail(server, 1, "out of memory", 0);
			}
		}
		start[bursts] = now_ns(CLOCK_REALTIME) / 1000000ull;
		__atomic_store_n(go, (uint32_t)bursts + 1, __ATOMIC_RELEASE);
		futex_wake(go);
		uint64_t deadline = now_ns(CLOCK_MONOTONIC) + burst_deadline_ns;
		enum spin_end end = SPIN_OK;

		for (long i = 0; i < count && end == SPIN_OK; i++) {
			uint64_t t0 = now_ns(CLOCK_MONOTONIC);

			__atomic_store_n(req, ++seq, __ATOMIC_RELEASE);
			end = spin_until(resp, seq, NULL, deadline, server, &status);
			rtt[i] = now_ns(CLOCK_MONOTONIC) - t0;
		}
		if (end == SPIN_STOP) {
			break; /* this burst is cut short: not counted; the end word below releases the child */
		}
		if (end == SPIN_CHILD_GONE) {
			fail(server, 0, "during a burst", status);
		}
		if (end == SPIN_LATE) {
			char why[96];

			snprintf(why, sizeof(why), "a burst of %ld round trips took over %llu ms", count,
				 (unsigned long long)(burst_deadline_ns / 1000000ull));
			fail(server, 1, why, 0);
		}
		qsort(rtt, (size_t)count, sizeof(*rtt), cmp_u64);
		p50[bursts++] = rtt[count / 2];
	}
	unfifo();
	__atomic_store_n(go, UINT32_MAX, __ATOMIC_RELEASE);
	futex_wake(go);
	reap(server);

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
