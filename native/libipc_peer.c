/*
 * libipc-peer: a libipc (KaneRoot/libipc 33cd215) wire peer written from the protocol document, NOT linked to any
 * libipc: plain POSIX sockets. Used by jqb's interop tests and benchmarks.
 *
 *   libipc-peer echo-server NAME
 *       listens at $IPC_RUNDIR (or /run/ipc/) + "/" + NAME + "-0-0", prints
 *       "ready name=NAME pid=PID path=PATH" once listening, echoes every frame (same type, same payload), one
 *       frame per loop iteration, lowest ready fd first (as ipc_wait_event). SIGTERM/SIGINT: closes every client,
 *       removes the socket, exits 0.
 *   libipc-peer bench NAME [--count N] [--size S] [--warmup W] [--type T]
 *       lock-step echo round trips of DATA frames (or type T); checks every byte of every echo (exit 1 at the first
 *       mismatch), then prints "size=S count=N p50_ns=.. p99_ns=.. p999_ns=.. msgs_per_s=.. MB_per_s=..".
 *       Connection failure: exit 2.
 *
 * Frame: 1-byte type, 4-byte payload length, little-endian (the host order of every libipc platform), payload.
 * Unlike libipc 33cd215 this reader frames properly (exactly 5 header bytes, then exactly length bytes), so split
 * and coalesced input work; each frame is sent with a single send(), as libipc does.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define HEADER 5
#define MAX_PAYLOAD 7999990u
#define MAX_CLIENTS 4096

static volatile sig_atomic_t stop;

static void on_term(int sig) { (void)sig; stop = 1; }

static int socket_path(const char *name, char *out, size_t n)
{
    const char *dir = getenv("IPC_RUNDIR");
    if (dir == NULL)
        dir = "/run/ipc/";
    int len = snprintf(out, n, "%s/%s-%d-%d", dir, name, 0, 0);
    if (len < 0 || (size_t)len >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
        fprintf(stderr, "libipc-peer: socket path for '%s' too long (%d bytes, max %zu)\n", name, len,
                sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
        return -1;
    }
    return 0;
}

/* 1: all read, 0: EOF before any byte, -1: error or EOF mid-way. */
static int read_full(int fd, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = recv(fd, (char *)buf + got, n - got, 0);
        if (r == 0)
            return got == 0 ? 0 : -1;
        if (r < 0) {
            if (errno == EINTR && !stop)
                continue;
            return -1;
        }
        got += (size_t)r;
    }
    return 1;
}

static int send_full(int fd, const void *buf, size_t n)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = send(fd, (const char *)buf + done, n - done, MSG_NOSIGNAL);
        if (r < 0) {
            if (errno == EINTR && !stop)
                continue;
            return -1;
        }
        done += (size_t)r;
    }
    return 0;
}

static uint32_t get_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le32(unsigned char *p, uint32_t v)
{
    p[0] = v & 0xff; p[1] = (v >> 8) & 0xff; p[2] = (v >> 16) & 0xff; p[3] = (v >> 24) & 0xff;
}

/* Reads one frame into *buf (grown as needed, header included). 1 ok, 0 EOF, -1 error. */
static int read_frame(int fd, unsigned char **buf, size_t *cap, uint32_t *len)
{
    unsigned char h[HEADER];
    int r = read_full(fd, h, HEADER);
    if (r <= 0)
        return r;
    *len = get_le32(h + 1);
    if (*len > MAX_PAYLOAD) {
        fprintf(stderr, "libipc-peer: frame length %u over %u\n", *len, MAX_PAYLOAD);
        return -1;
    }
    if (*cap < HEADER + (size_t)*len) {
        free(*buf);
        *cap = HEADER + (size_t)*len;
        *buf = malloc(*cap);
        if (*buf == NULL)
            return -1;
    }
    memcpy(*buf, h, HEADER);
    return read_full(fd, *buf + HEADER, *len) < 0 ? -1 : (*len == 0 ? 1 : 1);
}

