/* test_api.c — `extrace api` over real HTTP: a real server process on an
 * ephemeral port at --time-scale 600, polled with libcurl until 50
 * workflows end, every response checked against the seed's contract;
 * then the other routes, the error answers, and a clean SIGTERM stop. */
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

#include "core/clock.h"
#include "core/iso8601.h"
#include "core/uuid.h"
#include "http.h"
#include "sim/workflow.h"
#include "support.h"

#define NWORKFLOWS 50
#define SCALE 600.0
#define POLL_EVERY_MS 20

static pid_t server;
static int port;
static char log_path[300];
static CURL *curl;

/* ---- HTTP ---- */

/* One request on the shared (keep-alive) handle. */
static void http(const char *method, const char *path, const char *body, size_t body_len, th_resp *r)
{
    char url[512];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    th_request(curl, method, url, &(th_req){.body = body, .body_len = body_len}, r);
}

static json_t *parse(const th_resp *r)
{
    json_error_t err;
    json_t *doc = json_loadb(r->body, r->len, JSON_REJECT_DUPLICATES, &err);
    if (!doc) fail_msg("not JSON (%s): %s", err.text, r->body);
    return doc;
}

/* An error answer: status, JSON content type, a non-empty "error". */
static void expect_error(const char *method, const char *path, const char *body, size_t len, long status,
                         const char *needle)
{
    th_resp r;
    http(method, path, body, len, &r);
    if (r.status != status) fail_msg("%s %s: status %ld, want %ld: %s", method, path, r.status, status, r.body);
    assert_string_equal(r.content_type, "application/json; charset=utf-8");
    json_t *doc = parse(&r);
    const char *msg = json_string_value(json_object_get(doc, "error"));
    assert_non_null(msg);
    if (needle && !strstr(msg, needle)) fail_msg("%s %s: error \"%s\" lacks \"%s\"", method, path, msg, needle);
    json_decref(doc);
    th_resp_free(&r);
}

/* ---- the contract of one workflow response ---- */

/* What the previous poll of a workflow showed. */
typedef struct seen {
    char id[32];
    int polls;
    int status;                     /* workflowStatus index */
    int nentities;
    int entity_status[SIM_NSTAGES];
    char entity_id[SIM_NSTAGES][EX_UUID_LEN + 1];
    int64_t sent_prev_ns;           /* when the previous request was sent (client mono) */
    int64_t sent_prev2_ns;          /* … and the one before it */
    int complete;
} seen;

static int name_index(const char *s, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (s && strcmp(s, names[i]) == 0) return i;
    return -1;
}

static const char *const statuses[] = {"Initializing", "Processing", "Completed", "Failed"};
static const char *const stages[] = {"DataLoader", "Processor", "OutputGenerator"};

/* Object keys, in document order (jansson keeps insertion order). */
static void expect_keys(json_t *obj, const char *const *keys, int n, const char *ctx)
{
    int i = 0;
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        if (i >= n || strcmp(k, keys[i]) != 0)
            fail_msg("%s: key %d is \"%s\", want \"%s\"", ctx, i, k, i < n ? keys[i] : "(none)");
        i++;
    }
    if (i != n) fail_msg("%s: %d keys, want %d", ctx, i, n);
}

static int64_t timestamp(json_t *v, const char *ctx)
{
    const char *s = json_string_value(v);
    if (!s) fail_msg("%s: timestamp missing or not a string", ctx);
    assert_int_equal(strlen(s), EX_ISO_LEN);
    int64_t ns;
    const char *why;
    if (ex_iso_parse(s, strlen(s), &ns, &why)) fail_msg("%s: \"%s\": %s", ctx, s, why);
    return ns;
}

static int is_end(int status) { return status == SIM_COMPLETED || status == SIM_FAILED; }

/* Check one entity; returns its status. `slack_s` bounds how late (in
 * simulated seconds) this poll can have seen a due transition. */
