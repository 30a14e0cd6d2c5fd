/*
 * qbn-server: native libqb echo server used as a test and benchmark peer
 * for jqb.  See usage() and qbn_common.h for the protocol it speaks.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <qb/qbdefs.h>
#include <qb/qbipcs.h>
#include <qb/qblog.h>
#include <qb/qbloop.h>

#include "qbn_common.h"

/* How long a response/event send keeps retrying while the ring is full. */
#define SEND_RETRY_NS (5ull * 1000000000ull)

static qb_loop_t *loop;
static qb_ipcs_service_t *service;
static int shutting_down;

static long opt_reject;           /* 0 = accept everyone */
static long opt_event_on_created = -1;
static int opt_auth;
static uid_t opt_auth_uid;
static gid_t opt_auth_gid;
static mode_t opt_auth_mode;

static char inbuf[16384];
static size_t inlen;
static int stdin_polled;
static int stdin_from_file;

static void usage(FILE *f)
{
	fprintf(f,
		"usage: qbn-server --service NAME [--transport shm|socket|native]\n"
		"                  [--max-msg-size N] [--reject ERRNO]\n"
		"                  [--event-on-created SIZE] [--auth UID:GID:MODE_OCTAL]\n"
		"                  [--verbose]\n"
		"stdin commands: ratelimit fast|normal|slow|off|off2, stats, conns,\n"
		"                connstats, event SIZE, disconnect, quit\n");
}

