/* test_sim_persona_github.c — `extrace api --source github-actions` without
 * sockets (src/sim/persona_github.c, run.c, persona.c): a run's status
 * words and times poll by poll on a fake clock, jobs and steps, failing
 * jobs and the re-run attempt, filter=latest|all, per_page/page with the
 * Link header, ETag / If-None-Match → 304, the rate limit, on-poll
 * stamping, 404s and the repository's runs listing. */
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

static pc c;

static const char *str(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int is_one_of(const char *s, const char *const *words)
{
    for (; *words; words++)
        if (s && strcmp(s, *words) == 0) return 1;
    return 0;
}

static const char *const statuses[] = {"queued", "in_progress", "completed", NULL};
static const char *const conclusions[] = {"success", "failure", "skipped", NULL};

/* Check one job of a final (completed) run, field by field. */
static void check_job(json_t *job, long run_id, int64_t run_created)
{
    assert_int_equal(json_integer_value(json_object_get(job, "run_id")), run_id);
    assert_string_equal(str(job, "status"), "completed");
    assert_true(is_one_of(str(job, "conclusion"), conclusions));
    int64_t created = pc_time(job, "created_at"), started = pc_time(job, "started_at"),
            completed = pc_time(job, "completed_at");
    assert_true(created >= run_created);
    assert_true(started >= created);
    assert_true(completed >= started);
    json_t *steps = json_object_get(job, "steps");
    size_t nsteps = json_array_size(steps);
    if (strcmp(str(job, "conclusion"), "skipped") == 0) {
        assert_int_equal(nsteps, 0);
        assert_true(created == started && started == completed);
        assert_true(json_is_null(json_object_get(job, "runner_name")));
        return;
    }
    assert_true(nsteps >= 5);
    assert_string_equal(str(json_array_get(steps, 0), "name"), "Set up job");
    assert_string_equal(str(json_array_get(steps, nsteps - 1), "name"), "Complete job");
    int failures = 0, after_failure_skipped = 1;
    int64_t prev_end = started;
    for (size_t i = 0; i < nsteps; i++) {
        json_t *s = json_array_get(steps, i);
        assert_int_equal(json_integer_value(json_object_get(s, "number")), (long)i + 1);
        assert_string_equal(str(s, "status"), "completed");
        const char *concl = str(s, "conclusion");
        assert_true(is_one_of(concl, conclusions));
        int64_t s0 = pc_time(s, "started_at"), s1 = pc_time(s, "completed_at");
        assert_true(s0 >= prev_end && s1 >= s0 && s1 <= completed);
        prev_end = s1;
        if (strcmp(concl, "failure") == 0) failures++;
        else if (failures && i + 2 < nsteps && strcmp(concl, "skipped") != 0) after_failure_skipped = 0;
    }
    assert_int_equal(failures, strcmp(str(job, "conclusion"), "failure") == 0 ? 1 : 0);
    assert_true(after_failure_skipped);
    assert_non_null(str(job, "runner_name"));
}

/* Poll one run every second until it completes, checking every answer;
 * then check its jobs. Returns the final run_attempt; *failed the conclusion. */
static int follow_run(long run_id, int *failed)
{
    char path[128];
    snprintf(path, sizeof path, "/repos/octo/hello/actions/runs/%ld", run_id);
    int64_t created = SIM_NO_TIME, last_updated = 0;
    long attempt = 0;
    json_t *run = NULL;
    for (int i = 0; i < 4 * 3600; i++) {
        assert_int_equal(pc_get(&c, path, NULL), 200);
        json_decref(run);
        run = pc_json(&c);
        assert_int_equal(json_integer_value(json_object_get(run, "id")), run_id);
        assert_true(is_one_of(str(run, "status"), statuses));
        int done = strcmp(str(run, "status"), "completed") == 0;
        assert_true(done ? is_one_of(str(run, "conclusion"), conclusions) : json_is_null(json_object_get(run, "conclusion")));
        if (created == SIM_NO_TIME) created = pc_time(run, "created_at");
        assert_true(pc_time(run, "created_at") == created);
        assert_true(created % SEC == 0); /* at time scale 1 every instant is a whole second */
        int64_t updated = pc_time(run, "updated_at");
        assert_true(updated >= last_updated && updated <= ex_clock_now(&c.clock));
        last_updated = updated;
        assert_true(pc_time(run, "run_started_at") >= created);
        long a = (long)json_integer_value(json_object_get(run, "run_attempt"));
        assert_true(a >= attempt && a >= 1 && a <= 2);
        attempt = a;
        assert_true(a == 1 ? json_is_null(json_object_get(run, "previous_attempt_url"))
                           : strstr(str(run, "previous_attempt_url"), "/attempts/1") != NULL);
        if (done) break;
        pc_sleep(&c, SEC);
    }
    assert_string_equal(str(run, "status"), "completed");
    *failed = strcmp(str(run, "conclusion"), "failure") == 0;
    snprintf(path, sizeof path, "/repos/octo/hello/actions/runs/%ld/jobs", run_id);
    assert_int_equal(pc_get(&c, path, "filter=all&per_page=100"), 200);
    json_t *all = pc_json(&c);
    json_t *jobs = json_object_get(all, "jobs");
    assert_int_equal(json_integer_value(json_object_get(all, "total_count")), json_array_size(jobs));
    assert_int_equal(json_array_size(jobs), 5 * attempt);
    int latest_failed = 0;
    size_t i;
    json_t *job;
    json_array_foreach(jobs, i, job) {
        check_job(job, run_id, created);
        assert_int_equal(json_integer_value(json_object_get(job, "run_attempt")), (long)(i / 5) + 1);
        if ((long)(i / 5) + 1 == attempt && strcmp(str(job, "conclusion"), "failure") == 0) latest_failed = 1;
    }
    assert_int_equal(latest_failed, *failed); /* the run's conclusion is its latest attempt's */
    assert_int_equal(pc_get(&c, path, NULL), 200); /* filter=latest by default */
    json_t *latest = pc_json(&c);
    assert_int_equal(json_integer_value(json_object_get(latest, "total_count")), 5);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(json_object_get(latest, "jobs"), 0), "run_attempt")),
                     attempt);
    json_decref(latest);
    json_decref(all);
    json_decref(run);
    return (int)attempt;
}