static int check_entity(json_t *e, int stage, seen *s, int64_t wf_start, int64_t *end_out, double slack_s)
{
    char ctx[96];
    snprintf(ctx, sizeof ctx, "%s/%s", s->id, stages[stage]);
    int status = name_index(json_string_value(json_object_get(e, "entityStatus")), statuses, 4);
    if (status < 0) fail_msg("%s: bad entityStatus", ctx);
    const char *keys[7];
    int n = 0;
    keys[n++] = "entityType", keys[n++] = "entityId", keys[n++] = "entityStatus";
    if (status == SIM_FAILED) keys[n++] = "entityErrorMessage";
    keys[n++] = "entityStartTime";
    if (is_end(status)) keys[n++] = "entityEndTime";
    keys[n++] = "isComplete";
    expect_keys(e, keys, n, ctx);
    assert_string_equal(json_string_value(json_object_get(e, "entityType")), stages[stage]);
    const char *eid = json_string_value(json_object_get(e, "entityId"));
    assert_non_null(eid);
    assert_true(ex_uuid_valid(eid));
    if (stage < s->nentities) assert_string_equal(eid, s->entity_id[stage]); /* stable across polls */
    else snprintf(s->entity_id[stage], sizeof s->entity_id[stage], "%s", eid);
    json_t *complete = json_object_get(e, "isComplete");
    assert_true(json_is_boolean(complete));
    assert_int_equal(json_is_true(complete), is_end(status));
    int prev = stage < s->nentities ? s->entity_status[stage] : SIM_INITIALIZING;
    int step = status - prev; /* forward, one step per poll (Processing -> Failed skips Completed) */
    if (!(step == 0 || step == 1 || (step == 2 && prev == SIM_PROCESSING && status == SIM_FAILED)))
        fail_msg("%s: %s -> %s in one poll", ctx, statuses[prev], statuses[status]);
    int64_t start = timestamp(json_object_get(e, "entityStartTime"), ctx);
    assert_true(start >= wf_start);
    *end_out = INT64_MIN;
    if (status == SIM_FAILED) {
        const char *m = json_string_value(json_object_get(e, "entityErrorMessage"));
        int code = -1;
        char tail;
        if (!m || sscanf(m, "Failed. Error code: %d%c", &code, &tail) != 1 || code < 0 || code > 99)
            fail_msg("%s: entityErrorMessage \"%s\"", ctx, m ? m : "(none)");
        char again[64];
        snprintf(again, sizeof again, "Failed. Error code: %d", code);
        assert_string_equal(m, again);
    }
    if (is_end(status)) {
        int64_t end = timestamp(json_object_get(e, "entityEndTime"), ctx);
        assert_true(end >= start);
        int lo, hi;
        sim_transition_bounds((sim_stage)stage, (sim_status)status, &lo, &hi);
        double took = (double)(end - start) / 1e9 * SCALE; /* clock seconds -> simulated */
        if (took < lo || took >= hi + slack_s)
            fail_msg("%s: %s after %.1f s (simulated), outside [%d, %d) + %.1f s polling slack", ctx,
                     statuses[status], took, lo, hi, slack_s);
        *end_out = end;
    }
    return status;
}

/* Check one poll's response for workflow s against the contract and the
 * previous poll. */
