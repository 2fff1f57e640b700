/* test_sim_personas.c — `extrace api --source NAME` over real HTTP: a real
 * server process per persona at --time-scale 600, on time, polled with
 * libcurl until every run has ended, sending If-None-Match with the last
 * ETag where the system gives one (and counting the 304s), following
 * paging (Link rel="next", limit/offset) to the same list a single page
 * gives, checking the end states; GitHub's rate limit refuses and then
 * resumes; fault injection hits only item routes; SIGTERM stops cleanly. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>

#include "http.h"
#include "support.h"

#define NRUNS 8
#define POLL_EVERY_MS 20

typedef struct server {
    pid_t pid;
    int port;
    char log[300];
} server;

static CURL *curl;

static int logged_port(const char *path)
{
    char *log = ts_read_file(path, NULL);
    const char *at = log ? strstr(log, "listening on 127.0.0.1:") : NULL;
    int p = at ? atoi(at + strlen("listening on 127.0.0.1:")) : 0;
    free(log);
    return p;
}

/* Start `extrace api` with these extra arguments (NULL-terminated). */
static void start(server *s, const char *name, const char *const *extra)
{
    snprintf(s->log, sizeof s->log, "%s/api-%s.log", ts_tmpdir(), name);
    char *argv[32] = {(char *)ts_bin(), "api", "--listen", "127.0.0.1:0", "--time-scale", "600", "--advance",
                      "on-time", "--log-level", "debug"};
    int n = 10;
    for (; extra && *extra && n < 31; extra++) argv[n++] = (char *)*extra;
    argv[n] = NULL;
    s->pid = ts_spawn(argv, s->log);
    assert_true(s->pid > 0);
    for (int i = 0; i < 500 && !(s->port = logged_port(s->log)); i++) usleep(10000);
    if (!s->port || ts_wait_port(s->port, 5000) != 0) {
        char *log = ts_read_file(s->log, NULL);
        fail_msg("extrace api did not start: %s", log ? log : "(no log)");
    }
}

/* SIGTERM: exit 0; returns the log (caller frees). */
static char *stop(server *s)
{
    assert_int_equal(ts_stop(s->pid, SIGTERM, 5000), 0);
    s->pid = 0;
    return ts_read_file(s->log, NULL);
}

static long get(server *s, const char *path, const char *if_none_match, th_resp *r)
{
    char url[1024], inm[200];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", s->port, path);
    const char *headers[] = {inm, NULL};
    snprintf(inm, sizeof inm, "If-None-Match: %s", if_none_match ? if_none_match : "");
    th_request(curl, "GET", url, &(th_req){.headers = if_none_match ? headers : NULL}, r);
    return r->status;
}

static json_t *parse(const th_resp *r)
{
    json_error_t err;
    json_t *doc = json_loadb(r->body, r->len, JSON_REJECT_DUPLICATES, &err);
    if (!doc) fail_msg("not JSON (%s): %.300s", err.text, r->body);
    return doc;
}

__attribute__((noinline)) static const char *str(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : "";
}

/* One persona's item route and how to read "ended" from its answer. */
typedef struct follow {
    const char *const *paths;             /* NRUNS item paths */
    int (*ended)(json_t *doc);            /* 1 once the run has ended */
    int etag;                             /* the system sends ETags */
} follow;

/* Poll every path until every run has ended; returns the 304s seen. */
static long poll_until_ended(server *s, const follow *f, json_t **final)
{
    char etags[NRUNS][128] = {{0}};
    int ended = 0;
    long not_modified = 0, polls = 0;
    for (int round = 0; round < 3000 && ended < NRUNS; round++) {
        ended = 0;
        for (int i = 0; i < NRUNS; i++) {
            if (final[i]) {
                ended++;
                continue;
            }
            th_resp r;
            long st = get(s, f->paths[i], etags[i][0] ? etags[i] : NULL, &r);
            polls++;
            if (st == 304) {
                assert_true(f->etag);
                assert_int_equal(r.len, 0);
                not_modified++;
            } else {
                if (st != 200) fail_msg("GET %s: %ld %s", f->paths[i], st, r.body);
                assert_non_null(strstr(r.content_type, "application/json"));
                assert_int_equal(!!r.etag[0], f->etag);
                snprintf(etags[i], sizeof etags[i], "%s", r.etag);
                json_t *doc = parse(&r);
                if (f->ended(doc)) final[i] = doc;
                else json_decref(doc);
            }
            th_resp_free(&r);
        }
        usleep(POLL_EVERY_MS * 1000);
    }
    if (ended < NRUNS) fail_msg("only %d of %d runs ended after %ld polls", ended, NRUNS, polls);
    return not_modified;
}

