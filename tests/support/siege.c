#include "siege.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

void sg_raise_nofile(long want)
{
    struct rlimit rl;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    rl.rlim_cur = rl.rlim_max;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
    if ((long)rl.rlim_cur < want) fail_msg("RLIMIT_NOFILE hard limit %ld is below the %ld the test needs", (long)rl.rlim_cur, want);
}

void sg_open(sg_attack *a, const char *from, int port, int n, const char *bytes)
{
    memset(a, 0, sizeof *a);
    a->fds = calloc((size_t)n, sizeof *a->fds);
    assert_non_null(a->fds);
    a->bytes = bytes;
    a->len = strlen(bytes);
    struct sockaddr_in src = {.sin_family = AF_INET}, dst = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, from, &src.sin_addr);
    inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
    for (int i = 0; i < n; i++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) fail_msg("socket %d of %d: %s", i, n, strerror(errno));
        if (bind(fd, (struct sockaddr *)&src, sizeof src) != 0) fail_msg("bind to %s: %s", from, strerror(errno));
        if (connect(fd, (struct sockaddr *)&dst, sizeof dst) != 0 && errno != EINPROGRESS)
            fail_msg("connect %d of %d to port %d: %s", i, n, port, strerror(errno));
        a->fds[a->n++] = fd;
    }
}

void sg_trickle(sg_attack *a)
{
    if (!a->len) return;
    char b = a->bytes[a->step++ % a->len];
    for (int i = 0; i < a->n; i++)
        if (a->fds[i] >= 0) (void)!send(a->fds[i], &b, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

void sg_trickle_for(sg_attack *a, int ms)
{
    for (int t = 0; t < ms; t += 200) {
        sg_trickle(a);
        sleep_ms(200);
    }
}

int sg_count_closed(sg_attack *a)
{
    int closed = 0;
    for (int i = 0; i < a->n; i++) {
        char buf[512];
        if (a->fds[i] < 0) continue;
        ssize_t r = recv(a->fds[i], buf, sizeof buf, MSG_DONTWAIT);
        if (r >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) closed++;
    }
    return closed;
}

void sg_close(sg_attack *a)
{
    for (int i = 0; i < a->n; i++)
        if (a->fds[i] >= 0) close(a->fds[i]);
    free(a->fds);
    memset(a, 0, sizeof *a);
}

static size_t discard(char *p, size_t s, size_t n, void *arg) { return s * n; }

long sg_request(const char *from, const char *url, int grpc, long timeout_ms, long *ms)
{
    static const char empty_call[5] = {0};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CURL *c = curl_easy_init();
    assert_non_null(c);
    struct curl_slist *hdrs = NULL;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_INTERFACE, from);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
    if (grpc) {
        hdrs = curl_slist_append(hdrs, "Content-Type: application/grpc");
        hdrs = curl_slist_append(hdrs, "TE: trailers");
        curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, empty_call);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)sizeof empty_call);
    }
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    curl_slist_free_all(hdrs);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    *ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    return status;
}
