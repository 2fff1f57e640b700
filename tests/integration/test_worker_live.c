/* test_worker_live.c — the worker's live API end to end: a real
 * redis-server, `extrace api` (the seed, and the github-actions persona
 * whose keys hold '/') on time at a time scale where each workflow runs
 * for many poll intervals, the real worker and the Node OTLP receiver.
 *
 * A stream client (libcurl in a thread) connects before the workflows
 * are announced. While they run, the test pages through /api/workflows
 * (limit 2: every one exactly once per pass), checks each one's detail
 * (its key percent-encoded), and checks each listed current stage and
 * status against the simulator (the seed: its own GET of the workflow;
 * every source: the final trace — the stage shown running at a poll had
 * not ended when that poll's request left). After the end: the list is
 * empty, the detail 404, and the stream delivered, for every workflow,
 * watch first, end last with the trace's status, and exactly the state
 * events of each span of the trace the receiver got, once each and in
 * order, with consecutive ids. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <jansson.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "model/spans.h"
#include "otel/ids.h"
#include "source/builtin.h"
#include "source_run.h"
#include "tree_check.h"

#define WAIT_MS 60000

static ts_redis redis;
static run current;

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the stream client ---- */

typedef struct sse {
    pthread_t thread;
    pthread_mutex_t mu;
    char url[128];
    char *text;
    size_t len, cap;
    volatile int stop;
    long status;
    char content_type[128];
} sse;

static size_t sse_write(char *p, size_t size, size_t n, void *arg)
{
    sse *s = arg;
    size_t k = size * n;
    pthread_mutex_lock(&s->mu);
    if (s->len + k + 1 > s->cap) {
        s->cap = (s->len + k + 1) * 2;
        s->text = realloc(s->text, s->cap);
    }
    memcpy(s->text + s->len, p, k);
    s->len += k;
    s->text[s->len] = '\0';
    pthread_mutex_unlock(&s->mu);
    return k;
}

static int sse_progress(void *arg, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    return ((sse *)arg)->stop; /* non-zero aborts */
}

static void *sse_main(void *arg)
{
    sse *s = arg;
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, s->url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sse_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, sse_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, s);
    curl_easy_perform(c);
    char *ct = NULL;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &s->status);
    curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
    snprintf(s->content_type, sizeof s->content_type, "%s", ct ? ct : "");
    curl_easy_cleanup(c);
    return NULL;
}

static void sse_start(sse *s, int port)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    snprintf(s->url, sizeof s->url, "http://127.0.0.1:%d/api/workflows/stream", port);
    assert_int_equal(pthread_create(&s->thread, NULL, sse_main, s), 0);
}

/* 1 once the stream's text holds needle. */
static int sse_has(sse *s, const char *needle)
{
    pthread_mutex_lock(&s->mu);
    int has = s->text && strstr(s->text, needle);
    pthread_mutex_unlock(&s->mu);
    return has;
}

static int sse_count(sse *s, const char *needle)
{
    int n = 0;
    pthread_mutex_lock(&s->mu);
    for (const char *p = s->text; p && (p = strstr(p, needle)); p++) n++;
    pthread_mutex_unlock(&s->mu);
    return n;
}

static void sse_stop(sse *s)
{
    s->stop = 1;
    pthread_join(s->thread, NULL);
}

/* One message of the stream. */
typedef struct msg {
    long long id;
    char event[16];
    json_t *data;
} msg;

/* The messages of the text (comments and the retry line skipped); *n of them. */
static msg *sse_parse(const char *text, size_t *n)
{
    size_t cap = 64;
    msg *m = calloc(cap, sizeof *m);
    *n = 0;
    const char *p = text;
    while (p && *p) {
        const char *end = strstr(p, "\n\n");
        if (!end) break; /* an unfinished message */
        msg cur = {.id = -1};
        for (const char *l = p; l < end;) {
            const char *nl = memchr(l, '\n', (size_t)(end - l));
            size_t len = nl ? (size_t)(nl - l) : (size_t)(end - l);
            if (!strncmp(l, "id: ", 4)) cur.id = atoll(l + 4);
            else if (!strncmp(l, "event: ", 7)) snprintf(cur.event, sizeof cur.event, "%.*s", (int)(len - 7), l + 7);
            else if (!strncmp(l, "data: ", 6)) {
                cur.data = json_loadb(l + 6, len - 6, 0, NULL);
                if (!cur.data) fail_msg("stream data is not JSON: %.*s", (int)len, l);
            }
            l += len + 1;
        }
        if (cur.event[0]) {
            if (*n == cap) m = realloc(m, (cap *= 2) * sizeof *m);
            m[(*n)++] = cur;
        }
        p = end + 2;
    }
    return m;
}

