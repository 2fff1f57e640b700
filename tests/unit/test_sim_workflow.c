/* test_sim_workflow.c — the simulator's state machine (src/sim/workflow.c)
 * and its JSON (src/sim/render.c), under a fake clock and fixed seeds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/mem.h"
#include "sim/render.h"
#include "sim/workflow.h"

#define T0 INT64_C(1720162676123456700) /* 2024-07-05T06:57:56.1234567Z */
#define SEC EX_NS_PER_SEC

typedef struct fixture {
    ex_clock clock;
    ex_rng rng;
    sim_env env;
} fixture;

static void fixture_init(fixture *f, uint64_t seed, double failure_rate)
{
    ex_clock_init_fake(&f->clock, T0);
    ex_rng_seed(&f->rng, seed);
    f->env = (sim_env){&f->clock, &f->rng, failure_rate};
}

static char *render(const char *id, const sim_workflow *w);

/* A workflow created now and advanced once: DataLoader added. */
static void start_workflow(fixture *f, sim_workflow *w)
{
    sim_workflow_init(w, &f->env);
    sim_workflow_advance(w, "w", &f->env);
}

/* At time scale 600 a planned duration of N simulated seconds takes N/600
 * clock seconds, and every timestamp is a clock reading. */
static void test_time_scale_shrinks_durations(void **state)
{
    fixture f;
    fixture_init(&f, 3, 0.0);
    f.env.time_scale = 600;
    sim_workflow w;
    start_workflow(&f, &w);
    const sim_entity *e = &w.entities[0];
    int64_t due_ns = (int64_t)e->after_s[SIM_PROCESSING] * SEC / 600; /* 10-20 s -> 16-33 ms */
    ex_clock_advance(&f.clock, due_ns - EX_NS_PER_MS);
    sim_workflow_advance(&w, "w", &f.env);
    assert_int_equal(e->status, SIM_INITIALIZING); /* 1 ms early */
    ex_clock_advance(&f.clock, 2 * EX_NS_PER_MS);
    sim_workflow_advance(&w, "w", &f.env);
    assert_int_equal(e->status, SIM_PROCESSING);
    /* Step a millisecond at a time to the end: a whole workflow takes at most
     * about 21 simulated minutes, i.e. about 2.1 clock seconds. */
    for (int i = 0; i < 3000 && !sim_workflow_complete(&w); i++) {
        ex_clock_advance(&f.clock, EX_NS_PER_MS);
        sim_workflow_advance(&w, "w", &f.env);
    }
    assert_true(sim_workflow_complete(&w));
    assert_int_equal(w.status, SIM_COMPLETED);
    assert_true(w.start_ns == T0);
    assert_true(w.end_ns == ex_clock_now(&f.clock));
    assert_true(w.end_ns - w.start_ns < (int64_t)(2.2 * SEC));
    for (int i = 0; i < SIM_NSTAGES; i++) {
        int lo, hi;
        sim_transition_bounds((sim_stage)i, SIM_COMPLETED, &lo, &hi);
        double took = (double)(w.entities[i].end_ns - w.entities[i].start_ns) / SEC * 600;
        assert_true(took >= lo && took < hi + 1.0); /* + one 1 ms step = 0.6 s */
    }
}

static void test_init_is_initializing_without_entities(void **state)
{
    fixture f;
    fixture_init(&f, 1, 0.1);
    sim_workflow w;
    sim_workflow_init(&w, &f.env);
    assert_int_equal(w.status, SIM_INITIALIZING);
    assert_int_equal(w.nentities, 0);
    assert_true(w.start_ns == T0);
    assert_false(sim_workflow_complete(&w));
}