static void check_workflow(const th_resp *r, seen *s, double slack_s)
{
    if (r->status != 200) fail_msg("GET %s: status %ld: %s", s->id, r->status, r->body);
    assert_string_equal(r->content_type, "application/json; charset=utf-8");
    json_t *doc = parse(r);
    int status = name_index(json_string_value(json_object_get(doc, "workflowStatus")), statuses, 4);
    if (status < 0) fail_msg("%s: bad workflowStatus: %s", s->id, r->body);
    const char *keys[7];
    int n = 0;
    keys[n++] = "workflowId", keys[n++] = "workflowStatus", keys[n++] = "workflowStartTime";
    if (is_end(status)) keys[n++] = "workflowEndTime";
    keys[n++] = "isComplete";
    if (status == SIM_FAILED) keys[n++] = "workflowErrorMessage";
    keys[n++] = "workflowEntities";
    expect_keys(doc, keys, n, s->id);
    assert_string_equal(json_string_value(json_object_get(doc, "workflowId")), s->id);
    assert_int_equal(json_is_true(json_object_get(doc, "isComplete")), is_end(status));
    assert_true(json_is_boolean(json_object_get(doc, "isComplete")));
    if (status < s->status || status > s->status + 1 + (s->status == SIM_PROCESSING))
        fail_msg("%s: workflow %s -> %s", s->id, statuses[s->status], statuses[status]);
    int64_t wf_start = timestamp(json_object_get(doc, "workflowStartTime"), s->id);
    /* Timestamps are real time even at --time-scale 600 (durations shrink). */
    int64_t skew = wf_start - ex_clock_now(ex_clock_real());
    if (skew > 60 * EX_NS_PER_SEC || skew < -60 * EX_NS_PER_SEC)
        fail_msg("%s: workflowStartTime is %lld s away from real time", s->id, (long long)(skew / EX_NS_PER_SEC));
    json_t *ents = json_object_get(doc, "workflowEntities");
    assert_true(json_is_object(ents));
    int count = (int)json_object_size(ents);
    if (s->polls == 0) { /* the first poll creates the workflow and does not advance it */
        assert_int_equal(status, SIM_INITIALIZING);
        assert_int_equal(count, 0);
    }
    assert_true(count >= s->nentities && count <= s->nentities + 1);
    if (status == SIM_INITIALIZING) assert_int_equal(count, 0);
    else assert_true(count >= 1);
    expect_keys(ents, stages, count, "workflowEntities"); /* stage order */
    int64_t prev_end = INT64_MIN;
    int last_status = -1;
    for (int i = 0; i < count; i++) {
        json_t *e = json_object_get(ents, stages[i]);
        int64_t end;
        int es = check_entity(e, i, s, wf_start, &end, slack_s);
        if (i > 0) /* a stage starts the moment the one before ends */
            assert_true(timestamp(json_object_get(e, "entityStartTime"), "start") == prev_end);
        if (i < count - 1) assert_int_equal(es, SIM_COMPLETED); /* only a completed stage has a successor */
        s->entity_status[i] = es;
        prev_end = end;
        last_status = es;
    }
    if (is_end(status)) {
        int64_t wf_end = timestamp(json_object_get(doc, "workflowEndTime"), s->id);
        assert_true(wf_end >= wf_start);
        assert_true(wf_end == prev_end); /* the workflow ends when its last entity does */
        assert_int_equal(last_status, status);
        if (status == SIM_COMPLETED) assert_int_equal(count, SIM_NSTAGES);
    }
    if (status == SIM_FAILED) {
        char want[64];
        snprintf(want, sizeof want, "Entity failed: %s", stages[count - 1]);
        assert_string_equal(json_string_value(json_object_get(doc, "workflowErrorMessage")), want);
    }
    s->status = status;
    s->nentities = count;
    s->complete = is_end(status);
    s->polls++;
    json_decref(doc);
}

/* ---- setup ---- */

/* The port the server logged ("listening on 127.0.0.1:PORT"), or 0. */
static int logged_port(void)
{
    char *log = ts_read_file(log_path, NULL);
    const char *at = log ? strstr(log, "listening on 127.0.0.1:") : NULL;
    int p = at ? atoi(at + strlen("listening on 127.0.0.1:")) : 0;
    free(log);
    return p;
}

/* The server picks its own port (--listen :0) and logs it, so no other
 * process can take the port between choosing and binding it. */
