/* The export pipeline against a real OTLP receiver that no one here wrote
 * the decoder of (tests/node/receiver.js: @grpc/grpc-js + the protobufjs
 * definitions shipped in @opentelemetry/otlp-transformer).
 *
 * For each protocol (grpc, http/protobuf, http/json), with and without
 * gzip: every field of every span arrives exactly once. Then retries
 * (gRPC UNAVAILABLE, RESOURCE_EXHAUSTED + RetryInfo, HTTP 503, 429 +
 * Retry-After, dropped connections) deliver everything with zero drops;
 * final errors and partial success drop and count; the queue bound, the
 * export timeout, flush timeouts and destroy with requests in flight
 * account for every span; the console exporter prints its blocks. Every
 * test ends with uv_loop_close() == 0. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/mem.h"
#include "otel/ids.h"
#include "otel/pipeline.h"
#include "otel/resource.h"
#include "support.h"

#define NWF 3    /* workflows per test */
#define NSPANS 4 /* spans per workflow: root + 3 children */

/* ---- the receiver ------------------------------------------------------- */

typedef struct receiver {
    pid_t pid;
    int grpc_port, http_port;
    char out[512]; /* JSON lines, one per span */
    char log[512];
} receiver;

static const char *receiver_script(void)
{
    static char path[1024];
    const char *src = getenv("EXTRACE_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/tests/node/receiver.js", src ? src : ".");
    return path;
}

static void receiver_spawn(receiver *r, const char *const *extra);

/* Start receiver.js with extra arguments (NULL-terminated); waits for
 * "ready". Its ports are held (ts_refused_port) so that it can come back
 * on them after receiver_stop. */
static void receiver_start(receiver *r, const char *const *extra)
{
    r->grpc_port = ts_refused_port();
    r->http_port = ts_refused_port();
    assert_true(r->grpc_port > 0 && r->http_port > 0);
    receiver_spawn(r, extra);
}

/* Start receiver.js on r's ports (again, after receiver_stop). */
static void receiver_spawn(receiver *r, const char *const *extra)
{
    const char *dir = ts_tmpdir();
    assert_non_null(dir);
    char gp[16], hp[16];
    snprintf(gp, sizeof gp, "%d", r->grpc_port);
    snprintf(hp, sizeof hp, "%d", r->http_port);
    snprintf(r->out, sizeof r->out, "%s/spans.jsonl", dir);
    snprintf(r->log, sizeof r->log, "%s/receiver.log", dir);
    char *argv[24] = {"node", (char *)receiver_script(), "--grpc-port", gp, "--http-port", hp, "--out", r->out};
    int n = 8;
    for (int i = 0; extra && extra[i] && n < 22; i++) argv[n++] = (char *)extra[i];
    argv[n] = NULL;
    r->pid = ts_spawn(argv, r->log);
    assert_true(r->pid > 0);
    int64_t deadline = ex_mono_ns() + 15 * EX_NS_PER_SEC;
    for (;;) {
        char *log = ts_read_file(r->log, NULL);
        int ready = log && strstr(log, "ready\n");
        if (log && strstr(log, "cannot start")) fprintf(stderr, "receiver log:\n%s\n", log);
        free(log);
        if (ready) break;
        if (ex_mono_ns() > deadline || ts_wait(r->pid, 0) != -2) {
            char *l = ts_read_file(r->log, NULL);
            fail_msg("receiver did not start (is `npm ci` done in tests/node?):\n%s", l ? l : "(no log)");
        }
        usleep(20 * 1000);
    }
}

static void receiver_stop(receiver *r)
{
    if (r->pid > 0) ts_stop(r->pid, SIGTERM, 5000);
    r->pid = 0;
}

/* ---- spans ---------------------------------------------------------------- */

#define T0 INT64_C(1720162676123456789) /* above 2^53: exactness of 64-bit times */

static const char *const child_names[3] = {"DataLoader", "Transform", "Publish"};

/* Workflow w of test `tag`: root "Workflow" + 3 stage children, each with
 * typed attributes, events and a status. Same input, same spans. */
