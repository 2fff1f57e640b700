/* persona_github.c — `extrace api --source github-actions`: GitHub Actions'
 * REST API for workflow runs and their jobs (docs/sim.md#github-actions).
 *
 *   GET /repos/{owner}/{repo}/actions/runs/{run_id}        a workflow run
 *   GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs   its jobs and steps
 *       ?filter=latest|all&per_page=N&page=P               paged, with a Link header
 *   GET /repos/{owner}/{repo}/actions/runs                 the repository's runs, newest first
 *
 * Every 200 carries a weak ETag; a matching If-None-Match gets 304 (not
 * counted against the rate limit). With --rate-limit, every answer
 * carries X-RateLimit-*; past the limit a request gets 403 (or 429) with
 * GitHub's error body until the window resets.
 *
 * A run is planned as the workflow "CI" of five jobs: lint and build at
 * once, two matrix test jobs after build, deploy after all of them. Each
 * job waits in the queue (created_at → started_at), then runs its steps
 * one after another; a job's main step fails at --failure-rate, its later
 * steps are then skipped and the jobs that need it are skipped. A failed
 * first attempt is re-run (all jobs, run_attempt 2) half of the time,
 * starting at the instant the first attempt ends. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "core/log.h"
#include "core/mem.h"
#include "core/iso8601.h"
#include "sim/persona.h"

enum { K_RUN, K_JOB, K_STEP };
enum { S_QUEUED, S_IN_PROGRESS, S_COMPLETED };
enum { O_SUCCESS, O_FAILURE, O_SKIPPED };

#define NJOBS 5
#define MAX_MAIN 2
#define ATTEMPTS 2
#define RERUN_CHANCE 0.5
#define PER_PAGE_DEFAULT 30
#define PER_PAGE_MAX 100
#define DOCS "https://docs.github.com/rest/actions/workflow-runs"
#define SEC EX_NS_PER_SEC

/* One job of the workflow: its needs (bit per job), its main steps with
 * their duration bounds in seconds, and which main step may fail. */
static const struct job_tmpl {
    const char *name;
    unsigned needs;
    int nmain;
    const char *main[MAX_MAIN];
    int lo[MAX_MAIN], hi[MAX_MAIN];
    int fails; /* index of the main step that fails when the job fails */
} jobs[NJOBS] = {
    {"lint", 0, 1, {"Run make lint"}, {20}, {60}, 0},
    {"build", 0, 2, {"Run make build", "Run actions/upload-artifact@v4"}, {60, 3}, {180, 15}, 0},
    {"test (ubuntu-latest)", 1u << 1, 2, {"Run actions/download-artifact@v4", "Run make test"}, {2, 90}, {8, 300}, 1},
    {"test (windows-latest)", 1u << 1, 2, {"Run actions/download-artifact@v4", "Run make test"}, {2, 120}, {8, 400}, 1},
    {"deploy", (1u << 0) | (1u << 2) | (1u << 3), 1, {"Run ./scripts/deploy.sh"}, {20}, {60}, 0},
};

static const char *const status_words[] = {"queued", "in_progress", "completed"};
static const char *const conclusion_words[] = {"success", "failure", "skipped"};

static int64_t secs(ex_rng *rng, int lo, int hi) { return ex_rng_range(rng, lo, hi) * SEC; }

/* Add a step node under job j: queued at the job's start, then run from
 * `from` for [lo, hi) seconds (or skipped at `from`). Returns its end. */
static int64_t plan_step(sim_run *r, int j, int number, uint8_t tmpl, int64_t job_start, int64_t from, int lo,
                         int hi, uint8_t outcome, ex_rng *rng)
{
    int s = sim_run_add(r, j, K_STEP);
    if (s < 0) return from;
    int64_t end = outcome == O_SKIPPED ? from : from + secs(rng, lo, hi);
    r->nodes[s].index = number;
    r->nodes[s].tmpl = tmpl;
    r->nodes[s].outcome = outcome;
    r->nodes[s].attempt = r->nodes[j].attempt;
    sim_run_plan(r, s, S_QUEUED, job_start);
    sim_run_plan(r, s, S_IN_PROGRESS, from);
    sim_run_plan(r, s, S_COMPLETED, end);
    return end;
}

/* Step template codes: 0 set up, 1 checkout, 2.. main, 10 post checkout, 11 complete. */
enum { T_SETUP = 0, T_CHECKOUT = 1, T_MAIN = 2, T_POST = 10, T_COMPLETE = 11 };

