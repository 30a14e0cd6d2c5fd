/*
 * qbn-stream: the C reference for jqb's stream layer benchmarks. Plain blocking sockets, the same frames as
 * io.jqb.stream (12-byte header: prefix, msgId, length, all big-endian; then the payload).
 *
 *   qbn-stream echo  (--tcp [ADDR:]PORT | --pipe PATH)       prints "ready", echoes frames, one connection at a time
 *   qbn-stream bench (--tcp HOST:PORT | --pipe PATH) [--count N] [--size S] [--warmup N]
 *       prints "size=S count=N p50_ns=.. p99_ns=.. p999_ns=.. msgs_per_s=.. MB_per_s=.." like jqb bench
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define PREFIX 0x4A514253u
#define HDR 12

static volatile sig_atomic_t stop_flag;
static void on_term(int sig) { (void)sig; stop_flag = 1; }

static int read_full(int fd, void *buf, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = recv(fd, (char *)buf + done, len - done, 0);
        if (n == 0) return 0;
        if (n < 0) { if (errno == EINTR) continue; return -1; }
        done += (size_t)n;
    }
    return 1;
}

static int write_frame(int fd, uint32_t id, const void *payload, uint32_t len)
{
    uint32_t h[3] = { htonl(PREFIX), htonl(id), htonl(len) };
    struct iovec iov[2] = { { h, HDR }, { (void *)payload, len } };
    size_t total = HDR + (size_t)len, done = 0;
    while (done < total) {
        struct msghdr m = { 0 };
        struct iovec v[2];
        int cnt = 0;
        size_t skip = done;
        for (int i = 0; i < 2; i++) {
            if (skip >= iov[i].iov_len) { skip -= iov[i].iov_len; continue; }
            v[cnt].iov_base = (char *)iov[i].iov_base + skip;
            v[cnt].iov_len = iov[i].iov_len - skip;
            skip = 0;
            cnt++;
        }
        m.msg_iov = v;
        m.msg_iovlen = cnt;
        ssize_t n = sendmsg(fd, &m, MSG_NOSIGNAL);
        if (n < 0) { if (errno == EINTR) continue; return -1; }
        done += (size_t)n;
    }
    return 0;
}

/* 1 = frame read, 0 = EOF, -1 = error */
static int read_frame(int fd, uint32_t *id, char *buf, uint32_t cap, uint32_t *len)
{
    uint32_t h[3];
    int r = read_full(fd, h, HDR);
    if (r <= 0) return r;
    if (ntohl(h[0]) != PREFIX) { fprintf(stderr, "wrong prefix\n"); return -1; }
    *id = ntohl(h[1]);
    *len = ntohl(h[2]);
    if (*len > cap) { fprintf(stderr, "frame too large: %u\n", *len); return -1; }
    return *len == 0 ? 1 : read_full(fd, buf, *len) == 1 ? 1 : -1;
}

static void split_host_port(char *spec, char **host, char **port)
{
    char *c = strrchr(spec, ':');
    if (!c) { *host = NULL; *port = spec; return; }
    *c = 0;
    *host = spec;
    *port = c + 1;
    if (**host == '[') { (*host)++; char *e = strchr(*host, ']'); if (e) *e = 0; }
}

static int tcp_socket(char *spec, int listening)
{
    char *host, *port;
    split_host_port(spec, &host, &port);
    struct addrinfo hints = { 0 }, *ai;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = listening ? AI_PASSIVE : 0;
    if (getaddrinfo(host, port, &hints, &ai) != 0) { fprintf(stderr, "cannot resolve %s\n", spec); exit(1); }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (listening) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 128) < 0) { perror("bind/listen"); exit(1); }
    } else {
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) { perror("connect"); exit(1); }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    freeaddrinfo(ai);
    return fd;
}