static void make_workflow(const char *tag, int w, exo_span *out[NSPANS])
{
    char wf[64], stage[16];
    snprintf(wf, sizeof wf, "%s-wf-%d", tag, w);
    exo_span *root = exo_span_new("Workflow", EXO_KIND_INTERNAL);
    assert_non_null(root);
    exo_trace_id("test", wf, root->trace_id);
    exo_span_id(root->trace_id, "Workflow", "", root->span_id);
    root->start_ns = T0 + w * EX_NS_PER_SEC;
    root->end_ns = root->start_ns + 65 * EX_NS_PER_SEC + 13;
    exo_attrs_add_str(&root->attrs, "workflowId", wf);
    exo_attrs_add_int(&root->attrs, "stages", 3);
    exo_attrs_add_int(&root->attrs, "big", INT64_C(-9007199254740993));
    exo_attrs_add_double(&root->attrs, "progress", 0.1 * (w + 1));
    exo_attrs_add_bool(&root->attrs, "retried", w % 2);
    exo_attrs_add_str(&root->attrs, "note", "ünïcødé \"quoted\"\ttab");
    exo_event *e = exo_span_add_event(root, root->start_ns + 1, "Submitted");
    exo_attrs_add_str(&e->attrs, "by", "tests");
    exo_attrs_add_int(&e->attrs, "attempt", 1);
    exo_span_add_event(root, root->end_ns - 1, "Finished");
    exo_span_set_status(root, EXO_STATUS_ERROR, "Entity failed: DataLoader");
    out[0] = root;
    for (int c = 0; c < 3; c++) {
        exo_span *s = exo_span_new(child_names[c], c == 2 ? EXO_KIND_CLIENT : EXO_KIND_INTERNAL);
        assert_non_null(s);
        snprintf(stage, sizeof stage, "stage-%d", c);
        memcpy(s->trace_id, root->trace_id, 16);
        exo_span_id(s->trace_id, child_names[c], stage, s->span_id);
        memcpy(s->parent_span_id, root->span_id, 8);
        s->has_parent = 1;
        s->start_ns = root->start_ns + (c + 1) * EX_NS_PER_MS;
        s->end_ns = s->start_ns + (c + 1) * 7 * EX_NS_PER_SEC + 1;
        exo_attrs_add_str(&s->attrs, "stageId", stage);
        exo_attrs_add_double(&s->attrs, "ratio", -2.5e-3 * (c + 1));
        e = exo_span_add_event(s, s->start_ns + 5, "Running");
        exo_attrs_add_bool(&e->attrs, "cached", c == 1);
        if (c == 0) exo_span_set_status(s, EXO_STATUS_ERROR, "disk full");
        if (c == 1) exo_span_set_status(s, EXO_STATUS_OK, NULL);
        out[c + 1] = s;
    }
}

static void free_workflow(exo_span *s[NSPANS])
{
    for (int i = 0; i < NSPANS; i++) exo_span_free(s[i]);
}

/* ---- the pipeline on a loop ------------------------------------------------ */

typedef struct outcome {
    int calls;
    int delivered;
} outcome;

static void submit_cb(void *arg, int delivered)
{
    outcome *o = arg;
    o->calls++;
    o->delivered = delivered;
}

static void flag_cb(void *arg) { (*(int *)arg)++; }

static void watchdog_cb(uv_timer_t *t) { *(int *)t->data = 1; }

/* Watches a flag for run_until. */
typedef struct flag_watch {
    int *flag;
    int64_t deadline; /* monotonic ns */
    int timed_out;
} flag_watch;

static void flag_check_cb(uv_timer_t *t)
{
    flag_watch *w = t->data;
    if (ex_mono_ns() > w->deadline) w->timed_out = 1;
    if (*w->flag || w->timed_out) uv_stop(t->loop);
}

/* Run the loop until *flag is non-zero (checked every 2 ms, so the loop
 * never sleeps past it); fails after timeout_ms. */
