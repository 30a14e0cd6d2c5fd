/*
 * dbusn-notify: the notification benchmark pattern of qbn-notify (bench-recv / bench-send) over D-Bus (libdbus-1,
 * Debian's dbus-daemon on a private bus), for benchmarks/notify-compare.sh.
 *
 *   dbusn-notify bench-recv --address ADDR --count N --out FILE [--idle-ms M] ID
 *       subscribes to signal io.jqb.Notify.Note whose 3rd argument (the notification ID) is ID, prints "ready",
 *       receives N, writes one latency (ns) per line to FILE, prints "done got=N first_ns=.. last_ns=..".
 *   dbusn-notify bench-send --address ADDR --count N [--gap-us G] [--to T] ID
 *       emits N signals (from, to, id, params {"t":<CLOCK_MONOTONIC ns>}), each flushed to the bus before the next,
 *       prints "sent=N seconds=S per_s=R start_ns=..".
 */
#define _GNU_SOURCE
#include <dbus/dbus.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "notify_bench.h"

static const char *opt(int argc, char **argv, const char *name, const char *def)
{
	for (int i = 2; i < argc - 1; i++) {
		if (strcmp(argv[i], name) == 0) {
			return argv[i + 1];
		}
	}
	return def;
}

static DBusConnection *open_bus(const char *address)
{
	DBusError err;
	dbus_error_init(&err);
	DBusConnection *c = dbus_connection_open_private(address, &err);
	if (c == NULL || !dbus_bus_register(c, &err)) {
		fprintf(stderr, "dbusn-notify: %s: %s\n", address, err.message ? err.message : "?");
		exit(1);
	}
	dbus_connection_set_exit_on_disconnect(c, FALSE);
	return c;
}

static int bench_recv(int argc, char **argv, const char *address, const char *id)
{
	long count = atol(opt(argc, argv, "--count", "1000"));
	int idle = atoi(opt(argc, argv, "--idle-ms", "10000"));
	const char *outpath = opt(argc, argv, "--out", NULL);
	DBusConnection *c = open_bus(address);
	char rule[512];
	snprintf(rule, sizeof(rule), "type='signal',interface='io.jqb.Notify',member='Note',arg2='%s'", id);
	DBusError err;
	dbus_error_init(&err);
	dbus_bus_add_match(c, rule, &err);
	if (dbus_error_is_set(&err)) {
		fprintf(stderr, "dbusn-notify: add_match: %s\n", err.message);
		return 1;
	}
	int64_t *lat = calloc((size_t)count, sizeof(int64_t));
	printf("ready\n");
	fflush(stdout);
	long long cpu0, cpu1;
	long vol0, vol1, inv0, inv1;
	usage_now(&cpu0, &vol0, &inv0);
	long got = 0;
	int64_t first = 0, last = 0, idle_since = now_ns();
	while (got < count) {
		if (!dbus_connection_read_write(c, 100)) {
			break;
		}
		DBusMessage *m;
		int any = 0;
		while ((m = dbus_connection_pop_message(c)) != NULL) {
			if (dbus_message_is_signal(m, "io.jqb.Notify", "Note")) {
				int64_t t = now_ns();
				const char *from, *to, *nid, *params;
				if (dbus_message_get_args(m, NULL, DBUS_TYPE_STRING, &from, DBUS_TYPE_STRING, &to,
						DBUS_TYPE_STRING, &nid, DBUS_TYPE_STRING, &params, DBUS_TYPE_INVALID)) {
					long long sent = params_t(params, strlen(params));
					if (got < count && sent != 0) {
						lat[got] = t - sent;
					}
					if (got == 0) {
						first = t;
					}
					last = t;
					got++;
					any = 1;
				}
			}
			dbus_message_unref(m);
		}
		if (any) {
			idle_since = now_ns();
		} else if (now_ns() - idle_since > (int64_t)idle * 1000000LL) {
			break;
		}
	}
	usage_now(&cpu1, &vol1, &inv1);
	FILE *o = outpath ? fopen(outpath, "w") : stdout;
	for (long i = 0; i < got && i < count; i++) {
		fprintf(o, "%lld\n", (long long)lat[i]);
	}
	if (o != stdout) {
		fclose(o);
	}
	printf("done got=%ld first_ns=%lld last_ns=%lld cpu_us=%lld wakes=%ld preempted=%ld\n", got, (long long)first,
		(long long)last, cpu1 - cpu0, vol1 - vol0, inv1 - inv0);
	free(lat);
	dbus_connection_close(c);
	dbus_connection_unref(c);
	return got == count ? 0 : 1;
}

static int bench_send(int argc, char **argv, const char *address, const char *id)
{
	long count = atol(opt(argc, argv, "--count", "1000"));
	long gap = atol(opt(argc, argv, "--gap-us", "0"));
	const char *to = opt(argc, argv, "--to", "*");
	const char *from = "sender";
	DBusConnection *c = open_bus(address);
	char params[64];
	const char *pp = params;
	long long cpu0, cpu1;
	long vol0, vol1, inv0, inv1;
	usage_now(&cpu0, &vol0, &inv0);
	int64_t t0 = now_ns();
	for (long i = 0; i < count; i++) {
		snprintf(params, sizeof(params), "{\"t\":%lld}", (long long)now_ns());
		DBusMessage *m = dbus_message_new_signal("/io/jqb/Notify", "io.jqb.Notify", "Note");
		dbus_message_append_args(m, DBUS_TYPE_STRING, &from, DBUS_TYPE_STRING, &to, DBUS_TYPE_STRING, &id,
				DBUS_TYPE_STRING, &pp, DBUS_TYPE_INVALID);
		dbus_connection_send(c, m, NULL);
		dbus_message_unref(m);
		dbus_connection_flush(c);
		if (gap > 0) {
			usleep((useconds_t)gap);
		}
	}
	double s = (double)(now_ns() - t0) / 1e9;
	usage_now(&cpu1, &vol1, &inv1);
	printf("sent=%ld seconds=%.3f per_s=%.0f start_ns=%lld cpu_us=%lld wakes=%ld preempted=%ld\n", count, s,
		count / s, (long long)t0, cpu1 - cpu0, vol1 - vol0, inv1 - inv0);
	dbus_connection_close(c);
	dbus_connection_unref(c);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: dbusn-notify bench-recv|bench-send --address ADDR ... ID\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	const char *address = opt(argc, argv, "--address", NULL);
	const char *id = argv[argc - 1];
	if (address == NULL) {
		fprintf(stderr, "dbusn-notify: --address is required\n");
		return 2;
	}
	if (strcmp(argv[1], "bench-recv") == 0) {
		return bench_recv(argc, argv, address, id);
	}
	if (strcmp(argv[1], "bench-send") == 0) {
		return bench_send(argc, argv, address, id);
	}
	fprintf(stderr, "dbusn-notify: unknown command %s\n", argv[1]);
	return 2;
}