static void reply(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void reply(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

static void short_pause(void)
{
	struct timespec ts = { 0, 20000 };

	nanosleep(&ts, NULL);
}

/*
 * Send a response or an event; while the ring is full (-EAGAIN) keep trying
 * for a bounded time so that a pipelining client that drains slowly does not
 * lose replies.
 */
static ssize_t send_retrying(qb_ipcs_connection_t *c, const struct iovec *iov,
			     size_t iov_len, int is_event)
{
	uint64_t deadline = 0;
	ssize_t rc;

	for (;;) {
		if (is_event) {
			rc = qb_ipcs_event_sendv(c, iov, iov_len);
		} else {
			rc = qb_ipcs_response_sendv(c, iov, iov_len);
		}
		if (rc != -EAGAIN && rc != -ETIMEDOUT) {
			return rc;
		}
		if (deadline == 0) {
			deadline = qbn_now_ns() + SEND_RETRY_NS;
		} else if (qbn_now_ns() > deadline) {
			return rc;
		}
		short_pause();
	}
}

static ssize_t send_header_only(qb_ipcs_connection_t *c, int32_t id, int32_t error)
{
	struct qb_ipc_response_header res;
	struct iovec iov[1];

	memset(&res, 0, sizeof(res));
	res.id = id;
	res.size = QBN_RES_HDR;
	res.error = error;
	iov[0].iov_base = &res;
	iov[0].iov_len = sizeof(res);
	return send_retrying(c, iov, 1, 0);
}

/* Event {id 2, size 24+n, error 0} followed by the n-byte pattern payload. */
static ssize_t send_pattern_event(qb_ipcs_connection_t *c, size_t n)
{
	struct qb_ipc_response_header *res;
	ssize_t rc;

	res = calloc(1, sizeof(*res) + n);
	if (res == NULL) {
		return -ENOMEM;
	}
	res->id = QBN_ID_EVENT;
	res->size = (int32_t)(sizeof(*res) + n);
	res->error = 0;
	qbn_fill((uint8_t *)(res + 1), n);
	rc = qb_ipcs_event_send(c, res, sizeof(*res) + n);
	free(res);
	return rc;
}

static int32_t on_accept(qb_ipcs_connection_t *c, uid_t uid, gid_t gid)
{
	(void)uid;
	(void)gid;
	if (opt_reject != 0) {
		return (int32_t)-opt_reject;
	}
	if (opt_auth) {
		qb_ipcs_connection_auth_set(c, opt_auth_uid, opt_auth_gid, opt_auth_mode);
	}
	return 0;
}

static void on_created(qb_ipcs_connection_t *c)
{
	if (opt_event_on_created >= 0) {
		ssize_t rc = send_pattern_event(c, (size_t)opt_event_on_created);

		if (rc < 0) {
			fprintf(stderr, "qbn-server: event from connection_created failed: %s\n",
				qbn_errname(rc));
		}
	}
}

static int32_t on_closed(qb_ipcs_connection_t *c)
{
	(void)c;
	return 0;
}

static void on_destroyed(qb_ipcs_connection_t *c)
{
	(void)c;
}

static int32_t on_msg(qb_ipcs_connection_t *c, void *data, size_t size)
{
	const struct qb_ipc_request_header *req = data;
	struct qb_ipc_response_header res;
	struct iovec iov[2];
	int32_t bufsize = qb_ipcs_connection_get_buffer_size(c);
	size_t n;
	ssize_t rc;

	if (size < sizeof(*req)) {
		rc = send_header_only(c, size >= sizeof(int32_t) ? req->id : 0, -EINVAL);
		goto out;
	}
	n = size - sizeof(*req);

	switch (req->id) {
	case QBN_ID_ECHO:
		if (bufsize > 0 && sizeof(res) + n > (size_t)bufsize) {
			/* the echo would not fit into the response ring */
			rc = send_header_only(c, req->id, -EMSGSIZE);
			break;
		}
		memset(&res, 0, sizeof(res));
		res.id = QBN_ID_ECHO;
		res.size = (int32_t)(sizeof(res) + n);
		res.error = 0;
		iov[0].iov_base = &res;
		iov[0].iov_len = sizeof(res);
		iov[1].iov_base = (uint8_t *)data + sizeof(*req);
		iov[1].iov_len = n;
		rc = send_retrying(c, iov, n > 0 ? 2 : 1, 0);
		break;

	case QBN_ID_EVENT:
		if (bufsize > 0 && sizeof(res) + n > (size_t)bufsize) {
			rc = send_header_only(c, req->id, -EMSGSIZE);
			break;
		}
		rc = send_header_only(c, QBN_ID_EVENT, 0);
		if (rc < 0) {
			break;
		}
		memset(&res, 0, sizeof(res));
		res.id = QBN_ID_EVENT;
		res.size = (int32_t)(sizeof(res) + n);
		res.error = 0;
		iov[0].iov_base = &res;
		iov[0].iov_len = sizeof(res);
		iov[1].iov_base = (uint8_t *)data + sizeof(*req);
		iov[1].iov_len = n;
		rc = send_retrying(c, iov, n > 0 ? 2 : 1, 1);
		break;

	default:
		rc = send_header_only(c, req->id, -EINVAL);
		break;
	}
out:
	if (rc < 0) {
		fprintf(stderr, "qbn-server: reply to request failed: %s\n", qbn_errname(rc));
	}
	return 0;
}

/* ---- qb_loop glue for the IPC service ---- */

static int32_t glue_job_add(enum qb_loop_priority p, void *data,
			    qb_loop_job_dispatch_fn fn)
{
	return qb_loop_job_add(loop, p, data, fn);
}

static int32_t glue_dispatch_add(enum qb_loop_priority p, int32_t fd, int32_t evts,
				 void *data, qb_ipcs_dispatch_fn_t fn)
{
	return qb_loop_poll_add(loop, p, fd, evts, data, fn);
}

static int32_t glue_dispatch_mod(enum qb_loop_priority p, int32_t fd, int32_t evts,
				 void *data, qb_ipcs_dispatch_fn_t fn)
{
	return qb_loop_poll_mod(loop, p, fd, evts, data, fn);
}

static int32_t glue_dispatch_del(int32_t fd)
{
	return qb_loop_poll_del(loop, fd);
}

/* ---- shutdown ---- */

static void shutdown_server(void)
{
	if (shutting_down) {
		return;
	}
	shutting_down = 1;
	if (stdin_polled) {
		qb_loop_poll_del(loop, STDIN_FILENO);
		stdin_polled = 0;
	}
	if (service != NULL) {
		qb_ipcs_destroy(service);
		service = NULL;
	}
	qb_loop_stop(loop);
}

static int32_t on_signal(int32_t sig, void *data)
{
	(void)sig;
	(void)data;
	shutdown_server();
	return 0;
}

/* ---- stdin commands ---- */

static int count_connections(void)
{
	qb_ipcs_connection_t *c;
	qb_ipcs_connection_t *next;
	int n = 0;

	for (c = qb_ipcs_connection_first_get(service); c != NULL; c = next) {
		n++;
		next = qb_ipcs_connection_next_get(service, c);
		qb_ipcs_connection_unref(c);
	}
	return n;
}

static void cmd_ratelimit(const char *arg)
{
	enum qb_ipcs_rate_limit rl;

	if (arg == NULL) {
		reply("err EINVAL");
		return;
	}
	if (strcmp(arg, "fast") == 0) {
		rl = QB_IPCS_RATE_FAST;
	} else if (strcmp(arg, "normal") == 0) {
		rl = QB_IPCS_RATE_NORMAL;
	} else if (strcmp(arg, "slow") == 0) {
		rl = QB_IPCS_RATE_SLOW;
	} else if (strcmp(arg, "off") == 0) {
		rl = QB_IPCS_RATE_OFF;
	} else if (strcmp(arg, "off2") == 0) {
		rl = QB_IPCS_RATE_OFF_2;
	} else {
		reply("err EINVAL");
		return;
	}
	qb_ipcs_request_rate_limit(service, rl);
	reply("ok");
}

static void cmd_event(const char *arg)
{
	qb_ipcs_connection_t *c;
	qb_ipcs_connection_t *next;
	long size;
	long first_err = 0;
	int sent = 0;

	if (arg == NULL || qbn_parse_long(arg, &size) != 0 || size < 0) {
		reply("err EINVAL");
		return;
	}
	for (c = qb_ipcs_connection_first_get(service); c != NULL; c = next) {
		ssize_t rc = send_pattern_event(c, (size_t)size);

		if (rc < 0) {
			if (first_err == 0) {
				first_err = (long)rc;
			}
		} else {
			sent++;
		}
		next = qb_ipcs_connection_next_get(service, c);
		qb_ipcs_connection_unref(c);
	}
	if (first_err != 0) {
		reply("err %s", qbn_errname(first_err));
	} else {
		reply("ok sent=%d", sent);
	}
}

static void cmd_disconnect(void)
{
	qb_ipcs_connection_t *c;
	qb_ipcs_connection_t *next;

	for (c = qb_ipcs_connection_first_get(service); c != NULL; c = next) {
		next = qb_ipcs_connection_next_get(service, c);
		qb_ipcs_disconnect(c);
		qb_ipcs_connection_unref(c);
	}
	reply("ok");
}

static void cmd_connstats(void)
{
	qb_ipcs_connection_t *c;
	qb_ipcs_connection_t *next;
	unsigned long long req = 0, resp = 0, ev = 0, sretry = 0, rretry = 0;
	unsigned long long fc_count = 0, evq = 0;
	int n = 0;

	for (c = qb_ipcs_connection_first_get(service); c != NULL; c = next) {
		struct qb_ipcs_connection_stats_2 *st = qb_ipcs_connection_stats_get_2(c, QB_FALSE);

		if (st != NULL) {
			req += st->requests;
			resp += st->responses;
			ev += st->events;
			sretry += st->send_retries;
			rretry += st->recv_retries;
			fc_count += st->flow_control_count;
			evq += st->event_q_length;
			free(st);
		}
		n++;
		next = qb_ipcs_connection_next_get(service, c);
		qb_ipcs_connection_unref(c);
	}
	reply("ok conns=%d requests=%llu responses=%llu events=%llu send_retries=%llu "
	      "recv_retries=%llu fc_count=%llu event_q=%llu",
	      n, req, resp, ev, sretry, rretry, fc_count, evq);
}

static void handle_line(char *line)
{
	char *save = NULL;
	char *cmd;
	char *arg;

	cmd = strtok_r(line, " \t\r", &save);
	if (cmd == NULL) {
		return; /* blank line: no answer */
	}
	arg = strtok_r(NULL, " \t\r", &save);

	if (shutting_down) {
		reply("err ESHUTDOWN");
	} else if (strcmp(cmd, "ratelimit") == 0) {
		cmd_ratelimit(arg);
	} else if (strcmp(cmd, "stats") == 0) {
		struct qb_ipcs_stats st;

		memset(&st, 0, sizeof(st));
		qb_ipcs_stats_get(service, &st, QB_FALSE);
		reply("ok active=%u closed=%u", st.active_connections, st.closed_connections);
	} else if (strcmp(cmd, "conns") == 0) {
		reply("ok %d", count_connections());
	} else if (strcmp(cmd, "connstats") == 0) {
		cmd_connstats();
	} else if (strcmp(cmd, "event") == 0) {
		cmd_event(arg);
	} else if (strcmp(cmd, "disconnect") == 0) {
		cmd_disconnect();
	} else if (strcmp(cmd, "quit") == 0) {
		reply("ok");
		shutdown_server();
	} else {
		reply("err EINVAL");
	}
}

static void process_buffered_lines(void)
{
	char *start = inbuf;
	char *nl;

	while (!shutting_down && (nl = memchr(start, '\n', inlen - (size_t)(start - inbuf))) != NULL) {
		*nl = '\0';
		handle_line(start);
		start = nl + 1;
	}
	inlen -= (size_t)(start - inbuf);
	memmove(inbuf, start, inlen);
}

static int32_t on_stdin(int32_t fd, int32_t revents, void *data)
{
	ssize_t r;

	(void)revents;
	(void)data;

	if (inlen == sizeof(inbuf) - 1) {
		/* overlong line: drop it */
		inlen = 0;
		reply("err EINVAL");
	}
	r = read(fd, inbuf + inlen, sizeof(inbuf) - 1 - inlen);
	if (r < 0 && (errno == EINTR || errno == EAGAIN)) {
		return 0;
	}
	if (r <= 0) {
		/* EOF (or a broken stdin): finish a last unterminated line, keep serving */
		if (inlen > 0 && !shutting_down) {
			inbuf[inlen] = '\0';
			inlen = 0;
			handle_line(inbuf);
		}
		if (stdin_polled) {
			qb_loop_poll_del(loop, STDIN_FILENO);
			stdin_polled = 0;
		}
		stdin_from_file = 0;
		return 0;
	}
	inlen += (size_t)r;
	process_buffered_lines();
	return 0;
}

/* stdin that cannot be polled (regular file, /dev/null): read it from jobs */
static void stdin_file_job(void *data)
{
	(void)data;
	if (!stdin_from_file || shutting_down) {
		return;
	}
	on_stdin(STDIN_FILENO, POLLIN, NULL);
	if (stdin_from_file && !shutting_down) {
		qb_loop_job_add(loop, QB_LOOP_LOW, NULL, stdin_file_job);
	}
}

static int parse_auth(const char *s)
{
	unsigned long uid, gid, mode;
	char *end;

	errno = 0;
	uid = strtoul(s, &end, 10);
	if (errno || end == s || *end != ':') {
		return -1;
	}
	s = end + 1;
	gid = strtoul(s, &end, 10);
	if (errno || end == s || *end != ':') {
		return -1;
	}
	s = end + 1;
	mode = strtoul(s, &end, 8);
	if (errno || end == s || *end != '\0') {
		return -1;
	}
	opt_auth = 1;
	opt_auth_uid = (uid_t)uid;
	opt_auth_gid = (gid_t)gid;
	opt_auth_mode = (mode_t)mode;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "service", required_argument, NULL, 's' },
		{ "transport", required_argument, NULL, 't' },
		{ "max-msg-size", required_argument, NULL, 'm' },
		{ "reject", required_argument, NULL, 'r' },
		{ "event-on-created", required_argument, NULL, 'e' },
		{ "auth", required_argument, NULL, 'a' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct qb_ipcs_service_handlers handlers = {
		.connection_accept = on_accept,
		.connection_created = on_created,
		.msg_process = on_msg,
		.connection_closed = on_closed,
		.connection_destroyed = on_destroyed,
	};
	struct qb_ipcs_poll_handlers poll_handlers = {
		.job_add = glue_job_add,
		.dispatch_add = glue_dispatch_add,
		.dispatch_mod = glue_dispatch_mod,
		.dispatch_del = glue_dispatch_del,
	};
	const char *name = NULL;
	enum qb_ipc_type type = QB_IPC_SHM;
	long max_msg_size = -1;
	int verbose = 0;
	qb_loop_signal_handle sig_term, sig_int;
	int32_t rc;
	int opt;

	while ((opt = getopt_long(argc, argv, "s:t:m:r:e:a:vh", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			name = optarg;
			break;
		case 't':
			if (strcmp(optarg, "shm") == 0) {
				type = QB_IPC_SHM;
			} else if (strcmp(optarg, "socket") == 0) {
				type = QB_IPC_SOCKET;
			} else if (strcmp(optarg, "native") == 0) {
				type = QB_IPC_NATIVE;
			} else {
				fprintf(stderr, "qbn-server: bad --transport '%s'\n", optarg);
				return 2;
			}
			break;
		case 'm':
			if (qbn_parse_long(optarg, &max_msg_size) != 0 || max_msg_size < 0) {
				fprintf(stderr, "qbn-server: bad --max-msg-size '%s'\n", optarg);
				return 2;
			}
			break;
		case 'r':
			if (qbn_parse_long(optarg, &opt_reject) != 0) {
				fprintf(stderr, "qbn-server: bad --reject '%s'\n", optarg);
				return 2;
			}
			break;
		case 'e':
			if (qbn_parse_long(optarg, &opt_event_on_created) != 0 ||
			    opt_event_on_created < 0) {
				fprintf(stderr, "qbn-server: bad --event-on-created '%s'\n", optarg);
				return 2;
			}
			break;
		case 'a':
			if (parse_auth(optarg) != 0) {
				fprintf(stderr, "qbn-server: bad --auth '%s' (want UID:GID:MODE_OCTAL)\n",
					optarg);
				return 2;
			}
			break;
		case 'v':
			verbose = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (name == NULL || optind != argc) {
		usage(stderr);
		return 2;
	}

	signal(SIGPIPE, SIG_IGN);

	qb_log_init("qbn-server", LOG_USER, LOG_DEBUG);
	qb_log_ctl(QB_LOG_SYSLOG, QB_LOG_CONF_ENABLED, QB_FALSE);
	if (verbose) {
		qb_log_filter_ctl(QB_LOG_STDERR, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE, "*", LOG_DEBUG);
		qb_log_ctl(QB_LOG_STDERR, QB_LOG_CONF_ENABLED, QB_TRUE);
	}

	loop = qb_loop_create();
	if (loop == NULL) {
		fprintf(stderr, "error %s qb_loop_create failed\n", qbn_errname(errno));
		return 1;
	}
	qb_loop_signal_add(loop, QB_LOOP_HIGH, SIGTERM, NULL, on_signal, &sig_term);
	qb_loop_signal_add(loop, QB_LOOP_HIGH, SIGINT, NULL, on_signal, &sig_int);

	service = qb_ipcs_create(name, 0, type, &handlers);
	if (service == NULL) {
		fprintf(stderr, "error %s qb_ipcs_create(%s) failed\n", qbn_errname(errno), name);
		return 1;
	}
	qb_ipcs_poll_handlers_set(service, &poll_handlers);
	if (max_msg_size >= 0) {
		qb_ipcs_enforce_buffer_size(service, (uint32_t)max_msg_size);
	}

	rc = qb_ipcs_run(service);
	if (rc != 0) {
		fprintf(stderr, "error %s qb_ipcs_run(%s) failed: %s\n",
			qbn_errname(rc), name, strerror(rc < 0 ? -rc : rc));
		/*
		 * No qb_ipcs_destroy() here: a failed qb_ipcs_run() has already
		 * dropped the service's reference and destroying it again trips
		 * an assertion inside libqb.
		 */
		return 1;
	}

	rc = qb_loop_poll_add(loop, QB_LOOP_MED, STDIN_FILENO, POLLIN, NULL, on_stdin);
	if (rc == 0) {
		stdin_polled = 1;
	} else if (rc == -EPERM) {
		/* a regular file or /dev/null: epoll refuses it, but reads never block */
		stdin_from_file = 1;
		qb_loop_job_add(loop, QB_LOOP_LOW, NULL, stdin_file_job);
	} else if (verbose) {
		fprintf(stderr, "qbn-server: stdin not usable (%s); commands disabled\n",
			qbn_errname(rc));
	}

	printf("ready service=%s pid=%d\n", name, (int)getpid());
	fflush(stdout);

	qb_loop_run(loop);

	qb_loop_destroy(loop);
	return 0;
}