/* Plan job k of one attempt, ready at `ready`; returns its end, sets *failed. */
static int64_t plan_job(sim_run *r, int k, int attempt, int64_t ready, int blocked, const sim_env *env, int *failed)
{
    int j = sim_run_add(r, 0, K_JOB);
    *failed = 0;
    if (j < 0) return ready;
    sim_node *n = &r->nodes[j];
    n->tmpl = (uint8_t)k;
    n->attempt = (uint8_t)attempt;
    n->id = (r->id % INT64_C(100000000000)) * 1000 + j;
    sim_run_plan(r, j, S_QUEUED, ready);
    if (blocked) { /* a job whose needs failed is skipped: completed at once, without steps */
        n->outcome = O_SKIPPED;
        sim_run_plan(r, j, S_IN_PROGRESS, ready);
        sim_run_plan(r, j, S_COMPLETED, ready);
        return ready;
    }
    const struct job_tmpl *t = &jobs[k];
    int fail = ex_rng_double(env->rng) < env->failure_rate;
    int64_t start = ready + secs(env->rng, 2, 20); /* waiting for a runner */
    sim_run_plan(r, j, S_IN_PROGRESS, start);
    int number = 1;
    int64_t at = plan_step(r, j, number++, T_SETUP, start, start, 1, 4, O_SUCCESS, env->rng);
    at = plan_step(r, j, number++, T_CHECKOUT, start, at, 1, 6, O_SUCCESS, env->rng);
    int broke = 0;
    for (int m = 0; m < t->nmain; m++) {
        uint8_t out = broke ? O_SKIPPED : (fail && m == t->fails) ? O_FAILURE : O_SUCCESS;
        at = plan_step(r, j, number++, (uint8_t)(T_MAIN + m), start, at, t->lo[m], t->hi[m], out, env->rng);
        if (out == O_FAILURE) broke = 1;
    }
    at = plan_step(r, j, number++, T_POST, start, at, 0, 2, O_SUCCESS, env->rng);
    at = plan_step(r, j, number, T_COMPLETE, start, at, 0, 1, O_SUCCESS, env->rng);
    n = &r->nodes[j];
    n->outcome = fail ? O_FAILURE : O_SUCCESS;
    sim_run_plan(r, j, S_COMPLETED, at);
    *failed = fail;
    return at;
}

/* Plan one attempt from t0 (the run node is queued then); returns its end. */
static int64_t plan_attempt(sim_run *r, int attempt, int64_t t0, const sim_env *env, int *failed)
{
    int64_t begin = t0 + secs(env->rng, 1, 3);
    sim_run_plan(r, 0, S_QUEUED, t0);
    sim_run_plan(r, 0, S_IN_PROGRESS, begin);
    int64_t end_of[NJOBS];
    int bad[NJOBS];
    int64_t last = begin;
    *failed = 0;
    for (int k = 0; k < NJOBS; k++) {
        int64_t ready = begin;
        int blocked = 0;
        for (int d = 0; d < NJOBS; d++) {
            if (!(jobs[k].needs & (1u << d))) continue;
            if (end_of[d] > ready) ready = end_of[d];
            blocked |= bad[d];
        }
        int f;
        end_of[k] = plan_job(r, k, attempt, ready, blocked, env, &f);
        bad[k] = f || blocked;
        *failed |= f;
        if (end_of[k] > last) last = end_of[k];
    }
    return last + secs(env->rng, 0, 2);
}

/* The run id: the key's last part (digits, checked by the router). */
static int64_t key_run_id(const char *key)
{
    const char *slash = strrchr(key, '/');
    return strtoll(slash ? slash + 1 : key, NULL, 10);
}

static sim_run *plan(const char *key, const sim_env *env)
{
    sim_run *r = sim_run_new(1 + ATTEMPTS * 40, ex_clock_now(env->clock));
    if (!r) return NULL;
    r->id = key_run_id(key);
    r->seed = (uint32_t)ex_rng_next(env->rng);
    sim_run_add(r, -1, K_RUN);
    int failed;
    int64_t end = plan_attempt(r, 1, 0, env, &failed);
    if (failed && ex_rng_double(env->rng) < RERUN_CHANCE) end = plan_attempt(r, 2, end, env, &failed);
    r->nodes[0].outcome = failed ? O_FAILURE : O_SUCCESS;
    sim_run_plan(r, 0, S_COMPLETED, end);
    return r;
}