static void run_until(uv_loop_t *loop, int *flag, int timeout_ms)
{
    uv_timer_t check;
    flag_watch w = {flag, ex_mono_ns() + (int64_t)timeout_ms * EX_NS_PER_MS, 0};
    uv_timer_init(loop, &check);
    check.data = &w;
    uv_timer_start(&check, flag_check_cb, 0, 2);
    while (!*flag && !w.timed_out) uv_run(loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&check, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    if (!*flag) fail_msg("gave up waiting after %d ms", timeout_ms);
}

typedef struct env_builder {
    char *vars[32];
    char buf[32][256];
    int n;
} env_builder;

static void env_set(env_builder *e, const char *name, const char *value)
{
    snprintf(e->buf[e->n], sizeof e->buf[e->n], "%s=%s", name, value);
    e->vars[e->n] = e->buf[e->n];
    e->n++;
    e->vars[e->n] = NULL;
}

/* A test setup: OTEL_* environment for protocol against the receiver. */
typedef struct setup {
    env_builder env;
    exo_export_config cfg;
    exo_resource res;
} setup;

static void setup_init(setup *s, const receiver *r, const char *exporters, const char *protocol, int gzip)
{
    char url[128];
    memset(s, 0, sizeof *s);
    int grpc = strcmp(protocol, "grpc") == 0;
    snprintf(url, sizeof url, "http://127.0.0.1:%d", r ? (grpc ? r->grpc_port : r->http_port) : ts_refused_port());
    env_set(&s->env, "OTEL_TRACES_EXPORTER", exporters);
    env_set(&s->env, "OTEL_EXPORTER_OTLP_PROTOCOL", protocol);
    env_set(&s->env, "OTEL_EXPORTER_OTLP_ENDPOINT", url);
    env_set(&s->env, "OTEL_EXPORTER_OTLP_COMPRESSION", gzip ? "gzip" : "none");
    env_set(&s->env, "OTEL_EXPORTER_OTLP_HEADERS", "x-test-tenant=t1");
    env_set(&s->env, "OTEL_BSP_SCHEDULE_DELAY", "50");
    env_set(&s->env, "OTEL_SERVICE_NAME", "export-test");
    env_set(&s->env, "OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=ci,host.name=h%2C1");
}

static void setup_load(setup *s)
{
    char err[256] = "", warn[256] = "";
    int rc = exo_export_config_from_env(s->env.vars, &s->cfg, err, sizeof err, warn, sizeof warn);
    if (rc != 0) fail_msg("config: %s", err);
    ex_rng rng;
    ex_rng_seed(&rng, 99);
    assert_int_equal(exo_resource_from_env(s->env.vars, &rng, &s->res, warn, sizeof warn), 0);
    assert_int_equal(exo_attrs_add_int(&s->res.attrs, "process.pid", 4242), 0);
}

static void setup_free(setup *s)
{
    exo_export_config_free(&s->cfg);
    exo_resource_free(&s->res);
}

static exo_pipeline *pipeline_new(uv_loop_t *loop, setup *s)
{
    exo_pipeline_options o;
    exo_pipeline_options_default(&o);
    o.backoff.initial_ns = 20 * EX_NS_PER_MS;
    o.backoff.max_ns = 100 * EX_NS_PER_MS;
    o.rng_seed = 5;
    char err[256] = "";
    exo_pipeline *p = exo_pipeline_new_opts(loop, &s->cfg, &s->res, "sample-tracing", "1.2.3", &o, err, sizeof err);
    if (!p) fail_msg("pipeline: %s", err);
    return p;
}

/* Submit NWF workflows of test `tag`, flush, destroy, close the loop. */
static void export_all(setup *s, const char *tag, outcome out[NWF], exo_pipeline_stats *stats, int64_t flush_ns)
{
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    exo_pipeline *p = pipeline_new(&loop, s);
    for (int w = 0; w < NWF; w++) {
        exo_span *spans[NSPANS];
        make_workflow(tag, w, spans);
        exo_pipeline_submit(p, spans, NSPANS, submit_cb, &out[w]);
    }
    int flushed = 0;
    exo_pipeline_flush(p, flush_ns, flag_cb, &flushed);
    run_until(&loop, &flushed, 30000);
    assert_int_equal(flushed, 1);
    exo_pipeline_get_stats(p, stats);
    assert_int_equal(stats->spans_queued, 0);
    exo_pipeline_destroy(p);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&loop), 0);
    for (int w = 0; w < NWF; w++) assert_int_equal(out[w].calls, 1);
}

/* ---- checking what arrived ------------------------------------------------ */

static void check_value(json_t *got, const exo_attr *want, const char *where)
{
    if (!got) fail_msg("%s: attribute %s missing", where, want->key);
    switch (want->type) {
    case EXO_VAL_STRING:
        if (!json_is_string(got) || strcmp(json_string_value(got), want->v.s) != 0)
            fail_msg("%s: %s: want string \"%s\"", where, want->key, want->v.s);
        break;
    case EXO_VAL_BOOL:
        if (!json_is_boolean(got) || json_is_true(got) != !!want->v.b)
            fail_msg("%s: %s: want bool %d", where, want->key, want->v.b);
        break;
    case EXO_VAL_INT: {
        json_t *i = json_object_get(got, "int");
        char buf[32];
        snprintf(buf, sizeof buf, "%lld", (long long)want->v.i);
        if (!json_is_string(i) || strcmp(json_string_value(i), buf) != 0)
            fail_msg("%s: %s: want int %s", where, want->key, buf);
        break;
    }
    case EXO_VAL_DOUBLE: {
        json_t *d = json_object_get(got, "double");
        if (!json_is_number(d) || json_number_value(d) != want->v.d)
            fail_msg("%s: %s: want double %.17g", where, want->key, want->v.d);
        break;
    }
    }
}

static void check_attrs(json_t *obj, const exo_attrs *want, const char *where)
{
    assert_true(json_is_object(obj));
    if (json_object_size(obj) != want->len)
        fail_msg("%s: %zu attributes, want %zu", where, json_object_size(obj), want->len);
    for (size_t i = 0; i < want->len; i++) check_value(json_object_get(obj, want->items[i].key), &want->items[i], where);
}

static void check_str(json_t *o, const char *key, const char *want, const char *where)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v) || strcmp(json_string_value(v), want) != 0)
        fail_msg("%s: %s = %s, want \"%s\"", where, key, v ? (json_is_string(v) ? json_string_value(v) : "(not a string)") : "(missing)", want);
}

static void check_u64(json_t *o, const char *key, int64_t want, const char *where)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", (long long)want);
    check_str(o, key, buf, where);
}

static void check_int(json_t *o, const char *key, long long want, const char *where)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v) || json_integer_value(v) != want)
        fail_msg("%s: %s: want %lld", where, key, want);
}

