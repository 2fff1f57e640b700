/* Integration tests of `extrace demo`: the whole system (a real
 * redis-server, store, api, worker and generator) started by one command,
 * read back through the store's query API, and stopped with nothing left
 * behind: by Ctrl-C, by itself with --exit-when-done, when a child fails,
 * and when the demo itself is killed with SIGKILL (the children get
 * SIGTERM through PR_SET_PDEATHSIG). Each demo runs with TMPDIR set to a
 * test temp dir, so its own temp dir can be checked and is always removed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <dirent.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "support.h"

#define MAX_PIDS 16
#define START_TIMEOUT_MS 20000
#define STOP_TIMEOUT_MS 20000

/* One demo run: its process, its log, the temp dir it runs in. */
typedef struct run {
    pid_t pid;
    char log[512];
    char tmpdir[256];     /* TMPDIR given to the demo */
    int pids[MAX_PIDS];   /* children's pids, from the "(pid N)" log lines */
    int npids;
} run;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Start `extrace demo ARGS…` (NULL-ended) with its output in r->log. */
static void start_demo(run *r, const char *first, ...)
{
    const char *dir = ts_tmpdir();
    assert_non_null(dir);
    snprintf(r->tmpdir, sizeof r->tmpdir, "%s/tmp", dir);
    assert_int_equal(mkdir(r->tmpdir, 0700), 0);
    snprintf(r->log, sizeof r->log, "%s/demo.log", dir);
    char *argv[32] = {(char *)ts_bin(), "demo"};
    int n = 2;
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a && n < 31; a = va_arg(ap, const char *)) argv[n++] = (char *)a;
    va_end(ap);
    argv[n] = NULL;
    setenv("TMPDIR", r->tmpdir, 1);
    r->pid = ts_spawn(argv, r->log);
    unsetenv("TMPDIR");
    assert_true(r->pid > 0);
}

/* The demo's log so far (malloc'd, never NULL). */
static char *read_log(const run *r)
{
    char *s = ts_read_file(r->log, NULL);
    return s ? s : strdup("");
}

/* Wait until the log contains needle; fails the test (showing the log) at the timeout. */
static void wait_log(const run *r, const char *needle, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        char *s = read_log(r);
        int found = strstr(s, needle) != NULL;
        if (found || now_ms() >= deadline) {
            if (!found) fail_msg("no \"%s\" in the demo's log within %d ms:\n%s", needle, timeout_ms, s);
            free(s);
            return;
        }
        free(s);
        usleep(50000);
    }
}

/* Every "(pid N)" of the log: the children the demo started. */
static void collect_pids(run *r)
{
    char *s = read_log(r);
    r->npids = 0;
    for (char *p = s; (p = strstr(p, "(pid ")) && r->npids < MAX_PIDS; p += 5) {
        int pid = atoi(p + 5), dup = 0;
        for (int i = 0; i < r->npids; i++) dup |= r->pids[i] == pid;
        if (pid > 0 && !dup) r->pids[r->npids++] = pid;
    }
    free(s);
}

/* A process exists and is not a zombie. */
static int alive(int pid)
{
    char path[64], stat[512];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = fread(stat, 1, sizeof stat - 1, f);
    fclose(f);
    stat[n] = '\0';
    const char *close_paren = strrchr(stat, ')');
    return close_paren && close_paren[1] == ' ' && close_paren[2] != 'Z';
}

/* Every child recorded in r is gone within timeout_ms. */
static void assert_children_gone(const run *r, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    for (int i = 0; i < r->npids; i++) {
        while (alive(r->pids[i]) && now_ms() < deadline) usleep(20000);
        if (alive(r->pids[i])) {
            char *s = read_log(r);
            fail_msg("child pid %d of the demo is still running:\n%s", r->pids[i], s);
        }
    }
}

/* The number of entries in the demo's TMPDIR (its own temp dir while it runs). */
static int tmpdir_entries(const run *r)
{
    DIR *d = opendir(r->tmpdir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

/* The UI port, from "UI and query API http://127.0.0.1:PORT/". */
static int ui_port(const run *r)
{
    wait_log(r, "UI and query API http://127.0.0.1:", START_TIMEOUT_MS);
    char *s = read_log(r);
    int port = atoi(strstr(s, "UI and query API http://127.0.0.1:") + strlen("UI and query API http://127.0.0.1:"));
    free(s);
    assert_true(port > 0);
    return port;
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    FILE *f = arg;
    return fwrite(data, size, n, f);
}

/* GET the store's search for Workflow root spans; the number of traces, or -1. */
static int search_workflows(int port, json_t **answer)
{
    char url[256], *body = NULL;
    size_t len = 0;
    /* q={name="Workflow"} */
    snprintf(url, sizeof url, "http://127.0.0.1:%d/api/search?q=%%7Bname%%3D%%22Workflow%%22%%7D&limit=100", port);
    FILE *mem = open_memstream(&body, &len);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, mem);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_PROXY, "");
    long status = 0;
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    fclose(mem);
    int count = -1;
    if (rc == CURLE_OK && status == 200) {
        json_error_t err;
        json_t *j = json_loads(body, 0, &err);
        json_t *traces = json_object_get(j, "traces");
        if (json_is_array(traces)) count = (int)json_array_size(traces);
        if (answer && count > 0) *answer = json_incref(j);
        json_decref(j);
    }
    free(body);
    return count;
}