static void test_first_advance_adds_data_loader(void **state)
{
    fixture f;
    fixture_init(&f, 1, 0.1);
    sim_workflow w;
    sim_workflow_init(&w, &f.env);
    ex_clock_advance(&f.clock, 3 * SEC);
    assert_int_equal(sim_workflow_advance(&w, "w", &f.env), 0);
    assert_int_equal(w.status, SIM_PROCESSING);
    assert_int_equal(w.nentities, 1);
    const sim_entity *e = &w.entities[0];
    assert_int_equal(e->type, SIM_DATA_LOADER);
    assert_int_equal(e->status, SIM_INITIALIZING);
    assert_true(e->start_ns == T0 + 3 * SEC);
    assert_true(ex_uuid_valid(e->id));
    assert_int_not_equal(e->after_s[SIM_PROCESSING], SIM_NOT_PLANNED);
    /* exactly one of Completed / Failed is planned */
    assert_true((e->after_s[SIM_COMPLETED] == SIM_NOT_PLANNED) != (e->after_s[SIM_FAILED] == SIM_NOT_PLANNED));
}

/* Per entity: seconds from its start at which it reached each status. */
typedef struct observed {
    int at[SIM_NSTAGES][SIM_NSTATUS];
    sim_status seen[SIM_NSTAGES];
} observed;

/* Record status changes after one advance; assert each moved one step. */
static void observe(const sim_workflow *w, observed *o, int64_t now)
{
    for (int i = 0; i < w->nentities; i++) {
        const sim_entity *e = &w->entities[i];
        if (e->status == o->seen[i]) continue;
        int step = (int)e->status - (int)o->seen[i];
        /* forward only: +1, or Processing -> Failed (Completed never planned) */
        assert_true(step == 1 || (step == 2 && e->status == SIM_FAILED && o->seen[i] == SIM_PROCESSING));
        o->seen[i] = e->status;
        o->at[i][e->status] = (int)((now - e->start_ns) / SEC);
        assert_true((now - e->start_ns) % SEC == 0);
    }
}

static void check_range(sim_stage stage, sim_status to, int secs)
{
    int lo, hi;
    sim_transition_bounds(stage, to, &lo, &hi);
    if (secs < lo || secs >= hi)
        fail_msg("%s -> %s after %d s, outside [%d, %d)", sim_stage_name(stage), sim_status_name(to), secs, lo, hi);
}

#define NRUN 2000

/* Drive NRUN workflows one second at a time to their end; check every
 * transition time against the seed's table and every hand-over. */
static void test_transitions_inside_their_ranges(void **state)
{
    fixture f;
    fixture_init(&f, 42, 0.1);
    sim_workflow *ws = calloc(NRUN, sizeof *ws);
    observed *obs = calloc(NRUN, sizeof *obs);
    int seen_proc_min[SIM_NSTAGES] = {0}, seen_proc_max[SIM_NSTAGES] = {0};
    for (int i = 0; i < NRUN; i++) start_workflow(&f, &ws[i]);
    int running = NRUN;
    for (int t = 0; running > 0; t++) {
        assert_true(t < 3000); /* the longest workflow takes < 21 min */
        ex_clock_advance(&f.clock, SEC);
        int64_t now = ex_clock_now(&f.clock);
        for (int i = 0; i < NRUN; i++) {
            sim_workflow *w = &ws[i];
            if (sim_workflow_complete(w)) continue;
            int nbefore = w->nentities;
            if (sim_workflow_advance(w, "w", &f.env)) running--;
            observe(w, &obs[i], now);
            if (w->nentities > nbefore) { /* the next stage starts as the last one ends */
                assert_int_equal(w->nentities, nbefore + 1);
                assert_int_equal(w->entities[nbefore].type, w->entities[nbefore - 1].type + 1);
                assert_true(w->entities[nbefore].start_ns == w->entities[nbefore - 1].end_ns);
                assert_int_equal(w->entities[nbefore - 1].status, SIM_COMPLETED);
            }
        }
    }
    for (int i = 0; i < NRUN; i++) {
        const sim_workflow *w = &ws[i];
        const sim_entity *last = &w->entities[w->nentities - 1];
        assert_true(w->end_ns == last->end_ns);
        assert_int_equal(w->status, last->status);
        if (w->status == SIM_COMPLETED) assert_int_equal(w->nentities, SIM_NSTAGES);
        for (int s = 0; s < w->nentities; s++) {
            const sim_entity *e = &w->entities[s];
            const observed *o = &obs[i];
            check_range(e->type, SIM_PROCESSING, o->at[s][SIM_PROCESSING]);
            check_range(e->type, e->status, o->at[s][e->status]);
            assert_int_equal(o->at[s][SIM_PROCESSING], e->after_s[SIM_PROCESSING]);
            assert_int_equal(o->at[s][e->status], e->after_s[e->status]);
            assert_true(e->end_ns - e->start_ns == (int64_t)o->at[s][e->status] * SEC);
            int lo, hi;
            sim_transition_bounds(e->type, SIM_PROCESSING, &lo, &hi);
            seen_proc_min[e->type] |= o->at[s][SIM_PROCESSING] == lo;
            seen_proc_max[e->type] |= o->at[s][SIM_PROCESSING] == hi - 1;
        }
    }
    for (int s = 0; s < SIM_NSTAGES; s++) { /* the whole range [min, max) is drawn */
        assert_true(seen_proc_min[s]);
        assert_true(seen_proc_max[s]);
    }
    free(ws);
    free(obs);
}

