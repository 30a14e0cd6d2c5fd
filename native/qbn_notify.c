/*
 * qbn-notify: a native libqb client of the jqb notification broker (io.jqb.notify), written only from
 * docs/NOTIFY-PROTOCOL.md. Little-endian host assumed (as libqb's own headers are host order).
 *
 *   qbn-notify listen --service S --app A [--priority P] [--to T] [--stall] ID...
 *       registers for each ID, prints "ready", then one line per event:
 *       "from=<app> to=<to> id=<id> params=<json>" (observer events prefixed "observed ", unicast errors
 *       "unicast-error "). --stall: never reads events (a client that does not keep up).
 *   qbn-notify notify --service S --app A --to T [--from F] [--flags N] ID [JSON]
 *       sends one notification; prints the result name (OK, PERMISSION, ...) or the errno name from the response
 *       header (EINVAL), then "receivers=N"; exits 0 when OK.
 *   qbn-notify pingpong --service S --app A ID [JSON]
 *       registers ID, notifies itself (to = A), receives it, prints the line; exits 0 when it arrived.
 *   qbn-notify bench-recv / bench-send: see native/README or benchmarks/notify-compare.sh.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <qb/qbipcc.h>

#include "notify_bench.h"

#define MSG_HELLO 1
#define MSG_REGISTER 2
#define MSG_UNREGISTER 3
#define MSG_NOTIFY 4
#define EVT_DELIVER 101
#define EVT_OBSERVED 102
#define EVT_UNICAST_ERROR 103
#define KIND_NOTIFICATION 0
#define KIND_OBSERVER 1

#define REQ_HDR 16
#define RES_HDR 24
#define NOTE_FIXED 24
#define BUF_SIZE (64 * 1024)

static const char *results[] = { "OK", "SERVER", "APP_ID", "PERMISSION", "CONFIG_FILE", "CONFIG_SYNTAX", "LIMIT" };

static uint8_t tx[BUF_SIZE];
static uint8_t rx[BUF_SIZE];

static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static void put32(uint8_t *p, int32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, int64_t v) { memcpy(p, &v, 8); }
static uint16_t get16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static int32_t get32(const uint8_t *p) { int32_t v; memcpy(&v, p, 4); return v; }

static void header(int32_t id, size_t size)
{
	memset(tx, 0, REQ_HDR);
	put32(tx, id);
	put32(tx + 8, (int32_t)size);
}

/* Sends tx[0..len) and receives the response; returns the result code, or the negated errno. */
static int call(qb_ipcc_connection_t *c, size_t len, int32_t *receivers)
{
	ssize_t n = qb_ipcc_send(c, tx, len);
	for (int i = 0; n == -EAGAIN && i < 5000; i++) {
		usleep(1000);
		n = qb_ipcc_send(c, tx, len);
	}
	if (n < 0) {
		return (int)n;
	}
	n = qb_ipcc_recv(c, rx, sizeof(rx), 5000);
	if (n < RES_HDR + 8) {
		return n < 0 ? (int)n : -EPROTO;
	}
	int32_t err = get32(rx + 16);
	if (err != 0) {
		return err;
	}
	if (receivers) {
		*receivers = get32(rx + RES_HDR + 4);
	}
	return get32(rx + RES_HDR);
}

static int hello(qb_ipcc_connection_t *c, const char *app)
{
	size_t l = strlen(app);
	put16(tx + REQ_HDR, (uint16_t)l);
	put16(tx + REQ_HDR + 2, 0);
	memcpy(tx + REQ_HDR + 4, app, l);
	header(MSG_HELLO, REQ_HDR + 4 + l);
	return call(c, REQ_HDR + 4 + l, NULL);
}

static int reg(qb_ipcc_connection_t *c, int64_t regid, int32_t prio, int kind, const char *id, const char *to)
{
	size_t il = strlen(id), tl = strlen(to);
	uint8_t *b = tx + REQ_HDR;
	put64(b, regid);
	put32(b + 8, prio);
	put16(b + 12, (uint16_t)kind);
	put16(b + 14, (uint16_t)il);
	put16(b + 16, (uint16_t)tl);
	put16(b + 18, 0);
	memcpy(b + 20, id, il);
	memcpy(b + 20 + il, to, tl);
	header(MSG_REGISTER, REQ_HDR + 20 + il + tl);
	return call(c, REQ_HDR + 20 + il + tl, NULL);
}