/* ---- rendering ---- */

typedef struct ctx {
    sim_buf *b;
    char base[300];   /* http://host */
    char repo[256];   /* owner/repo */
    char sha[41];     /* head_sha */
    const sim_record *rec;
    const sim_run *run;
} ctx;

static void make_sha(const char *key, char sha[41])
{
    XXH128_hash_t h = XXH3_128bits(key, strlen(key));
    snprintf(sha, 41, "%016llx%016llx%08x", (unsigned long long)h.high64, (unsigned long long)h.low64,
             (unsigned)(h.low64 >> 7 & 0xffffffffu));
}

static int put_user(sim_buf *b, const char *login, long id)
{
    return sim_buf_printf(b, "{\"login\":\"%s\",\"id\":%ld,\"type\":\"User\",\"site_admin\":false}", login, id);
}

static int put_repo(ctx *c, const char *name_key, int64_t repo_id)
{
    sim_buf *b = c->b;
    const char *slash = strchr(c->repo, '/');
    int rc = sim_buf_printf(b, ",\"%s\":{\"id\":%lld,\"node_id\":\"R_%llx\",\"name\":", name_key, (long long)repo_id,
                            (unsigned long long)repo_id);
    if (!rc) rc = sim_put_str(b, slash + 1);
    if (!rc) rc = sim_buf_puts(b, ",\"full_name\":");
    if (!rc) rc = sim_put_str(b, c->repo);
    if (!rc) rc = sim_buf_puts(b, ",\"private\":false,\"owner\":");
    if (!rc) rc = sim_buf_puts(b, "{\"login\":");
    if (!rc) rc = sim_put_strn(b, c->repo, (size_t)(slash - c->repo));
    if (!rc) rc = sim_buf_puts(b, ",\"id\":1,\"type\":\"Organization\",\"site_admin\":false}");
    if (!rc) rc = sim_buf_printf(b, ",\"html_url\":\"%s/%s\",\"description\":null,\"fork\":false,"
                                    "\"url\":\"%s/repos/%s\"}", c->base, c->repo, c->base, c->repo);
    return rc;
}

static int run_attempt(const sim_run *r) { return sim_node_count(&r->nodes[0], S_QUEUED); }

