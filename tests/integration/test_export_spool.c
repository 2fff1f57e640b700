/* The export spool against the real OTLP receiver (tests/node/receiver.js)
 * over http/protobuf:
 *   - receiver down: batches land in the spool (segment files, stats),
 *     no submission completes; receiver up: every span arrives exactly
 *     once, in order, and every submission completes with delivered = 1;
 *   - a spool too small for everything: the rest is dropped and counted,
 *     those submissions complete with 0, the spooled ones arrive;
 *   - restart: records left by a destroyed pipeline go out from a new one
 *     on the same directory, a record cut short is skipped and counted.
 * Every test ends with uv_loop_close() == 0. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/mem.h"
#include "otel/ids.h"
#include "otel/pipeline.h"
#include "otel/resource.h"
#include "support.h"

#define BATCH 5  /* spans per submission and per batch */
#define NSUB 6   /* submissions per test */

/* ---- the receiver, on ports chosen (and held) before it runs ------------- */

typedef struct receiver {
    pid_t pid;
    int grpc_port, http_port;
    char out[512], log[512];
} receiver;

static void receiver_ports(receiver *r)
{
    const char *dir = ts_tmpdir();
    assert_non_null(dir);
    /* refusing until the receiver binds them (the exporter sends there first) */
    r->grpc_port = ts_refused_port();
    r->http_port = ts_refused_port();
    assert_true(r->grpc_port > 0 && r->http_port > 0);
    snprintf(r->out, sizeof r->out, "%s/spans.jsonl", dir);
    snprintf(r->log, sizeof r->log, "%s/receiver.log", dir);
}

static void receiver_start(receiver *r)
{
    char script[1024], gp[16], hp[16];
    const char *src = getenv("EXTRACE_SOURCE_DIR");
    snprintf(script, sizeof script, "%s/tests/node/receiver.js", src ? src : ".");
    snprintf(gp, sizeof gp, "%d", r->grpc_port);
    snprintf(hp, sizeof hp, "%d", r->http_port);
    char *argv[] = {"node", script, "--grpc-port", gp, "--http-port", hp, "--out", r->out, NULL};
    r->pid = ts_spawn(argv, r->log);
    assert_true(r->pid > 0);
    int64_t deadline = ex_mono_ns() + 15 * EX_NS_PER_SEC;
    for (;;) {
        char *log = ts_read_file(r->log, NULL);
        int ready = log && strstr(log, "ready\n");
        free(log);
        if (ready) return;
        if (ex_mono_ns() > deadline || ts_wait(r->pid, 0) != -2) fail_msg("receiver did not start");
        usleep(20 * 1000);
    }
}

static void receiver_stop(receiver *r)
{
    if (r->pid > 0) ts_stop(r->pid, SIGTERM, 5000);
    r->pid = 0;
}

/* Span names the receiver wrote, in arrival order (n filled in). */
static int received(const receiver *r, char names[][16], int max)
{
    char *text = ts_read_file(r->out, NULL);
    int n = 0;
    for (char *line = text ? strtok(text, "\n") : NULL; line; line = strtok(NULL, "\n")) {
        json_error_t jerr;
        json_t *j = json_loads(line, 0, &jerr);
        assert_non_null(j);
        if (n < max) snprintf(names[n], 16, "%s", json_string_value(json_object_get(j, "name")));
        n++;
        json_decref(j);
    }
    free(text);
    return n;
}

/* ---- the pipeline ------------------------------------------------------------ */

typedef struct outcome {
    int calls, delivered;
} outcome;

static void submit_cb(void *arg, int delivered)
{
    outcome *o = arg;
    o->calls++;
    o->delivered = delivered;
}

typedef struct setup {
    char *vars[16];
    char buf[16][160];
    int n;
    exo_export_config cfg;
    exo_resource res;
    char spool[512];
} setup;

static void env_set(setup *s, const char *name, const char *value)
{
    snprintf(s->buf[s->n], sizeof s->buf[s->n], "%s=%s", name, value);
    s->vars[s->n] = s->buf[s->n];
    s->vars[++s->n] = NULL;
}