static void check_span(json_t *j, const exo_span *s, const setup *su, const char *protocol, const char *encoding)
{
    char hex[40], where[160];
    snprintf(where, sizeof where, "span %s %s", s->name, exo_hex(s->span_id, 8, hex));
    check_str(j, "protocol", protocol, where);
    check_str(j, "encoding", encoding, where);
    check_str(j, "traceId", exo_hex(s->trace_id, 16, hex), where);
    check_str(j, "spanId", exo_hex(s->span_id, 8, hex), where);
    check_str(j, "parentSpanId", s->has_parent ? exo_hex(s->parent_span_id, 8, hex) : "", where);
    check_str(j, "name", s->name, where);
    check_int(j, "kind", s->kind, where);
    check_u64(j, "startTimeUnixNano", s->start_ns, where);
    check_u64(j, "endTimeUnixNano", s->end_ns, where);
    check_attrs(json_object_get(j, "attributes"), &s->attrs, where);
    json_t *events = json_object_get(j, "events");
    assert_true(json_is_array(events));
    assert_int_equal(json_array_size(events), s->nevents);
    for (size_t i = 0; i < s->nevents; i++) {
        json_t *e = json_array_get(events, i);
        check_str(e, "name", s->events[i].name, where);
        check_u64(e, "timeUnixNano", s->events[i].time_ns, where);
        check_attrs(json_object_get(e, "attributes"), &s->events[i].attrs, where);
    }
    json_t *st = json_object_get(j, "status");
    check_int(st, "code", s->status_code, where);
    check_str(st, "message", s->status_message ? s->status_message : "", where);
    check_attrs(json_object_get(j, "resource"), &su->res.attrs, where);
    json_t *scope = json_object_get(j, "scope");
    check_str(scope, "name", "sample-tracing", where);
    check_str(scope, "version", "1.2.3", where);
}

/* Read the receiver's file: the number of lines, and each line parsed. */
static json_t *read_lines(const receiver *r)
{
    json_t *all = json_array();
    char *text = ts_read_file(r->out, NULL);
    if (!text) return all;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        json_error_t jerr;
        json_t *j = json_loads(line, 0, &jerr);
        if (!j) fail_msg("receiver line not JSON: %s (%s)", line, jerr.text);
        json_array_append_new(all, j);
    }
    free(text);
    return all;
}

/* Every span of workflows [0, NWF) of `tag` whose mask bit is set arrived
 * exactly once with every field; nothing else arrived. */
static void check_received(const receiver *r, const setup *su, const char *tag, unsigned wf_mask,
                           const char *protocol, const char *encoding)
{
    json_t *lines = read_lines(r);
    size_t want = 0;
    for (int w = 0; w < NWF; w++) {
        if (!(wf_mask & (1u << w))) continue;
        exo_span *spans[NSPANS];
        make_workflow(tag, w, spans);
        for (int i = 0; i < NSPANS; i++) {
            char hex[20];
            exo_hex(spans[i]->span_id, 8, hex);
            json_t *found = NULL;
            int count = 0;
            size_t k;
            json_t *j;
            json_array_foreach(lines, k, j) {
                json_t *id = json_object_get(j, "spanId");
                if (json_is_string(id) && strcmp(json_string_value(id), hex) == 0) {
                    found = j;
                    count++;
                }
            }
            if (count != 1) fail_msg("span %s (%s, workflow %d) arrived %d times", hex, spans[i]->name, w, count);
            check_span(found, spans[i], su, protocol, encoding);
            want++;
        }
        free_workflow(spans);
    }
    if (json_array_size(lines) != want) fail_msg("%zu spans arrived, want %zu", json_array_size(lines), want);
    json_decref(lines);
}

/* ---- one run against a receiver --------------------------------------------- */

/* A receiver, the setup pointed at it, and what one export run gave. */
typedef struct export_run {
    receiver r;            /* the receiver.js process */
    setup s;               /* OTEL_* environment pointed at r */
    char tag[64];          /* names the run's workflows */
    const char *protocol;  /* OTEL_EXPORTER_OTLP_PROTOCOL */
    int gzip;              /* 1: OTEL_EXPORTER_OTLP_COMPRESSION=gzip */
    outcome out[NWF];      /* per submitted workflow */
    exo_pipeline_stats st; /* after the flush */
} export_run;

/* Start a receiver with `extra` arguments and set up the otlp exporter for
 * protocol against it; more env_set(&x->s.env, …) may follow. */
static void run_begin(export_run *x, const char *tag, const char *const *extra, const char *protocol, int gzip)
{
    memset(x->out, 0, sizeof x->out);
    snprintf(x->tag, sizeof x->tag, "%s", tag);
    x->protocol = protocol;
    x->gzip = gzip;
    receiver_start(&x->r, extra);
    setup_init(&x->s, &x->r, "otlp", protocol, gzip);
}

/* Load the setup, export NWF workflows (flush within flush_ns), stop the receiver. */
static void run_export(export_run *x, int64_t flush_ns)
{
    setup_load(&x->s);
    export_all(&x->s, x->tag, x->out, &x->st, flush_ns);
    receiver_stop(&x->r);
}

/* Check what arrived (the workflows of wf_mask, see check_received) and free the setup. */
static void run_finish(export_run *x, unsigned wf_mask)
{
    check_received(&x->r, &x->s, x->tag, wf_mask, x->protocol, x->gzip ? "gzip" : "identity");
    setup_free(&x->s);
}

/* Every submission completed with `delivered`. */
static void expect_delivered(const outcome out[NWF], int delivered)
{
    for (int w = 0; w < NWF; w++) assert_int_equal(out[w].delivered, delivered);
}