static size_t note(int32_t flags, const char *from, const char *to, const char *id, const char *params)
{
	size_t fl = strlen(from), tl = strlen(to), il = strlen(id), pl = strlen(params);
	uint8_t *b = tx + REQ_HDR;
	put64(b, 0);
	put32(b + 8, flags);
	put32(b + 12, (int32_t)pl);
	put16(b + 16, (uint16_t)fl);
	put16(b + 18, (uint16_t)tl);
	put16(b + 20, (uint16_t)il);
	put16(b + 22, 0);
	uint8_t *s = b + NOTE_FIXED;
	memcpy(s, from, fl);
	memcpy(s + fl, to, tl);
	memcpy(s + fl + tl, id, il);
	memcpy(s + fl + tl + il, params, pl);
	size_t len = REQ_HDR + NOTE_FIXED + fl + tl + il + pl;
	header(MSG_NOTIFY, len);
	return len;
}

/* Prints an event as "from=.. to=.. id=.. params=..". Returns its id, or -1 when malformed. */
static int print_event(const uint8_t *m, ssize_t n, FILE *out)
{
	if (n < RES_HDR + NOTE_FIXED) {
		return -1;
	}
	int32_t id = get32(m);
	const uint8_t *b = m + RES_HDR;
	int32_t pl = get32(b + 12);
	uint16_t fl = get16(b + 16), tl = get16(b + 18), il = get16(b + 20);
	if (pl < 0 || (ssize_t)(RES_HDR + NOTE_FIXED + fl + tl + il) + pl != n) {
		return -1;
	}
	const char *s = (const char *)b + NOTE_FIXED;
	fprintf(out, "%sfrom=%.*s to=%.*s id=%.*s params=%.*s\n",
		id == EVT_OBSERVED ? "observed " : id == EVT_UNICAST_ERROR ? "unicast-error " : "",
		fl, s, tl, s + fl, il, s + fl + tl, pl, s + fl + tl + il);
	fflush(out);
	return id;
}

static const char *result_name(int rc)
{
	static char buf[32];
	if (rc >= 0 && rc < (int)(sizeof(results) / sizeof(results[0]))) {
		return results[rc];
	}
	switch (-rc) {
	case EINVAL: return "EINVAL";
	case ENOTCONN: return "ENOTCONN";
	case ETIMEDOUT: return "ETIMEDOUT";
	case EPROTO: return "EPROTO";
	default:
		snprintf(buf, sizeof(buf), "errno %d", -rc);
		return buf;
	}
}

static const char *opt(int argc, char **argv, const char *name, const char *def)
{
	for (int i = 2; i < argc - 1; i++) {
		if (strcmp(argv[i], name) == 0) {
			return argv[i + 1];
		}
	}
	return def;
}

static int has_flag(int argc, char **argv, const char *name)
{
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], name) == 0) {
			return 1;
		}
	}
	return 0;
}

/* Positional arguments: everything after the options (options with a value are skipped). */
static int positional(int argc, char **argv, char **out, int max)
{
	int n = 0;
	for (int i = 2; i < argc; i++) {
		if (strncmp(argv[i], "--", 2) == 0) {
			if (strcmp(argv[i], "--stall") != 0) {
				i++;
			}
			continue;
		}
		if (n < max) {
			out[n++] = argv[i];
		}
	}
	return n;
}

static qb_ipcc_connection_t *connect_as(const char *service, const char *app)
{
	qb_ipcc_connection_t *c = qb_ipcc_connect(service, BUF_SIZE);
	if (c == NULL) {
		fprintf(stderr, "qbn-notify: qb_ipcc_connect(%s): %s\n", service, strerror(errno));
		printf("SERVER\n");
		exit(1);
	}
	int rc = hello(c, app);
	if (rc != 0) {
		printf("%s\n", result_name(rc));
		exit(1);
	}
	return c;
}

static volatile sig_atomic_t stop;
static void on_term(int sig) { (void)sig; stop = 1; }

static int cmd_listen(int argc, char **argv)
{
	const char *service = opt(argc, argv, "--service", "jqb-notify");
	const char *app = opt(argc, argv, "--app", NULL);
	const char *to = opt(argc, argv, "--to", "");
	int prio = atoi(opt(argc, argv, "--priority", "0"));
	int stall = has_flag(argc, argv, "--stall");
	int observe = has_flag(argc, argv, "--observe");
	char *ids[1024];
	int n = positional(argc, argv, ids, 1024);
	if (app == NULL || (n == 0 && !observe)) {
		fprintf(stderr, "usage: qbn-notify listen --service S --app A [--priority P] [--to T] [--stall] ID...\n");
		return 2;
	}
	qb_ipcc_connection_t *c = connect_as(service, app);
	for (int i = 0; i < n; i++) {
		int rc = reg(c, i + 1, prio, KIND_NOTIFICATION, ids[i], to);
		if (rc != 0) {
			printf("%s\n", result_name(rc));
			return 1;
		}
	}
	if (observe && reg(c, n + 1, 0, KIND_OBSERVER, "", "") != 0) {
		printf("observer registration failed\n");
		return 1;
	}
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	printf("qbn-notify: ready (pid %d)\n", (int)getpid());
	fflush(stdout);
	while (!stop) {
		if (stall) {
			pause();
			continue;
		}
		ssize_t r = qb_ipcc_event_recv(c, rx, sizeof(rx), 500);
		if (r == -ETIMEDOUT || r == -EAGAIN) {
			continue;
		}
		if (r < 0) {
			fprintf(stderr, "qbn-notify: event_recv: %s\n", strerror((int)-r));
			qb_ipcc_disconnect(c);
			return 1;
		}
		print_event(rx, r, stdout);
	}
	qb_ipcc_disconnect(c);
	return 0;
}

