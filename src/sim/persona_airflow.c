/* persona_airflow.c — `extrace api --source airflow`: Airflow 2's stable
 * REST API for DAG runs and task instances (docs/sim.md#airflow).
 *
 *   GET /api/v1/dags/{dag_id}/dagRuns/{dag_run_id}                 a DAGRun
 *   GET /api/v1/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances   {"task_instances","total_entries"}; limit/offset
 *   GET /api/v1/dags/{dag_id}/dagRuns                              {"dag_runs","total_entries"}; limit/offset
 *
 * Airflow's webserver sends no ETag on these, so neither does the persona.
 * A run is the DAG `etl_daily`: extract (retries 1: a first try fails half
 * of the time and is retried), then a branch `choose_load` and a mapped
 * `transform` (three map indexes, expanded once extract succeeded; the
 * unexpanded instance with map_index -1 disappears then), then one of
 * `load_full` / `load_incremental` (the other skipped by the branch),
 * then `report` (upstream_failed when its load failed) and
 * `notify_failure` (trigger rule one_failed: skipped when nothing failed). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/iso8601.h"
#include "core/mem.h"
#include "otel/otlp_proto.h"
#include "sim/persona.h"

enum { K_RUN, K_TASK };
enum {
    S_NONE, S_SCHEDULED, S_QUEUED, S_RUNNING, S_SUCCESS, S_FAILED, S_UP_FOR_RETRY, S_UPSTREAM_FAILED, S_SKIPPED,
    S_EXPANDED, /* not a state of Airflow's: the unmapped instance is gone (expanded) */
    R_QUEUED = 0, R_RUNNING, R_SUCCESS, R_FAILED,
};
static const char *const ti_words[] = {NULL, "scheduled", "queued", "running", "success", "failed",
                                       "up_for_retry", "upstream_failed", "skipped", NULL};
static const char *const run_words[] = {"queued", "running", "success", "failed"};

#define SEC EX_NS_PER_SEC
#define NMAP 3
#define LIMIT_DEFAULT 100
#define PROBLEM "https://airflow.apache.org/docs/apache-airflow/2.10.4/stable-rest-api-ref.html#section/Errors/"

enum { T_EXTRACT, T_CHOOSE, T_TRANSFORM, T_LOAD_FULL, T_LOAD_INCR, T_REPORT, T_NOTIFY, NTASKS };
static const struct task {
    const char *id, *op;
    int retries;
    int lo, hi;
} tasks[NTASKS] = {
    {"extract", "PythonOperator", 1, 20, 90},
    {"choose_load", "BranchPythonOperator", 0, 1, 5},
    {"transform", "_PythonDecoratedOperator", 1, 10, 60},
    {"load_full", "SQLExecuteQueryOperator", 0, 30, 120},
    {"load_incremental", "SQLExecuteQueryOperator", 0, 10, 40},
    {"report", "PythonOperator", 0, 5, 20},
    {"notify_failure", "PythonOperator", 0, 1, 5},
};

static int64_t secs(ex_rng *rng, int lo, int hi) { return ex_rng_range(rng, lo, hi) * SEC; }

static int add_ti(sim_run *r, int task, int map_index)
{
    int i = sim_run_add(r, 0, K_TASK);
    if (i < 0) return -1;
    r->nodes[i].tmpl = (uint8_t)task;
    r->nodes[i].index = map_index;
    if (map_index < 0) sim_run_plan(r, i, S_NONE, 0); /* created with the run */
    return i;
}

/* Run instance i from `ready` with its retries; returns its end, *ok. */
static int64_t run_ti(sim_run *r, int i, int64_t ready, double fail, const sim_env *env, int *ok)
{
    const struct task *t = &tasks[r->nodes[i].tmpl];
    int64_t at = ready;
    for (int try = 0; try <= t->retries; try++) {
        int64_t queued = at + secs(env->rng, 1, 3), running = queued + secs(env->rng, 1, 4);
        int64_t end = running + secs(env->rng, t->lo, t->hi);
        int failed = ex_rng_double(env->rng) < (try == 0 && t->retries ? (fail > 0.5 ? fail : 0.5) : fail);
        sim_run_plan(r, i, S_SCHEDULED, at);
        sim_run_plan(r, i, S_QUEUED, queued);
        sim_run_plan(r, i, S_RUNNING, running);
        if (!failed || try == t->retries) {
            sim_run_plan(r, i, failed ? S_FAILED : S_SUCCESS, end);
            *ok = !failed;
            return end;
        }
        sim_run_plan(r, i, S_UP_FOR_RETRY, end);
        at = end + secs(env->rng, 5, 15); /* retry_delay */
    }
    *ok = 0;
    return at;
}