/* ---- tests ----------------------------------------------------------------- */

static const char *const protocols[] = {"grpc", "http/protobuf", "http/json"};

/* Everything arrives exactly once. With a fail `mode`, the receiver first
 * refuses two requests that way and both are retried. */
static void delivered_once(const char *protocol, int gzip, const char *mode)
{
    const char *extra[] = {"--fail-first", "2", "--fail-mode", mode, NULL};
    int fails = mode ? 2 : 0;
    char tag[64];
    if (mode) snprintf(tag, sizeof tag, "retry-%s-%s", protocol, mode);
    else snprintf(tag, sizeof tag, "rt-%s-%d", protocol, gzip);
    export_run x;
    run_begin(&x, tag, mode ? extra : NULL, protocol, gzip);
    run_export(&x, (mode ? 15 : 10) * EX_NS_PER_SEC);
    expect_delivered(x.out, 1);
    assert_int_equal(x.st.spans_exported, NWF * NSPANS);
    assert_int_equal(x.st.spans_dropped, 0);
    assert_int_equal(x.st.export_failures, fails);
    assert_int_equal(x.st.export_retries, fails);
    if (mode) assert_int_equal(x.st.export_requests, x.st.export_retries + 1);
    else assert_true(x.st.export_requests >= 1);
    run_finish(&x, 0x7);
}

static void test_roundtrip_all_protocols(void **state)
{
    (void)state;
    for (int i = 0; i < 3; i++) {
        delivered_once(protocols[i], 0, NULL);
        delivered_once(protocols[i], 1, NULL);
    }
}

static void test_retries_grpc(void **state)
{
    (void)state;
    delivered_once("grpc", 1, "unavailable");
    int64_t t0 = ex_mono_ns();
    delivered_once("grpc", 0, "429"); /* RESOURCE_EXHAUSTED with RetryInfo of 1 s */
    /* Both waits honoured the server's 1 s, not the 20 ms backoff. */
    assert_true(ex_mono_ns() - t0 >= 2 * EX_NS_PER_SEC);
}

static void test_retries_http(void **state)
{
    (void)state;
    delivered_once("http/protobuf", 1, "503");
    delivered_once("http/json", 0, "503");
    delivered_once("http/protobuf", 0, "drop");
    int64_t t0 = ex_mono_ns();
    delivered_once("http/json", 1, "429"); /* Retry-After: 1 */
    assert_true(ex_mono_ns() - t0 >= 2 * EX_NS_PER_SEC);
}

/* 400 / INVALID_ARGUMENT: dropped at once, counted, no retry. */
static void test_final_error_drops(void **state)
{
    (void)state;
    const char *extra[] = {"--fail-first", "100", "--fail-mode", "400", NULL};
    for (int i = 0; i < 3; i++) {
        export_run x;
        run_begin(&x, "final", extra, protocols[i], i == 1);
        run_export(&x, 10 * EX_NS_PER_SEC);
        expect_delivered(x.out, 0);
        assert_int_equal(x.st.spans_exported, 0);
        assert_int_equal(x.st.spans_dropped, NWF * NSPANS);
        assert_int_equal(x.st.export_requests, 1);
        assert_int_equal(x.st.export_failures, 1);
        assert_int_equal(x.st.export_retries, 0);
        assert_int_equal(x.st.batches_dropped, 1);
        run_finish(&x, 0);
    }
}

/* partial_success with rejected_spans = 1: never retried; the batch's
 * submissions are not delivered, the rest of the spans are counted. */
static void test_partial_success(void **state)
{
    (void)state;
    const char *extra[] = {"--fail-first", "1", "--fail-mode", "partial", NULL};
    for (int i = 0; i < 3; i++) {
        export_run x;
        run_begin(&x, "partial", extra, protocols[i], 0);
        run_export(&x, 10 * EX_NS_PER_SEC);
        expect_delivered(x.out, 0);
        assert_int_equal(x.st.spans_rejected, 1);
        assert_int_equal(x.st.spans_dropped, 1);
        assert_int_equal(x.st.spans_exported, NWF * NSPANS - 1);
        assert_int_equal(x.st.export_requests, 1);
        assert_int_equal(x.st.export_failures, 0);
        run_finish(&x, 0x7);
    }
}

/* Retries stop at OTEL_BSP_EXPORT_TIMEOUT: the receiver is always
 * unavailable (gRPC) or nothing listens at all (HTTP). */