static int put_run(ctx *c)
{
    sim_buf *b = c->b;
    const sim_run *r = c->run;
    const sim_node *root = &r->nodes[0];
    int st = sim_node_state(root), attempt = run_attempt(r);
    int64_t repo_id = 100000000 + (int64_t)(XXH32(c->repo, strlen(c->repo), 0) % 900000000u);
    char runurl[700];
    snprintf(runurl, sizeof runurl, "%s/repos/%s/actions/runs/%lld", c->base, c->repo, (long long)r->id);
    int rc = sim_buf_printf(b, "{\"id\":%lld,\"name\":\"CI\",\"node_id\":\"WFR_%llx\",\"head_branch\":\"main\","
                               "\"head_sha\":\"%s\",\"path\":\".github/workflows/ci.yml\","
                               "\"display_title\":\"Build and test on every push\",\"run_number\":%u,"
                               "\"event\":\"push\",\"status\":\"%s\",\"conclusion\":",
                            (long long)r->id, (unsigned long long)r->id, c->sha, 1 + r->seed % 5000,
                            status_words[st]);
    if (!rc) rc = st == S_COMPLETED ? sim_buf_printf(b, "\"%s\"", conclusion_words[root->outcome])
                                    : sim_buf_puts(b, "null");
    if (!rc) rc = sim_buf_printf(b, ",\"workflow_id\":%lld,\"check_suite_id\":%lld,\"check_suite_node_id\":\"CS_%llx\","
                                    "\"url\":\"%s\",\"html_url\":\"%s/%s/actions/runs/%lld\",\"pull_requests\":[],"
                                    "\"created_at\":",
                                 (long long)(repo_id % 1000000 + 1000000), (long long)(r->id + 7),
                                 (unsigned long long)(r->id + 7), runurl, c->base, c->repo, (long long)r->id);
    if (!rc) rc = sim_put_time(b, sim_node_first_at(root, S_QUEUED), SIM_TIME_Z);
    if (!rc) rc = sim_buf_puts(b, ",\"updated_at\":");
    if (!rc) rc = sim_put_time(b, r->changed_ns, SIM_TIME_Z);
    if (!rc) rc = sim_buf_puts(b, ",\"actor\":");
    if (!rc) rc = put_user(b, "octocat", 583231);
    if (!rc) rc = sim_buf_printf(b, ",\"run_attempt\":%d,\"referenced_workflows\":[],\"run_started_at\":", attempt);
    if (!rc) rc = sim_put_time(b, sim_node_at(root, S_QUEUED), SIM_TIME_Z);
    if (!rc) rc = sim_buf_puts(b, ",\"triggering_actor\":");
    if (!rc) rc = put_user(b, "octocat", 583231);
    if (!rc) rc = sim_buf_printf(b, ",\"jobs_url\":\"%s/jobs\",\"logs_url\":\"%s/logs\",\"check_suite_url\":"
                                    "\"%s/repos/%s/check-suites/%lld\",\"artifacts_url\":\"%s/artifacts\","
                                    "\"cancel_url\":\"%s/cancel\",\"rerun_url\":\"%s/rerun\",\"previous_attempt_url\":",
                                 runurl, runurl, c->base, c->repo, (long long)(r->id + 7), runurl, runurl, runurl);
    if (!rc) rc = attempt > 1 ? sim_buf_printf(b, "\"%s/attempts/%d\"", runurl, attempt - 1) : sim_buf_puts(b, "null");
    if (!rc) rc = sim_buf_printf(b, ",\"workflow_url\":\"%s/repos/%s/actions/workflows/%lld\",\"head_commit\":"
                                    "{\"id\":\"%s\",\"tree_id\":\"%.32s%08x\",\"message\":\"Build and test on every push\","
                                    "\"timestamp\":",
                                 c->base, c->repo, (long long)(repo_id % 1000000 + 1000000), c->sha, c->sha + 8,
                                 r->seed);
    if (!rc) rc = sim_put_time(b, r->start_ns - 60 * SEC, SIM_TIME_Z);
    if (!rc) rc = sim_buf_puts(b, ",\"author\":{\"name\":\"Mona Octocat\",\"email\":\"octocat@example.com\"},"
                                  "\"committer\":{\"name\":\"Mona Octocat\",\"email\":\"octocat@example.com\"}}");
    if (!rc) rc = put_repo(c, "repository", repo_id);
    if (!rc) rc = put_repo(c, "head_repository", repo_id);
    if (!rc) rc = sim_buf_put(b, "}", 1);
    return rc;
}

static const char *step_name(const sim_node *s, const sim_node *job)
{
    switch (s->tmpl) {
    case T_SETUP: return "Set up job";
    case T_CHECKOUT: return "Run actions/checkout@v4";
    case T_POST: return "Post Run actions/checkout@v4";
    case T_COMPLETE: return "Complete job";
    default: return jobs[job->tmpl].main[s->tmpl - T_MAIN];
    }
}

static int put_step(sim_buf *b, const sim_node *s, const sim_node *job, int first)
{
    int st = sim_node_state(s);
    int rc = sim_buf_printf(b, "%s{\"name\":", first ? "" : ",");
    if (!rc) rc = sim_put_str(b, step_name(s, job));
    if (!rc) rc = sim_buf_printf(b, ",\"status\":\"%s\",\"conclusion\":", status_words[st]);
    if (!rc) rc = st == S_COMPLETED ? sim_buf_printf(b, "\"%s\"", conclusion_words[s->outcome]) : sim_buf_puts(b, "null");
    if (!rc) rc = sim_buf_printf(b, ",\"number\":%d,\"started_at\":", (int)s->index);
    if (!rc) rc = sim_put_time(b, sim_node_at(s, S_IN_PROGRESS), SIM_TIME_Z);
    if (!rc) rc = sim_buf_puts(b, ",\"completed_at\":");
    if (!rc) rc = sim_put_time(b, sim_node_at(s, S_COMPLETED), SIM_TIME_Z);
    if (!rc) rc = sim_buf_put(b, "}", 1);
    return rc;
}