/* Instance i ends at `at` without running: skipped or upstream_failed. */
static int64_t settle(sim_run *r, int i, uint8_t state, int64_t at)
{
    sim_run_plan(r, i, state, at);
    return at;
}

static sim_run *plan(const char *key, const sim_env *env)
{
    sim_run *r = sim_run_new(1 + NTASKS + NMAP, ex_clock_now(env->clock));
    if (!r) return NULL;
    r->seed = (uint32_t)ex_rng_next(env->rng);
    sim_run_add(r, -1, K_RUN);
    int ti[NTASKS];
    for (int k = 0; k < NTASKS; k++) ti[k] = add_ti(r, k, -1);
    double f = env->failure_rate;
    int64_t start = secs(env->rng, 1, 3);
    sim_run_plan(r, 0, R_QUEUED, 0);
    sim_run_plan(r, 0, R_RUNNING, start);
    int ok_extract, ok_choose = 0, ok_map = 1, ok_load = 0, failed_any = 0;
    int64_t t_extract = run_ti(r, ti[T_EXTRACT], start, f, env, &ok_extract);
    int64_t t_choose = t_extract, t_map = t_extract, t_load;
    int full = ex_rng_double(env->rng) < 0.5;
    if (!ok_extract) {
        failed_any = 1;
        settle(r, ti[T_CHOOSE], S_UPSTREAM_FAILED, t_extract);
        settle(r, ti[T_TRANSFORM], S_UPSTREAM_FAILED, t_extract);
        settle(r, ti[T_LOAD_FULL], S_UPSTREAM_FAILED, t_extract);
        settle(r, ti[T_LOAD_INCR], S_UPSTREAM_FAILED, t_extract);
        settle(r, ti[T_REPORT], S_UPSTREAM_FAILED, t_extract);
        t_load = t_extract;
    } else {
        t_choose = run_ti(r, ti[T_CHOOSE], t_extract, f, env, &ok_choose);
        /* expand transform: the unmapped instance becomes map index 0, two more appear */
        sim_run_plan(r, ti[T_TRANSFORM], S_EXPANDED, t_extract);
        for (int m = 0; m < NMAP; m++) {
            int i = add_ti(r, T_TRANSFORM, m);
            sim_run_plan(r, i, S_NONE, t_extract);
            int ok;
            int64_t e = run_ti(r, i, t_extract, f, env, &ok);
            if (e > t_map) t_map = e;
            ok_map &= ok;
        }
        int64_t ready = t_choose > t_map ? t_choose : t_map;
        int chosen = full ? ti[T_LOAD_FULL] : ti[T_LOAD_INCR], other = full ? ti[T_LOAD_INCR] : ti[T_LOAD_FULL];
        if (!ok_choose || !ok_map) {
            failed_any = 1;
            settle(r, chosen, S_UPSTREAM_FAILED, ready);
            settle(r, other, ok_choose ? S_SKIPPED : S_UPSTREAM_FAILED, ok_choose ? t_choose : ready);
            settle(r, ti[T_REPORT], S_UPSTREAM_FAILED, ready);
            t_load = ready;
        } else {
            settle(r, other, S_SKIPPED, t_choose); /* the branch skips its other path at once */
            t_load = run_ti(r, chosen, ready, f, env, &ok_load);
            if (ok_load) {
                int ok_report;
                t_load = run_ti(r, ti[T_REPORT], t_load, f, env, &ok_report);
                failed_any |= !ok_report;
            } else {
                failed_any = 1;
                settle(r, ti[T_REPORT], S_UPSTREAM_FAILED, t_load);
            }
        }
    }
    int64_t end = t_load;
    if (failed_any) { /* one_failed: notify runs as soon as a failure is known */
        int ok;
        int64_t e = run_ti(r, ti[T_NOTIFY], t_load, 0, env, &ok);
        if (e > end) end = e;
    } else {
        settle(r, ti[T_NOTIFY], S_SKIPPED, t_load);
    }
    sim_run_plan(r, 0, failed_any ? R_FAILED : R_SUCCESS, end + secs(env->rng, 1, 3));
    r->nodes[0].outcome = failed_any ? R_FAILED : R_SUCCESS;
    (void)key;
    return r;
}