/* Follow Link rel="next" from path; returns every page's `member` items in one array. */
static json_t *follow_links(server *s, const char *path, const char *member, int *pages)
{
    json_t *all = json_array();
    char next[2048];
    snprintf(next, sizeof next, "%s", path);
    *pages = 0;
    while (next[0]) {
        th_resp r;
        assert_int_equal(get(s, next, NULL, &r), 200);
        json_t *doc = parse(&r);
        json_array_extend(all, json_object_get(doc, member));
        json_decref(doc);
        (*pages)++;
        next[0] = '\0';
        const char *rel = strstr(r.link, ">; rel=\"next\"");
        if (rel) {
            const char *lt = rel;
            while (lt > r.link && *lt != '<') lt--;
            char prefix[64];
            snprintf(prefix, sizeof prefix, "<http://127.0.0.1:%d", s->port);
            assert_true(strncmp(lt, prefix, strlen(prefix)) == 0);
            lt += strlen(prefix);
            snprintf(next, sizeof next, "%.*s", (int)(rel - lt), lt);
        }
        th_resp_free(&r);
        assert_true(*pages < 50);
    }
    return all;
}

/* ---- GitHub Actions ---- */

static int gh_ended(json_t *doc) { return strcmp(str(doc, "status"), "completed") == 0; }

static void test_github_actions(void **state)
{
    server s;
    const char *extra[] = {"--source", "github-actions", "--seed", "3", "--failure-rate", "0.3", NULL};
    start(&s, "github", extra);
    char paths[NRUNS][96];
    const char *pp[NRUNS];
    for (int i = 0; i < NRUNS; i++) {
        snprintf(paths[i], sizeof paths[i], "/repos/octo-org/hello-world/actions/runs/%d", 30433642 + i);
        pp[i] = paths[i];
    }
    json_t *final[NRUNS] = {0};
    follow f = {pp, gh_ended, 1};
    long not_modified = poll_until_ended(&s, &f, final);
    assert_true(not_modified > 0);
    int attempts2 = 0;
    for (int i = 0; i < NRUNS; i++) {
        const char *concl = str(final[i], "conclusion");
        assert_true(strcmp(concl, "success") == 0 || strcmp(concl, "failure") == 0);
        long attempt = (long)json_integer_value(json_object_get(final[i], "run_attempt"));
        attempts2 += attempt == 2;
        char path[1024];
        snprintf(path, sizeof path, "%s/jobs?filter=all&per_page=3", paths[i]);
        int pages;
        json_t *paged = follow_links(&s, path, "jobs", &pages);
        assert_int_equal(json_array_size(paged), 5 * attempt);
        assert_int_equal(pages, (5 * attempt + 2) / 3);
        snprintf(path, sizeof path, "%s/jobs?filter=all&per_page=100", paths[i]);
        th_resp r;
        assert_int_equal(get(&s, path, NULL, &r), 200);
        json_t *one = parse(&r);
        assert_true(json_equal(json_object_get(one, "jobs"), paged));
        json_decref(one);
        json_decref(paged);
        th_resp_free(&r);
        json_decref(final[i]);
    }
    print_message("github-actions: %d of %d runs re-run, %ld polls answered 304\n", attempts2, NRUNS, not_modified);
    th_resp r;
    assert_int_equal(get(&s, "/repos/octo-org/hello-world/actions/runs?per_page=100", NULL, &r), 200);
    json_t *list = parse(&r);
    assert_int_equal(json_integer_value(json_object_get(list, "total_count")), NRUNS);
    json_decref(list);
    th_resp_free(&r);
    char *log = stop(&s);
    assert_non_null(strstr(log, "github-actions: "));
    assert_non_null(strstr(log, "answered 304 Not Modified"));
    free(log);
}

static void test_github_rate_limit_and_faults(void **state)
{
    server s;
    const char *extra[] = {"--source", "github-actions", "--rate-limit", "5", "--rate-window", "1s",
                           "--rate-limit-status", "429", "--fault-rate", "0.5", "--seed", "1", NULL};
    start(&s, "github-rate", extra);
    int ok = 0, faulted = 0;
    th_resp r;
    for (int i = 0; i < 5; i++) {
        long st = get(&s, "/repos/a/b/actions/runs/1", NULL, &r);
        ok += st == 200;
        faulted += st == 500;
        th_resp_free(&r);
    }
    assert_int_equal(ok + faulted, 5);
    /* an injected fault never reaches the persona, so it is not counted against the limit either */
    int refused = 0;
    for (int i = 0; i < 40 && !refused; i++) {
        long st = get(&s, "/repos/a/b/actions/runs", NULL, &r); /* the listing is never faulted */
        if (st == 429) {
            refused = 1;
            json_t *doc = parse(&r);
            assert_true(strncmp(str(doc, "message"), "API rate limit exceeded", 23) == 0);
            json_decref(doc);
            assert_string_equal(r.rate_remaining, "0");
        } else {
            assert_int_equal(st, 200);
        }
        th_resp_free(&r);
    }
    assert_true(refused);
    assert_true(faulted > 0);
    usleep(1100 * 1000); /* the window resets */
    assert_int_equal(get(&s, "/repos/a/b/actions/runs", NULL, &r), 200);
    assert_string_equal(r.rate_remaining, "4");
    th_resp_free(&r);
    char *log = stop(&s);
    assert_non_null(strstr(log, "refused by the rate limit"));
    free(log);
}

/* ---- Argo Workflows ---- */