static int put_job(ctx *c, int j)
{
    sim_buf *b = c->b;
    const sim_run *r = c->run;
    const sim_node *n = &r->nodes[j];
    int st = sim_node_state(n);
    int ran = st >= S_IN_PROGRESS && n->outcome != O_SKIPPED;
    int64_t created = sim_node_first_at(n, S_QUEUED);
    int64_t started = sim_node_at(n, S_IN_PROGRESS);
    const char *os = strstr(jobs[n->tmpl].name, "windows") ? "windows-latest" : "ubuntu-latest";
    int rc = sim_buf_printf(b, "{\"id\":%lld,\"run_id\":%lld,\"workflow_name\":\"CI\",\"head_branch\":\"main\","
                               "\"run_url\":\"%s/repos/%s/actions/runs/%lld\",\"run_attempt\":%d,"
                               "\"node_id\":\"CR_%llx\",\"head_sha\":\"%s\",\"url\":\"%s/repos/%s/actions/jobs/%lld\","
                               "\"html_url\":\"%s/%s/actions/runs/%lld/job/%lld\",\"status\":\"%s\",\"conclusion\":",
                            (long long)n->id, (long long)r->id, c->base, c->repo, (long long)r->id, (int)n->attempt,
                            (unsigned long long)n->id, c->sha, c->base, c->repo, (long long)n->id, c->base, c->repo,
                            (long long)r->id, (long long)n->id, status_words[st]);
    if (!rc) rc = st == S_COMPLETED ? sim_buf_printf(b, "\"%s\"", conclusion_words[n->outcome]) : sim_buf_puts(b, "null");
    if (!rc) rc = sim_buf_puts(b, ",\"created_at\":");
    if (!rc) rc = sim_put_time(b, created, SIM_TIME_Z);
    /* started_at is required by the schema: a queued job carries its creation */
    if (!rc) rc = sim_buf_puts(b, ",\"started_at\":");
    if (!rc) rc = sim_put_time(b, started != SIM_NO_TIME ? started : created, SIM_TIME_Z);
    if (!rc) rc = sim_buf_puts(b, ",\"completed_at\":");
    if (!rc) rc = sim_put_time(b, sim_node_at(n, S_COMPLETED), SIM_TIME_Z);
    if (!rc) rc = sim_buf_puts(b, ",\"name\":");
    if (!rc) rc = sim_put_str(b, jobs[n->tmpl].name);
    if (!rc) rc = sim_buf_puts(b, ",\"steps\":[");
    int first = 1;
    for (int s = j + 1; !rc && s < r->nnodes && r->nodes[s].parent == j; s++) {
        if (!sim_node_visible(&r->nodes[s])) continue;
        rc = put_step(b, &r->nodes[s], n, first);
        first = 0;
    }
    if (!rc) rc = sim_buf_printf(b, "],\"check_run_url\":\"%s/repos/%s/check-runs/%lld\",\"labels\":[\"%s\"],"
                                    "\"runner_id\":",
                                 c->base, c->repo, (long long)n->id, os);
    if (!rc && ran) rc = sim_buf_printf(b, "%lld,\"runner_name\":\"GitHub Actions %lld\",\"runner_group_id\":2,"
                                           "\"runner_group_name\":\"GitHub Actions\"}",
                                        (long long)(n->id % 100000), (long long)(n->id % 100000));
    else if (!rc) rc = sim_buf_puts(b, "null,\"runner_name\":null,\"runner_group_id\":null,\"runner_group_name\":null}");
    return rc;
}

/* ---- routing ---- */

static const char not_found_body[] =
    "{\"message\":\"Not Found\",\"documentation_url\":\"" DOCS "#get-a-workflow-run\",\"status\":\"404\"}";
static const char rate_body[] =
    "{\"message\":\"API rate limit exceeded (the simulator's --rate-limit); wait for the reset time in "
    "X-RateLimit-Reset.\",\"documentation_url\":"
    "\"https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api\"}";

static void reply_static(sim_reply *rep, int status, const char *body)
{
    rep->status = status;
    rep->body = body;
    rep->body_len = strlen(body);
}

/* Owner and repo names: 1..100 bytes of A-Z a-z 0-9 . _ - */
static int name_ok(const char *s, size_t n)
{
    if (n == 0 || n > 100) return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
              ch == '_' || ch == '-'))
            return 0;
    }
    return 1;
}

static int run_id_ok(const char *s, size_t n)
{
    if (n == 0 || n > 18 || s[0] == '0') return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return 0;
    return 1;
}