static int cmd_notify(int argc, char **argv)
{
	const char *service = opt(argc, argv, "--service", "jqb-notify");
	const char *app = opt(argc, argv, "--app", NULL);
	const char *to = opt(argc, argv, "--to", NULL);
	const char *from = opt(argc, argv, "--from", "");
	int flags = atoi(opt(argc, argv, "--flags", "0"));
	char *pos[2];
	int n = positional(argc, argv, pos, 2);
	if (app == NULL || to == NULL || n < 1) {
		fprintf(stderr, "usage: qbn-notify notify --service S --app A --to T [--from F] ID [JSON]\n");
		return 2;
	}
	qb_ipcc_connection_t *c = connect_as(service, app);
	int32_t receivers = 0;
	int rc = call(c, note(flags, from, to, pos[0], n > 1 ? pos[1] : "{}"), &receivers);
	printf("%s receivers=%d\n", result_name(rc), receivers);
	qb_ipcc_disconnect(c);
	return rc == 0 ? 0 : 1;
}

static int cmd_pingpong(int argc, char **argv)
{
	const char *service = opt(argc, argv, "--service", "jqb-notify");
	const char *app = opt(argc, argv, "--app", NULL);
	char *pos[2];
	int n = positional(argc, argv, pos, 2);
	if (app == NULL || n < 1) {
		fprintf(stderr, "usage: qbn-notify pingpong --service S --app A ID [JSON]\n");
		return 2;
	}
	qb_ipcc_connection_t *c = connect_as(service, app);
	if (reg(c, 1, 0, KIND_NOTIFICATION, pos[0], "") != 0) {
		printf("register failed\n");
		return 1;
	}
	int32_t receivers = 0;
	int rc = call(c, note(0, "", app, pos[0], n > 1 ? pos[1] : "{}"), &receivers);
	if (rc != 0) {
		printf("%s\n", result_name(rc));
		return 1;
	}
	ssize_t r = qb_ipcc_event_recv(c, rx, sizeof(rx), 5000);
	int id = r > 0 ? print_event(rx, r, stdout) : -1;
	qb_ipcc_disconnect(c);
	return id == EVT_DELIVER ? 0 : 1;
}

/*
 * bench-recv --service S --app A --count N ID: registers, prints ready, receives N events whose params are
 * {"t":<send time ns>}, prints "latencies" one per line (ns) to the file given by --out, then "done".
 */
static int cmd_bench_recv(int argc, char **argv)
{
	const char *service = opt(argc, argv, "--service", "jqb-notify");
	const char *app = opt(argc, argv, "--app", NULL);
	const char *outpath = opt(argc, argv, "--out", NULL);
	long count = atol(opt(argc, argv, "--count", "1000"));
	int idle = atoi(opt(argc, argv, "--idle-ms", "10000"));
	char *pos[1];
	if (app == NULL || positional(argc, argv, pos, 1) < 1) {
		return 2;
	}
	qb_ipcc_connection_t *c = connect_as(service, app);
	if (reg(c, 1, 0, KIND_NOTIFICATION, pos[0], "") != 0) {
		return 1;
	}
	int64_t *lat = calloc((size_t)count, sizeof(int64_t));
	printf("ready\n");
	fflush(stdout);
	long long cpu0, cpu1;
	long vol0, vol1, inv0, inv1;
	usage_now(&cpu0, &vol0, &inv0);
	long got = 0;
	int64_t first = 0, last = 0;
	while (got < count) {
		ssize_t r = qb_ipcc_event_recv(c, rx, sizeof(rx), idle);
		if (r == -ETIMEDOUT || r == -EAGAIN) {
			break;
		}
		if (r < RES_HDR + NOTE_FIXED) {
			break;
		}
		int64_t t = now_ns();
		if (got == 0) {
			first = t;
		}
		last = t;
		const uint8_t *b = rx + RES_HDR;
		int32_t pl = get32(b + 12);
		uint16_t fl = get16(b + 16), tl = get16(b + 18), il = get16(b + 20);
		const char *p = (const char *)b + NOTE_FIXED + fl + tl + il;
		long long sent = pl > 0 ? params_t(p, (size_t)pl) : 0;
		if (sent != 0) {
			lat[got] = t - sent;
		}
		got++;
	}
	usage_now(&cpu1, &vol1, &inv1);
	FILE *o = outpath ? fopen(outpath, "w") : stdout;
	for (long i = 0; i < got; i++) {
		fprintf(o, "%lld\n", (long long)lat[i]);
	}
	if (o != stdout) {
		fclose(o);
	}
	printf("done got=%ld first_ns=%lld last_ns=%lld cpu_us=%lld wakes=%ld preempted=%ld\n", got, (long long)first,
		(long long)last, cpu1 - cpu0, vol1 - vol0, inv1 - inv0);
	qb_ipcc_disconnect(c);
	free(lat);
	return got == count ? 0 : 1;
}

