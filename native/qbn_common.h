/*
 * Shared helpers for the jqb native test peers (qbn-server, qbn-client).
 *
 * The echo contract spoken by every peer:
 *   id 1 (ECHO)  : response {1, 24+n, 0} + the n request payload bytes
 *   id 2 (EVENT) : response {2, 24, 0}, then event {2, 24+n, 0} + the n bytes
 *   other ids    : response {id, 24, -EINVAL}
 * Generated payloads use byte i = (uint8_t)(i * 31 + 7).
 */
#ifndef QBN_COMMON_H
#define QBN_COMMON_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <qb/qbipc_common.h>

#define QBN_ID_ECHO  1
#define QBN_ID_EVENT 2

#define QBN_REQ_HDR  ((int32_t)sizeof(struct qb_ipc_request_header))
#define QBN_RES_HDR  ((int32_t)sizeof(struct qb_ipc_response_header))

static inline uint8_t qbn_pat(size_t i)
{
	return (uint8_t)(i * 31u + 7u);
}

static inline void qbn_fill(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		p[i] = qbn_pat(i);
	}
}

/* Index of the first byte that breaks the pattern, or -1 when all match. */
static inline long qbn_check_pat(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] != qbn_pat(i)) {
			return (long)i;
		}
	}
	return -1;
}

struct qbn_errname {
	int num;
	const char *name;
};

static const struct qbn_errname qbn_errnames[] = {
	{ EAGAIN, "EAGAIN" },
	{ ETIMEDOUT, "ETIMEDOUT" },
	{ ENOTCONN, "ENOTCONN" },
	{ EMSGSIZE, "EMSGSIZE" },
	{ ENOBUFS, "ENOBUFS" },
	{ EACCES, "EACCES" },
	{ ECONNREFUSED, "ECONNREFUSED" },
	{ EINVAL, "EINVAL" },
	{ ENOENT, "ENOENT" },
	{ EPERM, "EPERM" },
	{ EBADMSG, "EBADMSG" },
	{ EPIPE, "EPIPE" },
	{ ECONNRESET, "ECONNRESET" },
	{ ENOMEM, "ENOMEM" },
	{ ENOTSUP, "ENOTSUP" },
	{ ESRCH, "ESRCH" },
	{ EIO, "EIO" },
	{ EADDRINUSE, "EADDRINUSE" },
	{ EEXIST, "EEXIST" },
	{ EINTR, "EINTR" },
	{ EBADF, "EBADF" },
	{ ENOSPC, "ENOSPC" },
	{ ENAMETOOLONG, "ENAMETOOLONG" },
	{ ESHUTDOWN, "ESHUTDOWN" },
	{ EISCONN, "EISCONN" },
};

/*
 * Symbolic name of an errno value; the sign is ignored so that both
 * "errno" and libqb's "-errno" return values can be passed.
 */
static inline const char *qbn_errname(long e)
{
	static char fallback[32];

	if (e < 0) {
		e = -e;
	}
	for (size_t i = 0; i < sizeof(qbn_errnames) / sizeof(qbn_errnames[0]); i++) {
		if (qbn_errnames[i].num == e) {
			return qbn_errnames[i].name;
		}
	}
	snprintf(fallback, sizeof(fallback), "E%ld", e);
	return fallback;
}

static inline uint64_t qbn_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Strict decimal integer parse; returns 0 on success. */
static inline int qbn_parse_long(const char *s, long *out)
{
	char *end = NULL;
	long v;

	if (s == NULL || *s == '\0') {
		return -1;
	}
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0') {
		return -1;
	}
	*out = v;
	return 0;
}

#endif /* QBN_COMMON_H */