/* The route of a path: 0 none, 1 runs list, 2 run, 3 jobs. Fills the key ("owner/repo[/id]"). */
static int parse(const char *path, char *key, size_t keylen, char *repo, size_t repolen)
{
    const char *seg[8];
    size_t len[8];
    int n = sim_path_split(path, seg, len, 7);
    if (n < 5 || n > 7 || !sim_seg_is(seg[0], len[0], "repos") || !sim_seg_is(seg[3], len[3], "actions") ||
        !sim_seg_is(seg[4], len[4], "runs") || !name_ok(seg[1], len[1]) || !name_ok(seg[2], len[2]))
        return 0;
    snprintf(repo, repolen, "%.*s/%.*s", (int)len[1], seg[1], (int)len[2], seg[2]);
    if (n == 5) {
        snprintf(key, keylen, "%s", repo);
        return 1;
    }
    if (!run_id_ok(seg[5], len[5])) return 0;
    snprintf(key, keylen, "%s/%.*s", repo, (int)len[5], seg[5]);
    if (n == 6) return 2;
    return sim_seg_is(seg[6], len[6], "jobs") ? 3 : 0;
}

static int faultable(const char *path)
{
    char key[300], repo[256];
    return parse(path, key, sizeof key, repo, sizeof repo) >= 2;
}

/* rel="…" links for a paged answer: prev, next, last, first as GitHub orders them. */
static void add_links(sim_reply *rep, const char *base, const char *path, const char *extra, long page, long last)
{
    if (last <= 1) return;
    char links[2048];
    size_t o = 0;
    struct { long page; const char *rel; } rel[4] = {{page - 1, "prev"}, {page + 1, "next"}, {last, "last"}, {1, "first"}};
    for (int i = 0; i < 4; i++) {
        if ((i == 0 || i == 3) && page <= 1) continue;
        if ((i == 1 || i == 2) && page >= last) continue;
        int w = snprintf(links + o, sizeof links - o, "%s<%s%s?%spage=%ld>; rel=\"%s\"", o ? ", " : "", base, path,
                         extra, rel[i].page, rel[i].rel);
        if (w < 0 || (size_t)w >= sizeof links - o) return;
        o += (size_t)w;
    }
    sim_reply_header(rep, "Link", "%s", links);
}

/* 1 if job node j is listed under this filter. */
static int job_listed(const sim_run *r, int j, int all)
{
    const sim_node *n = &r->nodes[j];
    return n->kind == K_JOB && sim_node_visible(n) && (all || n->attempt == run_attempt(r));
}

static void get_jobs(sim_api *api, const sim_request *req, sim_reply *rep, ctx *c, const char *path)
{
    const char *filter = req->query ? req->query(req->query_ctx, "filter") : NULL;
    if (filter && strcmp(filter, "latest") != 0 && strcmp(filter, "all") != 0) {
        sim_buf_reset(c->b);
        int rc = sim_buf_puts(c->b, "{\"message\":\"Invalid request.\\n\\nFor 'filter', \\\"");
        if (!rc) rc = sim_buf_json_chars(c->b, filter, strlen(filter));
        if (!rc) rc = sim_buf_puts(c->b, "\\\" is not one of [latest, all].\",\"documentation_url\":"
                                         "\"https://docs.github.com/rest/actions/workflow-jobs\",\"status\":\"422\"}");
        sim_persona_reply(api, rep, 422, rc);
        return;
    }
    int all = filter && strcmp(filter, "all") == 0;
    long per_page, page;
    if (sim_query_long(req, "per_page", PER_PAGE_DEFAULT, 1, 1000000, &per_page)) per_page = PER_PAGE_DEFAULT;
    if (per_page > PER_PAGE_MAX) per_page = PER_PAGE_MAX;
    if (sim_query_long(req, "page", 1, 1, 1000000, &page)) page = 1;
    const sim_run *r = c->run;
    long total = 0;
    for (int j = 0; j < r->nnodes; j++) total += job_listed(r, j, all);
    sim_buf *b = c->b;
    sim_buf_reset(b);
    int rc = sim_buf_printf(b, "{\"total_count\":%ld,\"jobs\":[", total);
    long seen = 0, from = (page - 1) * per_page;
    for (int j = 0; !rc && j < r->nnodes; j++) {
        if (!job_listed(r, j, all)) continue;
        if (seen >= from && seen < from + per_page) {
            if (seen > from) rc = sim_buf_put(b, ",", 1);
            if (!rc) rc = put_job(c, j);
        }
        seen++;
    }
    if (!rc) rc = sim_buf_puts(b, "]}");
    sim_persona_reply(api, rep, 200, rc);
    char extra[64];
    snprintf(extra, sizeof extra, "%sper_page=%ld&", all ? "filter=all&" : filter ? "filter=latest&" : "", per_page);
    add_links(rep, c->base, path, extra, page, total ? (total + per_page - 1) / per_page : 1);
}