static void test_runs_jobs_steps_and_reruns(void **state)
{
    pc_init(&c, &sim_persona_github, 5, 0.3, SIM_ADVANCE_ON_TIME);
    int reruns = 0, failures = 0, successes = 0;
    for (long id = 1001; id < 1013; id++) {
        int failed;
        reruns += follow_run(id, &failed) == 2;
        failures += failed;
        successes += !failed;
    }
    assert_true(reruns >= 1);
    assert_true(failures >= 1);
    assert_true(successes >= 1);
    pc_destroy(&c);
}

static void test_queued_job_then_running(void **state)
{
    pc_init(&c, &sim_persona_github, 11, 0, SIM_ADVANCE_ON_TIME);
    assert_int_equal(pc_get(&c, "/repos/octo/hello/actions/runs/7", NULL), 200);
    json_t *run = pc_json(&c);
    assert_string_equal(str(run, "status"), "queued");
    assert_int_equal(json_integer_value(json_object_get(run, "run_attempt")), 1);
    json_decref(run);
    pc_sleep(&c, 3 * SEC); /* in progress after 1-2 s; jobs queued, waiting 2-19 s for a runner */
    assert_int_equal(pc_get(&c, "/repos/octo/hello/actions/runs/7/jobs", NULL), 200);
    json_t *doc = pc_json(&c);
    json_t *jobs = json_object_get(doc, "jobs");
    assert_int_equal(json_array_size(jobs), 2); /* lint and build; the others need build */
    json_t *job = json_array_get(jobs, 0);
    assert_string_equal(str(job, "status"), "queued");
    assert_true(json_is_null(json_object_get(job, "conclusion")));
    assert_true(pc_time(job, "started_at") == pc_time(job, "created_at")); /* required: the creation while queued */
    assert_true(json_is_null(json_object_get(job, "completed_at")));
    assert_int_equal(json_array_size(json_object_get(job, "steps")), 0);
    json_decref(doc);
    pc_sleep(&c, 30 * SEC);
    assert_int_equal(pc_get(&c, "/repos/octo/hello/actions/runs/7/jobs", NULL), 200);
    doc = pc_json(&c);
    job = json_array_get(json_object_get(doc, "jobs"), 1); /* build: 60-180 s of make build */
    assert_string_equal(str(job, "status"), "in_progress");
    json_t *steps = json_object_get(job, "steps");
    assert_int_equal(json_array_size(steps), 6);
    int running = 0, queued = 0;
    size_t i;
    json_t *s;
    json_array_foreach(steps, i, s) {
        running += strcmp(str(s, "status"), "in_progress") == 0;
        if (strcmp(str(s, "status"), "queued") == 0) {
            queued++;
            assert_true(json_is_null(json_object_get(s, "started_at")));
        }
    }
    assert_int_equal(running, 1);
    assert_true(queued >= 1);
    json_decref(doc);
    pc_destroy(&c);
}

