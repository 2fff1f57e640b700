/* The seed's two paths give the same trace, byte for byte: its native
 * parser (worker/snapshot + seed_tree) and its jq form, the built-in
 * profile profiles/seed.yaml, run through the profile engine. 500 random
 * runs of the seed's API (stages added, advancing, failing, going back,
 * long messages, polls that see nothing new, timeouts) are applied to two
 * monitors, one per path; their spans are encoded as OTLP protobuf and
 * compared. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/iso8601.h"
#include "core/mem.h"
#include "core/rng.h"
#include "model/monitor.h"
#include "model/spans.h"
#include "otel/otlp_proto.h"
#include "source/jq_run.h"
#include "source/profile.h"
#include "source/template.h"
#include "worker/seed_tree.h"
#include "worker/snapshot.h"

#define SEC EX_NS_PER_SEC
#define T0 (INT64_C(1720162671) * SEC + 73740700)
#define RUNS 500

static const char *const STATUS[] = {"Initializing", "Processing", "Completed", "Failed"};

typedef struct stage {
    char type[24], id[40];
    int status;
    int64_t start, end;
    char *error;
} stage;

typedef struct wf {
    int status, nstages;
    int64_t start, end;
    char *error;
    stage st[8];
} wf;

static json_t *iso(int64_t ns)
{
    char b[EX_ISO_LEN + 1];
    return json_string(ex_iso_format(ns, b));
}

static char *render(const wf *w, const char *id)
{
    json_t *o = json_object(), *ents = json_object();
    json_object_set_new(o, "workflowId", json_string(id));
    json_object_set_new(o, "workflowStatus", json_string(STATUS[w->status]));
    json_object_set_new(o, "workflowStartTime", iso(w->start));
    int done = w->status >= 2;
    if (done) json_object_set_new(o, "workflowEndTime", iso(w->end));
    json_object_set_new(o, "isComplete", json_boolean(done));
    if (w->error) json_object_set_new(o, "workflowErrorMessage", json_string(w->error));
    for (int i = 0; i < w->nstages; i++) {
        const stage *s = &w->st[i];
        json_t *e = json_object();
        json_object_set_new(e, "entityType", json_string(s->type));
        json_object_set_new(e, "entityId", json_string(s->id));
        json_object_set_new(e, "entityStatus", json_string(STATUS[s->status]));
        json_object_set_new(e, "entityStartTime", iso(s->start));
        if (s->status >= 2) json_object_set_new(e, "entityEndTime", iso(s->end));
        json_object_set_new(e, "isComplete", json_boolean(s->status >= 2));
        if (s->error) json_object_set_new(e, "entityErrorMessage", json_string(s->error));
        json_object_set_new(ents, s->type, e);
    }
    json_object_set_new(o, "workflowEntities", ents);
    char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return text;
}

/* A message of n bytes: ASCII, with a 3-byte character now and then, so
 * a cut at 1024 bytes must find a character boundary. */
static char *message(ex_rng *r)
{
    size_t n = ex_rng_range(r, 0, 3) == 0 ? (size_t)ex_rng_range(r, 1000, 1100) : (size_t)ex_rng_range(r, 0, 40);
    char *m = malloc(n + 4);
    size_t o = 0;
    while (o < n) {
        if (ex_rng_range(r, 0, 10) == 0) {
            memcpy(m + o, "\xe2\x82\xac", 3); /* € */
            o += 3;
        } else {
            m[o++] = (char)('a' + ex_rng_range(r, 0, 25));
        }
    }
    m[o] = '\0';
    return m;
}

/* One random step of the API's workflow at time t. */
static void step(ex_rng *r, wf *w, int64_t t)
{
    int k = (int)ex_rng_range(r, 0, 9);
    stage *last = w->nstages ? &w->st[w->nstages - 1] : NULL;
    if (k == 0) return; /* nothing new */
    if (last && last->status < 2 && k <= 5) {
        if (k == 1 && last->status == 1) last->status = 0; /* went back */
        else if (last->status == 0) last->status = 1;
        else {
            last->status = k == 2 ? 3 : 2;
            last->end = t;
            if (last->status == 3 && ex_rng_range(r, 0, 1)) last->error = message(r);
        }
        return;
    }
    if (w->nstages < 8 && (!last || last->status >= 2) && k <= 7) {
        stage *s = &w->st[w->nstages++];
        snprintf(s->type, sizeof s->type, "Stage%d", w->nstages);
        snprintf(s->id, sizeof s->id, "id-%08llx", (unsigned long long)ex_rng_next(r));
        s->status = 0;
        s->start = t - ex_rng_range(r, 0, SEC);
        w->status = 1;
        return;
    }
    if (w->status < 2 && (!last || last->status >= 2)) {
        w->status = last && last->status == 3 ? 3 : 2;
        w->end = t;
        if (w->status == 3 && ex_rng_range(r, 0, 2)) w->error = message(r);
    }
}

static sr_profile *prof;
static sr_jq *jq;

