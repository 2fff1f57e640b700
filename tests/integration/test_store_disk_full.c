/* A full disk under the store, for real: its --data-dir on a 512 KiB
 * tmpfs. Ingest fills it; the answer and the log name the cause ("disk
 * full", the data directory) instead of a failed rollback, and the store
 * keeps serving. A store restarted on a full disk says so too. Needs the
 * right to mount (root); skipped otherwise. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http.h"
#include "support.h"

static char mnt[256];

/* An OTLP/JSON export of 20 spans with distinct ids and 400-byte values. */
static char *export_body(int round)
{
    size_t cap = 20 * 1024, n = 0;
    char *b = malloc(cap);
    assert_non_null(b);
    n += (size_t)snprintf(b + n, cap - n, "{\"resourceSpans\":[{\"resource\":{},\"scopeSpans\":[{\"spans\":[");
    for (int i = 0; i < 20; i++) {
        n += (size_t)snprintf(b + n, cap - n,
                              "%s{\"traceId\":\"%016x%016x\",\"spanId\":\"%016x\",\"name\":\"fill\","
                              "\"startTimeUnixNano\":\"1700000000000000000\",\"endTimeUnixNano\":\"1700000001000000000\","
                              "\"attributes\":[{\"key\":\"pad\",\"value\":{\"stringValue\":\"",
                              i ? "," : "", round + 1, i + 1, round * 100 + i + 1);
        for (int k = 0; k < 400; k++) b[n++] = (char)('a' + (k * 7 + i + round) % 26);
        n += (size_t)snprintf(b + n, cap - n, "\"}}]}");
    }
    snprintf(b + n, cap - n, "]}]}]}");
    return b;
}

/* A store on dir with its listeners on port 0, output to log (which may
 * say it cannot start: no waiting here). */
static pid_t start_store(const char *dir, const char *log)
{
    char *argv[] = {(char *)ts_bin(), "store", "--data-dir", (char *)dir, "--http-listen", "127.0.0.1:0",
                    "--otlp-http-listen", "127.0.0.1:0", "--otlp-grpc-listen", "127.0.0.1:0", NULL};
    return ts_spawn(argv, log);
}

/* A port (after marker) of a store started on a fresh log. */
static int store_port(const char *log, const char *marker)
{
    int port = ts_logged_port(log, 0, marker, 20000);
    if (!port) fail_msg("extrace store did not start (log %s)", log);
    return port;
}

static void test_ingest_on_full_disk(void **state)
{
    (void)state;
    char dir[300], log[300], url[96];
    snprintf(dir, sizeof dir, "%s/data", mnt);
    snprintf(log, sizeof log, "%s/store.log", ts_tmpdir());
    pid_t pid = start_store(dir, log);
    int query_port = store_port(log, "query API and UI listening on ");
    int http_port = store_port(log, "OTLP/HTTP listening on ");
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/traces", http_port);
    CURL *c = curl_easy_init();
    const char *hdrs[] = {"Content-Type: application/json", NULL};
    th_resp r = {0};
    int round;
    for (round = 0; round < 200; round++) {
        char *body = export_body(round);
        th_req req = {.headers = hdrs, .body = body, .body_len = strlen(body)};
        th_request(c, "POST", url, &req, &r);
        free(body);
        if (r.status != 200) break;
        th_resp_free(&r);
    }
    if (round == 200) fail_msg("512 KiB never filled up");
    assert_int_equal(r.status, 503);
    if (!strstr(r.body, "disk full") || !strstr(r.body, dir)) fail_msg("answer: %s", r.body);
    assert_null(strstr(r.body, "rollback"));
    th_resp_free(&r);
    /* still serving */
    snprintf(url, sizeof url, "http://127.0.0.1:%d/api/echo", query_port);
    th_request(c, "GET", url, NULL, &r);
    assert_int_equal(r.status, 200);
    th_resp_free(&r);
    curl_easy_cleanup(c);
    assert_int_equal(ts_stop(pid, SIGTERM, 10000), 0);
    char *text = ts_read_file(log, NULL);
    char want[400];
    snprintf(want, sizeof want, "ERROR otlp-http: storing spans failed: %s/traces.db: ", dir);
    const char *line = strstr(text, want);
    if (!line || !strstr(line, "disk full: no space left in the data directory")) fail_msg("log:\n%s", text);
    assert_null(strstr(text, "cannot rollback"));
    free(text);
}

static void test_start_on_full_disk(void **state)
{
    (void)state;
    char fill[300], dir[300], log[300];
    snprintf(fill, sizeof fill, "%s/fill", mnt);
    snprintf(dir, sizeof dir, "%s/fresh", mnt);
    snprintf(log, sizeof log, "%s/start.log", ts_tmpdir());
    char *rm[] = {"rm", "-rf", fill, dir, NULL};
    snprintf(fill, sizeof fill, "%s/data", mnt); /* what the test before filled */
    assert_int_equal(ts_run(rm, NULL, NULL, 10000), 0);
    snprintf(fill, sizeof fill, "%s/fill", mnt);
    /* a data dir that served before, as after a restart */
    pid_t pid = start_store(dir, log);
    assert_true(store_port(log, "query API and UI listening on ") > 0);
    assert_int_equal(ts_stop(pid, SIGTERM, 10000), 0);
    unlink(log);
    int fd = open(fill, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    static const char block[4096];
    while (write(fd, block, sizeof block) > 0) {
    }
    assert_int_equal(errno, ENOSPC);
    close(fd);
    pid = start_store(dir, log);
    assert_int_equal(ts_wait(pid, 10000), 1);
    char *text = ts_read_file(log, NULL);
    /* whichever write fails first: the lock file's or SQLite's */
    if ((!strstr(text, "disk full: no space left in the data directory") &&
         !strstr(text, "No space left on device")) ||
        !strstr(text, dir) || strstr(text, "disk I/O error\n"))
        fail_msg("log:\n%s", text);
    free(text);
    unlink(fill);
}

static int setup(void **state)
{
    (void)state;
    snprintf(mnt, sizeof mnt, "%s/small", ts_tmpdir());
    if (mkdir(mnt, 0700) != 0) return -1;
    if (mount("tmpfs", mnt, "tmpfs", 0, "size=512k") != 0) {
        fprintf(stderr, "cannot mount a small tmpfs (%s): the disk-full tests are skipped\n", strerror(errno));
        mnt[0] = '\0';
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (mnt[0]) umount2(mnt, MNT_DETACH);
    return 0;
}

static int need_mount(void **state)
{
    (void)state;
    if (!mnt[0]) skip();
    return 0;
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_ingest_on_full_disk, need_mount),
        cmocka_unit_test_setup(test_start_on_full_disk, need_mount),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    ts_cleanup();
    curl_global_cleanup();
    return rc;
}