static void test_paging_and_link(void **state)
{
    pc_init(&c, &sim_persona_github, 5, 0, SIM_ADVANCE_ON_TIME);
    assert_int_equal(pc_get(&c, "/repos/octo/hello/actions/runs/42", NULL), 200);
    pc_sleep(&c, 3 * 3600 * SEC);
    assert_int_equal(pc_get(&c, "/repos/octo/hello/actions/runs/42/jobs", "per_page=2"), 200);
    const char *link = pc_header(&c, "Link");
    assert_non_null(link);
    assert_string_equal(link, "<http://127.0.0.1:5146/repos/octo/hello/actions/runs/42/jobs?per_page=2&page=2>; "
                              "rel=\"next\", <http://127.0.0.1:5146/repos/octo/hello/actions/runs/42/jobs?per_page=2&"
                              "page=3>; rel=\"last\"");
    long ids[5], n = 0;
    for (int page = 1; page <= 3; page++) {
        char q[64];
        snprintf(q, sizeof q, "per_page=2&page=%d", page);
        assert_int_equal(pc_get(&c, "/repos/octo/hello/actions/runs/42/jobs", q), 200);
        json_t *doc = pc_json(&c);
        assert_int_equal(json_integer_value(json_object_get(doc, "total_count")), 5);
        size_t i;
        json_t *job;
        json_array_foreach(json_object_get(doc, "jobs"), i, job) ids[n++] = (long)json_integer_value(json_object_get(job, "id"));
        json_decref(doc);
        link = pc_header(&c, "Link");
        if (page == 2) {
            assert_non_null(strstr(link, "page=1>; rel=\"prev\""));
            assert_non_null(strstr(link, "page=3>; rel=\"next\""));
            assert_non_null(strstr(link, "page=1>; rel=\"first\""));
        }
        if (page == 3) assert_null(strstr(link, "rel=\"next\""));
    }
    assert_int_equal(n, 5);
    for (int i = 1; i < 5; i++) assert_true(ids[i] > ids[i - 1]);
    assert_int_equal(pc_get(&c, "/repos/octo/hello/actions/runs/42/jobs", "per_page=100"), 200);
    assert_null(pc_header(&c, "Link")); /* one page: no links */
    assert_int_equal(pc_get(&c, "/repos/octo/hello/actions/runs/42/jobs", "page=9"), 200);
    json_t *doc = pc_json(&c);
    assert_int_equal(json_array_size(json_object_get(doc, "jobs")), 0);
    json_decref(doc);
    assert_int_equal(pc_get(&c, "/repos/octo/hello/actions/runs/42/jobs", "filter=some"), 422);
    doc = pc_json(&c); /* GitHub's words, and JSON: the value is escaped inside the message */
    assert_string_equal(json_string_value(json_object_get(doc, "message")),
                        "Invalid request.\n\nFor 'filter', \"some\" is not one of [latest, all].");
    json_decref(doc);
    pc_destroy(&c);
}