static void setup_init(setup *s, const receiver *r)
{
    char url[128], err[256] = "", warn[256] = "";
    memset(s, 0, sizeof *s);
    snprintf(url, sizeof url, "http://127.0.0.1:%d", r->http_port);
    env_set(s, "OTEL_TRACES_EXPORTER", "otlp");
    env_set(s, "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf");
    env_set(s, "OTEL_EXPORTER_OTLP_ENDPOINT", url);
    env_set(s, "OTEL_BSP_SCHEDULE_DELAY", "20");
    env_set(s, "OTEL_BSP_EXPORT_TIMEOUT", "150");
    env_set(s, "OTEL_EXPORTER_OTLP_TIMEOUT", "1000");
    env_set(s, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "5");
    env_set(s, "OTEL_SERVICE_NAME", "spool-test");
    if (exo_export_config_from_env(s->vars, &s->cfg, err, sizeof err, warn, sizeof warn) != 0)
        fail_msg("config: %s", err);
    ex_rng rng;
    ex_rng_seed(&rng, 7);
    assert_int_equal(exo_resource_from_env(s->vars, &rng, &s->res, warn, sizeof warn), 0);
    snprintf(s->spool, sizeof s->spool, "%s/spool", ts_tmpdir());
}

static void setup_free(setup *s)
{
    exo_export_config_free(&s->cfg);
    exo_resource_free(&s->res);
}

static exo_pipeline *pipeline_new(uv_loop_t *loop, setup *s, uint64_t max_bytes, uint64_t seg_bytes)
{
    exo_pipeline_options o;
    exo_pipeline_options_default(&o);
    o.backoff.initial_ns = 20 * EX_NS_PER_MS;
    o.backoff.max_ns = 100 * EX_NS_PER_MS;
    o.rng_seed = 3;
    o.max_inflight = 1; /* one batch at a time: the order in the spool is the submit order */
    o.spool_dir = s->spool;
    o.spool_max_bytes = max_bytes;
    o.spool_segment_bytes = seg_bytes;
    char err[256] = "";
    exo_pipeline *p = exo_pipeline_new_opts(loop, &s->cfg, &s->res, "sample-tracing", "1", &o, err, sizeof err);
    if (!p) fail_msg("pipeline: %s", err);
    return p;
}

/* Submission k: BATCH spans named span-<k*BATCH+i>, padded to ~150 bytes each. */
static void submit(exo_pipeline *p, int k, outcome *o)
{
    exo_span *spans[BATCH];
    char name[16], pad[121];
    memset(pad, 'x', 120);
    pad[120] = '\0';
    for (int i = 0; i < BATCH; i++) {
        snprintf(name, sizeof name, "span-%03d", k * BATCH + i);
        spans[i] = exo_span_new(name, EXO_KIND_INTERNAL);
        assert_non_null(spans[i]);
        exo_trace_id("spool", name, spans[i]->trace_id);
        exo_span_id(spans[i]->trace_id, name, "", spans[i]->span_id);
        spans[i]->start_ns = INT64_C(1720162676000000000) + k;
        spans[i]->end_ns = spans[i]->start_ns + EX_NS_PER_SEC;
        exo_attrs_add_str(&spans[i]->attrs, "pad", pad);
    }
    exo_pipeline_submit(p, spans, BATCH, submit_cb, o);
}

/* Watches a condition for run_until. */
typedef struct cond_watch {
    int (*cond)(void *);
    void *arg;
    int64_t deadline; /* monotonic ns */
    int timed_out;
} cond_watch;

static void cond_check_cb(uv_timer_t *t)
{
    cond_watch *w = t->data;
    if (ex_mono_ns() > w->deadline) w->timed_out = 1;
    if (w->timed_out || w->cond(w->arg)) uv_stop(t->loop);
}