static void test_one_step_per_advance(void **state)
{
    fixture f;
    fixture_init(&f, 7, 0.0);
    sim_workflow w;
    start_workflow(&f, &w);
    ex_clock_advance(&f.clock, 10000 * SEC); /* both transitions are due */
    sim_workflow_advance(&w, "w", &f.env);
    assert_int_equal(w.entities[0].status, SIM_PROCESSING);
    assert_false(sim_entity_complete(&w.entities[0]));
    sim_workflow_advance(&w, "w", &f.env);
    assert_int_equal(w.entities[0].status, SIM_COMPLETED);
    assert_true(w.entities[0].end_ns == T0 + 10000 * SEC);
    /* the same advance added the Processor, not yet advanced */
    assert_int_equal(w.nentities, 2);
    assert_int_equal(w.entities[1].type, SIM_PROCESSOR);
    assert_int_equal(w.entities[1].status, SIM_INITIALIZING);
    assert_true(w.entities[1].start_ns == T0 + 10000 * SEC);
}

static void test_not_due_does_not_move(void **state)
{
    fixture f;
    fixture_init(&f, 9, 0.1);
    sim_workflow w;
    start_workflow(&f, &w);
    int due = w.entities[0].after_s[SIM_PROCESSING];
    ex_clock_advance(&f.clock, (int64_t)due * SEC - 1); /* one ns early */
    sim_workflow_advance(&w, "w", &f.env);
    assert_int_equal(w.entities[0].status, SIM_INITIALIZING);
    ex_clock_advance(&f.clock, 1);
    sim_workflow_advance(&w, "w", &f.env);
    assert_int_equal(w.entities[0].status, SIM_PROCESSING);
}

/* Advance w until complete, 1000 s at a time; returns the advances used. */
static int run_to_end(fixture *f, sim_workflow *w)
{
    int n = 0;
    while (!sim_workflow_complete(w) && n < 100) {
        ex_clock_advance(&f->clock, 1000 * SEC);
        sim_workflow_advance(w, "w", &f->env);
        n++;
    }
    return n;
}

static void test_failure_ends_workflow(void **state)
{
    fixture f;
    fixture_init(&f, 11, 1.0); /* every entity fails */
    sim_workflow w;
    start_workflow(&f, &w);
    run_to_end(&f, &w);
    assert_int_equal(w.status, SIM_FAILED);
    assert_int_equal(w.nentities, 1);
    const sim_entity *e = sim_workflow_failed_entity(&w);
    assert_non_null(e);
    assert_int_equal(e->type, SIM_DATA_LOADER);
    assert_int_equal(e->status, SIM_FAILED);
    assert_in_range(e->error_code, 0, 99);
    assert_int_equal(e->after_s[SIM_COMPLETED], SIM_NOT_PLANNED);
    /* complete: further advances change nothing */
    char before[1024];
    snprintf(before, sizeof before, "%s", render("w", &w));
    ex_clock_advance(&f.clock, 5000 * SEC);
    assert_int_equal(sim_workflow_advance(&w, "w", &f.env), 0);
    assert_string_equal(render("w", &w), before);
}