static void test_etag_and_304(void **state)
{
    pc_init(&c, &sim_persona_github, 5, 0, SIM_ADVANCE_ON_TIME);
    c.api.rate = (sim_ratelimit){.limit = 100, .window_ns = 3600 * SEC, .status = 403};
    assert_int_equal(pc_get(&c, "/repos/octo/hello/actions/runs/9", NULL), 200);
    char etag[128];
    snprintf(etag, sizeof etag, "%s", pc_header(&c, "ETag"));
    assert_true(strncmp(etag, "W/\"", 3) == 0);
    assert_string_equal(pc_header(&c, "X-RateLimit-Used"), "1");
    c.if_none_match = etag;
    /* nothing has changed yet at the same instant: 304, no body, not counted */
    assert_int_equal(pc_get(&c, "/repos/octo/hello/actions/runs/9", NULL), 304);
    assert_int_equal(c.rep.body_len, 0);
    assert_string_equal(pc_header(&c, "ETag"), etag);
    assert_string_equal(pc_header(&c, "X-RateLimit-Used"), "1");
    assert_string_equal(pc_header(&c, "X-RateLimit-Remaining"), "99");
    pc_sleep(&c, 5 * SEC); /* now in progress: a new body, a new ETag */
    assert_int_equal(pc_get(&c, "/repos/octo/hello/actions/runs/9", NULL), 200);
    assert_string_not_equal(pc_header(&c, "ETag"), etag);
    assert_string_equal(pc_header(&c, "X-RateLimit-Used"), "2");
    c.if_none_match = "\"other\", *";
    assert_int_equal(pc_get(&c, "/repos/octo/hello/actions/runs/9", NULL), 304);
    assert_true(c.api.not_modified >= 2);
    pc_destroy(&c);
}

static void test_rate_limit(void **state)
{
    pc_init(&c, &sim_persona_github, 5, 0, SIM_ADVANCE_ON_TIME);
    c.api.rate = (sim_ratelimit){.limit = 3, .window_ns = 10 * SEC, .status = 403};
    int64_t reset = (PC_T0 + 10 * SEC) / SEC;
    for (int i = 1; i <= 3; i++) {
        assert_int_equal(pc_get(&c, "/repos/octo/hello/actions/runs/5", NULL), 200);
        char want[16];
        snprintf(want, sizeof want, "%d", 3 - i);
        assert_string_equal(pc_header(&c, "X-RateLimit-Remaining"), want);
        assert_string_equal(pc_header(&c, "X-RateLimit-Limit"), "3");
        assert_string_equal(pc_header(&c, "X-RateLimit-Resource"), "core");
        char r[32];
        snprintf(r, sizeof r, "%lld", (long long)reset);
        assert_string_equal(pc_header(&c, "X-RateLimit-Reset"), r);
        pc_sleep(&c, SEC);
    }
    assert_int_equal(pc_get(&c, "/repos/octo/hello/actions/runs/5", NULL), 403);
    json_t *doc = pc_json(&c);
    assert_true(strncmp(str(doc, "message"), "API rate limit exceeded", 23) == 0);
    assert_non_null(strstr(str(doc, "documentation_url"), "rate-limits"));
    json_decref(doc);
    assert_string_equal(pc_header(&c, "X-RateLimit-Remaining"), "0");
    assert_int_equal(c.api.rate.refused, 1);
    c.api.rate.status = 429;
    assert_int_equal(pc_get(&c, "/repos/octo/hello/actions/runs/5/jobs", NULL), 429);
    pc_sleep(&c, 8 * SEC); /* past the reset */
    assert_int_equal(pc_get(&c, "/repos/octo/hello/actions/runs/5", NULL), 200);
    assert_string_equal(pc_header(&c, "X-RateLimit-Remaining"), "2");
    pc_destroy(&c);
}

static void test_on_poll_stamps_poll_instants(void **state)
{
    pc_init(&c, &sim_persona_github, 5, 0, SIM_ADVANCE_ON_POLL);
    const int64_t every = 7 * SEC + 250 * EX_NS_PER_MS;
    json_t *run = NULL;
    for (int i = 0; i < 5000; i++) {
        assert_int_equal(pc_get(&c, "/repos/octo/hello/actions/runs/77", NULL), 200);
        json_decref(run);
        run = pc_json(&c);
        assert_int_equal((pc_time(run, "updated_at") - PC_T0) % every, 0); /* every change at a poll */
        if (strcmp(str(run, "status"), "completed") == 0) break;
        pc_sleep(&c, every);
    }
    assert_string_equal(str(run, "status"), "completed");
    json_decref(run);
    assert_int_equal(pc_get(&c, "/repos/octo/hello/actions/runs/77/jobs", NULL), 200);
    json_t *doc = pc_json(&c);
    size_t i;
    json_t *job;
    json_array_foreach(json_object_get(doc, "jobs"), i, job) {
        assert_int_equal((pc_time(job, "started_at") - PC_T0) % every, 0);
        assert_int_equal((pc_time(job, "completed_at") - PC_T0) % every, 0);
    }
    json_decref(doc);
    pc_destroy(&c);
}