/* Run the loop until cond(arg) holds (checked every 5 ms); fail after timeout_ms. */
static void run_until(uv_loop_t *loop, int (*cond)(void *), void *arg, int timeout_ms)
{
    uv_timer_t check;
    cond_watch w = {cond, arg, ex_mono_ns() + (int64_t)timeout_ms * EX_NS_PER_MS, 0};
    uv_timer_init(loop, &check);
    check.data = &w;
    uv_timer_start(&check, cond_check_cb, 0, 5);
    while (!cond(arg) && !w.timed_out) uv_run(loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&check, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    if (!cond(arg)) fail_msg("gave up waiting after %d ms", timeout_ms);
}

static int called(void *arg) { return ((outcome *)arg)->calls > 0; }

typedef struct spool_wait {
    exo_pipeline *p;
    uint64_t spans; /* spooled + dropped for a full spool */
} spool_wait;

static int all_spooled(void *arg)
{
    spool_wait *w = arg;
    exo_pipeline_stats st;
    exo_pipeline_get_stats(w->p, &st);
    return st.spans_spooled + st.spans_dropped_spool_full == w->spans && st.spans_queued == 0;
}

static int all_called(void *arg)
{
    outcome *o = arg;
    for (int k = 0; k < NSUB; k++)
        if (o[k].calls == 0) return 0;
    return 1;
}

static int count_segments(const char *d)
{
    DIR *dd = opendir(d);
    struct dirent *de;
    int n = 0;
    while (dd && (de = readdir(dd)))
        if (strncmp(de->d_name, "seg-", 4) == 0) n++;
    if (dd) closedir(dd);
    return n;
}

static void close_loop(uv_loop_t *loop, exo_pipeline *p)
{
    exo_pipeline_destroy(p);
    assert_int_equal(uv_run(loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(loop), 0);
}

/* The receiver (not started yet), the setup, a loop and its pipeline. */
typedef struct spool_run {
    receiver r;      /* ports chosen, started by the test */
    setup s;         /* OTEL_* environment and spool directory */
    uv_loop_t loop;  /* runs p */
    exo_pipeline *p; /* owned: closed by close_loop / spool_end */
    outcome o[NSUB]; /* per submission */
} spool_run;

/* With the receiver down, submit nsub submissions to a pipeline spooling
 * up to max_bytes in segments of seg_bytes, and wait until every span is
 * spooled or dropped for a full spool. */
static void spool_begin(spool_run *x, uint64_t max_bytes, uint64_t seg_bytes, int nsub)
{
    receiver_ports(&x->r);
    setup_init(&x->s, &x->r);
    assert_int_equal(uv_loop_init(&x->loop), 0);
    x->p = pipeline_new(&x->loop, &x->s, max_bytes, seg_bytes);
    memset(x->o, 0, sizeof x->o);
    for (int k = 0; k < nsub; k++) submit(x->p, k, &x->o[k]);
    spool_wait w = {x->p, (uint64_t)nsub * BATCH};
    run_until(&x->loop, all_spooled, &w, 20000);
}

/* Close the loop, stop the receiver, free the setup. */
static void spool_end(spool_run *x)
{
    close_loop(&x->loop, x->p);
    receiver_stop(&x->r);
    setup_free(&x->s);
}

/* The first n names are span-000 … span-<n - 1>: in order, each once. */
static void expect_names_in_order(char names[][16], int n)
{
    for (int i = 0; i < n; i++) {
        char want[32];
        snprintf(want, sizeof want, "span-%03d", i);
        assert_string_equal(names[i], want);
    }
}

/* ---- tests ------------------------------------------------------------------- */

static void test_spool_then_deliver_in_order(void **state)
{
    (void)state;
    spool_run x;
    spool_begin(&x, 1 << 20, 4096, NSUB);
    exo_pipeline_stats st;
    exo_pipeline_get_stats(x.p, &st);
    assert_int_equal(st.spans_spooled, NSUB * BATCH);
    assert_true(st.spool_bytes > 0);
    assert_int_equal(st.spans_dropped, 0);
    assert_true(count_segments(x.s.spool) >= 1);
    for (int k = 0; k < NSUB; k++) assert_int_equal(x.o[k].calls, 0); /* nothing acknowledged yet */

    receiver_start(&x.r);
    run_until(&x.loop, all_called, x.o, 20000);
    for (int k = 0; k < NSUB; k++) assert_int_equal(x.o[k].delivered, 1);
    char names[64][16];
    assert_int_equal(received(&x.r, names, 64), NSUB * BATCH);
    expect_names_in_order(names, NSUB * BATCH);
    exo_pipeline_get_stats(x.p, &st);
    assert_int_equal(st.spans_exported, NSUB * BATCH);
    assert_int_equal(st.spans_dropped, 0);
    assert_int_equal(st.spans_spooled, 0);
    assert_int_equal(st.spool_bytes, 0);
    assert_int_equal(count_segments(x.s.spool), 0);
    spool_end(&x);
}

static void test_spool_full_drops_counted(void **state)
{
    (void)state;
    spool_run x;
    /* A batch of 5 padded spans encodes to well over 700 bytes: 2000 bytes hold at most two. */
    spool_begin(&x, 2000, 4096, NSUB);
    exo_pipeline_stats st;
    exo_pipeline_get_stats(x.p, &st);
    uint64_t spooled = st.spans_spooled;
    assert_true(spooled >= BATCH && spooled <= 2 * BATCH);
    assert_int_equal(st.spans_dropped_spool_full, NSUB * BATCH - spooled);
    assert_int_equal(st.spans_dropped, NSUB * BATCH - spooled);
    assert_true(st.spool_bytes <= 2000);

    receiver_start(&x.r);
    run_until(&x.loop, all_called, x.o, 20000);
    size_t ok = 0;
    for (int k = 0; k < NSUB; k++) {
        if (k < (int)(spooled / BATCH)) assert_int_equal(x.o[k].delivered, 1); /* the oldest made it */
        else assert_int_equal(x.o[k].delivered, 0);
        ok += (size_t)x.o[k].delivered;
    }
    assert_int_equal(ok * BATCH, spooled);
    char names[64][16];
    assert_int_equal(received(&x.r, names, 64), (int)spooled);
    assert_string_equal(names[0], "span-000");
    exo_pipeline_get_stats(x.p, &st);
    assert_int_equal(st.spans_exported, spooled);
    spool_end(&x);
}

static void test_restart_sends_old_records_skips_truncated(void **state)
{
    (void)state;
    spool_run x;
    /* Segments of 1 byte: every record gets its own file. */
    spool_begin(&x, 1 << 20, 1, 4);
    close_loop(&x.loop, x.p); /* the process "ends" with the backend down */
    for (int k = 0; k < 4; k++) {
        assert_int_equal(x.o[k].calls, 1);
        assert_int_equal(x.o[k].delivered, 0); /* not delivered by this process */
    }
    assert_int_equal(count_segments(x.s.spool), 4);

    /* A crash mid-write: the newest record loses its last bytes. */
    DIR *d = opendir(x.s.spool);
    struct dirent *de;
    char newest[256] = "", path[1024];
    while ((de = readdir(d)))
        if (strncmp(de->d_name, "seg-", 4) == 0 && strcmp(de->d_name, newest) > 0)
            snprintf(newest, sizeof newest, "%s", de->d_name);
    closedir(d);
    snprintf(path, sizeof path, "%s/%s", x.s.spool, newest);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(truncate(path, sb.st_size - 10), 0);

    receiver_start(&x.r);
    assert_int_equal(uv_loop_init(&x.loop), 0);
    x.p = pipeline_new(&x.loop, &x.s, 1 << 20, 1);
    exo_pipeline_stats st;
    exo_pipeline_get_stats(x.p, &st);
    assert_int_equal(st.spans_spooled, 3 * BATCH);
    assert_int_equal(st.spool_records_corrupt, 1);
    /* A new submission goes out after the old records. */
    outcome fresh = {0};
    submit(x.p, 9, &fresh);
    run_until(&x.loop, called, &fresh, 20000);
    assert_int_equal(fresh.calls, 1);
    assert_int_equal(fresh.delivered, 1);
    exo_pipeline_get_stats(x.p, &st);
    assert_int_equal(st.spool_spans_resent, 3 * BATCH);
    assert_int_equal(st.spans_spooled, 0);
    char names[64][16];
    assert_int_equal(received(&x.r, names, 64), 4 * BATCH);
    expect_names_in_order(names, 3 * BATCH);
    assert_string_equal(names[3 * BATCH], "span-045");
    assert_int_equal(count_segments(x.s.spool), 0);
    spool_end(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spool_then_deliver_in_order),
        cmocka_unit_test(test_spool_full_drops_counted),
        cmocka_unit_test(test_restart_sends_old_records_skips_truncated),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    ts_cleanup();
    return rc;
}