static void test_failure_rate_zero_always_completes(void **state)
{
    fixture f;
    fixture_init(&f, 12, 0.0);
    for (int i = 0; i < 200; i++) {
        sim_workflow w;
        start_workflow(&f, &w);
        run_to_end(&f, &w);
        assert_int_equal(w.status, SIM_COMPLETED);
        assert_int_equal(w.nentities, SIM_NSTAGES);
        assert_null(sim_workflow_failed_entity(&w));
    }
}

/* Plan n stages and count those planned to complete. */
static int count_completing(fixture *f, int n)
{
    int completing = 0;
    for (int i = 0; i < n; i++) {
        sim_workflow w;
        start_workflow(f, &w);
        completing += w.entities[0].after_s[SIM_COMPLETED] != SIM_NOT_PLANNED;
    }
    return completing;
}

static void test_outcome_ratio_default(void **state)
{
    /* p = 0.9, n = 10000: sigma = 0.3%; +-1% is about 3.3 sigma */
    for (uint64_t seed = 1; seed <= 5; seed++) {
        fixture f;
        fixture_init(&f, seed, 0.1);
        int c = count_completing(&f, 10000);
        if (c < 8900 || c > 9100) fail_msg("seed %llu: %d of 10000 complete", (unsigned long long)seed, c);
    }
}

static void test_outcome_ratio_honours_failure_rate(void **state)
{
    fixture f;
    fixture_init(&f, 3, 0.3); /* sigma = 0.46%; +-1.5% */
    int c = count_completing(&f, 10000);
    assert_in_range(c, 6850, 7150);
    fixture_init(&f, 3, 1.0);
    assert_int_equal(count_completing(&f, 1000), 0);
}

static void test_error_codes_cover_0_to_99(void **state)
{
    fixture f;
    fixture_init(&f, 21, 1.0);
    int seen[100] = {0};
    for (int i = 0; i < 3000; i++) {
        sim_workflow w;
        start_workflow(&f, &w);
        run_to_end(&f, &w);
        int code = w.entities[0].error_code;
        assert_in_range(code, 0, 99);
        seen[code] = 1;
    }
    for (int i = 0; i < 100; i++) assert_true(seen[i]);
}

static void test_names(void **state)
{
    assert_string_equal(sim_status_name(SIM_INITIALIZING), "Initializing");
    assert_string_equal(sim_status_name(SIM_FAILED), "Failed");
    assert_string_equal(sim_stage_name(SIM_OUTPUT_GENERATOR), "OutputGenerator");
    sim_status s;
    assert_int_equal(sim_status_parse("processing", &s), 0);
    assert_int_equal(s, SIM_PROCESSING);
    assert_int_equal(sim_status_parse("Completed", &s), 0);
    assert_int_equal(s, SIM_COMPLETED);
    assert_int_equal(sim_status_parse("Done", &s), -1);
    int lo, hi;
    sim_transition_bounds(SIM_PROCESSOR, SIM_COMPLETED, &lo, &hi);
    assert_int_equal(lo, 300);
    assert_int_equal(hi, 900);
    sim_transition_bounds(SIM_OUTPUT_GENERATOR, SIM_FAILED, &lo, &hi);
    assert_int_equal(lo, 20);
    assert_int_equal(hi, 60);
}

/* ---- golden JSON ---- */

static sim_buf rendered; /* freed by free_rendered */

static char *render(const char *id, const sim_workflow *w)
{
    if (rendered.max == 0) sim_buf_init(&rendered, 1 << 16);
    sim_buf_reset(&rendered);
    assert_int_equal(sim_render_workflow(&rendered, id, w, 0), 0);
    assert_false(rendered.overflow);
    return rendered.data;
}

static int free_rendered(void **state)
{
    sim_buf_free(&rendered);
    return 0;
}

static const char golden_new[] =
    "{\"workflowId\":\"w1\",\"workflowStatus\":\"Initializing\",\"workflowStartTime\":\"2024-07-05T06:57:56.1234567Z\","
    "\"isComplete\":false,\"workflowEntities\":{}}";