/* ---- rendering ---- */

typedef struct view {
    const char *dag;
    size_t daglen;
    const char *run_id;
    int64_t logical; /* logical_date */
    const char *run_type;
} view;

/* The logical date and run type a run id names (scheduled__<iso>, manual__<iso> …); else the run's creation, manual. */
static void read_run_id(const sim_record *rec, view *v)
{
    const char *slash = strchr(rec->id, '/');
    v->dag = rec->id;
    v->daglen = (size_t)(slash - rec->id);
    v->run_id = slash + 1;
    v->logical = rec->run->start_ns;
    v->run_type = "manual";
    static const char *const types[] = {"scheduled", "manual", "backfill", "dataset_triggered"};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        size_t n = strlen(types[i]);
        if (strncmp(v->run_id, types[i], n) != 0 || strncmp(v->run_id + n, "__", 2) != 0) continue;
        v->run_type = types[i];
        int64_t ns;
        const char *why;
        const char *iso = v->run_id + n + 2;
        if (ex_iso_parse(iso, strlen(iso), &ns, &why) == 0) v->logical = ns;
    }
}

static int put_run(sim_buf *b, const sim_record *rec)
{
    view v;
    read_run_id(rec, &v);
    const sim_run *r = rec->run;
    const sim_node *root = &r->nodes[0];
    int st = sim_node_state(root);
    int scheduled = strcmp(v.run_type, "scheduled") == 0;
    int rc = sim_buf_puts(b, "{\"conf\":{},\"dag_id\":");
    if (!rc) rc = sim_put_strn(b, v.dag, v.daglen);
    if (!rc) rc = sim_buf_puts(b, ",\"dag_run_id\":");
    if (!rc) rc = sim_put_str(b, v.run_id);
    if (!rc) rc = sim_buf_puts(b, ",\"data_interval_end\":");
    if (!rc) rc = sim_put_time(b, v.logical + (scheduled ? 86400 * SEC : 0), SIM_TIME_OFFSET);
    if (!rc) rc = sim_buf_puts(b, ",\"data_interval_start\":");
    if (!rc) rc = sim_put_time(b, v.logical, SIM_TIME_OFFSET);
    if (!rc) rc = sim_buf_puts(b, ",\"end_date\":");
    if (!rc) rc = sim_put_time(b, st >= R_SUCCESS ? sim_node_since(root) : SIM_NO_TIME, SIM_TIME_OFFSET);
    if (!rc) rc = sim_buf_puts(b, ",\"execution_date\":");
    if (!rc) rc = sim_put_time(b, v.logical, SIM_TIME_OFFSET);
    if (!rc) rc = sim_buf_printf(b, ",\"external_trigger\":%s,\"last_scheduling_decision\":",
                                 strcmp(v.run_type, "manual") == 0 ? "true" : "false");
    if (!rc) rc = sim_put_time(b, r->changed_ns, SIM_TIME_OFFSET);
    if (!rc) rc = sim_buf_puts(b, ",\"logical_date\":");
    if (!rc) rc = sim_put_time(b, v.logical, SIM_TIME_OFFSET);
    if (!rc) rc = sim_buf_printf(b, ",\"note\":null,\"run_type\":\"%s\",\"start_date\":", v.run_type);
    if (!rc) rc = sim_put_time(b, sim_node_first_at(root, R_RUNNING), SIM_TIME_OFFSET);
    if (!rc) rc = sim_buf_printf(b, ",\"state\":\"%s\"}", run_words[st]);
    return rc;
}