static void msgs_free(msg *m, size_t n)
{
    for (size_t i = 0; i < n; i++) json_decref(m[i].data);
    free(m);
}

/* ---- the API ---- */

static const char *jstr(json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}

static json_t *get_json(const char *url, long *status)
{
    char *body = NULL;
    *status = tc_http_get(url, &body);
    json_t *j = body ? json_loads(body, 0, NULL) : NULL;
    if (!j) fail_msg("GET %s: %ld, not JSON: %s", url, *status, body ? body : "(none)");
    free(body);
    return j;
}

/* One observation of a running workflow: its current stage at a poll. */
typedef struct seen {
    char key[128];
    char stage[128];
    int64_t last_poll;
} seen;

static seen obs[4096];
static size_t nobs;

/* The seed: the simulator's own answer now must not contradict the worker's view of its last poll. */
static void check_against_seed(const run *r, json_t *w)
{
    char path[256];
    snprintf(path, sizeof path, "/workflows/%s", jstr(w, "key"));
    json_t *api = run_get_json(r, path, NULL);
    json_t *ents = json_object_get(api, "workflowEntities"), *node;
    size_t i;
    int64_t last = tk_time(jstr(w, "lastPoll"));
    json_array_foreach(json_object_get(w, "nodes"), i, node) {
        json_t *e = json_object_get(ents, jstr(node, "key"));
        if (!e) fail_msg("%s: node %s unknown to the API", jstr(w, "key"), jstr(node, "key"));
        const char *st = jstr(node, "status"), *api_st = jstr(e, "entityStatus");
        if (!strcmp(st, "ok")) assert_string_equal(api_st, "Completed");
        else if (!strcmp(st, "error")) assert_string_equal(api_st, "Failed");
        else if (!strcmp(st, "running") && strcmp(api_st, "Processing") != 0) {
            /* it ended since: not before the worker's last poll left */
            assert_true(tk_time(jstr(e, "entityEndTime")) >= last);
        }
    }
    json_decref(api);
}

/* Page through the list with limit 2: each workflow once. Returns how many. */
static size_t list_pass(const run *r, int *with_stage)
{
    char url[2200], cursor[2100] = "";
    char keys[64][128];
    size_t nkeys = 0;
    long status;
    for (int pages = 0; pages < 100; pages++) {
        snprintf(url, sizeof url, "http://127.0.0.1:%d/api/workflows?limit=2%s%s", r->worker.admin_port,
                 cursor[0] ? "&cursor=" : "", cursor);
        json_t *j = get_json(url, &status);
        assert_int_equal(status, 200);
        json_t *w, *wf = json_object_get(j, "workflows");
        size_t i;
        assert_true(json_array_size(wf) <= 2);
        json_array_foreach(wf, i, w) {
            for (size_t k = 0; k < nkeys; k++)
                if (!strcmp(keys[k], jstr(w, "key"))) fail_msg("%s listed twice in one pass", keys[k]);
            snprintf(keys[nkeys++], sizeof keys[0], "%s", jstr(w, "key"));
            assert_string_equal(jstr(w, "source"), r->source);
            assert_int_equal(strlen(jstr(w, "traceId")), 32);
            const char *st = jstr(w, "status");
            assert_true(!strcmp(st, "running") || !strcmp(st, "pending"));
            json_t *cs = json_object_get(w, "currentStage");
            if (json_is_string(cs) && json_string_value(json_object_get(w, "lastPoll")) && nobs < 4096) {
                seen *o = &obs[nobs++];
                snprintf(o->key, sizeof o->key, "%s", jstr(w, "key"));
                snprintf(o->stage, sizeof o->stage, "%s", json_string_value(cs));
                o->last_poll = tk_time(jstr(w, "lastPoll"));
                (*with_stage)++;
            }
            if (!strcmp(r->source, "seed")) check_against_seed(r, w);
            /* its detail, the key percent-encoded as one segment */
            char *esc = curl_easy_escape(NULL, jstr(w, "key"), 0), durl[600];
            snprintf(durl, sizeof durl, "http://127.0.0.1:%d/api/workflows/%s", r->worker.admin_port, esc);
            curl_free(esc);
            json_t *d = get_json(durl, &status);
            if (status == 200) { /* (it may have ended in between) */
                assert_string_equal(jstr(d, "key"), jstr(w, "key"));
                assert_string_equal(jstr(d, "traceId"), jstr(w, "traceId"));
                assert_true(json_integer_value(json_object_get(d, "polls")) >= json_integer_value(json_object_get(w, "polls")));
                assert_true(json_array_size(json_object_get(d, "nodes")) >= json_array_size(json_object_get(w, "nodes")));
                assert_true(json_is_array(json_object_get(d, "events")));
            } else {
                assert_int_equal(status, 404);
            }
            json_decref(d);
        }
        json_t *next = json_object_get(j, "next");
        if (!json_is_string(next)) {
            json_decref(j);
            return nkeys;
        }
        snprintf(cursor, sizeof cursor, "%s", json_string_value(next));
        json_decref(j);
    }
    fail_msg("paging did not end");
    return 0;
}