static int echo_server(const char *name)
{
    char path[256];
    if (socket_path(name, path, sizeof path) < 0)
        return 2;
    int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    strcpy(a.sun_path, path);
    unlink(path);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, 128) < 0) {
        fprintf(stderr, "libipc-peer: bind/listen %s: %s\n", path, strerror(errno));
        return 2;
    }
    struct sigaction sa = {.sa_handler = on_term};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    printf("ready name=%s pid=%d path=%s\n", name, (int)getpid(), path);
    fflush(stdout);

    static struct pollfd p[MAX_CLIENTS + 1];
    int n = 1;
    p[0].fd = lfd;
    p[0].events = POLLIN;
    unsigned char *buf = NULL;
    size_t cap = 0;
    while (!stop) {
        int rc = poll(p, (nfds_t)n, -1);
        if (rc < 0) {
            if (errno == EINTR)
                continue;
            perror("poll");
            break;
        }
        /* One event per iteration, lowest fd first, as ipc_wait_event's select scan. */
        int best = -1;
        for (int i = 0; i < n; i++)
            if (p[i].revents && (best < 0 || p[i].fd < p[best].fd))
                best = i;
        if (best < 0)
            continue;
        if (best == 0) {
            int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
            if (c >= 0) {
                if (n <= MAX_CLIENTS) {
                    p[n].fd = c;
                    p[n].events = POLLIN;
                    p[n].revents = 0;
                    n++;
                } else {
                    close(c);
                }
            }
            continue;
        }
        uint32_t len = 0;
        int r = read_frame(p[best].fd, &buf, &cap, &len);
        if (r == 1 && send_full(p[best].fd, buf, HEADER + (size_t)len) == 0)
            continue;
        close(p[best].fd);
        p[best] = p[--n];
    }
    for (int i = 1; i < n; i++)
        close(p[i].fd);
    close(lfd);
    unlink(path);
    free(buf);
    return 0;
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
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int bench(const char *name, long count, long size, long warmup, int type)
{
    char path[256];
    if (socket_path(name, path, sizeof path) < 0)
        return 2;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    strcpy(a.sun_path, path);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        fprintf(stderr, "libipc-peer: connect %s: %s\n", path, strerror(errno));
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    unsigned char *req = malloc(HEADER + (size_t)size + 1);
    unsigned char *resp = NULL;
    size_t cap = 0;
    long long *rtt = malloc(sizeof(long long) * (size_t)count);
    if (req == NULL || rtt == NULL)
        return 3;
    long long start = 0;
    for (long i = -warmup; i < count; i++) {
        if (i == 0)
            start = now_ns();
        unsigned seq = (unsigned)(i + warmup);
        req[0] = (unsigned char)type;
        put_le32(req + 1, (uint32_t)size);
        for (long k = 0; k < size; k++)
            req[HEADER + k] = (unsigned char)(k * 7 + seq * 13 + 1);
        long long t0 = now_ns();
        if (send_full(fd, req, HEADER + (size_t)size) < 0) {
            fprintf(stderr, "libipc-peer: send: %s\n", strerror(errno));
            return 1;
        }
        uint32_t len = 0;
        int r = read_frame(fd, &resp, &cap, &len);
        long long t1 = now_ns();
        if (r != 1) {
            fprintf(stderr, "libipc-peer: echo %ld: %s\n", i, r == 0 ? "server closed" : strerror(errno));
            return 1;
        }
        if (resp[0] != (unsigned char)type || len != (uint32_t)size
            || (size > 0 && memcmp(resp + HEADER, req + HEADER, (size_t)size) != 0)) {
            fprintf(stderr, "libipc-peer: echo %ld mismatch (type %u len %u, sent type %d len %ld)\n", i,
                    resp[0], len, type, size);
            return 1;
        }
        if (i >= 0)
            rtt[i] = t1 - t0;
    }
    long long elapsed = now_ns() - start;
    qsort(rtt, (size_t)count, sizeof *rtt, cmp_ll);
    double per_s = count / (elapsed / 1e9);
    long p999 = (long)(count * 0.999);
    if (p999 > count - 1)
        p999 = count - 1;
    printf("size=%ld count=%ld p50_ns=%lld p99_ns=%lld p999_ns=%lld msgs_per_s=%.0f MB_per_s=%.2f\n", size, count,
           rtt[count / 2], rtt[(long)(count * 0.99)], rtt[p999], per_s, per_s * size / 1e6);
    close(fd);
    free(req);
    free(resp);
    free(rtt);
    return 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: libipc-peer echo-server NAME\n"
                    "       libipc-peer bench NAME [--count N] [--size S] [--warmup W] [--type T]\n");
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return usage();
    if (strcmp(argv[1], "echo-server") == 0)
        return argc == 3 ? echo_server(argv[2]) : usage();
    if (strcmp(argv[1], "bench") == 0) {
        long count = 100000, size = 64, warmup = 10000;
        int type = 2;
        for (int i = 3; i < argc; i++) {
            if (i + 1 >= argc)
                return usage();
            char *end;
            long v = strtol(argv[i + 1], &end, 10);
            if (*end != 0 || v < 0)
                return usage();
            if (strcmp(argv[i], "--count") == 0)
                count = v;
            else if (strcmp(argv[i], "--size") == 0)
                size = v;
            else if (strcmp(argv[i], "--warmup") == 0)
                warmup = v;
            else if (strcmp(argv[i], "--type") == 0)
                type = (int)v;
            else
                return usage();
            i++;
        }
        if (count <= 0 || size > (long)MAX_PAYLOAD)
            return usage();
        return bench(argv[2], count, size, warmup, type);
    }
    return usage();
}