static void test_not_found_and_listing(void **state)
{
    pc_init(&c, &sim_persona_github, 5, 0, SIM_ADVANCE_ON_TIME);
    const char *bad[] = {"/repos/octo/hello/actions/runs/abc", "/repos/octo/hello/actions/runs/0",
                         "/repos/octo/hel lo/actions/runs/1", "/repos/octo/hello/actions/runs/1/steps",
                         "/workflows/abc", "/repos/octo/hello/actions"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(pc_get(&c, bad[i], NULL), 404);
        json_t *doc = pc_json(&c);
        assert_string_equal(str(doc, "message"), "Not Found");
        json_decref(doc);
    }
    assert_int_equal(pc_get(&c, "/healthz", NULL), 200);
    assert_int_equal(pc_get(&c, "/repos/a/b/actions/runs/1", NULL), 200);
    pc_sleep(&c, SEC);
    assert_int_equal(pc_get(&c, "/repos/a/b/actions/runs/2", NULL), 200);
    assert_int_equal(pc_get(&c, "/repos/a/bc/actions/runs/3", NULL), 200);
    pc_sleep(&c, 3 * 3600 * SEC);
    assert_int_equal(pc_get(&c, "/repos/a/b/actions/runs/4", NULL), 200);
    assert_int_equal(pc_get(&c, "/repos/a/b/actions/runs", NULL), 200);
    json_t *doc = pc_json(&c);
    assert_int_equal(json_integer_value(json_object_get(doc, "total_count")), 3);
    json_t *runs = json_object_get(doc, "workflow_runs");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(runs, 0), "id")), 4); /* newest first */
    assert_int_equal(json_integer_value(json_object_get(json_array_get(runs, 2), "id")), 1);
    json_decref(doc);
    assert_int_equal(pc_get(&c, "/repos/a/b/actions/runs", "status=completed"), 200);
    doc = pc_json(&c);
    assert_int_equal(json_integer_value(json_object_get(doc, "total_count")), 2);
    json_decref(doc);
    assert_int_equal(pc_get(&c, "/repos/a/b/actions/runs", "per_page=1&page=2"), 200);
    assert_non_null(strstr(pc_header(&c, "Link"), "/repos/a/b/actions/runs?per_page=1&page=3>; rel=\"next\""));
    pc_destroy(&c);
}

static void test_evicted_run_is_404(void **state)
{
    pc_init(&c, &sim_persona_github, 5, 0, SIM_ADVANCE_ON_TIME);
    sim_api_destroy(&c.api);
    sim_env env = {&c.clock, &c.rng, 0, 1.0, SIM_ADVANCE_ON_TIME};
    sim_api_init(&c.api, &env, 1, 10);
    c.api.persona = &sim_persona_github;
    assert_int_equal(pc_get(&c, "/repos/a/b/actions/runs/1", NULL), 200);
    assert_int_equal(pc_get(&c, "/repos/a/b/actions/runs/2", NULL), 503); /* the first has not completed */
    pc_sleep(&c, 3 * 3600 * SEC);
    assert_int_equal(pc_get(&c, "/repos/a/b/actions/runs/1", NULL), 200); /* completes now */
    assert_int_equal(pc_get(&c, "/repos/a/b/actions/runs/2", NULL), 200); /* evicts run 1 */
    assert_int_equal(pc_get(&c, "/repos/a/b/actions/runs/1/jobs", NULL), 404);
    pc_destroy(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_runs_jobs_steps_and_reruns),
        cmocka_unit_test(test_queued_job_then_running),
        cmocka_unit_test(test_paging_and_link),
        cmocka_unit_test(test_etag_and_304),
        cmocka_unit_test(test_rate_limit),
        cmocka_unit_test(test_on_poll_stamps_poll_instants),
        cmocka_unit_test(test_not_found_and_listing),
        cmocka_unit_test(test_evicted_run_is_404),
    };
    return cmocka_run_group_tests_name("sim_persona_github", tests, NULL, NULL);
}
