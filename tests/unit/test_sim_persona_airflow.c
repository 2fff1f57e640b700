/* test_sim_persona_airflow.c — `extrace api --source airflow` without
 * sockets (src/sim/persona_airflow.c): DAG runs polled every second on a
 * fake clock, field by field — run and task-instance states among
 * Airflow's words, try numbers, retries, the mapped task's expansion
 * (map_index -1 gives way to 0..2), skipped and upstream_failed
 * instances, times and durations — limit/offset paging, the run's
 * logical date from its id, problem bodies, the runs listing, no ETag. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "persona_client.h"

#define SEC EX_NS_PER_SEC
#define RUN "/api/v1/dags/etl_daily/dagRuns/scheduled__2024-05-01T00:00:00+00:00"

static pc c;

static const char *str(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int one_of(const char *s, const char *const *w)
{
    for (; *w; w++)
        if (s && strcmp(s, *w) == 0) return 1;
    return 0;
}

static const char *const ti_states[] = {"success", "running", "failed", "upstream_failed", "skipped", "up_for_retry",
                                        "up_for_reschedule", "queued", "scheduled", "deferred", "removed",
                                        "restarting", NULL};
static const char *const run_states[] = {"queued", "running", "success", "failed", NULL};

typedef struct tally {
    int retried, skipped, upstream_failed, mapped_seen, unmapped_gone, failed, succeeded;
} tally;

static void check_tis(json_t *doc, const char *run_id, tally *t, int final, int64_t run_start)
{
    json_t *tis = json_object_get(doc, "task_instances");
    assert_int_equal(json_integer_value(json_object_get(doc, "total_entries")), json_array_size(tis));
    int mapped = 0, unmapped_transform = 0;
    size_t i;
    json_t *ti;
    json_array_foreach(tis, i, ti) {
        assert_string_equal(str(ti, "dag_id"), "etl_daily");
        assert_string_equal(str(ti, "dag_run_id"), run_id);
        json_t *state = json_object_get(ti, "state");
        const char *st = str(ti, "state");
        assert_true(json_is_null(state) || one_of(st, ti_states));
        long try_number = (long)json_integer_value(json_object_get(ti, "try_number"));
        long max_tries = (long)json_integer_value(json_object_get(ti, "max_tries"));
        assert_true(try_number >= 0 && try_number <= max_tries + 1);
        long map_index = (long)json_integer_value(json_object_get(ti, "map_index"));
        if (strcmp(str(ti, "task_id"), "transform") == 0) {
            if (map_index >= 0) mapped++;
            else unmapped_transform++;
        } else {
            assert_int_equal(map_index, -1);
        }
        int64_t s0 = pc_time(ti, "start_date"), s1 = pc_time(ti, "end_date");
        json_t *dur = json_object_get(ti, "duration");
        if (json_is_null(state) || one_of(st, (const char *const[]){"scheduled", "queued", NULL})) {
            assert_true(s0 == SIM_NO_TIME && s1 == SIM_NO_TIME && json_is_null(dur));
        } else if (strcmp(st, "running") == 0) {
            assert_true(s0 >= run_start && s1 == SIM_NO_TIME);
        } else {
            assert_true(s0 >= run_start && s1 >= s0);
            assert_true(fabs(json_number_value(dur) - (double)(s1 - s0) / 1e9) < 1e-6);
        }
        if (st && strcmp(st, "up_for_retry") == 0) assert_true(try_number < max_tries + 1);
        if (final) {
            if (json_is_null(state) || !one_of(st, (const char *const[]){"success", "failed", "skipped", "upstream_failed", NULL}))
                fail_msg("%s[%ld] is %s when the run has ended", str(ti, "task_id"), map_index, st ? st : "null");
            assert_true(!json_is_null(state) && one_of(st, (const char *const[]){"success", "failed", "skipped", "upstream_failed", NULL}));
            t->retried += try_number > 1;
            t->skipped += strcmp(st, "skipped") == 0;
            t->upstream_failed += strcmp(st, "upstream_failed") == 0;
        }
    }
    assert_true(mapped == 0 ? unmapped_transform == 1 : (mapped == 3 && unmapped_transform == 0));
    if (final) {
        t->mapped_seen += mapped == 3;
        t->unmapped_gone += mapped == 3;
    }
}

static void test_runs_field_by_field(void **state)
{
    pc_init(&c, &sim_persona_airflow, 31, 0.15, SIM_ADVANCE_ON_TIME);
    tally t = {0};
    for (int w = 0; w < 12; w++) {
        char path[160], tis[200];
        snprintf(path, sizeof path, "/api/v1/dags/etl_daily/dagRuns/scheduled__2024-05-%02dT00:00:00+00:00", w + 1);
        snprintf(tis, sizeof tis, "%s/taskInstances", path);
        int done = 0;
        int64_t run_start = SIM_NO_TIME;
        for (int i = 0; i < 4 * 3600 && !done; i++) {
            assert_int_equal(pc_get(&c, path, NULL), 200);
            assert_null(pc_header(&c, "ETag"));
            json_t *run = pc_json(&c);
            const char *st = str(run, "state");
            assert_true(one_of(st, run_states));
            char want[64];
            snprintf(want, sizeof want, "2024-05-%02dT00:00:00+00:00", w + 1);
            assert_string_equal(str(run, "logical_date"), want);
            assert_string_equal(str(run, "execution_date"), want);
            assert_string_equal(str(run, "run_type"), "scheduled");
            assert_true(json_is_false(json_object_get(run, "external_trigger")));
            done = strcmp(st, "success") == 0 || strcmp(st, "failed") == 0;
            if (strcmp(st, "queued") != 0) run_start = pc_time(run, "start_date");
            else assert_true(pc_time(run, "start_date") == SIM_NO_TIME);
            assert_true(done ? pc_time(run, "end_date") >= run_start : pc_time(run, "end_date") == SIM_NO_TIME);
            if (done) {
                t.failed += strcmp(st, "failed") == 0;
                t.succeeded += strcmp(st, "success") == 0;
            }
            json_decref(run);
            assert_int_equal(pc_get(&c, tis, NULL), 200);
            json_t *doc = pc_json(&c);
            check_tis(doc, strrchr(path, '/') + 1, &t, done, run_start == SIM_NO_TIME ? PC_T0 : run_start);
            json_decref(doc);
            pc_sleep(&c, SEC);
        }
        assert_true(done);
    }
    print_message("airflow: %d success, %d failed; %d retried, %d skipped, %d upstream_failed instances\n",
                  t.succeeded, t.failed, t.retried, t.skipped, t.upstream_failed);
    assert_true(t.succeeded >= 1 && t.failed >= 1);
    assert_true(t.retried >= 1 && t.skipped >= 1 && t.upstream_failed >= 1);
    assert_true(t.mapped_seen >= 1);
    pc_destroy(&c);
}

static void test_paging_errors_listing(void **state)
{
    pc_init(&c, &sim_persona_airflow, 31, 0, SIM_ADVANCE_ON_TIME);
    assert_int_equal(pc_get(&c, RUN, NULL), 200);
    pc_sleep(&c, 3600 * SEC);
    assert_int_equal(pc_get(&c, RUN "/taskInstances", NULL), 200);
    json_t *all = pc_json(&c);
    json_t *items = json_object_get(all, "task_instances");
    size_t n = json_array_size(items);
    assert_int_equal(n, 9); /* six tasks, transform mapped three times */
    json_t *paged = json_array();
    for (size_t off = 0; off < n; off += 4) {
        char q[64];
        snprintf(q, sizeof q, "limit=4&offset=%zu", off);
        assert_int_equal(pc_get(&c, RUN "/taskInstances", q), 200);
        json_t *doc = pc_json(&c);
        assert_int_equal(json_integer_value(json_object_get(doc, "total_entries")), n);
        json_array_extend(paged, json_object_get(doc, "task_instances"));
        json_decref(doc);
    }
    assert_true(json_equal(paged, items));
    json_decref(paged);
    json_decref(all);
    assert_int_equal(pc_get(&c, RUN "/taskInstances", "limit=0"), 400);
    assert_string_equal(c.rep.content_type, "application/problem+json");
    const char *bad[] = {"/api/v1/dags/etl%daily/dagRuns/x", "/api/v1/dags/etl_daily/runs/x", "/api/v2/dags/a/dagRuns/b"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(pc_get(&c, bad[i], NULL), 404);
        json_t *doc = pc_json(&c);
        assert_int_equal(json_integer_value(json_object_get(doc, "status")), 404);
        assert_non_null(str(doc, "title"));
        assert_non_null(str(doc, "type"));
        json_decref(doc);
    }
    assert_int_equal(pc_get(&c, "/api/v1/dags/etl_daily/dagRuns/manual__2024-05-03T10:00:00.123456+00:00", NULL), 200);
    json_t *run = pc_json(&c);
    assert_string_equal(str(run, "run_type"), "manual");
    assert_string_equal(str(run, "logical_date"), "2024-05-03T10:00:00.123456+00:00");
    assert_true(json_is_true(json_object_get(run, "external_trigger")));
    json_decref(run);
    assert_int_equal(pc_get(&c, "/api/v1/dags/other/dagRuns/x", NULL), 200);
    assert_int_equal(pc_get(&c, "/api/v1/dags/etl_daily/dagRuns", "limit=1&offset=1"), 200);
    json_t *doc = pc_json(&c);
    assert_int_equal(json_integer_value(json_object_get(doc, "total_entries")), 2);
    assert_int_equal(json_array_size(json_object_get(doc, "dag_runs")), 1);
    assert_string_equal(str(json_array_get(json_object_get(doc, "dag_runs"), 0), "run_type"), "manual");
    json_decref(doc);
    pc_destroy(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_runs_field_by_field),
        cmocka_unit_test(test_paging_errors_listing),
    };
    return cmocka_run_group_tests_name("sim_persona_airflow", tests, NULL, NULL);
}
