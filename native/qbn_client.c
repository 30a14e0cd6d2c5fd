/*
 * qbn-client: native libqb client used as a test and benchmark peer for jqb.
 *
 *   qbn-client check --service NAME [--max N]
 *   qbn-client bench --service NAME [--count N] [--size B] [--max N] [--warmup N] [--pipeline]
 *   qbn-client bench-connect --service NAME [--count N] [--max N] [--warmup N]
 *   qbn-client bench-many --service NAME --clients N [--duration-ms D] [--warmup-ms W] [--size B] [--max N]
 *              [--count K]   (K: each connection does K round trips, then stays open and idle until the end)
 *                         [--server-pid P]
 *   qbn-client drive --service NAME [--max N]
 *
 * See usage() and qbn_common.h for details.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <qb/qbdefs.h>
#include <qb/qbipcc.h>

#include "qbn_common.h"

#define DEFAULT_MAX      65536
#define OP_TIMEOUT_MS    5000

struct opts {
	const char *service;
	long max;          /* -1 = subcommand default */
	long count;        /* -1 = subcommand default */
	long size;
	long warmup;       /* -1 = subcommand default */
	int pipeline;
	long window;       /* pipeline: max outstanding requests, 0 = from the ring size */
	int cold;          /* bench: also print the cold-start line */
	long clients;      /* bench-many: concurrent connections */
	long duration_ms;  /* bench-many: measured time */
	long warmup_ms;    /* bench-many: unmeasured time before it */
	long server_pid;   /* bench-many: whose /proc/PID/status to report */
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage:\n"
		"  qbn-client check --service NAME [--max N=65536]\n"
		"  qbn-client bench --service NAME [--count N=100000] [--size B=64]\n"
		"                   [--max N=max(65536,size+24)] [--warmup N=10000]\n"
		"                   [--pipeline [--window N=responses-per-ring - 1]] [--cold]\n"
		"  qbn-client bench-connect --service NAME [--count N=1000] [--max N=65536]\n"
		"                   [--warmup N=10]\n"
		"  qbn-client bench-many --service NAME --clients N [--duration-ms D=2000]\n"
		"                   [--warmup-ms W=500] [--size B=64] [--max N=65536] [--server-pid P]\n"
		"                   [--count K]  (each connection: K round trips, then open and idle until the end)\n"
		"      N threads, one connection each, blocking echo round trips for D ms;\n"
		"      prints 'clients=N count=.. seconds=.. rtt_per_s=.. p50_ns=.. p99_ns=.. p999_ns=..'\n"
		"      and, with --server-pid, that process's VmRSS/RssAnon/RssShmem (kB) and Threads\n"
		"      while every connection is open\n"
		"  qbn-client drive --service NAME [--max N=65536]\n"
		"drive commands: connect, echo SIZE [TIMEOUT_MS], send ID SIZE, recv TIMEOUT_MS,\n"
		"  event TIMEOUT_MS, events N TIMEOUT_MS, connected, fcmax N, auth, bufsize, sleep MS, disconnect, quit\n");
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("qbn-client: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL) {
		die("out of memory (%zu bytes)", n);
	}
	return p;
}

/* Build request {id, 16+n} + payload; payload byte i = pattern(i) ^ seed. */
static void build_request(uint8_t *buf, int32_t id, size_t n, uint8_t seed)
{
	struct qb_ipc_request_header hdr;
	uint8_t *p = buf + sizeof(hdr);

	memset(&hdr, 0, sizeof(hdr));
	hdr.id = id;
	hdr.size = (int32_t)(sizeof(hdr) + n);
	memcpy(buf, &hdr, sizeof(hdr));
	for (size_t i = 0; i < n; i++) {
		p[i] = qbn_pat(i) ^ seed;
	}
}

static void read_res_header(const uint8_t *buf, ssize_t len, struct qb_ipc_response_header *h)
{
	memset(h, 0, sizeof(*h));
	if (len >= (ssize_t)sizeof(*h)) {
		memcpy(h, buf, sizeof(*h));
	}
}

/* Number of -EAGAIN results send_patient() has retried (reported by bench). */
static unsigned long send_eagain;

/*
 * Send, retrying -EAGAIN for at most timeout_ms.  A transient -EAGAIN is
 * normal for big requests: the server frees the previous request chunk only
 * after its handler (which already sent our reply) returns.  Yield first so
 * that a server on the same CPU can finish; sleep only if it persists
 * (flow control).
 */
static ssize_t send_patient(qb_ipcc_connection_t *c, const void *msg, size_t len, int timeout_ms)
{
	uint64_t deadline = 0;
	ssize_t rc;

	for (int attempt = 0;; attempt++) {
		rc = qb_ipcc_send(c, msg, len);
		if (rc != -EAGAIN) {
			return rc;
		}
		__atomic_add_fetch(&send_eagain, 1, __ATOMIC_RELAXED); /* bench-many: from many threads */
		if (deadline == 0) {
			deadline = qbn_now_ns() + (uint64_t)timeout_ms * 1000000ull;
		} else if (qbn_now_ns() > deadline) {
			return rc;
		}
		if (attempt < 1000) {
			sched_yield();
		} else {
			usleep(100);
		}
	}
}

/* ================================================================== check */

struct checker {
	qb_ipcc_connection_t *c;
	int32_t bufsize;
	uint8_t *tx;
	uint8_t *rx;
	int passed;
	int failed;
};

static void pass(struct checker *k, const char *name)
{
	k->passed++;
	printf("PASS %s\n", name);
	fflush(stdout);
}