/* created= of a runs listing, GitHub's search syntax for dates, in the
 * forms a client asks "since": >=T, >T, T.. (T: a date-time with Z or an
 * offset); 0 with *from (ns, inclusive), or -1 (not a form we know: 422). */
static int created_from(const char *v, int64_t *from)
{
    const char *why;
    int strict = 0;
    size_t n = strlen(v);
    if (strncmp(v, ">=", 2) == 0) v += 2, n -= 2;
    else if (v[0] == '>') v++, n--, strict = 1;
    else if (n > 2 && strcmp(v + n - 2, "..") == 0) n -= 2;
    else return -1;
    if (ex_iso_parse(v, n, from, &why)) return -1;
    if (strict) *from += 1;
    return 0;
}

/* The status= of a runs listing matches a run's status or conclusion. */
static int run_matches(const sim_run *r, const char *status)
{
    if (!status) return 1;
    int st = sim_node_state(&r->nodes[0]);
    if (st < 0) return 0;
    if (strcmp(status, status_words[st]) == 0) return 1;
    return st == S_COMPLETED && strcmp(status, conclusion_words[r->nodes[0].outcome]) == 0;
}

static void list_runs(sim_api *api, const sim_request *req, sim_reply *rep, ctx *c, const char *path)
{
    const char *status = req->query ? req->query(req->query_ctx, "status") : NULL;
    long per_page, page;
    if (sim_query_long(req, "per_page", PER_PAGE_DEFAULT, 1, 1000000, &per_page)) per_page = PER_PAGE_DEFAULT;
    if (per_page > PER_PAGE_MAX) per_page = PER_PAGE_MAX;
    if (sim_query_long(req, "page", 1, 1, 1000000, &page)) page = 1;
    const char *created = req->query ? req->query(req->query_ctx, "created") : NULL;
    int64_t since = INT64_MIN;
    if (created && created_from(created, &since)) {
        reply_static(rep, 422, "{\"message\":\"Validation Failed\",\"errors\":[{\"resource\":\"WorkflowRun\","
                               "\"field\":\"created\",\"code\":\"invalid\"}],\"documentation_url\":"
                               "\"https://docs.github.com/rest/actions/workflow-runs#list-workflow-runs-for-a-repository\"}");
        return;
    }
    sim_persona_catch_up_all(api);
    size_t plen = strlen(c->repo);
    const sim_record **list = ex_malloc((api->store.count ? api->store.count : 1) * sizeof *list);
    if (!list) {
        sim_persona_reply(api, rep, 500, -1);
        return;
    }
    long total = 0;
    for (const sim_record *r = api->store.by_id; r; r = r->hh.next)
        if (r->run && strncmp(r->id, c->repo, plen) == 0 && r->id[plen] == '/' && !strchr(r->id + plen + 1, '/') &&
            run_matches(r->run, status) && sim_node_first_at(&r->run->nodes[0], S_QUEUED) >= since)
            list[total++] = r;
    sim_buf *b = c->b;
    sim_buf_reset(b);
    int rc = sim_buf_printf(b, "{\"total_count\":%ld,\"workflow_runs\":[", total);
    long from = (page - 1) * per_page;
    for (long i = from; !rc && i < total && i < from + per_page; i++) { /* newest first */
        const sim_record *r = list[total - 1 - i];
        if (i > from) rc = sim_buf_put(b, ",", 1);
        c->rec = r;
        c->run = r->run;
        make_sha(r->id, c->sha);
        if (!rc) rc = put_run(c);
    }
    ex_free(list);
    if (!rc) rc = sim_buf_puts(b, "]}");
    sim_persona_reply(api, rep, 200, rc);
    char extra[512] = "";
    if (status && strlen(status) < 64 && !strpbrk(status, "&<> "))
        snprintf(extra, sizeof extra, "status=%s&", status);
    size_t n = strlen(extra);
    if (created && strlen(created) < 64 && !strpbrk(created, "& ")) {
        char *o = extra + n;
        o += snprintf(o, sizeof extra - n, "created=");
        for (const char *c2 = created; *c2; c2++) o += sprintf(o, *c2 == '>' || *c2 == '=' || *c2 == '+' || *c2 == ':' ? "%%%02X" : "%c", (unsigned char)*c2);
        *o++ = '&';
        *o = '\0';
        n = strlen(extra);
    }
    snprintf(extra + n, sizeof extra - n, "per_page=%ld&", per_page);
    add_links(rep, c->base, path, extra, page, total ? (total + per_page - 1) / per_page : 1);
}