static int argo_ended(json_t *doc)
{
    const char *ph = str(json_object_get(doc, "status"), "phase");
    return strcmp(ph, "Succeeded") == 0 || strcmp(ph, "Failed") == 0 || strcmp(ph, "Error") == 0;
}

static void test_argo_workflows(void **state)
{
    server s;
    const char *extra[] = {"--source", "argo-workflows", "--seed", "5", "--failure-rate", "0.2", NULL};
    start(&s, "argo", extra);
    char paths[NRUNS][96];
    const char *pp[NRUNS];
    for (int i = 0; i < NRUNS; i++) {
        snprintf(paths[i], sizeof paths[i], "/api/v1/workflows/argo/ci-dag-it%03d", i);
        pp[i] = paths[i];
    }
    json_t *final[NRUNS] = {0};
    follow f = {pp, argo_ended, 0};
    assert_int_equal(poll_until_ended(&s, &f, final), 0);
    for (int i = 0; i < NRUNS; i++) {
        json_t *st = json_object_get(final[i], "status");
        assert_non_null(json_object_get(json_object_get(st, "nodes"), str(json_object_get(final[i], "metadata"), "name")));
        assert_true(json_is_string(json_object_get(st, "finishedAt")));
        json_decref(final[i]);
    }
    /* the listing, page by page through listOptions.continue, names every workflow once */
    char path[256] = "/api/v1/workflows/argo?listOptions.limit=3";
    int names = 0, pages = 0;
    for (;;) {
        th_resp r;
        assert_int_equal(get(&s, path, NULL, &r), 200);
        json_t *doc = parse(&r);
        names += (int)json_array_size(json_object_get(doc, "items"));
        pages++;
        const char *cont = str(json_object_get(doc, "metadata"), "continue");
        int more = cont[0] != '\0';
        if (more) snprintf(path, sizeof path, "/api/v1/workflows/argo?listOptions.limit=3&listOptions.continue=%s", cont);
        json_decref(doc);
        th_resp_free(&r);
        if (!more) break;
    }
    assert_int_equal(names, NRUNS);
    assert_int_equal(pages, (NRUNS + 2) / 3);
    free(stop(&s));
}

/* ---- Airflow ---- */

static int airflow_ended(json_t *doc)
{
    return strcmp(str(doc, "state"), "success") == 0 || strcmp(str(doc, "state"), "failed") == 0;
}

static void test_airflow(void **state)
{
    server s;
    const char *extra[] = {"--source", "airflow", "--seed", "8", "--failure-rate", "0.2", NULL};
    start(&s, "airflow", extra);
    char paths[NRUNS][128];
    const char *pp[NRUNS];
    for (int i = 0; i < NRUNS; i++) { /* '+' travels percent-encoded */
        snprintf(paths[i], sizeof paths[i], "/api/v1/dags/etl_daily/dagRuns/scheduled__2024-06-%02dT00:00:00%%2B00:00", i + 1);
        pp[i] = paths[i];
    }
    json_t *final[NRUNS] = {0};
    follow f = {pp, airflow_ended, 0};
    assert_int_equal(poll_until_ended(&s, &f, final), 0);
    for (int i = 0; i < NRUNS; i++) {
        char want[64];
        snprintf(want, sizeof want, "scheduled__2024-06-%02dT00:00:00+00:00", i + 1);
        assert_string_equal(str(final[i], "dag_run_id"), want);
        json_decref(final[i]);
        char path[1400];
        snprintf(path, sizeof path, "%s/taskInstances", paths[i]);
        th_resp r;
        assert_int_equal(get(&s, path, NULL, &r), 200);
        json_t *one = parse(&r);
        th_resp_free(&r);
        long total = (long)json_integer_value(json_object_get(one, "total_entries"));
        json_t *paged = json_array();
        for (long off = 0; off < total; off += 2) {
            snprintf(path, sizeof path, "%s/taskInstances?limit=2&offset=%ld", paths[i], off);
            assert_int_equal(get(&s, path, NULL, &r), 200);
            json_t *doc = parse(&r);
            json_array_extend(paged, json_object_get(doc, "task_instances"));
            json_decref(doc);
            th_resp_free(&r);
        }
        assert_true(json_equal(paged, json_object_get(one, "task_instances")));
        json_decref(paged);
        json_decref(one);
    }
    th_resp r;
    assert_int_equal(get(&s, "/api/v1/dags/etl_daily/dagRuns", NULL, &r), 200);
    json_t *list = parse(&r);
    assert_int_equal(json_integer_value(json_object_get(list, "total_entries")), NRUNS);
    json_decref(list);
    th_resp_free(&r);
    free(stop(&s));
}

static int setup(void **state)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    curl = curl_easy_init();
    return curl ? 0 : -1;
}

static int teardown(void **state)
{
    curl_easy_cleanup(curl);
    curl_global_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_github_actions),
        cmocka_unit_test(test_github_rate_limit_and_faults),
        cmocka_unit_test(test_argo_workflows),
        cmocka_unit_test(test_airflow),
    };
    return cmocka_run_group_tests_name("sim_personas", tests, setup, teardown);
}