/* ---- against the trace ---- */

static int64_t ns_of(const char *decimal) { return decimal ? strtoll(decimal, NULL, 10) : 0; }

/* The stream's state messages of (key, node) must be the span's status events, in order. */
static void check_span_events(msg *m, size_t n, const char *key, const char *node, json_t *span, int root)
{
    json_t *evs = json_object_get(span, "events");
    size_t k = root ? 1 : 0; /* the root's first event is Submitted, not a state */
    if (root) assert_string_equal(jstr(json_array_get(evs, 0), "name"), "Submitted");
    for (size_t i = 0; i < n; i++) {
        if (strcmp(m[i].event, "state") || strcmp(jstr(m[i].data, "key"), key)) continue;
        json_t *nd = json_object_get(m[i].data, "node");
        if (root ? !json_is_null(nd) : (!json_is_string(nd) || strcmp(json_string_value(nd), node))) continue;
        json_t *ev = json_array_get(evs, k++);
        if (!ev) fail_msg("%s %s: the stream has more state events than the trace", key, node ? node : "(root)");
        assert_string_equal(jstr(m[i].data, "name"), jstr(ev, "name"));
        assert_int_equal(tk_time(jstr(m[i].data, "time")) / 100, ns_of(jstr(ev, "timeUnixNano")) / 100);
    }
    if (k != json_array_size(evs))
        fail_msg("%s %s: the stream has %zu state events, the trace %zu", key, node ? node : "(root)", k - root,
                 json_array_size(evs) - root);
}

static void check_stream(const run *r, msg *m, size_t n, const char *const *keys, int nkeys, const tc_spans *spans)
{
    assert_string_equal(m[0].event, "hello");
    long long seq = json_integer_value(json_object_get(m[0].data, "seq"));
    for (size_t i = 1; i < n; i++) assert_int_equal(m[i].id, seq + (long long)i); /* every change, once */
    for (int k = 0; k < nkeys; k++) {
        const char *key = keys[k];
        size_t first = n, last = 0, watches = 0, ends = 0, states = 0;
        const char *trace = NULL;
        for (size_t i = 1; i < n; i++) {
            if (strcmp(jstr(m[i].data, "key"), key)) continue;
            assert_string_equal(jstr(m[i].data, "source"), r->source);
            if (first == n) first = i;
            last = i;
            watches += !strcmp(m[i].event, "watch");
            ends += !strcmp(m[i].event, "end");
            states += !strcmp(m[i].event, "state");
            if (!strcmp(m[i].event, "watch")) trace = jstr(m[i].data, "traceId");
        }
        assert_int_equal(watches, 1);
        assert_int_equal(ends, 1);
        assert_string_equal(m[first].event, "watch");
        assert_string_equal(m[last].event, "end");
        assert_true(states >= 2);
        /* the root: its status and events */
        json_t *root = NULL;
        for (size_t i = 0; i < spans->n; i++)
            if (!strcmp(jstr(spans->v[i], "traceId"), trace) && !strcmp(jstr(spans->v[i], "parentSpanId"), ""))
                root = spans->v[i];
        if (!root) fail_msg("%s: no root span in the receiver", key);
        int code = (int)json_integer_value(json_object_get(json_object_get(root, "status"), "code"));
        const char *end_status = jstr(m[last].data, "status");
        assert_int_equal(code == 2, !strcmp(end_status, "error") || !strcmp(end_status, "cancelled"));
        assert_string_equal(jstr(m[last].data, "traceId"), trace);
        check_span_events(m, n, key, NULL, root, 1);
        /* each node: the stream names it by key; its span by id (the detail gave spanId) */
        for (size_t i = 0; i < spans->n; i++) {
            json_t *sp = spans->v[i];
            if (strcmp(jstr(sp, "traceId"), trace) || !strcmp(jstr(sp, "parentSpanId"), "")) continue;
            if (!strcmp(jstr(sp, "name"), "Queued") && json_array_size(json_object_get(sp, "events")) == 0) continue;
            /* find the node key whose state messages name this span: the span id tells */
            const char *node = NULL;
            for (size_t j = 1; j < n && !node; j++) {
                if (strcmp(m[j].event, "state") || strcmp(jstr(m[j].data, "key"), key)) continue;
                json_t *nd = json_object_get(m[j].data, "node");
                if (!json_is_string(nd)) continue;
                const char *nk = json_string_value(nd);
                /* the span's key attribute differs per source; compare through the derived span id */
                uint8_t tid[16], sid[8];
                char hex[17];
                mdl_trace_id("dev1", r->source, key, tid);
                /* node id: the seed's entityId is in attribute "id"; the others' ids are "" or their attributes */
                json_t *attrs = json_object_get(sp, "attributes");
                const char *id = !strcmp(r->source, "seed") ? jstr(attrs, "id") : "";
                exo_span_id(tid, nk, id, sid);
                if (!strcmp(exo_hex(sid, 8, hex), jstr(sp, "spanId"))) node = nk;
            }
            if (node) check_span_events(m, n, key, node, sp, 0);
            else assert_int_equal(json_array_size(json_object_get(sp, "events")), 0);
        }
    }
}