static void test_export_timeout_gives_up(void **state)
{
    (void)state;
    const char *extra[] = {"--fail-first", "100000", "--fail-mode", "unavailable", NULL};
    receiver r;
    receiver_start(&r, extra);
    for (int i = 0; i < 2; i++) {
        setup s;
        setup_init(&s, i == 0 ? &r : NULL, "otlp", protocols[i], 0);
        env_set(&s.env, "OTEL_BSP_EXPORT_TIMEOUT", "400");
        setup_load(&s);
        outcome out[NWF] = {{0}};
        exo_pipeline_stats st;
        int64_t t0 = ex_mono_ns();
        export_all(&s, "timeout", out, &st, 10 * EX_NS_PER_SEC);
        int64_t took = ex_mono_ns() - t0;
        expect_delivered(out, 0);
        assert_int_equal(st.spans_dropped, NWF * NSPANS);
        assert_int_equal(st.spans_exported, 0);
        assert_true(st.export_retries >= 2);
        assert_int_equal(st.export_failures, st.export_requests);
        assert_int_equal(st.batches_dropped, 1);
        assert_true(took < 5 * EX_NS_PER_SEC); /* gave up, did not wait for the flush timeout */
        setup_free(&s);
    }
    receiver_stop(&r);
    check_received(&r, NULL, "timeout", 0, "grpc", "identity");
}

/* No flush: batches of OTEL_BSP_MAX_EXPORT_BATCH_SIZE=5 go out when full,
 * the rest when the schedule delay fires; every submission completes. */
static void test_schedule_delay_and_batch_size(void **state)
{
    (void)state;
    export_run x;
    run_begin(&x, "sched", NULL, "grpc", 0);
    env_set(&x.s.env, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "5");
    setup_load(&x.s);
    uv_loop_t loop;
    uv_loop_init(&loop);
    exo_pipeline *p = pipeline_new(&loop, &x.s);
    outcome *out = x.out;
    int done = 0;
    for (int w = 0; w < NWF; w++) {
        exo_span *spans[NSPANS];
        make_workflow(x.tag, w, spans);
        exo_pipeline_submit(p, spans, NSPANS, submit_cb, &out[w]);
    }
    while (!done) {
        run_until(&loop, &out[NWF - 1].calls, 10000);
        done = out[0].calls && out[1].calls && out[2].calls;
    }
    exo_pipeline_get_stats(p, &x.st);
    exo_pipeline_destroy(p);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&loop), 0);
    receiver_stop(&x.r);
    expect_delivered(out, 1);
    assert_int_equal(x.st.export_requests, 3);
    assert_int_equal(x.st.spans_exported, NWF * NSPANS);
    run_finish(&x, 0x7);
    /* Requests of 5, 5 and 2 spans. */
    json_t *lines = read_lines(&x.r);
    int per_request[16] = {0};
    size_t k;
    json_t *j;
    json_array_foreach(lines, k, j) {
        json_int_t n = json_integer_value(json_object_get(j, "request"));
        assert_true(n >= 1 && n < 16);
        per_request[n]++;
    }
    json_decref(lines);
    int sizes[3] = {0}, nreq = 0;
    for (int i = 1; i < 16; i++)
        if (per_request[i]) {
            assert_true(nreq < 3);
            sizes[nreq++] = per_request[i];
        }
    assert_int_equal(nreq, 3);
    assert_int_equal(sizes[0] + sizes[1] + sizes[2], 12);
    assert_int_equal(sizes[0], 5);
    assert_true((sizes[1] == 5 && sizes[2] == 2) || (sizes[1] == 2 && sizes[2] == 5));
}

/* OTEL_BSP_MAX_QUEUE_SIZE=6: the second submission only half fits. */
static void test_queue_bound(void **state)
{
    (void)state;
    export_run x;
    run_begin(&x, "bound", NULL, "http/protobuf", 0);
    env_set(&x.s.env, "OTEL_BSP_MAX_QUEUE_SIZE", "6");
    run_export(&x, 10 * EX_NS_PER_SEC);
    /* wf0: 4 queued; wf1: 2 more fill the queue (a batch of 6 goes out),
     * 2 dropped; wf2: the queue is empty again, all 4 fit. */
    assert_int_equal(x.out[0].delivered, 1);
    assert_int_equal(x.out[1].delivered, 0);
    assert_int_equal(x.out[2].delivered, 1);
    assert_int_equal(x.st.spans_dropped, 2);
    assert_int_equal(x.st.spans_dropped_queue_full, 2);
    assert_int_equal(x.st.spans_exported, 10);
    json_t *lines = read_lines(&x.r);
    assert_int_equal(json_array_size(lines), 10);
    json_decref(lines);
    setup_free(&x.s);
}

/* A flush that times out drops what is in flight; destroy with a request
 * still running aborts it; both leave a loop that closes. */