static int setup(void **state)
{
    (void)state;
    char path[1024], err[SR_ERR_LEN];
    const char *dir = getenv("EXTRACE_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/profiles/seed.yaml", dir ? dir : ".");
    if (sr_profile_load_file(path, &prof, err, sizeof err) || sr_jq_compile(prof, &jq, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sr_jq_free(jq);
    sr_profile_free(prof);
    return 0;
}

static void apply_native(mdl_monitor *m, const char *body, const char *id, int64_t sent, int64_t t)
{
    static wm_snapshot s;
    char why[300];
    if (wm_snapshot_parse(body, strlen(body), id, &s, why, sizeof why)) fail_msg("native: %s\n%s", why, body);
    mdl_snapshot tree;
    mdl_snapshot_init(&tree);
    assert_int_equal(wm_snapshot_to_tree(&s, &tree), 0);
    mdl_monitor_apply(m, &tree, sent, t, NULL);
    ex_free(tree.nodes);
}

static void apply_jq(mdl_monitor *m, const char *body, const char *id, int64_t sent, int64_t t)
{
    sr_key key;
    char err[SR_ERR_LEN];
    assert_int_equal(sr_key_parse(prof, id, strlen(id), &key, err, sizeof err), 0);
    sr_jq_input *in = sr_jq_input_new(prof, &key, 0);
    assert_int_equal(sr_jq_input_add(in, "workflow", body, strlen(body), err, sizeof err), SR_JQ_OK);
    json_t *out = NULL;
    if (sr_jq_run(jq, in, &out, err, sizeof err) != SR_JQ_OK) fail_msg("jq: %s\n%s", err, body);
    mdl_snapshot tree;
    mdl_snapshot_init(&tree);
    if (mdl_snapshot_from_json(&tree, out, err, sizeof err)) fail_msg("snapshot: %s", err);
    mdl_monitor_apply(m, &tree, sent, t, NULL);
    mdl_snapshot_clear(&tree);
    ex_free(tree.nodes);
    json_decref(out);
    sr_key_free(&key);
}

static uint8_t *encode(const mdl_monitor *m, size_t *len)
{
    exo_span **sp;
    size_t n;
    mdl_build_opts o = {"dev1", MDL_SEED_SOURCE, "Workflow", "workflowId"};
    assert_int_equal(mdl_build_spans(m, &o, &sp, &n), 0);
    uint8_t *buf;
    assert_int_equal(exo_otlp_proto_encode(NULL, "s", NULL, sp, n, &buf, len), 0);
    mdl_spans_free(sp, n);
    return buf;
}

static void test_native_and_jq_give_identical_spans(void **state)
{
    (void)state;
    ex_rng r;
    ex_rng_seed(&r, 20261202);
    size_t failed = 0, timed_out = 0, long_msgs = 0;
    for (int run = 0; run < RUNS; run++) {
        char id[48];
        snprintf(id, sizeof id, "wf-%d-%08llx", run, (unsigned long long)ex_rng_next(&r));
        wf w = {0};
        w.start = T0 + ex_rng_range(&r, 0, 3 * SEC);
        int64_t sub = T0;
        mdl_monitor *a = mdl_monitor_new(id, sub, sub, 600 * SEC, MDL_SEED_MAX_NODES, MDL_SEED_MAX_EVENTS);
        mdl_monitor *b = mdl_monitor_new(id, sub, sub, 600 * SEC, MDL_SEED_MAX_NODES, MDL_SEED_MAX_EVENTS);
        int64_t t = w.start;
        int polls = (int)ex_rng_range(&r, 1, 40);
        for (int k = 0; k < polls && !mdl_monitor_done(a); k++) {
            t += ex_rng_range(&r, SEC / 10, 5 * SEC);
            step(&r, &w, t - SEC / 20);
            char *body = render(&w, id);
            apply_native(a, body, id, t - SEC / 50, t);
            apply_jq(b, body, id, t - SEC / 50, t);
            free(body);
        }
        if (!mdl_monitor_done(a)) {
            mdl_monitor_timeout(a, t + SEC);
            mdl_monitor_timeout(b, t + SEC);
            timed_out++;
        }
        failed += a->root.end == MDL_END_FAILED;
        long_msgs += w.error && strlen(w.error) > 1024;
        size_t la, lb;
        uint8_t *ea = encode(a, &la), *eb = encode(b, &lb);
        if (la != lb || memcmp(ea, eb, la) != 0) fail_msg("run %d (%s): the spans differ (%zu vs %zu bytes)", run, id, la, lb);
        ex_free(ea);
        ex_free(eb);
        mdl_monitor_free(a);
        mdl_monitor_free(b);
        free(w.error);
        for (int i = 0; i < w.nstages; i++) free(w.st[i].error);
    }
    print_message("%d runs identical: %zu failed, %zu timed out, %zu with a message cut at 1024 bytes\n", RUNS, failed,
                  timed_out, long_msgs);
    assert_true(failed > 10 && timed_out > 10); /* the runs cover those ends */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_native_and_jq_give_identical_spans),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