/* Every observed current stage: a span of its trace with that name that had not ended when the poll left. */
static void check_observations(const run *r, const tc_spans *spans)
{
    for (size_t i = 0; i < nobs; i++) {
        uint8_t tid[16];
        char hex[33];
        mdl_trace_id("dev1", r->source, obs[i].key, tid);
        exo_hex(tid, 16, hex);
        int ok = 0;
        for (size_t k = 0; k < spans->n && !ok; k++) {
            json_t *sp = spans->v[k];
            if (strcmp(jstr(sp, "traceId"), hex) || strcmp(jstr(sp, "name"), obs[i].stage)) continue;
            ok = ns_of(jstr(sp, "endTimeUnixNano")) >= obs[i].last_poll &&
                 ns_of(jstr(sp, "startTimeUnixNano")) <= obs[i].last_poll + 2000000000LL;
        }
        if (!ok) fail_msg("%s: current stage %s at the poll of %lld ns is no span open then", obs[i].key, obs[i].stage,
                          (long long)obs[i].last_poll);
    }
}

static void live_run(const char *source, const char *const *api_extra, const char *const *keys, int nkeys)
{
    run *r = &current;
    nobs = 0;
    run_begin(r, source);
    run_start_api(r, api_extra);
    run_start_worker(r, redis.url, NULL, NULL);
    sse s;
    sse_start(&s, r->worker.admin_port);
    int64_t deadline = now_ms() + 10000;
    while (!sse_has(&s, "event: hello") && now_ms() < deadline) sleep_ms(20);
    assert_true(sse_has(&s, "event: hello"));
    run_announce(r, redis.port, keys, (size_t)nkeys);
    int passes = 0, with_stage = 0, max_listed = 0;
    deadline = now_ms() + WAIT_MS;
    while (sse_count(&s, "event: end") < nkeys && now_ms() < deadline) {
        int listed = (int)list_pass(r, &with_stage);
        if (listed > max_listed) max_listed = listed;
        passes++;
        sleep_ms(150);
    }
    assert_int_equal(sse_count(&s, "event: end"), nkeys);
    print_message("%s: %d list passes, %d running observations, at most %d listed at once\n", source, passes,
                  with_stage, max_listed);
    assert_true(max_listed >= 2 && with_stage >= nkeys && passes >= 5); /* they ran for many polls */
    /* after the end: gone from the list and the detail */
    long status;
    char url[600];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/api/workflows", r->worker.admin_port);
    json_t *j = get_json(url, &status);
    assert_int_equal(json_integer_value(json_object_get(j, "total")), 0);
    json_decref(j);
    char *esc = curl_easy_escape(NULL, keys[0], 0);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/api/workflows/%s", r->worker.admin_port, esc);
    curl_free(esc);
    j = get_json(url, &status);
    assert_int_equal(status, 404);
    assert_true(strstr(jstr(j, "error"), "not in flight") != NULL);
    json_decref(j);
    /* the traces: wait for every root, then compare */
    char *metrics = run_finish(r, nkeys);
    assert_true(tf_metric(metrics, "extrace_live_stream_clients_dropped_total") == 0);
    assert_true(tf_metric(metrics, "extrace_live_requests_total{endpoint=\"list\"}") >= passes);
    free(metrics);
    sse_stop(&s);
    assert_int_equal(s.status, 200);
    assert_string_equal(s.content_type, "text/event-stream");
    tc_spans spans;
    tc_load(r->out, &spans);
    size_t n;
    msg *m = sse_parse(s.text, &n);
    check_stream(r, m, n, keys, nkeys, &spans);
    check_observations(r, &spans);
    msgs_free(m, n);
    tc_free(&spans);
    free(s.text);
}