/* 1 if instance node i is listed (visible and not expanded away). */
static int listed(const sim_run *r, int i)
{
    const sim_node *n = &r->nodes[i];
    return n->kind == K_TASK && sim_node_visible(n) && sim_node_state(n) != S_EXPANDED;
}

static int put_ti(sim_buf *b, const view *v, const sim_run *r, int i)
{
    const sim_node *n = &r->nodes[i];
    const struct task *t = &tasks[n->tmpl];
    int st = sim_node_state(n);
    int64_t started = sim_node_at(n, S_RUNNING), ended = SIM_NO_TIME;
    if (st == S_SUCCESS || st == S_FAILED || st == S_UP_FOR_RETRY) ended = sim_node_since(n);
    if (st == S_SKIPPED || st == S_UPSTREAM_FAILED) started = ended = sim_node_since(n);
    if (st == S_SCHEDULED || st == S_QUEUED) started = SIM_NO_TIME; /* a new try clears the last one's times */
    int rc = sim_buf_puts(b, "{\"dag_id\":");
    if (!rc) rc = sim_put_strn(b, v->dag, v->daglen);
    if (!rc) rc = sim_buf_puts(b, ",\"dag_run_id\":");
    if (!rc) rc = sim_put_str(b, v->run_id);
    if (!rc) rc = sim_buf_puts(b, ",\"duration\":");
    if (!rc) rc = started != SIM_NO_TIME && ended != SIM_NO_TIME
                      ? sim_buf_printf(b, "%.6f", (double)(ended - started) / (double)SEC)
                      : sim_buf_puts(b, "null");
    if (!rc) rc = sim_buf_puts(b, ",\"end_date\":");
    if (!rc) rc = sim_put_time(b, ended, SIM_TIME_OFFSET);
    if (!rc) rc = sim_buf_puts(b, ",\"execution_date\":");
    if (!rc) rc = sim_put_time(b, v->logical, SIM_TIME_OFFSET);
    if (!rc) rc = sim_buf_printf(b, ",\"executor\":null,\"executor_config\":\"{}\",\"hostname\":\"%s\",\"map_index\":%d,"
                                    "\"max_tries\":%d,\"note\":null,\"operator\":\"%s\",\"pid\":",
                                 started != SIM_NO_TIME && st != S_SKIPPED && st != S_UPSTREAM_FAILED ? "worker-1" : "",
                                 (int)n->index, t->retries, t->op);
    if (!rc) rc = started != SIM_NO_TIME && st != S_SKIPPED && st != S_UPSTREAM_FAILED
                      ? sim_buf_printf(b, "%d", 1000 + i * 7 + sim_node_count(n, S_RUNNING))
                      : sim_buf_puts(b, "null");
    if (!rc) rc = sim_buf_printf(b, ",\"pool\":\"default_pool\",\"pool_slots\":1,\"priority_weight\":%d,"
                                    "\"queue\":\"default\",\"queued_when\":",
                                 NTASKS - n->tmpl);
    if (!rc) rc = sim_put_time(b, sim_node_at(n, S_QUEUED), SIM_TIME_OFFSET);
    if (!rc) rc = sim_buf_puts(b, ",\"rendered_fields\":{},\"rendered_map_index\":");
    if (!rc) rc = n->index >= 0 ? sim_buf_printf(b, "\"%d\"", (int)n->index) : sim_buf_puts(b, "null");
    if (!rc) rc = sim_buf_puts(b, ",\"sla_miss\":null,\"start_date\":");
    if (!rc) rc = sim_put_time(b, started, SIM_TIME_OFFSET);
    if (!rc) rc = sim_buf_puts(b, ",\"state\":");
    if (!rc) rc = ti_words[st] ? sim_buf_printf(b, "\"%s\"", ti_words[st]) : sim_buf_puts(b, "null");
    if (!rc) rc = sim_buf_puts(b, ",\"task_display_name\":");
    if (!rc) rc = sim_put_str(b, t->id);
    if (!rc) rc = sim_buf_puts(b, ",\"task_id\":");
    if (!rc) rc = sim_put_str(b, t->id);
    if (!rc) rc = sim_buf_printf(b, ",\"trigger\":null,\"triggerer_job\":null,\"try_number\":%d,\"unixname\":\"airflow\"}",
                                 sim_node_count(n, S_SCHEDULED));
    return rc;
}

