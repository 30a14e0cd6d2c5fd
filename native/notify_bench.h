/*
 * What the two notification bench programs (qbn-notify over the jqb broker, dbusn-notify over D-Bus) do per event
 * and per run, in one place so that both sides of the comparison do exactly the same work.
 */
#ifndef NOTIFY_BENCH_H
#define NOTIFY_BENCH_H

#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* The send time in params {"t":<ns>} (the bench's own format): a digit loop (sscanf cost more than the rest of a
 * receiver's user time per event). 0 when malformed. */
static long long params_t(const char *p, size_t len)
{
	long long v = 0;
	size_t i = 5;
	if (len < 6 || memcmp(p, "{\"t\":", 5) != 0) {
		return 0;
	}
	while (i < len && p[i] >= '0' && p[i] <= '9') {
		v = v * 10 + (p[i++] - '0');
	}
	return v;
}

/* This process's own CPU time (µs) and context switches so far: voluntary ones are the wake-ups after blocking. */
static void usage_now(long long *cpu_us, long *vol, long *invol)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	*cpu_us = (long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000LL + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
	*vol = ru.ru_nvcsw;
	*invol = ru.ru_nivcsw;
}

#endif