static int start_server(void **state)
{
    const char *dir = ts_tmpdir();
    assert_non_null(dir);
    snprintf(log_path, sizeof log_path, "%s/api.log", dir);
    char *argv[] = {(char *)ts_bin(), "api", "--listen", "127.0.0.1:0", "--time-scale", "600", "--seed", "42", NULL};
    server = ts_spawn(argv, log_path);
    assert_true(server > 0);
    for (int i = 0; i < 500 && !(port = logged_port()); i++) usleep(10000);
    if (!port || ts_wait_port(port, 5000) != 0) {
        char *log = ts_read_file(log_path, NULL);
        fail_msg("extrace api did not start: %s", log ? log : "(no log)");
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    curl = curl_easy_init();
    return curl ? 0 : -1;
}

static int stop_server(void **state)
{
    if (curl) curl_easy_cleanup(curl);
    curl_global_cleanup();
    if (server > 0) ts_stop(server, SIGKILL, 2000);
    return 0;
}

/* ---- tests ---- */

static void test_fifty_workflows_follow_the_contract(void **state)
{
    seen *s = calloc(NWORKFLOWS, sizeof *s);
    for (int i = 0; i < NWORKFLOWS; i++) snprintf(s[i].id, sizeof s[i].id, "it-%02d", i);
    long connects = 0, polls = 0;
    int done = 0, completed = 0, failed = 0;
    int64_t deadline = ex_mono_ns() + 25 * EX_NS_PER_SEC;
    while (done < NWORKFLOWS) {
        if (ex_mono_ns() > deadline) fail_msg("only %d of %d workflows ended in time", done, NWORKFLOWS);
        for (int i = 0; i < NWORKFLOWS; i++) {
            if (s[i].complete) continue;
            char path[64];
            snprintf(path, sizeof path, "/workflows/%s", s[i].id);
            int64_t sent = ex_mono_ns();
            th_resp r;
            http("GET", path, NULL, 0, &r);
            int64_t got = ex_mono_ns();
            /* A due end is seen at most this late: an entity moves one step
             * per poll, so one still Initializing when its end fell due
             * needs two more polls. The time since the poll before the
             * previous one was sent, in simulated seconds, plus a margin. */
            int64_t since = s[i].polls > 1 ? s[i].sent_prev2_ns : s[i].sent_prev_ns;
            double slack_s = s[i].polls ? (double)(got - since) / 1e9 * SCALE + 2.0 : 0.0;
            check_workflow(&r, &s[i], slack_s);
            s[i].sent_prev2_ns = s[i].sent_prev_ns;
            s[i].sent_prev_ns = sent;
            long c = 0;
            curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &c);
            connects += c;
            polls++;
            th_resp_free(&r);
            if (s[i].complete) {
                done++;
                completed += s[i].status == SIM_COMPLETED;
                failed += s[i].status == SIM_FAILED;
            }
        }
        usleep(POLL_EVERY_MS * 1000);
    }
    print_message("%d workflows ended (%d completed, %d failed) after %ld polls on %ld connection(s)\n", done,
                  completed, failed, polls, connects);
    /* ~27% of workflows fail at 10% per stage; both outcomes show up */
    assert_int_equal(completed + failed, NWORKFLOWS);
    assert_true(completed > 0);
    assert_true(failed > 0);
    assert_true(polls > 5 * NWORKFLOWS);
    if (connects > 3) fail_msg("%ld connections for %ld polls: keep-alive is not working", connects, polls);

    /* the list endpoint agrees with what the polls saw */
    th_resp r;
    http("GET", "/workflows?status=Failed&limit=1000", NULL, 0, &r);
    assert_int_equal(r.status, 200);
    json_t *doc = parse(&r);
    json_t *ids = json_object_get(doc, "workflowIds");
    assert_true(json_is_array(ids));
    assert_int_equal((int)json_array_size(ids), failed);
    for (size_t k = 0; k < json_array_size(ids); k++) {
        const char *id = json_string_value(json_array_get(ids, k));
        int found = 0;
        for (int i = 0; i < NWORKFLOWS; i++) found |= strcmp(id, s[i].id) == 0 && s[i].status == SIM_FAILED;
        assert_true(found);
    }
    json_decref(doc);
    th_resp_free(&r);
    http("GET", "/workflows?status=Completed&limit=5", NULL, 0, &r);
    doc = parse(&r);
    assert_int_equal((int)json_array_size(json_object_get(doc, "workflowIds")), completed < 5 ? completed : 5);
    json_decref(doc);
    th_resp_free(&r);
    free(s);
}