static int unix_socket(const char *path, int listening)
{
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    socklen_t len;
    if (path[0] == '@') {
        strncpy(a.sun_path + 1, path + 1, sizeof a.sun_path - 2);
        len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(path + 1));
    } else {
        strncpy(a.sun_path, path, sizeof a.sun_path - 1);
        len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listening) {
        if (path[0] != '@') unlink(path);
        if (bind(fd, (struct sockaddr *)&a, len) < 0 || listen(fd, 128) < 0) { perror("bind/listen"); exit(1); }
    } else if (connect(fd, (struct sockaddr *)&a, len) < 0) { perror("connect"); exit(1); }
    return fd;
}

static int cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

static long long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc < 2) goto usage;
    char *tcp = NULL, *pipe_path = NULL;
    long count = 100000, size = 64, warmup = 20000;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--tcp") && i + 1 < argc) tcp = argv[++i];
        else if (!strcmp(argv[i], "--pipe") && i + 1 < argc) pipe_path = argv[++i];
        else if (!strcmp(argv[i], "--count") && i + 1 < argc) count = atol(argv[++i]);
        else if (!strcmp(argv[i], "--size") && i + 1 < argc) size = atol(argv[++i]);
        else if (!strcmp(argv[i], "--warmup") && i + 1 < argc) warmup = atol(argv[++i]);
        else goto usage;
    }
    if (!tcp == !pipe_path || count <= 0 || size < 0) goto usage;
    uint32_t cap = 16u << 20;
    char *buf = malloc(cap);
    if (!strcmp(argv[1], "echo")) {
        struct sigaction sa = { .sa_handler = on_term };
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        int l = tcp ? tcp_socket(tcp, 1) : unix_socket(pipe_path, 1);
        printf("qbn-stream echo: %s ready (pid %d)\n", tcp ? tcp : pipe_path, (int)getpid());
        fflush(stdout);
        while (!stop_flag) {
            int c = accept4(l, NULL, NULL, SOCK_CLOEXEC);
            if (c < 0) continue;
            int one = 1;
            if (tcp) setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            uint32_t id, len;
            while (!stop_flag && read_frame(c, &id, buf, cap, &len) == 1)
                if (write_frame(c, id, buf, len) < 0) break;
            close(c);
        }
        close(l);
        if (pipe_path && pipe_path[0] != '@') unlink(pipe_path);
        return 0;
    }
    if (!strcmp(argv[1], "bench")) {
        int fd = tcp ? tcp_socket(tcp, 0) : unix_socket(pipe_path, 0);
        char *req = malloc(size + 1);
        for (long i = 0; i < size; i++) req[i] = (char)i;
        long long *rtt = malloc(sizeof(long long) * count);
        uint32_t id, len;
        long long start = 0;
        for (long i = -warmup; i < count; i++) {
            if (i == 0) start = now_ns();
            long long t0 = now_ns();
            if (write_frame(fd, (uint32_t)i, req, (uint32_t)size) < 0 || read_frame(fd, &id, buf, cap, &len) != 1
                || id != (uint32_t)i || len != (uint32_t)size) {
                fprintf(stderr, "qbn-stream bench: round trip %ld failed\n", i);
                return 1;
            }
            if (i >= 0) rtt[i] = now_ns() - t0;
        }
        long long total = now_ns() - start;
        qsort(rtt, count, sizeof *rtt, cmp_ll);
        double per_s = count / (total / 1e9);
        long i999 = (long)(count * 0.999);
        if (i999 > count - 1) i999 = count - 1;
        printf("size=%ld count=%ld p50_ns=%lld p99_ns=%lld p999_ns=%lld msgs_per_s=%.0f MB_per_s=%.2f\n", size, count,
               rtt[count / 2], rtt[(long)(count * 0.99)], rtt[i999], per_s, per_s * size / 1e6);
        close(fd);
        return 0;
    }
usage:
    fprintf(stderr, "usage: qbn-stream echo (--tcp [ADDR:]PORT | --pipe PATH)\n"
                    "       qbn-stream bench (--tcp HOST:PORT | --pipe PATH) [--count N] [--size S] [--warmup N]\n");
    return 2;
}