static void test_flush_timeout_and_destroy_in_flight(void **state)
{
    (void)state;
    const char *extra[] = {"--delay-ms", "3000", NULL};
    export_run x;
    run_begin(&x, "slow", extra, "grpc", 0);
    setup_load(&x.s);

    uv_loop_t loop;
    uv_loop_init(&loop);
    exo_pipeline *p = pipeline_new(&loop, &x.s);
    outcome out[2] = {{0}};
    exo_span *spans[NSPANS];
    make_workflow(x.tag, 0, spans);
    exo_pipeline_submit(p, spans, NSPANS, submit_cb, &out[0]);
    int flushed = 0;
    int64_t t0 = ex_mono_ns();
    exo_pipeline_flush(p, 300 * EX_NS_PER_MS, flag_cb, &flushed);
    run_until(&loop, &flushed, 5000);
    assert_true(ex_mono_ns() - t0 < 2500 * EX_NS_PER_MS);
    assert_int_equal(out[0].calls, 1);
    assert_int_equal(out[0].delivered, 0);
    exo_pipeline_stats st;
    exo_pipeline_get_stats(p, &st);
    assert_int_equal(st.spans_dropped, NSPANS);
    assert_int_equal(st.spans_queued, 0);

    /* A second workflow goes out (schedule delay 50 ms) and is in flight
     * when the pipeline is destroyed. */
    make_workflow(x.tag, 1, spans);
    exo_pipeline_submit(p, spans, NSPANS, submit_cb, &out[1]);
    uv_timer_t wait;
    int waited = 0;
    uv_timer_init(&loop, &wait);
    wait.data = &waited;
    uv_timer_start(&wait, watchdog_cb, 300, 0);
    run_until(&loop, &waited, 2000);
    uv_close((uv_handle_t *)&wait, NULL);
    exo_pipeline_get_stats(p, &st);
    assert_int_equal(st.export_requests, 2);
    assert_int_equal(out[1].calls, 0);
    exo_pipeline_destroy(p);
    assert_int_equal(out[1].calls, 0); /* not inside destroy */
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(out[1].calls, 1);
    assert_int_equal(out[1].delivered, 0);
    assert_int_equal(uv_loop_close(&loop), 0);
    receiver_stop(&x.r);
    setup_free(&x.s);
}

/* console + otlp together: the console blocks hold ids, names, status and
 * events; the receiver gets everything too. stdout goes to a file. */
static void test_console_and_otlp(void **state)
{
    (void)state;
    receiver r;
    receiver_start(&r, NULL);
    setup s;
    setup_init(&s, &r, "console,otlp", "grpc", 1);
    setup_load(&s);
    assert_int_equal(s.cfg.nexporters, 2);
    char path[600];
    snprintf(path, sizeof path, "%s.console", r.out);
    fflush(stdout);
    int saved = dup(1), fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, 1);
    close(fd);
    outcome out[NWF] = {{0}};
    exo_pipeline_stats st;
    export_all(&s, "console", out, &st, 10 * EX_NS_PER_SEC);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    receiver_stop(&r);
    expect_delivered(out, 1);
    assert_int_equal(st.spans_exported, 2 * NWF * NSPANS); /* per exporter */
    check_received(&r, &s, "console", 0x7, "grpc", "gzip");

    char *text = ts_read_file(path, NULL);
    assert_non_null(text);
    for (int w = 0; w < NWF; w++) {
        exo_span *spans[NSPANS];
        make_workflow("console", w, spans);
        for (int i = 0; i < NSPANS; i++) {
            char hex[40], line[160];
            snprintf(line, sizeof line, "Activity.SpanId:             %s\n", exo_hex(spans[i]->span_id, 8, hex));
            char *block = strstr(text, line);
            if (!block) fail_msg("console output lacks %s", line);
            /* The block runs back to its TraceId line and on to an empty line. */
            char *start = block;
            while (start > text && strncmp(start, "Activity.TraceId:", 17) != 0) start--;
            char *end = strstr(block, "\n\n");
            assert_non_null(end);
            size_t blen = (size_t)(end - start);
            char *b = strndup(start, blen);
            snprintf(line, sizeof line, "Activity.TraceId:            %s\n", exo_hex(spans[i]->trace_id, 16, hex));
            assert_non_null(strstr(b, line));
            snprintf(line, sizeof line, "Activity.DisplayName:        %s\n", spans[i]->name);
            assert_non_null(strstr(b, line));
            snprintf(line, sizeof line, "Activity.ParentSpanId:       %s\n",
                     spans[i]->has_parent ? exo_hex(spans[i]->parent_span_id, 8, hex) : "(root)");
            assert_non_null(strstr(b, line));
            const char *status = spans[i]->status_code == EXO_STATUS_ERROR ? "StatusCode: Error\n"
                                 : spans[i]->status_code == EXO_STATUS_OK  ? "StatusCode: Ok\n"
                                                                           : "StatusCode: Unset\n";
            assert_non_null(strstr(b, status));
            if (spans[i]->status_message) {
                snprintf(line, sizeof line, "Activity.StatusDescription: %s\n", spans[i]->status_message);
                assert_non_null(strstr(b, line));
            }
            for (size_t e = 0; e < spans[i]->nevents; e++) {
                snprintf(line, sizeof line, "    %s [", spans[i]->events[e].name);
                assert_non_null(strstr(b, line));
            }
            assert_non_null(strstr(b, "Activity.ActivitySourceName: sample-tracing\n"));
            assert_non_null(strstr(b, "service.name: export-test\n"));
            free(b);
        }
        free_workflow(spans);
    }
    free(text);
    setup_free(&s);
}

/* OTEL_TRACES_EXPORTER=none: nothing is sent, every submission is done. */
static void test_none_exporter(void **state)
{
    (void)state;
    setup s;
    setup_init(&s, NULL, "none", "grpc", 0);
    setup_load(&s);
    assert_int_equal(s.cfg.nexporters, 0);
    outcome out[NWF] = {{0}};
    exo_pipeline_stats st;
    export_all(&s, "none", out, &st, EX_NS_PER_SEC);
    expect_delivered(out, 1);
    assert_int_equal(st.export_requests, 0);
    assert_int_equal(st.spans_dropped, 0);
    setup_free(&s);
}