static void test_post_and_conflict(void **state)
{
    th_resp r;
    const char *body = "{\"workflowId\":\"posted-1\"}";
    http("POST", "/workflows", body, strlen(body), &r);
    assert_int_equal(r.status, 201);
    assert_string_equal(r.location, "/workflows/posted-1");
    json_t *doc = parse(&r);
    assert_string_equal(json_string_value(json_object_get(doc, "workflowStatus")), "Initializing");
    json_decref(doc);
    th_resp_free(&r);
    expect_error("POST", "/workflows", body, strlen(body), 409, "already exists");

    http("POST", "/workflows", NULL, 0, &r); /* no body: the server picks a GUID */
    assert_int_equal(r.status, 201);
    assert_true(strncmp(r.location, "/workflows/", 11) == 0 && ex_uuid_valid(r.location + 11));
    th_resp_free(&r);

    http("GET", "/workflows?status=Initializing", NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"posted-1\""));
    th_resp_free(&r);
}

static void test_error_answers(void **state)
{
    expect_error("GET", "/workflows/a%20b", NULL, 0, 400, "byte 0x20");
    expect_error("GET", "/workflows/a%00b", NULL, 0, 400, "not allowed");
    char longid[200] = "/workflows/";
    memset(longid + 11, 'x', 129);
    expect_error("GET", longid, NULL, 0, 400, "longer than the limit of 128");
    expect_error("GET", "/workflows?status=Done", NULL, 0, 400, "status=\"Done\"");
    expect_error("GET", "/workflows?limit=0", NULL, 0, 400, "limit=\"0\"");
    expect_error("POST", "/workflows", "{nope", 5, 400, "not valid JSON");
    expect_error("GET", "/nope", NULL, 0, 404, "no route");
    expect_error("GET", "/workflows/a/b", NULL, 0, 404, "no route");
    expect_error("DELETE", "/workflows/x", NULL, 0, 405, "DELETE");
    th_resp r;
    http("PUT", "/workflows", "{}", 2, &r);
    assert_int_equal(r.status, 405);
    assert_string_equal(r.allow, "GET, HEAD, POST");
    th_resp_free(&r);
    http("DELETE", "/workflows/x", NULL, 0, &r);
    assert_string_equal(r.allow, "GET, HEAD");
    th_resp_free(&r);
    size_t big = 70 * 1024;
    char *huge = malloc(big);
    memset(huge, ' ', big);
    expect_error("POST", "/workflows", huge, big, 413, "65536");
    free(huge);
    char *filler = malloc(20000); /* a body on GET is read and dropped */
    memset(filler, 'x', 20000);
    http("GET", "/healthz", filler, 20000, &r);
    assert_int_equal(r.status, 200);
    th_resp_free(&r);
    free(filler);
    /* the server is still fine */
    http("GET", "/healthz", NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"status\":\"ok\"}");
    th_resp_free(&r);
}

static void test_openapi_names_every_route(void **state)
{
    th_resp r;
    http("GET", "/openapi.json", NULL, 0, &r);
    assert_int_equal(r.status, 200);
    json_t *doc = parse(&r);
    json_t *paths = json_object_get(doc, "paths");
    const char *routes[][2] = {{"/workflows/{workflowId}", "get"}, {"/workflows", "get"}, {"/workflows", "post"},
                               {"/healthz", "get"},                {"/openapi.json", "get"}};
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (!json_object_get(json_object_get(paths, routes[i][0]), routes[i][1]))
            fail_msg("openapi.json lacks %s %s", routes[i][1], routes[i][0]);
    json_decref(doc);
    th_resp_free(&r);
}

#define BUSY_CLIENTS 128 /* exactly MHD's epoll batch: the size that once stalled the server */
#define BUSY_ROUNDS 20

/* 128 keep-alive clients polling at once are all served: none waits for
 * its 5 s timeout (see docs/sim.md on MHD's 128-event epoll batch). */