static void fail(struct checker *k, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fail(struct checker *k, const char *name, const char *fmt, ...)
{
	va_list ap;

	k->failed++;
	printf("FAIL %s: ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

/*
 * Compare a received message with the expected header and payload.
 * Writes a description of the first mismatch into why and returns -1.
 */
static int verify_reply(const uint8_t *rx, ssize_t len, int32_t id, int32_t error,
			const uint8_t *payload, size_t n, char *why, size_t whylen)
{
	struct qb_ipc_response_header h;
	size_t want = sizeof(h) + n;

	if (len < 0) {
		snprintf(why, whylen, "receive failed: %s", qbn_errname(len));
		return -1;
	}
	if ((size_t)len != want) {
		snprintf(why, whylen, "length %zd, expected %zu", len, want);
		return -1;
	}
	read_res_header(rx, len, &h);
	if (h.id != id || h.size != (int32_t)want || h.error != error) {
		snprintf(why, whylen, "header {id %d, size %d, error %d}, expected {%d, %zu, %d}",
			 h.id, h.size, h.error, id, want, error);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (rx[sizeof(h) + i] != payload[i]) {
			snprintf(why, whylen, "payload byte %zu is 0x%02x, expected 0x%02x",
				 i, rx[sizeof(h) + i], payload[i]);
			return -1;
		}
	}
	return 0;
}

/* One echo through qb_ipcc_sendv_recv (two iovecs: header, payload). */
static int echo_sendv_recv(struct checker *k, size_t n, uint8_t seed, char *why, size_t whylen)
{
	struct iovec iov[2];
	uint64_t deadline;
	ssize_t rc;

	build_request(k->tx, QBN_ID_ECHO, n, seed);
	iov[0].iov_base = k->tx;
	iov[0].iov_len = QBN_REQ_HDR;
	iov[1].iov_base = k->tx + QBN_REQ_HDR;
	iov[1].iov_len = n;
	/*
	 * -EAGAIN here means the request was not written: the server frees a
	 * request chunk only after its handler returned, so right after a
	 * reply a near-full-size request may briefly not fit.  Retry a while.
	 */
	deadline = qbn_now_ns() + (uint64_t)OP_TIMEOUT_MS * 1000000ull;
	do {
		rc = qb_ipcc_sendv_recv(k->c, iov, n > 0 ? 2 : 1, k->rx, (size_t)k->bufsize,
					OP_TIMEOUT_MS);
		if (rc == -EAGAIN) {
			usleep(100);
		}
	} while (rc == -EAGAIN && qbn_now_ns() < deadline);
	return verify_reply(k->rx, rc, QBN_ID_ECHO, 0, k->tx + QBN_REQ_HDR, n, why, whylen);
}

/* One echo through qb_ipcc_send + qb_ipcc_recv. */
static int echo_send_recv(struct checker *k, size_t n, uint8_t seed, char *why, size_t whylen)
{
	ssize_t rc;

	build_request(k->tx, QBN_ID_ECHO, n, seed);
	rc = send_patient(k->c, k->tx, QBN_REQ_HDR + n, OP_TIMEOUT_MS);
	if (rc < 0) {
		snprintf(why, whylen, "send failed: %s", qbn_errname(rc));
		return -1;
	}
	if (rc != (ssize_t)(QBN_REQ_HDR + n)) {
		snprintf(why, whylen, "send returned %zd, expected %zu", rc, QBN_REQ_HDR + n);
		return -1;
	}
	rc = qb_ipcc_recv(k->c, k->rx, (size_t)k->bufsize, OP_TIMEOUT_MS);
	return verify_reply(k->rx, rc, QBN_ID_ECHO, 0, k->tx + QBN_REQ_HDR, n, why, whylen);
}

static uint32_t xorshift32(uint32_t *s)
{
	uint32_t x = *s;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*s = x;
	return x;
}

static void check_event(struct checker *k, size_t n)
{
	char name[64];
	char why[256];
	ssize_t rc;

	snprintf(name, sizeof(name), "event-%zu", n);
	build_request(k->tx, QBN_ID_EVENT, n, 0);
	rc = send_patient(k->c, k->tx, QBN_REQ_HDR + n, OP_TIMEOUT_MS);
	if (rc < 0) {
		fail(k, name, "send failed: %s", qbn_errname(rc));
		return;
	}
	rc = qb_ipcc_recv(k->c, k->rx, (size_t)k->bufsize, OP_TIMEOUT_MS);
	if (verify_reply(k->rx, rc, QBN_ID_EVENT, 0, NULL, 0, why, sizeof(why)) != 0) {
		fail(k, name, "response: %s", why);
		return;
	}
	rc = qb_ipcc_event_recv(k->c, k->rx, (size_t)k->bufsize, OP_TIMEOUT_MS);
	if (verify_reply(k->rx, rc, QBN_ID_EVENT, 0, k->tx + QBN_REQ_HDR, n, why, sizeof(why)) != 0) {
		fail(k, name, "event: %s", why);
		return;
	}
	pass(k, name);
}

static int cmd_check(const struct opts *o)
{
	static const size_t sizes[] = { 0, 1, 7, 8, 64, 4095, 4096, 4097, 65536 };
	struct checker k;
	char name[64];
	char why[256];
	long max = o->max > 0 ? o->max : DEFAULT_MAX;
	size_t largest;
	ssize_t rc;
	pid_t pid = 0;
	uid_t uid = 0;
	gid_t gid = 0;

	memset(&k, 0, sizeof(k));
	k.c = qb_ipcc_connect(o->service, (size_t)max);
	if (k.c == NULL) {
		fail(&k, "connect", "%s", qbn_errname(errno));
		printf("%d passed, %d failed\n", k.passed, k.failed);
		return 1;
	}
	pass(&k, "connect");

	k.bufsize = qb_ipcc_get_buffer_size(k.c);
	if (k.bufsize >= max) {
		pass(&k, "bufsize");
	} else {
		fail(&k, "bufsize", "qb_ipcc_get_buffer_size %d < requested %ld", k.bufsize, max);
	}
	if (k.bufsize < QBN_RES_HDR + 16) {
		fail(&k, "bufsize-usable", "buffer size %d too small to continue", k.bufsize);
		qb_ipcc_disconnect(k.c);
		printf("%d passed, %d failed\n", k.passed, k.failed);
		return 1;
	}
	/* +1 for the oversize check */
	k.tx = xmalloc((size_t)k.bufsize + 1);
	k.rx = xmalloc((size_t)k.bufsize);

	if (qb_ipcc_is_connected(k.c)) {
		pass(&k, "is-connected");
	} else {
		fail(&k, "is-connected", "qb_ipcc_is_connected returned false");
	}

	rc = qb_ipcc_auth_get(k.c, &pid, &uid, &gid);
	if (rc == 0 && pid != 0) {
		pass(&k, "auth");
	} else {
		fail(&k, "auth", "qb_ipcc_auth_get rc=%s pid=%d", rc ? qbn_errname(rc) : "0", (int)pid);
	}

	/* fixed sizes, then the largest payload whose echo fits the ring */
	largest = (size_t)k.bufsize - sizeof(struct qb_ipc_response_header);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		if (sizes[i] > largest) {
			continue;
		}
		snprintf(name, sizeof(name), "echo-%zu", sizes[i]);
		if (echo_sendv_recv(&k, sizes[i], 0, why, sizeof(why)) == 0) {
			pass(&k, name);
		} else {
			fail(&k, name, "%s", why);
		}
	}
	snprintf(name, sizeof(name), "echo-max-%zu", largest);
	if (echo_sendv_recv(&k, largest, 0, why, sizeof(why)) == 0) {
		pass(&k, name);
	} else {
		fail(&k, name, "%s", why);
	}

	/* many round trips, mixed sizes, payload varies per iteration */
	{
		uint32_t seed = 0x9e3779b9u;
		size_t span = (size_t)k.bufsize / 3 + 1;
		int bad = 0;

		for (int i = 0; i < 20000; i++) {
			size_t n = xorshift32(&seed) % span;

			if (echo_send_recv(&k, n, (uint8_t)(i * 13 + 1), why, sizeof(why)) != 0) {
				fail(&k, "echo-mixed-20000", "round trip %d (payload %zu): %s", i, n, why);
				bad = 1;
				break;
			}
		}
		if (!bad) {
			pass(&k, "echo-mixed-20000");
		}
	}

	check_event(&k, 0);
	check_event(&k, 100);
	check_event(&k, largest);

	/* unknown request id */
	build_request(k.tx, 99, 0, 0);
	rc = send_patient(k.c, k.tx, QBN_REQ_HDR, OP_TIMEOUT_MS);
	if (rc < 0) {
		fail(&k, "unknown-id", "send failed: %s", qbn_errname(rc));
	} else {
		rc = qb_ipcc_recv(k.c, k.rx, (size_t)k.bufsize, OP_TIMEOUT_MS);
		if (verify_reply(k.rx, rc, 99, -EINVAL, NULL, 0, why, sizeof(why)) == 0) {
			pass(&k, "unknown-id");
		} else {
			fail(&k, "unknown-id", "%s", why);
		}
	}

	/* a message one byte bigger than the buffer is refused locally */
	build_request(k.tx, QBN_ID_ECHO, (size_t)k.bufsize + 1 - QBN_REQ_HDR, 0);
	rc = qb_ipcc_send(k.c, k.tx, (size_t)k.bufsize + 1);
	if (rc == -EMSGSIZE) {
		pass(&k, "oversize-send");
	} else {
		fail(&k, "oversize-send", "qb_ipcc_send returned %zd (%s), expected -EMSGSIZE",
		     rc, rc < 0 ? qbn_errname(rc) : "success");
	}
	if (echo_send_recv(&k, 8, 0x5a, why, sizeof(why)) == 0 && qb_ipcc_is_connected(k.c)) {
		pass(&k, "echo-after-oversize");
	} else {
		fail(&k, "echo-after-oversize", "%s", why);
	}

	/* nothing may be left over */
	rc = qb_ipcc_event_recv(k.c, k.rx, (size_t)k.bufsize, 0);
	if (rc == -EAGAIN || rc == -ETIMEDOUT) {
		pass(&k, "no-stray-events");
	} else {
		fail(&k, "no-stray-events", "qb_ipcc_event_recv(0) returned %zd (%s)",
		     rc, rc < 0 ? qbn_errname(rc) : "a message");
	}
	rc = qb_ipcc_recv(k.c, k.rx, (size_t)k.bufsize, 0);
	if (rc == -EAGAIN || rc == -ETIMEDOUT) {
		pass(&k, "no-stray-responses");
	} else {
		fail(&k, "no-stray-responses", "qb_ipcc_recv(0) returned %zd (%s)",
		     rc, rc < 0 ? qbn_errname(rc) : "a message");
	}

	qb_ipcc_disconnect(k.c);
	free(k.tx);
	free(k.rx);
	printf("%d passed, %d failed\n", k.passed, k.failed);
	fflush(stdout);
	return k.failed == 0 ? 0 : 1;
}

/* ================================================================== bench */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a;
	uint64_t y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t percentile(const uint64_t *sorted, size_t n, double q)
{
	size_t idx;

	if (n == 0) {
		return 0;
	}
	idx = (size_t)(q * (double)n);
	if (idx >= n) {
		idx = n - 1;
	}
	return sorted[idx];
}

static void expect_echo_len(ssize_t rc, size_t size, const char *phase)
{
	if (rc < 0) {
		die("%s: qb_ipcc_recv failed: %s", phase, qbn_errname(rc));
	}
	if ((size_t)rc != QBN_RES_HDR + size) {
		die("%s: reply of %zd bytes, expected %zu", phase, rc, QBN_RES_HDR + size);
	}
}

static void round_trip(qb_ipcc_connection_t *c, const uint8_t *tx, size_t txlen,
		       uint8_t *rx, size_t rxlen, size_t size, const char *phase)
{
	ssize_t rc = send_patient(c, tx, txlen, OP_TIMEOUT_MS);

	if (rc < 0) {
		die("%s: qb_ipcc_send failed: %s", phase, qbn_errname(rc));
	}
	rc = qb_ipcc_recv(c, rx, rxlen, OP_TIMEOUT_MS);
	expect_echo_len(rc, size, phase);
}

static uint64_t epoch_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * count requests, keeping at most window outstanding: at the window, wait for
 * one reply; when a send would block, drain whatever replies are ready, and
 * block for one only when none is.
 */
static void pipeline(qb_ipcc_connection_t *c, const uint8_t *tx, size_t txlen, uint8_t *rx,
		     size_t rxlen, size_t size, long count, long window)
{
	long sent = 0, received = 0;
	uint64_t stall_since = 0;
	ssize_t rc;

	while (sent < count) {
		if (sent - received >= window) {
			rc = qb_ipcc_recv(c, rx, rxlen, OP_TIMEOUT_MS);
			expect_echo_len(rc, size, "pipeline");
			received++;
			continue;
		}
		rc = qb_ipcc_send(c, tx, txlen);
		if (rc == (ssize_t)txlen) {
			sent++;
			continue;
		}
		if (rc != -EAGAIN) {
			die("pipeline: qb_ipcc_send failed: %s", qbn_errname(rc));
		}
		/* request ring full: drain whatever replies are ready */
		long before = received;

		while (received < sent) {
			rc = qb_ipcc_recv(c, rx, rxlen, 0);
			if (rc == -EAGAIN || rc == -ETIMEDOUT) {
				break;
			}
			expect_echo_len(rc, size, "pipeline");
			received++;
		}
		if (received == before) {
			if (received < sent) {
				/* nothing ready yet: block for one reply instead of spinning */
				rc = qb_ipcc_recv(c, rx, rxlen, OP_TIMEOUT_MS);
				expect_echo_len(rc, size, "pipeline");
				received++;
			} else {
				/*
				 * Nothing outstanding: either the server has not yet
				 * freed the last request chunk, or flow control is on.
				 */
				if (stall_since == 0) {
					stall_since = qbn_now_ns();
				} else if (qbn_now_ns() - stall_since >
					   (uint64_t)OP_TIMEOUT_MS * 1000000ull) {
					die("pipeline: send keeps failing with EAGAIN and nothing is outstanding");
				}
				sched_yield();
				continue;
			}
		}
		stall_since = 0;
	}
	while (received < sent) {
		rc = qb_ipcc_recv(c, rx, rxlen, OP_TIMEOUT_MS);
		expect_echo_len(rc, size, "pipeline drain");
		received++;
	}
}

static int cmd_bench(const struct opts *o)
{
	long count = o->count >= 0 ? o->count : 100000;
	long size = o->size >= 0 ? o->size : 64;
	long warmup = o->warmup >= 0 ? o->warmup : 10000;
	long max = o->max > 0 ? o->max : (size + QBN_RES_HDR > DEFAULT_MAX ? size + QBN_RES_HDR : DEFAULT_MAX);
	qb_ipcc_connection_t *c;
	int32_t bufsize;
	size_t txlen = (size_t)QBN_REQ_HDR + (size_t)size;
	uint8_t *tx, *rx;
	uint64_t *rtt = NULL;
	uint64_t t_start, t_end;
	uint64_t connected_epoch = 0, first_epoch = 0, first_rtt = 0;
	double secs, rate;

	if (count <= 0) {
		die("--count must be positive");
	}
	c = qb_ipcc_connect(o->service, (size_t)max);
	if (c == NULL) {
		die("connect to '%s' failed: %s", o->service, qbn_errname(errno));
	}
	if (o->cold) {
		connected_epoch = epoch_ns();
	}
	bufsize = qb_ipcc_get_buffer_size(c);
	if ((long)bufsize < size + QBN_RES_HDR) {
		die("payload %ld does not fit the buffer size %d (reply needs %ld)",
		    size, bufsize, size + QBN_RES_HDR);
	}
	tx = xmalloc(txlen);
	rx = xmalloc((size_t)bufsize);
	build_request(tx, QBN_ID_ECHO, (size_t)size, 0);

	for (long i = 0; i < warmup; i++) {
		round_trip(c, tx, txlen, rx, (size_t)bufsize, (size_t)size, "warmup");
	}

	if (!o->pipeline) {
		rtt = xmalloc((size_t)count * sizeof(*rtt));
		t_start = qbn_now_ns();
		for (long i = 0; i < count; i++) {
			uint64_t t0 = qbn_now_ns();

			round_trip(c, tx, txlen, rx, (size_t)bufsize, (size_t)size, "bench");
			rtt[i] = qbn_now_ns() - t0;
			if (i == 0 && o->cold) {
				first_epoch = epoch_ns();
			}
		}
		t_end = qbn_now_ns();
		first_rtt = rtt[0];
		qsort(rtt, (size_t)count, sizeof(*rtt), cmp_u64);
	} else {
		long window = o->window;

		if (window <= 0) {
			/*
			 * Never have more requests outstanding than the response ring
			 * can hold.  Otherwise the server stalls on a full response
			 * ring and stops reading doorbell bytes, while qb_ipcc_send()
			 * spins forever on the full setup socket: a deadlock.
			 */
			long chunk = 8 + ((QBN_RES_HDR + size + 3) & ~3L);

			window = (long)bufsize / chunk - 1;
			if (window < 1) {
				window = 1;
			}
		}
		/* Warm the pipelined loop with itself, as jqb bench does. */
		pipeline(c, tx, txlen, rx, (size_t)bufsize, (size_t)size, warmup < count ? warmup : count, window);
		t_start = qbn_now_ns();
		pipeline(c, tx, txlen, rx, (size_t)bufsize, (size_t)size, count, window);
		t_end = qbn_now_ns();
	}

	secs = (double)(t_end - t_start) / 1e9;
	rate = (double)count / secs;
	printf("size=%ld count=%ld p50_ns=%llu p99_ns=%llu p999_ns=%llu msgs_per_s=%.0f MB_per_s=%.2f\n",
	       size, count,
	       (unsigned long long)(rtt ? percentile(rtt, (size_t)count, 0.50) : 0),
	       (unsigned long long)(rtt ? percentile(rtt, (size_t)count, 0.99) : 0),
	       (unsigned long long)(rtt ? percentile(rtt, (size_t)count, 0.999) : 0),
	       rate, rate * (double)size / 1e6);
	if (o->cold && rtt) {
		printf("cold connected_epoch_ns=%llu first_epoch_ns=%llu first_rtt_ns=%llu total_ns=%llu count=%ld\n",
		       (unsigned long long)connected_epoch, (unsigned long long)first_epoch,
		       (unsigned long long)first_rtt, (unsigned long long)(t_end - t_start), count);
	}
	fflush(stdout);
	if (send_eagain > 0) {
		fprintf(stderr, "qbn-client: note: %lu sends were retried after -EAGAIN\n", send_eagain);
	}

	qb_ipcc_disconnect(c);
	free(rtt);
	free(tx);
	free(rx);
	return 0;
}

static int cmd_bench_connect(const struct opts *o)
{
	long count = o->count >= 0 ? o->count : 1000;
	long warmup = o->warmup >= 0 ? o->warmup : 10;
	long max = o->max > 0 ? o->max : DEFAULT_MAX;
	uint64_t *t;

	if (count <= 0) {
		die("--count must be positive");
	}
	t = xmalloc((size_t)count * sizeof(*t));
	for (long i = -warmup; i < count; i++) {
		uint64_t t0 = qbn_now_ns();
		qb_ipcc_connection_t *c = qb_ipcc_connect(o->service, (size_t)max);

		if (c == NULL) {
			die("connect #%ld to '%s' failed: %s", i, o->service, qbn_errname(errno));
		}
		qb_ipcc_disconnect(c);
		if (i >= 0) {
			t[i] = qbn_now_ns() - t0;
		}
	}
	qsort(t, (size_t)count, sizeof(*t), cmp_u64);
	printf("connect count=%ld p50_ns=%llu p99_ns=%llu\n", count,
	       (unsigned long long)percentile(t, (size_t)count, 0.50),
	       (unsigned long long)percentile(t, (size_t)count, 0.99));
	fflush(stdout);
	free(t);
	return 0;
}

/* ============================================================= bench-many */

#define MANY_WARMUP  0
#define MANY_MEASURE 1
#define MANY_STOP    2

struct many_shared {
	int phase;                     /* MANY_*; atomic */
	pthread_barrier_t start;       /* every thread and main */
	size_t size;
	long per_client;               /* --count: round trips per connection, then idle; <= 0: until the end */
	pthread_mutex_t mu;            /* with stopped: an idle thread waits for MANY_STOP */
	pthread_cond_t stopped;
};

struct many_thread {
	pthread_t tid;
	struct many_shared *sh;
	qb_ipcc_connection_t *c;
	int32_t bufsize;
	uint64_t *lat;
	size_t n, cap;
};

static void *many_run(void *arg)
{
	struct many_thread *t = arg;
	size_t size = t->sh->size;
	size_t txlen = (size_t)QBN_REQ_HDR + size;
	uint8_t *tx = xmalloc(txlen);
	uint8_t *rx = xmalloc((size_t)t->bufsize);

	build_request(tx, QBN_ID_ECHO, size, 0);
	t->cap = 1024;
	t->lat = xmalloc(t->cap * sizeof(*t->lat));
	pthread_barrier_wait(&t->sh->start);
	for (long done = 0;; done++) {
		int before = __atomic_load_n(&t->sh->phase, __ATOMIC_ACQUIRE);

		if (before == MANY_STOP) {
			break;
		}
		if (t->sh->per_client > 0 && done == t->sh->per_client) {
			/* done: keep the connection open and idle until the end */
			pthread_mutex_lock(&t->sh->mu);
			while (__atomic_load_n(&t->sh->phase, __ATOMIC_ACQUIRE) != MANY_STOP) {
				pthread_cond_wait(&t->sh->stopped, &t->sh->mu);
			}
			pthread_mutex_unlock(&t->sh->mu);
			break;
		}
		uint64_t t0 = qbn_now_ns();

		round_trip(t->c, tx, txlen, rx, (size_t)t->bufsize, size, "bench-many");
		uint64_t dt = qbn_now_ns() - t0;

		/* count only round trips that began and ended inside the measured window */
		if (before == MANY_MEASURE && __atomic_load_n(&t->sh->phase, __ATOMIC_ACQUIRE) == MANY_MEASURE) {
			if (t->n == t->cap) {
				t->cap *= 2;
				t->lat = realloc(t->lat, t->cap * sizeof(*t->lat));
				if (t->lat == NULL) {
					die("out of memory for latencies");
				}
			}
			t->lat[t->n++] = dt;
		}
	}
	free(tx);
	free(rx);
	return NULL;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
	}
}

/* "VmRSS:\t  1234 kB" -> 1234, from /proc/PID/status; -1 when absent. */
static long proc_status_field(long pid, const char *key)
{
	char path[64], line[256];
	size_t klen = strlen(key);
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	f = fopen(path, "r");
	if (f == NULL) {
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
			v = strtol(line + klen + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return v;
}

/*
 * N connections, made one after another by the main thread (libqb's server
 * listens with a small backlog), each then driven by its own thread doing
 * blocking echo round trips as fast as it can: a warm-up, then the measured
 * window; aggregate round trips per second and the latency percentiles over
 * every connection.
 */
static int cmd_bench_many(const struct opts *o)
{
	long n = o->clients;
	long size = o->size >= 0 ? o->size : 64;
	long max = o->max > 0 ? o->max : DEFAULT_MAX;
	long duration = o->duration_ms > 0 ? o->duration_ms : 2000;
	long warm = o->warmup_ms >= 0 ? o->warmup_ms : 500;
	struct many_shared sh;
	struct many_thread *ts;
	pthread_attr_t attr;
	uint64_t c0, c1, t_start, t_end;
	long rss = -1, anon = -1, shmem = -1, threads = -1;

	if (n <= 0) {
		die("--clients must be positive");
	}
	memset(&sh, 0, sizeof(sh));
	sh.size = (size_t)size;
	sh.phase = MANY_WARMUP;
	sh.per_client = o->count;
	pthread_mutex_init(&sh.mu, NULL);
	pthread_cond_init(&sh.stopped, NULL);
	if (pthread_barrier_init(&sh.start, NULL, (unsigned)n + 1) != 0) {
		die("pthread_barrier_init failed");
	}
	ts = calloc((size_t)n, sizeof(*ts));
	if (ts == NULL) {
		die("out of memory");
	}
	c0 = qbn_now_ns();
	for (long i = 0; i < n; i++) {
		ts[i].sh = &sh;
		ts[i].c = qb_ipcc_connect(o->service, (size_t)max);
		if (ts[i].c == NULL) {
			die("connect #%ld to '%s' failed: %s", i, o->service, qbn_errname(errno));
		}
		ts[i].bufsize = qb_ipcc_get_buffer_size(ts[i].c);
		if ((long)ts[i].bufsize < size + QBN_RES_HDR) {
			die("payload %ld does not fit the buffer size %d", size, ts[i].bufsize);
		}
	}
	c1 = qbn_now_ns();
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	for (long i = 0; i < n; i++) {
		int rc = pthread_create(&ts[i].tid, &attr, many_run, &ts[i]);

		if (rc != 0) {
			die("pthread_create #%ld: %s", i, strerror(rc));
		}
	}
	pthread_attr_destroy(&attr);
	pthread_barrier_wait(&sh.start);
	sleep_ms(warm);
	t_start = qbn_now_ns();
	__atomic_store_n(&sh.phase, MANY_MEASURE, __ATOMIC_RELEASE);
	sleep_ms(duration);
	/* the server's memory while every connection is open and has been used */
	if (o->server_pid > 0) {
		rss = proc_status_field(o->server_pid, "VmRSS");
		anon = proc_status_field(o->server_pid, "RssAnon");
		shmem = proc_status_field(o->server_pid, "RssShmem");
		threads = proc_status_field(o->server_pid, "Threads");
	}
	pthread_mutex_lock(&sh.mu);
	__atomic_store_n(&sh.phase, MANY_STOP, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&sh.stopped);
	pthread_mutex_unlock(&sh.mu);
	t_end = qbn_now_ns();

	size_t total = 0, k = 0;

	for (long i = 0; i < n; i++) {
		pthread_join(ts[i].tid, NULL);
		total += ts[i].n;
	}
	uint64_t *all = xmalloc((total ? total : 1) * sizeof(*all));

	for (long i = 0; i < n; i++) {
		memcpy(all + k, ts[i].lat, ts[i].n * sizeof(*all));
		k += ts[i].n;
		free(ts[i].lat);
		qb_ipcc_disconnect(ts[i].c);
	}
	qsort(all, total, sizeof(*all), cmp_u64);

	double secs = (double)(t_end - t_start) / 1e9;

	printf("clients=%ld size=%ld count=%zu seconds=%.3f rtt_per_s=%.0f p50_ns=%llu p99_ns=%llu p999_ns=%llu "
	       "connect_s=%.3f",
	       n, size, total, secs, (double)total / secs,
	       (unsigned long long)percentile(all, total, 0.50),
	       (unsigned long long)percentile(all, total, 0.99),
	       (unsigned long long)percentile(all, total, 0.999),
	       (double)(c1 - c0) / 1e9);
	if (o->server_pid > 0) {
		printf(" server_rss_kb=%ld server_anon_kb=%ld server_shmem_kb=%ld server_threads=%ld",
		       rss, anon, shmem, threads);
	}
	printf("\n");
	fflush(stdout);
	free(all);
	free(ts);
	pthread_barrier_destroy(&sh.start);
	pthread_cond_destroy(&sh.stopped);
	pthread_mutex_destroy(&sh.mu);
	return 0;
}

/* ================================================================== drive */

struct driver {
	const char *service;
	long max;
	qb_ipcc_connection_t *c;
	int32_t bufsize;
	uint8_t *rx;
};

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void out(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

static int arg_long(char *s, long *v, long dflt)
{
	if (s == NULL) {
		*v = dflt;
		return dflt == LONG_MIN ? -1 : 0;
	}
	return qbn_parse_long(s, v);
}

static void drive_disconnect(struct driver *d)
{
	if (d->c != NULL) {
		qb_ipcc_disconnect(d->c);
		d->c = NULL;
	}
	free(d->rx);
	d->rx = NULL;
	d->bufsize = 0;
}

static void print_msg(const char *what, ssize_t rc, const uint8_t *buf, int check_pattern)
{
	struct qb_ipc_response_header h;

	(void)what;
	if (rc < 0) {
		out("err %s", qbn_errname(rc));
		return;
	}
	read_res_header(buf, rc, &h);
	if (check_pattern && rc > QBN_RES_HDR &&
	    qbn_check_pat(buf + QBN_RES_HDR, (size_t)rc - QBN_RES_HDR) >= 0) {
		out("bad payload");
		return;
	}
	out("ok id=%d size=%d error=%d len=%zd", h.id, h.size, h.error, rc);
}

static void drive_line(struct driver *d, char *line, int *quit)
{
	char *save = NULL;
	char *cmd = strtok_r(line, " \t\r\n", &save);
	char *a1, *a2;
	long v1, v2;
	ssize_t rc;

	if (cmd == NULL) {
		return; /* blank line: no answer */
	}
	a1 = strtok_r(NULL, " \t\r\n", &save);
	a2 = strtok_r(NULL, " \t\r\n", &save);

	if (strcmp(cmd, "quit") == 0) {
		drive_disconnect(d);
		out("ok");
		*quit = 1;
		return;
	}
	if (strcmp(cmd, "connect") == 0) {
		if (d->c != NULL) {
			out("err EISCONN");
			return;
		}
		d->c = qb_ipcc_connect(d->service, (size_t)d->max);
		if (d->c == NULL) {
			out("err %s", qbn_errname(errno));
			return;
		}
		d->bufsize = qb_ipcc_get_buffer_size(d->c);
		d->rx = xmalloc((size_t)(d->bufsize > 0 ? d->bufsize : 1));
		out("ok bufsize=%d", d->bufsize);
		return;
	}
	if (strcmp(cmd, "connected") == 0) {
		out("ok %d", d->c != NULL && qb_ipcc_is_connected(d->c) ? 1 : 0);
		return;
	}
	if (strcmp(cmd, "disconnect") == 0) {
		drive_disconnect(d);
		out("ok");
		return;
	}
	if (strcmp(cmd, "sleep") == 0) {
		if (arg_long(a1, &v1, LONG_MIN) != 0 || v1 < 0) {
			out("err EINVAL");
			return;
		}
		usleep((useconds_t)(v1 * 1000));
		out("ok");
		return;
	}

	/* everything below needs a connection */
	if (strcmp(cmd, "echo") != 0 && strcmp(cmd, "send") != 0 && strcmp(cmd, "recv") != 0 &&
	    strcmp(cmd, "event") != 0 && strcmp(cmd, "fcmax") != 0 && strcmp(cmd, "auth") != 0 &&
	    strcmp(cmd, "bufsize") != 0 && strcmp(cmd, "events") != 0) {
		out("err EINVAL");
		return;
	}
	if (d->c == NULL) {
		out("err ENOTCONN");
		return;
	}

	if (strcmp(cmd, "echo") == 0) {
		struct qb_ipc_response_header h;
		uint8_t *tx;
		size_t n;
		char why[160];
		int w = 0;

		if (arg_long(a1, &v1, LONG_MIN) != 0 || v1 < 0 ||
		    arg_long(a2, &v2, OP_TIMEOUT_MS) != 0) {
			out("err EINVAL");
			return;
		}
		n = (size_t)v1;
		tx = xmalloc((size_t)QBN_REQ_HDR + n);
		build_request(tx, QBN_ID_ECHO, n, 0);
		/* -EAGAIN (ring full or flow control) is retried until the timeout */
		rc = send_patient(d->c, tx, (size_t)QBN_REQ_HDR + n, v2 < 0 ? INT_MAX : (int)v2);
		free(tx);
		if (rc < 0) {
			out("err %s", qbn_errname(rc));
			return;
		}
		rc = qb_ipcc_recv(d->c, d->rx, (size_t)d->bufsize, (int32_t)v2);
		if (rc < 0) {
			out("err %s", qbn_errname(rc));
			return;
		}
		read_res_header(d->rx, rc, &h);
		why[0] = '\0';
		if ((size_t)rc != QBN_RES_HDR + n) {
			w += snprintf(why + w, sizeof(why) - (size_t)w, " len=%zd", rc);
		}
		if (h.id != QBN_ID_ECHO) {
			w += snprintf(why + w, sizeof(why) - (size_t)w, " id=%d", h.id);
		}
		if (h.size != (int32_t)(QBN_RES_HDR + n)) {
			w += snprintf(why + w, sizeof(why) - (size_t)w, " size=%d", h.size);
		}
		if (h.error != 0) {
			w += snprintf(why + w, sizeof(why) - (size_t)w, " error=%d", h.error);
		}
		if (w == 0) {
			long at = qbn_check_pat(d->rx + QBN_RES_HDR, n);

			if (at >= 0) {
				w += snprintf(why + w, sizeof(why) - (size_t)w, " payload@%ld", at);
			}
		}
		if (w == 0) {
			out("ok");
		} else {
			out("bad%s", why);
		}
		return;
	}
	if (strcmp(cmd, "send") == 0) {
		uint8_t *tx;

		if (arg_long(a1, &v1, LONG_MIN) != 0 || arg_long(a2, &v2, LONG_MIN) != 0 || v2 < 0 ||
		    v1 < INT32_MIN || v1 > INT32_MAX) {
			out("err EINVAL");
			return;
		}
		tx = xmalloc((size_t)QBN_REQ_HDR + (size_t)v2);
		build_request(tx, (int32_t)v1, (size_t)v2, 0);
		rc = qb_ipcc_send(d->c, tx, (size_t)QBN_REQ_HDR + (size_t)v2);
		free(tx);
		if (rc < 0) {
			out("err %s", qbn_errname(rc));
		} else {
			out("ok");
		}
		return;
	}
	if (strcmp(cmd, "recv") == 0 || strcmp(cmd, "event") == 0) {
		int is_event = cmd[0] == 'e';

		if (arg_long(a1, &v1, LONG_MIN) != 0) {
			out("err EINVAL");
			return;
		}
		if (is_event) {
			rc = qb_ipcc_event_recv(d->c, d->rx, (size_t)d->bufsize, (int32_t)v1);
		} else {
			rc = qb_ipcc_recv(d->c, d->rx, (size_t)d->bufsize, (int32_t)v1);
		}
		print_msg(cmd, rc, d->rx, is_event);
		return;
	}
	if (strcmp(cmd, "events") == 0) {
		/* events N T: read N events, each within T ms, as a libqb application would (qb_ipcc_event_recv
		 * waits for the notification byte first): a lost notification shows as ETIMEDOUT. */
		long got = 0;

		if (arg_long(a1, &v1, LONG_MIN) != 0 || v1 < 0 || arg_long(a2, &v2, OP_TIMEOUT_MS) != 0) {
			out("err EINVAL");
			return;
		}
		for (; got < v1; got++) {
			rc = qb_ipcc_event_recv(d->c, d->rx, (size_t)d->bufsize, (int32_t)v2);
			if (rc < 0) {
				out("err %s after=%ld", qbn_errname(rc), got);
				return;
			}
		}
		out("ok %ld", got);
		return;
	}
	if (strcmp(cmd, "fcmax") == 0) {
		int32_t r;

		if (arg_long(a1, &v1, LONG_MIN) != 0 || v1 < 0) {
			out("err EINVAL");
			return;
		}
		r = qb_ipcc_fc_enable_max_set(d->c, (uint32_t)v1);
		if (r < 0) {
			out("err %s", qbn_errname(r));
		} else {
			out("ok");
		}
		return;
	}
	if (strcmp(cmd, "auth") == 0) {
		pid_t pid = 0;
		uid_t uid = 0;
		gid_t gid = 0;
		int32_t r = qb_ipcc_auth_get(d->c, &pid, &uid, &gid);

		if (r < 0) {
			out("err %s", qbn_errname(r));
		} else {
			out("ok pid=%d uid=%u gid=%u", (int)pid, (unsigned)uid, (unsigned)gid);
		}
		return;
	}
	/* bufsize */
	out("ok %d", qb_ipcc_get_buffer_size(d->c));
}

static int cmd_drive(const struct opts *o)
{
	struct driver d;
	char *line = NULL;
	size_t cap = 0;
	int quit = 0;

	memset(&d, 0, sizeof(d));
	d.service = o->service;
	d.max = o->max > 0 ? o->max : DEFAULT_MAX;

	while (!quit && getline(&line, &cap, stdin) >= 0) {
		drive_line(&d, line, &quit);
	}
	if (!quit) {
		/* EOF behaves like quit, without an answer line */
		drive_disconnect(&d);
	}
	free(line);
	return 0;
}

/* ================================================================== main */

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "service", required_argument, NULL, 's' },
		{ "max", required_argument, NULL, 'm' },
		{ "count", required_argument, NULL, 'c' },
		{ "size", required_argument, NULL, 'z' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "pipeline", no_argument, NULL, 'p' },
		{ "window", required_argument, NULL, 'W' },
		{ "cold", no_argument, NULL, 'K' },
		{ "clients", required_argument, NULL, 'N' },
		{ "duration-ms", required_argument, NULL, 'D' },
		{ "warmup-ms", required_argument, NULL, 'U' },
		{ "server-pid", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o = { NULL, -1, -1, -1, -1, 0, 0, 0, 0, -1, -1, 0 };
	const char *sub;
	long *target;
	int opt;

	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	sub = argv[1];
	argv++;
	argc--;

	while ((opt = getopt_long(argc, argv, "s:m:c:z:w:W:pKN:D:U:P:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			o.service = optarg;
			continue;
		case 'p':
			o.pipeline = 1;
			continue;
		case 'K':
			o.cold = 1;
			continue;
		case 'N':
			target = &o.clients;
			break;
		case 'D':
			target = &o.duration_ms;
			break;
		case 'U':
			target = &o.warmup_ms;
			break;
		case 'P':
			target = &o.server_pid;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'm':
			target = &o.max;
			break;
		case 'c':
			target = &o.count;
			break;
		case 'z':
			target = &o.size;
			break;
		case 'w':
			target = &o.warmup;
			break;
		case 'W':
			target = &o.window;
			break;
		default:
			usage(stderr);
			return 2;
		}
		if (qbn_parse_long(optarg, target) != 0 || *target < 0) {
			fprintf(stderr, "qbn-client: bad numeric argument '%s'\n", optarg);
			return 2;
		}
	}
	if (o.service == NULL || optind != argc) {
		usage(stderr);
		return 2;
	}

	signal(SIGPIPE, SIG_IGN);

	if (strcmp(sub, "check") == 0) {
		return cmd_check(&o);
	}
	if (strcmp(sub, "bench") == 0) {
		return cmd_bench(&o);
	}
	if (strcmp(sub, "bench-connect") == 0) {
		return cmd_bench_connect(&o);
	}
	if (strcmp(sub, "bench-many") == 0) {
		return cmd_bench_many(&o);
	}
	if (strcmp(sub, "drive") == 0) {
		return cmd_drive(&o);
	}
	fprintf(stderr, "qbn-client: unknown subcommand '%s'\n", sub);
	usage(stderr);
	return 2;
}