/* ---- routing ---- */

static void problem(sim_api *api, sim_reply *rep, int status, const char *title, const char *type, const char *detail)
{
    sim_buf *b = &api->reply;
    sim_buf_reset(b);
    rep->content_type = "application/problem+json";
    int rc = sim_buf_puts(b, "{\"detail\":");
    if (!rc) rc = sim_put_str(b, detail);
    if (!rc) rc = sim_buf_printf(b, ",\"status\":%d,\"title\":\"%s\",\"type\":\"" PROBLEM "%s\"}", status, title, type);
    sim_persona_reply(api, rep, status, rc);
}

static int dag_id_ok(const char *s, size_t n)
{
    if (n == 0 || n > 250) return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ||
              ch == '.' || ch == '-'))
            return 0;
    }
    return 1;
}

/* 1–250 bytes of UTF-8 without control characters (it is echoed into JSON). */
static int run_id_ok(const char *s, size_t n)
{
    if (n == 0 || n > 250 || !exo__utf8_valid(s, n)) return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) return 0;
    return 1;
}

#define TI_SUFFIX "/taskInstances"

/* 0 none, 1 runs list (key = dag_id), 2 run, 3 task instances (key = dag_id/dag_run_id). */
static int parse(const char *path, char *key, size_t keylen)
{
    static const char prefix[] = "/api/v1/dags/";
    if (strncmp(path, prefix, sizeof prefix - 1) != 0) return 0;
    const char *dag = path + sizeof prefix - 1, *slash = strchr(dag, '/');
    if (!slash || !dag_id_ok(dag, (size_t)(slash - dag)) || strncmp(slash, "/dagRuns", 8) != 0) return 0;
    size_t daglen = (size_t)(slash - dag);
    const char *rest = slash + 8;
    if (!*rest || strcmp(rest, "/") == 0) {
        snprintf(key, keylen, "%.*s", (int)daglen, dag);
        return 1;
    }
    if (*rest != '/') return 0;
    rest++;
    size_t n = strlen(rest);
    int route = 2;
    if (n > strlen(TI_SUFFIX) && strcmp(rest + n - strlen(TI_SUFFIX), TI_SUFFIX) == 0) {
        n -= strlen(TI_SUFFIX);
        route = 3;
    }
    if (!run_id_ok(rest, n) || (size_t)snprintf(key, keylen, "%.*s/%.*s", (int)daglen, dag, (int)n, rest) >= keylen)
        return 0;
    return route;
}

static int faultable(const char *path)
{
    char key[520];
    return parse(path, key, sizeof key) >= 2;
}

/* limit / offset of a collection; 0, or -1 after a 400 problem. */
static int paging(sim_api *api, const sim_request *req, sim_reply *rep, long *limit, long *offset)
{
    if (sim_query_long(req, "limit", LIMIT_DEFAULT, 1, 100000, limit) ||
        sim_query_long(req, "offset", 0, 0, 1000000000, offset)) {
        problem(api, rep, 400, "Bad Request", "BadRequest", "limit must be an integer >= 1 and offset >= 0");
        return -1;
    }
    return 0;
}

static void list_tis(sim_api *api, const sim_request *req, sim_reply *rep, const sim_record *rec)
{
    long limit, offset;
    if (paging(api, req, rep, &limit, &offset)) return;
    view v;
    read_run_id(rec, &v);
    const sim_run *r = rec->run;
    /* Airflow lists by task, then map index; the mapped instances were added last */
    int order[1 + NTASKS + NMAP], n = 0;
    for (int k = 0; k < NTASKS; k++)
        for (int i = 1; i < r->nnodes; i++)
            if (r->nodes[i].tmpl == k && listed(r, i)) order[n++] = i;
    sim_buf *b = &api->reply;
    sim_buf_reset(b);
    int rc = sim_buf_puts(b, "{\"task_instances\":[");
    for (long k = offset; !rc && k < n && k < offset + limit; k++) {
        if (k > offset) rc = sim_buf_put(b, ",", 1);
        if (!rc) rc = put_ti(b, &v, r, order[k]);
    }
    if (!rc) rc = sim_buf_printf(b, "],\"total_entries\":%d}", n);
    sim_persona_reply(api, rep, 200, rc);
}