static void test_many_busy_clients_are_served(void **state)
{
    CURLM *multi = curl_multi_init();
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, (long)BUSY_CLIENTS * 2);
    CURL *easy[BUSY_CLIENTS];
    int rounds[BUSY_CLIENTS] = {0}, failed = 0, done = 0;
    char urls[BUSY_CLIENTS][96];
    th_resp sink[BUSY_CLIENTS];
    for (int i = 0; i < BUSY_CLIENTS; i++) {
        snprintf(urls[i], sizeof urls[i], "http://127.0.0.1:%d/workflows/busy-%d", port, i);
        easy[i] = curl_easy_init();
        curl_easy_setopt(easy[i], CURLOPT_URL, urls[i]);
        curl_easy_setopt(easy[i], CURLOPT_TIMEOUT_MS, 5000L);
        th_collect(easy[i], &sink[i]);
        curl_easy_setopt(easy[i], CURLOPT_PRIVATE, (void *)(intptr_t)i);
        curl_multi_add_handle(multi, easy[i]);
    }
    const int total = BUSY_CLIENTS * BUSY_ROUNDS;
    int64_t deadline = ex_mono_ns() + 30 * EX_NS_PER_SEC;
    while (done + failed < total && ex_mono_ns() < deadline) {
        int running;
        curl_multi_perform(multi, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(multi, &left))) {
            if (msg->msg != CURLMSG_DONE) continue;
            CURL *e = msg->easy_handle;
            char *priv = NULL;
            curl_easy_getinfo(e, CURLINFO_PRIVATE, &priv);
            intptr_t i = (intptr_t)priv;
            long code = 0;
            curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
            if (msg->data.result != CURLE_OK || code != 200) failed++;
            else done++;
            sink[i].len = 0;
            curl_multi_remove_handle(multi, e);
            if (++rounds[i] < BUSY_ROUNDS) curl_multi_add_handle(multi, e); /* same connection, kept alive */
        }
        curl_multi_poll(multi, NULL, 0, 100, NULL);
    }
    for (int i = 0; i < BUSY_CLIENTS; i++) {
        curl_easy_cleanup(easy[i]);
        th_resp_free(&sink[i]);
    }
    curl_multi_cleanup(multi);
    print_message("%d requests from %d clients: %d ok, %d failed\n", BUSY_CLIENTS * BUSY_ROUNDS, BUSY_CLIENTS,
                  done, failed);
    assert_int_equal(failed, 0);
    assert_int_equal(done, BUSY_CLIENTS * BUSY_ROUNDS);
}

static void test_sigterm_stops_cleanly(void **state)
{
    assert_int_equal(ts_stop(server, SIGTERM, 5000), 0);
    server = 0;
    char *log = ts_read_file(log_path, NULL);
    assert_non_null(log);
    assert_non_null(strstr(log, "random seed 42"));
    assert_non_null(strstr(log, "listening on 127.0.0.1:"));
    assert_non_null(strstr(log, "received SIGTERM: shutting down"));
    assert_non_null(strstr(log, "served "));
    free(log);
}

static void test_bad_flags_exit_2(void **state)
{
    char *out = NULL, *err = NULL;
    char *argv[] = {(char *)ts_bin(), "api", "--time-scale", "0", NULL};
    assert_int_equal(ts_run(argv, &out, &err, 5000), 2);
    assert_non_null(strstr(err, "--time-scale=\"0\""));
    free(out);
    free(err);
    char *argv2[] = {(char *)ts_bin(), "api", "--failure-rate", "1.5", NULL};
    assert_int_equal(ts_run(argv2, &out, &err, 5000), 2);
    assert_non_null(strstr(err, "--failure-rate=\"1.5\": must be at most 1"));
    free(out);
    free(err);
    char *argv3[] = {(char *)ts_bin(), "api", "--help", NULL};
    assert_int_equal(ts_run(argv3, &out, &err, 5000), 0);
    assert_non_null(strstr(out, "--max-workflows"));
    assert_non_null(strstr(out, "evicted"));
    free(out);
    free(err);
}

/* ---- fault injection ---- */

#define FAULT_POLLS 1500
#define FAULT_RATE 0.1

/* GET url on handle c, on a fresh connection so that every drop shows:
 * the status (0 when the connection closed without an answer). */