static const char golden_started[] =
    "{\"workflowId\":\"w1\",\"workflowStatus\":\"Processing\","
    "\"workflowStartTime\":\"2024-07-05T06:57:56.1234567Z\",\"isComplete\":false,"
    "\"workflowEntities\":{\"DataLoader\":{\"entityType\":\"DataLoader\","
    "\"entityId\":\"2e77d713-5a71-480e-a510-7a8aeef337c8\",\"entityStatus\":\"Initializing\","
    "\"entityStartTime\":\"2024-07-05T06:57:57.1234567Z\",\"isComplete\":false}}}";

static const char golden_completed[] =
    "{\"workflowId\":\"w1\",\"workflowStatus\":\"Completed\","
    "\"workflowStartTime\":\"2024-07-05T06:57:56.1234567Z\","
    "\"workflowEndTime\":\"2024-07-05T07:09:05.1234567Z\",\"isComplete\":true,"
    "\"workflowEntities\":{\"DataLoader\":{\"entityType\":\"DataLoader\","
    "\"entityId\":\"2e77d713-5a71-480e-a510-7a8aeef337c8\",\"entityStatus\":\"Completed\","
    "\"entityStartTime\":\"2024-07-05T06:57:57.1234567Z\","
    "\"entityEndTime\":\"2024-07-05T07:00:30.1234567Z\",\"isComplete\":true},"
    "\"Processor\":{\"entityType\":\"Processor\",\"entityId\":\"f554cf3c-86f0-4f3e-a867-ae69b530f364\","
    "\"entityStatus\":\"Completed\",\"entityStartTime\":\"2024-07-05T07:00:30.1234567Z\","
    "\"entityEndTime\":\"2024-07-05T07:07:34.1234567Z\",\"isComplete\":true},"
    "\"OutputGenerator\":{\"entityType\":\"OutputGenerator\","
    "\"entityId\":\"e003389f-0885-48b8-836b-99082ed285ee\",\"entityStatus\":\"Completed\","
    "\"entityStartTime\":\"2024-07-05T07:07:34.1234567Z\","
    "\"entityEndTime\":\"2024-07-05T07:09:05.1234567Z\",\"isComplete\":true}}}";

static const char golden_failed[] =
    "{\"workflowId\":\"w2\",\"workflowStatus\":\"Failed\","
    "\"workflowStartTime\":\"2024-07-05T06:57:56.1234567Z\","
    "\"workflowEndTime\":\"2024-07-05T06:58:55.1234567Z\",\"isComplete\":true,"
    "\"workflowErrorMessage\":\"Entity failed: DataLoader\","
    "\"workflowEntities\":{\"DataLoader\":{\"entityType\":\"DataLoader\","
    "\"entityId\":\"2e77d713-5a71-480e-a510-7a8aeef337c8\",\"entityStatus\":\"Failed\","
    "\"entityErrorMessage\":\"Failed. Error code: 97\","
    "\"entityStartTime\":\"2024-07-05T06:57:57.1234567Z\","
    "\"entityEndTime\":\"2024-07-05T06:58:55.1234567Z\",\"isComplete\":true}}}";