static void list_runs(sim_api *api, const sim_request *req, sim_reply *rep, const char *dag)
{
    long limit, offset;
    if (paging(api, req, rep, &limit, &offset)) return;
    /* execution_date_gte: runs whose logical date is at or after it (date-time, RFC 3339) */
    const char *gte = req->query ? req->query(req->query_ctx, "execution_date_gte") : NULL, *why;
    int64_t since = INT64_MIN;
    if (gte && ex_iso_parse(gte, strlen(gte), &since, &why) != 0) {
        problem(api, rep, 400, "Bad Request", "BadRequest", "execution_date_gte is not a date-time");
        return;
    }
    sim_persona_catch_up_all(api);
    size_t dlen = strlen(dag);
    sim_buf *b = &api->reply;
    sim_buf_reset(b);
    int rc = sim_buf_puts(b, "{\"dag_runs\":[");
    long total = 0, shown = 0;
    for (const sim_record *r = api->store.by_id; !rc && r; r = r->hh.next) {
        if (!r->run || strncmp(r->id, dag, dlen) != 0 || r->id[dlen] != '/') continue;
        view v;
        read_run_id(r, &v);
        if (v.logical < since) continue;
        if (total++ < offset || shown >= limit) continue;
        if (shown++) rc = sim_buf_put(b, ",", 1);
        if (!rc) rc = put_run(b, r);
    }
    if (!rc) rc = sim_buf_printf(b, "],\"total_entries\":%ld}", total);
    sim_persona_reply(api, rep, 200, rc);
}

static void handle(sim_api *api, const sim_request *req, sim_reply *rep)
{
    rep->content_type = "application/json";
    char key[520];
    int route = parse(req->path, key, sizeof key);
    int get = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
    if (!route || !get) {
        problem(api, rep, 404, "Not Found", "NotFound", "no such endpoint in this API (see /api/v1/dags/{dag_id}/dagRuns)");
        return;
    }
    if (route == 1) {
        list_runs(api, req, rep, key);
        return;
    }
    sim_record *rec;
    int rc = sim_persona_run(api, key, plan, &rec);
    if (rc == SIM_RUN_EVICTED) {
        char detail[700];
        const char *slash = strchr(key, '/');
        snprintf(detail, sizeof detail, "DAGRun with DAG ID: '%.*s' and DagRun ID: '%s' not found",
                 (int)(slash - key), key, slash + 1);
        problem(api, rep, 404, "DAGRun not found", "NotFound", detail);
    } else if (rc != SIM_RUN_OK) {
        problem(api, rep, 503, "Service Unavailable", "Unknown", "simulator: store full (--max-workflows) or out of memory");
    } else if (route == 2) {
        sim_buf_reset(&api->reply);
        sim_persona_reply(api, rep, 200, put_run(&api->reply, rec));
    } else {
        list_tis(api, req, rep, rec);
    }
}

static void new_key(ex_rng *rng, int64_t now_ns, char *buf, size_t len)
{
    char t[48];
    /* a manual run's id names its logical date, to the microsecond, as Airflow's trigger does */
    int64_t ns = now_ns - now_ns % 1000 + ex_rng_range(rng, 0, 1000) * 1000;
    snprintf(buf, len, "etl_daily/manual__%s", sim_format_time(ns, SIM_TIME_OFFSET, t));
}

const sim_persona sim_persona_airflow = {
    .name = "airflow",
    .summary = "Airflow 2 stable REST API: DAG runs and their task instances",
    .example = "etl_daily/scheduled__2024-05-01T00:00:00+00:00",
    .handle = handle,
    .faultable = faultable,
    .plan = plan,
    .new_key = new_key,
};
