/*
 * qbn-inject: sends one datagram to a libqb-style abstract socket name (zero-padded to 108 bytes, as libqb and jqb
 * name them), from an unbound socket: what any local user can do to a SOCKET-transport connection whose name it
 * read from /proc/net/unix. Used by jqb's reliability suite, run as nobody.
 *
 *   qbn-inject NAME ID SIZE_FIELD LEN      -> one LEN-byte datagram: request header {ID, 0, SIZE_FIELD, 0}, zeros
 *
 * Prints "sent N" (exit 0) or "err ERRNO_NAME" (exit 1). Plain POSIX, no libqb.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_un a;
	unsigned char *buf;
	int32_t hdr[4];
	long len;
	ssize_t n;
	int fd;

	if (argc != 5) {
		fprintf(stderr, "usage: qbn-inject NAME ID SIZE_FIELD LEN\n");
		return 2;
	}
	len = strtol(argv[4], NULL, 10);
	if (len < 0 || len > 1 << 24) {
		fprintf(stderr, "qbn-inject: bad LEN\n");
		return 2;
	}
	buf = calloc(1, (size_t)len + sizeof(hdr));
	if (buf == NULL) {
		return 2;
	}
	hdr[0] = (int32_t)strtol(argv[2], NULL, 10);
	hdr[1] = 0;
	hdr[2] = (int32_t)strtol(argv[3], NULL, 10);
	hdr[3] = 0;
	memcpy(buf, hdr, (size_t)len < sizeof(hdr) ? (size_t)len : sizeof(hdr));

	memset(&a, 0, sizeof(a));
	a.sun_family = AF_UNIX;
	strncpy(a.sun_path + 1, argv[1], sizeof(a.sun_path) - 2);
	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	if (fd < 0) {
		printf("err %s\n", strerrorname_np(errno));
		return 1;
	}
	n = sendto(fd, buf, (size_t)len, 0, (struct sockaddr *)&a, sizeof(a));
	if (n < 0) {
		printf("err %s\n", strerrorname_np(errno));
		return 1;
	}
	printf("sent %zd\n", n);
	close(fd);
	free(buf);
	return 0;
}