/* Hand-built states render byte for byte as System.Text.Json would. */
static void test_golden_hand_built(void **state)
{
    sim_workflow w = {.status = SIM_INITIALIZING, .nentities = 0, .start_ns = T0, .end_ns = SIM_NO_TIME};
    assert_string_equal(render("w1", &w), golden_new);

    sim_entity dl = {.type = SIM_DATA_LOADER, .status = SIM_COMPLETED, .error_code = -1,
                     .start_ns = T0 + SEC, .end_ns = T0 + 121 * SEC};
    strcpy(dl.id, "0f8fad5b-d9cb-469f-a165-70867728950e");
    sim_entity pr = {.type = SIM_PROCESSOR, .status = SIM_FAILED, .error_code = 7,
                     .start_ns = T0 + 121 * SEC, .end_ns = T0 + 221 * SEC + 5};
    strcpy(pr.id, "7c9e6679-7425-40de-944b-e07fc1f90ae7");
    w = (sim_workflow){.status = SIM_FAILED, .nentities = 2, .start_ns = T0, .end_ns = T0 + 221 * SEC + 5};
    w.entities[0] = dl;
    w.entities[1] = pr;
    assert_string_equal(
        render("wf-2024.07_05", &w),
        "{\"workflowId\":\"wf-2024.07_05\",\"workflowStatus\":\"Failed\","
        "\"workflowStartTime\":\"2024-07-05T06:57:56.1234567Z\",\"workflowEndTime\":\"2024-07-05T07:01:37.1234567Z\","
        "\"isComplete\":true,\"workflowErrorMessage\":\"Entity failed: Processor\",\"workflowEntities\":{"
        "\"DataLoader\":{\"entityType\":\"DataLoader\",\"entityId\":\"0f8fad5b-d9cb-469f-a165-70867728950e\","
        "\"entityStatus\":\"Completed\",\"entityStartTime\":\"2024-07-05T06:57:57.1234567Z\","
        "\"entityEndTime\":\"2024-07-05T06:59:57.1234567Z\",\"isComplete\":true},"
        "\"Processor\":{\"entityType\":\"Processor\",\"entityId\":\"7c9e6679-7425-40de-944b-e07fc1f90ae7\","
        "\"entityStatus\":\"Failed\",\"entityErrorMessage\":\"Failed. Error code: 7\","
        "\"entityStartTime\":\"2024-07-05T06:59:57.1234567Z\",\"entityEndTime\":\"2024-07-05T07:01:37.1234567Z\","
        "\"isComplete\":true}}}");
}

/* Advance w once a second until complete. */
static void run_fine(fixture *f, sim_workflow *w)
{
    for (int n = 0; !sim_workflow_complete(w) && n < 5000; n++) {
        ex_clock_advance(&f->clock, SEC);
        sim_workflow_advance(w, "w", &f->env);
    }
    assert_true(sim_workflow_complete(w));
}

/* A fixed seed and a fixed clock give the same workflow at every stage;
 * the expected bytes were produced by this code once, checked by hand
 * against the seed's format and the duration table (DataLoader 153 s,
 * Processor 424 s, OutputGenerator 91 s; the failing DataLoader 58 s),
 * and frozen. */
static void test_golden_seeded_run(void **state)
{
    fixture f;
    fixture_init(&f, 2024, 0.1);
    sim_workflow w;
    sim_workflow_init(&w, &f.env);
    assert_string_equal(render("w1", &w), golden_new);
    ex_clock_advance(&f.clock, SEC);
    sim_workflow_advance(&w, "w1", &f.env);
    assert_string_equal(render("w1", &w), golden_started);
    run_fine(&f, &w);
    assert_string_equal(render("w1", &w), golden_completed);

    fixture_init(&f, 2024, 1.0);
    sim_workflow_init(&w, &f.env);
    ex_clock_advance(&f.clock, SEC);
    sim_workflow_advance(&w, "w2", &f.env);
    run_fine(&f, &w);
    assert_string_equal(render("w2", &w), golden_failed);
}

/* ---- --advance on-time ---------------------------------------------------- */

/* A whole run under on-time, polled at `poll_every` (0: only at the end):
 * every transition lands on its planned instant, whatever the polling. */
static void run_on_time(uint64_t seed, int64_t poll_every, sim_workflow *w)
{
    fixture f;
    fixture_init(&f, seed, 0.3);
    f.env.time_scale = 600;
    f.env.advance = SIM_ADVANCE_ON_TIME;
    sim_workflow_init(w, &f.env);
    assert_int_equal(sim_workflow_poll(w, "w", &f.env), 0);
    /* The first stage starts with the workflow. */
    assert_int_equal(w->nentities, 1);
    assert_int_equal(w->status, SIM_PROCESSING);
    assert_true(w->entities[0].start_ns == w->start_ns);
    for (int i = 0; i < 100000 && !sim_workflow_complete(w); i++) {
        ex_clock_advance(&f.clock, poll_every ? poll_every : 10 * SEC);
        sim_workflow_poll(w, "w", &f.env);
    }
    assert_true(sim_workflow_complete(w));
    for (int i = 0; i < w->nentities; i++) {
        const sim_entity *e = &w->entities[i];
        sim_status end = e->status;
        assert_true(e->processing_ns == sim_entity_planned(e, SIM_PROCESSING, &f.env));
        assert_true(e->end_ns == sim_entity_planned(e, end, &f.env));
        assert_true(e->processing_ns % 100 == 0 && e->end_ns % 100 == 0); /* exact in the API's ISO form */
        assert_true(e->start_ns < e->processing_ns && e->processing_ns <= e->end_ns);
        if (i > 0) assert_true(e->start_ns == w->entities[i - 1].end_ns);
    }
    assert_true(w->end_ns == w->entities[w->nentities - 1].end_ns);
}