static long fault_get(CURL *c, const char *url, th_resp *r)
{
    static const th_req fresh = {.fresh_connection = 1};
    CURLcode rc = th_request_rc(c, "GET", url, &fresh, r);
    if (rc == CURLE_GOT_NOTHING) return 0;
    if (rc != CURLE_OK) fail_msg("GET %s: %s", url, curl_easy_strerror(rc));
    return r->status;
}

static void check_share(const char *kind, int count, int total)
{
    double share = (double)count / total;
    if (share < FAULT_RATE * 0.6 || share > FAULT_RATE * 1.4)
        fail_msg("%s: %d of %d polls (%.3f), configured %.2f", kind, count, total, share, FAULT_RATE);
}

/* Each fault kind at about its rate; /healthz never faulted; the counts
 * the server logs at shutdown are exactly what the client saw. */
static void test_faults_at_their_rates(void **state)
{
    char flog[300];
    snprintf(flog, sizeof flog, "%s/api-faults.log", ts_tmpdir());
    int fport;
    char *args[] = {"--time-scale", "600", "--seed", "5", "--fault-rate", "0.1", "--drop-rate", "0.1",
                    "--garbage-rate", "0.1", "--latency", "2ms", NULL};
    pid_t fserver = ts_api_start(args, flog, &fport);
    assert_true(fserver > 0);
    CURL *c = curl_easy_init();
    assert_non_null(c);
    int ok = 0, errors = 0, drops = 0, garbage = 0;
    char url[256];
    th_resp r;
    for (int i = 0; i < FAULT_POLLS; i++) {
        snprintf(url, sizeof url, "http://127.0.0.1:%d/workflows/fault-%d", fport, i % 40);
        long status = fault_get(c, url, &r);
        json_t *doc = json_loadb(r.body, r.len, 0, NULL);
        if (status == 0) drops++;
        else if (status == 500 && doc && strstr(json_string_value(json_object_get(doc, "error")), "injected"))
            errors++;
        else if (status == 200 && !doc) garbage++;
        else if (status == 200 && json_is_object(doc) && json_object_get(doc, "workflowStatus")) ok++;
        else fail_msg("GET %s: unexpected %ld %s", url, status, r.body);
        json_decref(doc);
        th_resp_free(&r);
        if (i % 10 == 0) {
            snprintf(url, sizeof url, "http://127.0.0.1:%d/healthz", fport);
            assert_int_equal(fault_get(c, url, &r), 200);
            assert_string_equal(r.body, "{\"status\":\"ok\"}");
            th_resp_free(&r);
        }
    }
    curl_easy_cleanup(c);
    check_share("500", errors, FAULT_POLLS);
    check_share("dropped", drops, FAULT_POLLS);
    check_share("garbage", garbage, FAULT_POLLS);
    assert_int_equal(ok + errors + drops + garbage, FAULT_POLLS);
    assert_int_equal(ts_stop(fserver, SIGTERM, 5000), 0);
    char *log = ts_read_file(flog, NULL), want[256];
    assert_non_null(log);
    snprintf(want, sizeof want, "injected faults: %d of %d polls answered 500, %d dropped, %d garbage; %d delayed",
             errors, FAULT_POLLS, drops, garbage, FAULT_POLLS);
    if (!strstr(log, want)) fail_msg("log lacks \"%s\":\n%s", want, log);
    /* faulted polls were not served: only the others reached the workflows */
    snprintf(want, sizeof want, "served %d requests", ok + FAULT_POLLS / 10);
    if (!strstr(log, want)) fail_msg("log lacks \"%s\":\n%s", want, log);
    free(log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fifty_workflows_follow_the_contract),
        cmocka_unit_test(test_post_and_conflict),
        cmocka_unit_test(test_error_answers),
        cmocka_unit_test(test_openapi_names_every_route),
        cmocka_unit_test(test_many_busy_clients_are_served),
        cmocka_unit_test(test_sigterm_stops_cleanly),
        cmocka_unit_test(test_bad_flags_exit_2),
        cmocka_unit_test(test_faults_at_their_rates),
    };
    return cmocka_run_group_tests_name("api", tests, start_server, stop_server);
}