/* OTLP/gRPC keeps one HTTP/2 connection: twelve batches of one span (two
 * in flight at a time, multiplexed) all arrive from the same client
 * address and port in the receiver's log. */
static void test_grpc_one_connection(void **state)
{
    (void)state;
    export_run x;
    run_begin(&x, "onecon", NULL, "grpc", 0);
    env_set(&x.s.env, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "1");
    run_export(&x, 10 * EX_NS_PER_SEC);
    expect_delivered(x.out, 1);
    assert_int_equal(x.st.export_requests, NWF * NSPANS);
    char *log = ts_read_file(x.r.log, NULL);
    assert_non_null(log);
    char peers[NWF * NSPANS][64];
    int requests = 0, npeers = 0;
    for (const char *at = log; (at = strstr(at, "grpc request accepted:")); at++) {
        const char *from = strstr(at, ", from ");
        const char *eol = strchr(at, '\n');
        assert_true(from && (!eol || from < eol));
        char peer[64];
        size_t n = strcspn(from + 7, "\n");
        snprintf(peer, sizeof peer, "%.*s", (int)n, from + 7);
        int seen = 0;
        for (int i = 0; i < npeers; i++) seen |= strcmp(peers[i], peer) == 0;
        if (!seen && npeers < NWF * NSPANS) snprintf(peers[npeers++], sizeof peers[0], "%s", peer);
        requests++;
    }
    free(log);
    assert_int_equal(requests, NWF * NSPANS);
    if (npeers != 1) fail_msg("%d requests came over %d connections (want 1)", requests, npeers);
    run_finish(&x, 0x7);
}

/* The receiver goes away and comes back on the same port: the batch
 * sent meanwhile fails to connect, is retried, and goes over a new
 * connection; nothing is dropped. */
static void test_grpc_reconnects(void **state)
{
    (void)state;
    export_run x;
    run_begin(&x, "recon", NULL, "grpc", 0);
    setup_load(&x.s);
    uv_loop_t loop;
    uv_loop_init(&loop);
    exo_pipeline *p = pipeline_new(&loop, &x.s);
    exo_span *spans[NSPANS];
    int flushed = 0;
    make_workflow(x.tag, 0, spans);
    exo_pipeline_submit(p, spans, NSPANS, submit_cb, &x.out[0]);
    exo_pipeline_flush(p, 10 * EX_NS_PER_SEC, flag_cb, &flushed);
    run_until(&loop, &flushed, 15000);
    assert_int_equal(x.out[0].delivered, 1);
    receiver_stop(&x.r);
    make_workflow(x.tag, 1, spans);
    exo_pipeline_submit(p, spans, NSPANS, submit_cb, &x.out[1]);
    flushed = 0;
    exo_pipeline_flush(p, 20 * EX_NS_PER_SEC, flag_cb, &flushed);
    int waited = 0; /* 300 ms of attempts against the closed port */
    uv_timer_t pause;
    uv_timer_init(&loop, &pause);
    pause.data = &waited;
    uv_timer_start(&pause, watchdog_cb, 300, 0);
    run_until(&loop, &waited, 5000);
    uv_close((uv_handle_t *)&pause, NULL);
    exo_pipeline_stats st;
    exo_pipeline_get_stats(p, &st);
    assert_true(st.export_failures >= 1);
    receiver_spawn(&x.r, NULL);
    run_until(&loop, &flushed, 25000);
    exo_pipeline_get_stats(p, &x.st);
    exo_pipeline_destroy(p);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&loop), 0);
    assert_int_equal(x.out[1].calls, 1);
    assert_int_equal(x.out[1].delivered, 1);
    assert_int_equal(x.st.spans_exported, 2 * NSPANS);
    assert_int_equal(x.st.spans_dropped, 0);
    char *log = ts_read_file(x.r.log, NULL);
    assert_non_null(log);
    assert_non_null(strstr(log, "grpc request accepted: 4 spans"));
    free(log);
    receiver_stop(&x.r);
    setup_free(&x.s);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    ex_log_set_level(getenv("EXTRACE_TEST_LOG") ? EX_LOG_DEBUG : EX_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_all_protocols),
        cmocka_unit_test(test_retries_grpc),
        cmocka_unit_test(test_retries_http),
        cmocka_unit_test(test_final_error_drops),
        cmocka_unit_test(test_partial_success),
        cmocka_unit_test(test_export_timeout_gives_up),
        cmocka_unit_test(test_schedule_delay_and_batch_size),
        cmocka_unit_test(test_grpc_one_connection),
        cmocka_unit_test(test_grpc_reconnects),
        cmocka_unit_test(test_queue_bound),
        cmocka_unit_test(test_flush_timeout_and_destroy_in_flight),
        cmocka_unit_test(test_console_and_otlp),
        cmocka_unit_test(test_none_exporter),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    ts_cleanup();
    return rc;
}