/* Ctrl-C: the system runs (a finished workflow's trace is in the store),
 * SIGINT stops it with exit 0, no child is left, the temp dir is removed. */
static void test_ctrl_c_stops_everything(void **state)
{
    run r = {0};
    start_demo(&r, "--workflows", "6", "--time-scale", "600", "--ui-listen", "127.0.0.1:0", NULL);
    int port = ui_port(&r);
    assert_int_equal(ts_wait_port(port, START_TIMEOUT_MS), 0);
    json_t *answer = NULL;
    int64_t deadline = now_ms() + 30000;
    while (search_workflows(port, &answer) < 1 && now_ms() < deadline) usleep(100000);
    if (!answer) {
        char *s = read_log(&r);
        fail_msg("no Workflow trace reached the store within 30 s:\n%s", s);
    }
    json_t *t = json_array_get(json_object_get(answer, "traces"), 0);
    assert_string_equal(json_string_value(json_object_get(t, "rootTraceName")), "Workflow");
    assert_string_equal(json_string_value(json_object_get(t, "rootServiceName")), "Tracing.Worker");
    assert_int_equal(strlen(json_string_value(json_object_get(t, "traceID"))), 32);
    json_decref(answer);

    wait_log(&r, "started extrace generate (pid ", START_TIMEOUT_MS);
    collect_pids(&r);
    assert_int_equal(r.npids, 5); /* redis-server, store, api, worker, generate */
    assert_int_equal(tmpdir_entries(&r), 1);
    assert_int_equal(ts_stop(r.pid, SIGINT, STOP_TIMEOUT_MS), 0);
    assert_children_gone(&r, 1000);
    wait_log(&r, "received SIGINT: stopping every child", 0);
    wait_log(&r, "redis-server (pid ", 0);
    assert_int_equal(tmpdir_entries(&r), 0);
}

/* --exit-when-done: every published workflow finishes, the demo exits 0
 * by itself, the counts add up, no child is left. */
static void test_exit_when_done(void **state)
{
    run r = {0};
    start_demo(&r, "--workflows", "6", "--time-scale", "600", "--exit-when-done", "--ui-listen", "127.0.0.1:0", NULL);
    int rc = ts_wait(r.pid, 45000);
    char *s = read_log(&r);
    if (rc != 0) fail_msg("the demo ended with %d (-2: still running after 45 s):\n%s", rc, s);
    long published = -1, total = -1, ok = -1, failed = -1, timed_out = -1, spans = -1;
    const char *summary = strstr(s, "demo stopped: ");
    assert_non_null(summary);
    assert_int_equal(sscanf(summary, "demo stopped: %ld of %ld workflows published, %ld ok, %ld failed, %ld timed out, "
                                     "%ld spans exported",
                            &published, &total, &ok, &failed, &timed_out, &spans),
                     6);
    assert_int_equal(published, 6);
    assert_int_equal(total, 6);
    assert_int_equal(ok + failed + timed_out, 6);
    assert_true(spans >= 6 * 2); /* each workflow: its root span and at least one stage */
    assert_non_null(strstr(s, "all 6 workflows finished"));
    assert_null(strstr(s, "received SIG"));
    free(s);
    collect_pids(&r);
    assert_int_equal(r.npids, 5);
    assert_children_gone(&r, 1000);
    assert_int_equal(tmpdir_entries(&r), 0);
}

/* --source: the simulator plays GitHub Actions, Argo Workflows and Airflow,
 * the generator announces their keys, the worker watches them through the
 * built-in profiles: every workflow finishes, with a tree of spans. */
static void test_sources(void **state)
{
    static const char *const sources[] = {"github-actions", "argo-workflows", "airflow"};
    for (size_t i = 0; i < 3; i++) {
        run r = {0};
        start_demo(&r, "--source", sources[i], "--workflows", "5", "--time-scale", "600", "--exit-when-done",
                   "--ui-listen", "127.0.0.1:0", NULL);
        int rc = ts_wait(r.pid, 45000);
        char *s = read_log(&r);
        if (rc != 0) fail_msg("--source %s: the demo ended with %d:\n%s", sources[i], rc, s);
        long published = -1, total = -1, ok = -1, failed = -1, timed_out = -1, spans = -1;
        const char *summary = strstr(s, "demo stopped: ");
        assert_non_null(summary);
        assert_int_equal(sscanf(summary, "demo stopped: %ld of %ld workflows published, %ld ok, %ld failed, "
                                         "%ld timed out, %ld spans exported",
                                &published, &total, &ok, &failed, &timed_out, &spans),
                         6);
        assert_int_equal(published, 5);
        assert_int_equal(ok + failed, 5); /* none timed out: every key was watched to its end */
        assert_true(spans >= 5 * 4);     /* a root, Queued or not, and a tree of several nodes each */
        free(s);
        collect_pids(&r);
        assert_children_gone(&r, 1000);
    }
}