static void test_on_time_transitions_at_planned_instants(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 20; seed++) {
        sim_workflow fine, coarse, once;
        run_on_time(seed, EX_NS_PER_MS, &fine);
        run_on_time(seed, 700 * EX_NS_PER_MS, &coarse);
        run_on_time(seed, 0, &once); /* one late poll sees every step, at its instant */
        assert_int_equal(fine.nentities, coarse.nentities);
        assert_int_equal(fine.nentities, once.nentities);
        assert_int_equal(fine.status, once.status);
        assert_true(fine.end_ns - fine.start_ns == once.end_ns - once.start_ns);
        assert_true(coarse.end_ns - coarse.start_ns == once.end_ns - once.start_ns);
    }
}

/* entityProcessingStartTime is rendered only when asked for (on-time);
 * the seed's rendering stays byte for byte what it was. */
static void test_render_processing_time(void **state)
{
    (void)state;
    sim_workflow w;
    run_on_time(5, 0, &w);
    sim_buf plain, ext;
    sim_buf_init(&plain, 1 << 20);
    sim_buf_init(&ext, 1 << 20);
    assert_int_equal(sim_render_workflow(&plain, "w", &w, 0), 0);
    assert_int_equal(sim_render_workflow(&ext, "w", &w, 1), 0);
    assert_null(strstr(plain.data, "entityProcessingStartTime"));
    char *p = ext.data;
    int n = 0;
    while ((p = strstr(p, "\"entityProcessingStartTime\":\""))) n++, p++;
    assert_int_equal(n, w.nentities);
    sim_buf_free(&plain);
    sim_buf_free(&ext);
}

static void test_advance_names(void **state)
{
    (void)state;
    sim_advance a = SIM_ADVANCE_ON_TIME;
    assert_int_equal(sim_advance_parse("on-poll", &a), 0);
    assert_int_equal(a, SIM_ADVANCE_ON_POLL);
    assert_int_equal(sim_advance_parse("on-time", &a), 0);
    assert_int_equal(a, SIM_ADVANCE_ON_TIME);
    assert_int_equal(sim_advance_parse("sometimes", &a), -1);
    assert_string_equal(sim_advance_name(SIM_ADVANCE_ON_POLL), "on-poll");
    assert_string_equal(sim_advance_name(SIM_ADVANCE_ON_TIME), "on-time");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_is_initializing_without_entities),
        cmocka_unit_test(test_time_scale_shrinks_durations),
        cmocka_unit_test(test_first_advance_adds_data_loader),
        cmocka_unit_test(test_transitions_inside_their_ranges),
        cmocka_unit_test(test_one_step_per_advance),
        cmocka_unit_test(test_not_due_does_not_move),
        cmocka_unit_test(test_failure_ends_workflow),
        cmocka_unit_test(test_failure_rate_zero_always_completes),
        cmocka_unit_test(test_outcome_ratio_default),
        cmocka_unit_test(test_outcome_ratio_honours_failure_rate),
        cmocka_unit_test(test_error_codes_cover_0_to_99),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_golden_hand_built),
        cmocka_unit_test(test_golden_seeded_run),
        cmocka_unit_test(test_on_time_transitions_at_planned_instants),
        cmocka_unit_test(test_render_processing_time),
        cmocka_unit_test(test_advance_names),
    };
    return cmocka_run_group_tests_name("sim_workflow", tests, NULL, free_rendered);
}