static void handle(sim_api *api, const sim_request *req, sim_reply *rep)
{
    rep->content_type = "application/json; charset=utf-8";
    if (sim_rate_check(api, rep, rate_body)) return;
    ctx c = {.b = &api->reply};
    char key[300];
    int route = parse(req->path, key, sizeof key, c.repo, sizeof c.repo);
    int get = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
    sim_request_base(req, c.base, sizeof c.base);
    if (!route || !get) {
        reply_static(rep, 404, not_found_body);
    } else if (route == 1) {
        list_runs(api, req, rep, &c, req->path);
    } else {
        sim_record *rec;
        int rc = sim_persona_run(api, key, plan, &rec);
        if (rc == SIM_RUN_EVICTED) {
            reply_static(rep, 404, not_found_body);
        } else if (rc != SIM_RUN_OK) {
            reply_static(rep, 503, "{\"message\":\"simulator: store full (--max-workflows) or out of memory\"}");
        } else {
            c.rec = rec;
            c.run = rec->run;
            make_sha(rec->id, c.sha);
            if (route == 2) {
                sim_buf_reset(c.b);
                sim_persona_reply(api, rep, 200, put_run(&c));
            } else {
                get_jobs(api, req, rep, &c, req->path);
            }
        }
    }
    sim_persona_etag(api, req, rep);
    sim_rate_account(api, rep);
}

/* ---- webhooks ---- */

/* GitHub's workflow_run (node 0) and workflow_job (a job) deliveries:
 * {"action", "workflow_run"|"workflow_job", "repository", "sender"}; the
 * action is the status word ("requested" for a queued run). */
static int delivery(const sim_record *rec, int node, const char *base, sim_buf *b, const char **event)
{
    const sim_run *r = rec->run;
    const sim_node *n = &r->nodes[node];
    int st = sim_node_state(n);
    if (st < 0 || (node != 0 && n->kind != K_JOB)) return 1;
    ctx c = {.b = b, .rec = rec, .run = r};
    snprintf(c.base, sizeof c.base, "%s", base);
    const char *slash = strrchr(rec->id, '/');
    snprintf(c.repo, sizeof c.repo, "%.*s", slash ? (int)(slash - rec->id) : 0, rec->id);
    if (!strchr(c.repo, '/')) return 1;
    make_sha(rec->id, c.sha);
    int64_t repo_id = 100000000 + (int64_t)(XXH32(c.repo, strlen(c.repo), 0) % 900000000u);
    *event = node == 0 ? "workflow_run" : "workflow_job";
    const char *action = node == 0 && st == S_QUEUED ? "requested" : status_words[st];
    int rc = sim_buf_printf(b, "{\"action\":\"%s\",\"%s\":", action, *event);
    if (!rc) rc = node == 0 ? put_run(&c) : put_job(&c, node);
    if (!rc) rc = put_repo(&c, "repository", repo_id);
    if (!rc) rc = sim_buf_puts(b, ",\"sender\":");
    if (!rc) rc = put_user(b, "octocat", 583231);
    if (!rc) rc = sim_buf_put(b, "}", 1);
    return rc ? -1 : 0;
}

static void new_key(ex_rng *rng, int64_t now_ns, char *buf, size_t len)
{
    (void)now_ns;
    snprintf(buf, len, "extrace-sim/demo/%lld", (long long)ex_rng_range(rng, INT64_C(1000000000), INT64_C(99999999999)));
}

const sim_persona sim_persona_github = {
    .name = "github-actions",
    .summary = "GitHub Actions REST API: workflow runs, their jobs and steps",
    .example = "octo-org/hello-world/30433642",
    .handle = handle,
    .faultable = faultable,
    .plan = plan,
    .new_key = new_key,
    .delivery = delivery,
};