/* A child that cannot start: the demo names it and its log, stops the
 * others, exits 1 and keeps its temp dir (the logs) for the user. */
static void test_failed_child(void **state)
{
    run r = {0};
    /* A file where the data dir's parent should be: the store cannot create it. */
    char file[300], bad[320];
    snprintf(file, sizeof file, "%s/not-a-dir", ts_tmpdir());
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);
    snprintf(bad, sizeof bad, "%s/data", file);
    start_demo(&r, "--data-dir", bad, "--ui-listen", "127.0.0.1:0", NULL);
    assert_int_equal(ts_wait(r.pid, 30000), 1);
    char *s = read_log(&r);
    assert_non_null(strstr(s, "extrace store (pid "));
    assert_non_null(strstr(s, "exited with status 1 before it was ready"));
    assert_non_null(strstr(s, "the end of its log "));
    assert_non_null(strstr(s, "--data-dir"));
    assert_non_null(strstr(s, "kept "));
    free(s);
    collect_pids(&r);
    assert_int_equal(r.npids, 2); /* redis-server, store */
    assert_children_gone(&r, 1000);
    assert_int_equal(tmpdir_entries(&r), 1);
}

/* --redis names a running Redis: the demo uses it and starts no other,
 * leaves it running at exit; --verbose copies the children's output,
 * prefixed; --keep leaves the temp dir. */
static void test_external_redis_verbose_keep(void **state)
{
    ts_redis redis;
    assert_int_equal(ts_redis_start(&redis), 0);
    run r = {0};
    start_demo(&r, "--redis", redis.url, "--workflows", "3", "--time-scale", "600", "--exit-when-done", "--verbose",
               "--keep", "--ui-listen", "127.0.0.1:0", NULL);
    int rc = ts_wait(r.pid, 45000);
    char *s = read_log(&r);
    if (rc != 0) fail_msg("the demo ended with %d:\n%s", rc, s);
    char using[128];
    snprintf(using, sizeof using, "using the Redis at %s (it answered PING)", redis.url);
    assert_non_null(strstr(s, using));
    assert_null(strstr(s, "started redis-server"));
    assert_non_null(strstr(s, "[worker] "));
    assert_non_null(strstr(s, "[store] "));
    assert_non_null(strstr(s, "[generate] "));
    assert_non_null(strstr(s, "all 3 workflows finished"));
    free(s);
    collect_pids(&r);
    assert_int_equal(r.npids, 4); /* store, api, worker, generate */
    assert_children_gone(&r, 1000);
    assert_true(alive(redis.pid));
    assert_int_equal(tmpdir_entries(&r), 1); /* --keep */
    ts_redis_stop(&redis);
}

/* SIGKILL of the demo itself: nobody can stop the children in order, but
 * each gets SIGTERM from the kernel (PR_SET_PDEATHSIG) and exits. */
static void test_sigkill_of_demo(void **state)
{
    run r = {0};
    start_demo(&r, "--workflows", "50", "--ui-listen", "127.0.0.1:0", NULL);
    wait_log(&r, "started extrace generate (pid ", START_TIMEOUT_MS);
    collect_pids(&r);
    assert_int_equal(r.npids, 5);
    for (int i = 0; i < r.npids; i++) assert_true(alive(r.pids[i]));
    assert_int_equal(ts_stop(r.pid, SIGKILL, 5000), 128 + SIGKILL);
    assert_children_gone(&r, 10000);
}

/* Bad options: exit 2 with the value and where it came from. */
static void test_bad_options(void **state)
{
    char *out = NULL, *err = NULL;
    char *argv[] = {(char *)ts_bin(), "demo", "--time-scale", "0.5", NULL};
    assert_int_equal(ts_run(argv, &out, &err, 10000), 2);
    assert_non_null(strstr(err, "--time-scale=\"0.5\": must be at least 1"));
    free(out);
    free(err);
    char *argv2[] = {(char *)ts_bin(), "demo", "--redis", "rediss://x", NULL};
    assert_int_equal(ts_run(argv2, &out, &err, 10000), 2);
    assert_non_null(strstr(err, "--redis=\"rediss://x\""));
    free(out);
    free(err);
    char *argv3[] = {(char *)ts_bin(), "demo", "--source", "jenkins", NULL};
    assert_int_equal(ts_run(argv3, &out, &err, 10000), 2);
    assert_non_null(strstr(err, "not one of seed, github-actions, argo-workflows, airflow"));
    free(out);
    free(err);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ctrl_c_stops_everything),
        cmocka_unit_test(test_exit_when_done),
        cmocka_unit_test(test_failed_child),
        cmocka_unit_test(test_external_redis_verbose_keep),
        cmocka_unit_test(test_sigkill_of_demo),
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_sources),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