static int stop_run(void **state)
{
    (void)state;
    run_kill(&current);
    return 0;
}

static void test_seed_live(void **state)
{
    (void)state;
    const char *api_extra[] = {"--time-scale", "200", "--failure-rate", "0.2", NULL};
    const char *keys[] = {"live-0001", "live-0002", "live-0003", "live-0004", "live-0005"};
    live_run("seed", api_extra, keys, 5);
}

static void test_github_live(void **state)
{
    (void)state;
    if (!sr_builtin_find("github-actions")) skip();
    setenv("GITHUB_TOKEN", "test-token", 1);
    const char *api_extra[] = {"--time-scale", "120", "--failure-rate", "0.3", NULL};
    const char *keys[] = {"octo-org/hello-world/51000001", "octo-org/hello-world/51000002",
                          "octo-org/hello-world/51000003"};
    live_run("github-actions", api_extra, keys, 3);
}

/* A stream client that never reads falls behind the ring and is disconnected and counted; the worker goes on. */
static void test_slow_client_dropped(void **state)
{
    (void)state;
    tf_worker w = {.consumer = "live-slow"};
    snprintf(w.log, sizeof w.log, "%s/worker.log", ts_tmpdir());
    /* info: the line naming its admin port */
    char *args[] = {"--redis", redis.url, "--api-url", "http://127.0.0.1:9", "--initial-delay", "1h", "--timeout", "2h",
                    "--log-level", "info", NULL};
    setenv("OTEL_TRACES_EXPORTER", "none", 1);
    tf_worker_start(&w, args);
    unsetenv("OTEL_TRACES_EXPORTER");
    int fd = socket(AF_INET, SOCK_STREAM, 0), small = 2048;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)w.admin_port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    const char req[] = "GET /api/workflows/stream HTTP/1.0\r\n\r\n";
    assert_int_equal(write(fd, req, sizeof req - 1), (ssize_t)(sizeof req - 1));
    int64_t deadline = now_ms() + 10000;
    while (tf_worker_metric(&w, "extrace_live_stream_clients") != 1 && now_ms() < deadline) sleep_ms(50);
    assert_true(tf_worker_metric(&w, "extrace_live_stream_clients") == 1);
    /* 40,000 watches (~6 MB of messages): more than the ring and every socket buffer hold */
    char count[] = "40000";
    char *gen[] = {(char *)ts_bin(), "generate", "--redis", redis.url, "--count", count, "--rate", "40000",
                   "--log-level", "warn", NULL};
    char *out = NULL;
    assert_int_equal(ts_run(gen, &out, NULL, 60000), 0);
    free(out);
    deadline = now_ms() + 30000;
    while (tf_worker_metric(&w, "extrace_live_stream_clients_dropped_total") != 1 && now_ms() < deadline)
        sleep_ms(100);
    assert_true(tf_worker_metric(&w, "extrace_live_stream_clients_dropped_total") == 1);
    deadline = now_ms() + 30000; /* the drop may come before the worker took every event in */
    while ((tf_worker_metric(&w, "extrace_live_stream_clients") != 0 ||
            tf_worker_metric(&w, "extrace_workflows_in_flight") != 40000) && now_ms() < deadline)
        sleep_ms(100);
    assert_true(tf_worker_metric(&w, "extrace_live_stream_clients") == 0);
    assert_true(tf_worker_metric(&w, "extrace_workflows_in_flight") == 40000);
    assert_int_equal(tf_worker_readyz(&w), 200);
    close(fd);
    assert_int_equal(ts_stop(w.pid, SIGTERM, 20000), 0);
}

static int setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return ts_redis_start(&redis);
}

static int teardown(void **state)
{
    (void)state;
    ts_redis_stop(&redis);
    curl_global_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_seed_live, stop_run),
        cmocka_unit_test_teardown(test_github_live, stop_run),
        cmocka_unit_test(test_slow_client_dropped),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