/*
 * bench-send --service S --app A --to T --count N [--gap-us G] [--window W] ID: N notifications, params
 * {"t":now}. --window W keeps up to W requests in flight (responses collected in order; every result must be OK).
 */
static int cmd_bench_send(int argc, char **argv)
{
	const char *service = opt(argc, argv, "--service", "jqb-notify");
	const char *app = opt(argc, argv, "--app", NULL);
	const char *to = opt(argc, argv, "--to", "*");
	long count = atol(opt(argc, argv, "--count", "1000"));
	long gap = atol(opt(argc, argv, "--gap-us", "0"));
	long window = atol(opt(argc, argv, "--window", "1"));
	char *pos[1];
	if (app == NULL || positional(argc, argv, pos, 1) < 1 || window < 1) {
		return 2;
	}
	qb_ipcc_connection_t *c = connect_as(service, app);
	char params[64];
	long inflight = 0, bad = 0;
	long long cpu0, cpu1;
	long vol0, vol1, inv0, inv1;
	usage_now(&cpu0, &vol0, &inv0);
	int64_t t0 = now_ns();
	for (long i = 0; i < count; i++) {
		snprintf(params, sizeof(params), "{\"t\":%lld}", (long long)now_ns());
		size_t len = note(0, "", to, pos[0], params);
		ssize_t n;
		while ((n = qb_ipcc_send(c, tx, len)) == -EAGAIN) {
			if (inflight == 0) {
				usleep(100);
				continue;
			}
			if (qb_ipcc_recv(c, rx, sizeof(rx), 5000) < RES_HDR + 8) {
				printf("SERVER\n");
				return 1;
			}
			bad += get32(rx + 16) != 0 || get32(rx + RES_HDR) != 0;
			inflight--;
		}
		if (n < 0) {
			printf("%s\n", result_name((int)n));
			return 1;
		}
		inflight++;
		while (inflight >= window) {
			if (qb_ipcc_recv(c, rx, sizeof(rx), 5000) < RES_HDR + 8) {
				printf("SERVER\n");
				return 1;
			}
			bad += get32(rx + 16) != 0 || get32(rx + RES_HDR) != 0;
			inflight--;
		}
		if (gap > 0) {
			usleep((useconds_t)gap);
		}
	}
	while (inflight > 0) {
		if (qb_ipcc_recv(c, rx, sizeof(rx), 5000) < RES_HDR + 8) {
			printf("SERVER\n");
			return 1;
		}
		bad += get32(rx + 16) != 0 || get32(rx + RES_HDR) != 0;
		inflight--;
	}
	double s = (double)(now_ns() - t0) / 1e9;
	usage_now(&cpu1, &vol1, &inv1);
	printf("sent=%ld seconds=%.3f per_s=%.0f start_ns=%lld cpu_us=%lld wakes=%ld preempted=%ld not_ok=%ld\n", count, s,
		count / s, (long long)t0, cpu1 - cpu0, vol1 - vol0, inv1 - inv0, bad);
	qb_ipcc_disconnect(c);
	return bad == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: qbn-notify listen|notify|pingpong|bench-recv|bench-send ...\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(argv[1], "listen") == 0) {
		return cmd_listen(argc, argv);
	}
	if (strcmp(argv[1], "notify") == 0) {
		return cmd_notify(argc, argv);
	}
	if (strcmp(argv[1], "pingpong") == 0) {
		return cmd_pingpong(argc, argv);
	}
	if (strcmp(argv[1], "bench-recv") == 0) {
		return cmd_bench_recv(argc, argv);
	}
	if (strcmp(argv[1], "bench-send") == 0) {
		return cmd_bench_send(argc, argv);
	}
	fprintf(stderr, "qbn-notify: unknown command %s\n", argv[1]);
	return 2;
}
