/*
 * qbn-listeners: binds N listening sockets with libqb's abstract addressing (name padded with NULs to the whole
 * sun_path, addrlen 110), as N idle libqb services in one process would. For jqb ls/top's scale tests.
 *
 *   qbn-listeners PREFIX N     -> binds PREFIX-0 .. PREFIX-(N-1), prints "ready N", waits for EOF on stdin
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct rlimit rl;
	long n, i;
	char buf[256];

	if (argc != 3 || (n = strtol(argv[2], NULL, 10)) <= 0 || n > 100000) {
		fprintf(stderr, "usage: qbn-listeners PREFIX N\n");
		return 2;
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)n + 16) {
		rl.rlim_cur = rl.rlim_max < (rlim_t)n + 16 ? rl.rlim_max : (rlim_t)n + 16;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	for (i = 0; i < n; i++) {
		struct sockaddr_un a;
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0) {
			perror("socket");
			return 1;
		}
		memset(&a, 0, sizeof(a));
		a.sun_family = AF_UNIX;
		snprintf(a.sun_path + 1, sizeof(a.sun_path) - 1, "%s-%ld", argv[1], i);
		if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 128) != 0) {
			perror("bind/listen");
			return 1;
		}
	}
	printf("ready %ld\n", n);
	fflush(stdout);
	while (fgets(buf, sizeof(buf), stdin) != NULL) {
	}
	return 0;
}
