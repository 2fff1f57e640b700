/* persona_argo.c — `extrace api --source argo-workflows`: the Argo Server's
 * REST API for workflows (docs/sim.md#argo-workflows).
 *
 *   GET /api/v1/workflows/{namespace}/{name}   a Workflow: metadata, spec, status with its node map
 *   GET /api/v1/workflows/{namespace}          a WorkflowList; listOptions.limit / listOptions.continue
 *
 * The Argo Server sends no ETag (its gRPC gateway sets none), so neither
 * does this persona. A workflow is planned as the DAG `main`: fetch, then
 * build, then a retried `unit-tests` (Retry node, up to three attempts,
 * each attempt a Pod failing half of the time) and a nested DAG
 * `integration` (a retried `e2e`, up to two attempts, and `smoke`), then
 * `publish`, which is Omitted when a branch before it failed. Node ids are
 * Argo's: the workflow's name for the root, else name-<fnv32a(node name)>;
 * `children` follow Argo's rule (a task is the child of its dependencies'
 * outbound nodes; a Retry's children are its attempts). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "sim/persona.h"

enum { T_POD, T_DAG, T_RETRY, T_SKIPPED };
static const char *const type_words[] = {"Pod", "DAG", "Retry", "Skipped"};
enum { P_UNKNOWN, P_PENDING, P_RUNNING, P_SUCCEEDED, P_FAILED, P_ERROR, P_SKIPPED, P_OMITTED };
static const char *const phase_words[] = {"", "Pending", "Running", "Succeeded", "Failed", "Error", "Skipped", "Omitted"};

#define SEC EX_NS_PER_SEC
#define NTASKS 8
#define LIST_DEFAULT 500

/* The DAG's tasks; index = node index of the task in every run. */
static const struct task {
    const char *name;     /* displayName */
    const char *tmpl;     /* templateName */
    uint8_t type;         /* T_POD, T_DAG, T_RETRY */
    int8_t dag;           /* the DAG task it belongs to (-1: the root itself) */
    uint8_t deps;         /* bit per task */
    uint8_t attempts;     /* Retry: most attempts (limit + 1) */
    int lo, hi;           /* Pod (or each attempt): running seconds */
    double fail;          /* chance an attempt fails: < 0 means --failure-rate */
} tasks[NTASKS] = {
    {"main", "main", T_DAG, -1, 0, 0, 0, 0, 0},
    {"fetch", "git-clone", T_POD, 0, 0, 0, 5, 20, -1},
    {"build", "make", T_POD, 0, 1u << 1, 0, 60, 180, -1},
    {"unit-tests", "pytest", T_RETRY, 0, 1u << 2, 3, 30, 120, 0.5},
    {"integration", "integration", T_DAG, 0, 1u << 2, 0, 0, 0, 0},
    {"e2e", "e2e", T_RETRY, 4, 0, 2, 60, 240, -1},
    {"smoke", "smoke", T_POD, 4, 0, 0, 10, 40, -1},
    {"publish", "publish", T_POD, 0, (1u << 3) | (1u << 4), 0, 10, 30, -1},
};

static int64_t secs(ex_rng *rng, int lo, int hi) { return ex_rng_range(rng, lo, hi) * SEC; }

/* A Pod from `ready`: Pending, Running 2-7 s later, then its end. */
static int64_t plan_pod(sim_run *r, int i, int64_t ready, int lo, int hi, double fail, const sim_env *env)
{
    int64_t run = ready + secs(env->rng, 2, 8), end = run + secs(env->rng, lo, hi);
    int failed = ex_rng_double(env->rng) < (fail < 0 ? env->failure_rate : fail);
    r->nodes[i].outcome = failed ? P_FAILED : P_SUCCEEDED;
    sim_run_plan(r, i, P_PENDING, ready);
    sim_run_plan(r, i, P_RUNNING, run);
    sim_run_plan(r, i, failed ? P_FAILED : P_SUCCEEDED, end);
    return end;
}

/* Task k ready at `ready`; returns its end and its success in *ok. */
static int64_t plan_task(sim_run *r, int k, int64_t ready, const sim_env *env, int *ok, int64_t *end_of, int *ok_of);

static int64_t plan_retry(sim_run *r, int k, int64_t ready, const sim_env *env, int *ok)
{
    const struct task *t = &tasks[k];
    sim_run_plan(r, k, P_RUNNING, ready);
    int64_t at = ready;
    *ok = 0;
    for (int a = 0; a < t->attempts && !*ok; a++) {
        int p = sim_run_add(r, k, T_POD);
        if (p < 0) break;
        r->nodes[p].tmpl = (uint8_t)k;
        r->nodes[p].attempt = (uint8_t)a;
        at = plan_pod(r, p, a ? at + secs(env->rng, 1, 5) : at, t->lo, t->hi, t->fail, env);
        *ok = r->nodes[p].outcome == P_SUCCEEDED;
    }
    r->nodes[k].outcome = *ok ? P_SUCCEEDED : P_FAILED;
    sim_run_plan(r, k, *ok ? P_SUCCEEDED : P_FAILED, at);
    return at;
}

/* The tasks of DAG d, in order, from `ready`; returns the DAG's end. */
static int64_t plan_dag(sim_run *r, int d, int64_t ready, const sim_env *env, int *ok, int64_t *end_of, int *ok_of)
{
    sim_run_plan(r, d, P_RUNNING, ready);
    int64_t last = ready;
    *ok = 1;
    for (int k = d + 1; k < NTASKS; k++) {
        if (tasks[k].dag != d) continue;
        int64_t at = ready;
        int deps_ok = 1;
        for (int j = 0; j < NTASKS; j++)
            if (tasks[k].deps & (1u << j)) {
                if (end_of[j] > at) at = end_of[j];
                deps_ok &= ok_of[j];
            }
        if (!deps_ok) { /* depends failed: Omitted at once */
            r->nodes[k].kind = T_SKIPPED;
            r->nodes[k].outcome = P_OMITTED;
            sim_run_plan(r, k, P_OMITTED, at);
            end_of[k] = at;
            ok_of[k] = 0;
        } else {
            end_of[k] = plan_task(r, k, at, env, &ok_of[k], end_of, ok_of);
            *ok &= ok_of[k];
        }
        if (end_of[k] > last) last = end_of[k];
    }
    r->nodes[d].outcome = *ok ? P_SUCCEEDED : P_FAILED;
    sim_run_plan(r, d, *ok ? P_SUCCEEDED : P_FAILED, last);
    return last;
}

static int64_t plan_task(sim_run *r, int k, int64_t ready, const sim_env *env, int *ok, int64_t *end_of, int *ok_of)
{
    const struct task *t = &tasks[k];
    if (t->type == T_DAG) return plan_dag(r, k, ready, env, ok, end_of, ok_of);
    if (t->type == T_RETRY) return plan_retry(r, k, ready, env, ok);
    int64_t end = plan_pod(r, k, ready, t->lo, t->hi, t->fail, env);
    *ok = r->nodes[k].outcome == P_SUCCEEDED;
    return end;
}

static sim_run *plan(const char *key, const sim_env *env)
{
    sim_run *r = sim_run_new(NTASKS + 8, ex_clock_now(env->clock));
    if (!r) return NULL;
    r->seed = (uint32_t)ex_rng_next(env->rng);
    for (int k = 0; k < NTASKS; k++) {
        int i = sim_run_add(r, k ? tasks[k].dag : -1, tasks[k].type);
        r->nodes[i].tmpl = (uint8_t)k;
    }
    int64_t end_of[NTASKS] = {0};
    int ok_of[NTASKS] = {0}, ok;
    sim_run_plan(r, 0, P_UNKNOWN, 0); /* submitted; the controller picks it up 1-2 s later */
    int64_t start = secs(env->rng, 1, 3);
    int64_t end = plan_dag(r, 0, start, env, &ok, end_of, ok_of);
    /* the root DAG's own end is the workflow's; move its last phase a little later */
    r->nodes[0].ph[r->nodes[0].nphases - 1].plan_ns = end + secs(env->rng, 0, 2);
    return r;
}

/* ---- names, ids, children ---- */

typedef struct view {
    const sim_run *r;
    const char *ns, *name; /* key parts */
    size_t nslen, namelen;
    char ids[NTASKS + 8][320];
    char names[NTASKS + 8][300];
} view;

static uint32_t fnv32a(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static void display_name(const sim_run *r, int i, char *buf, size_t len)
{
    const sim_node *n = &r->nodes[i];
    if (i >= NTASKS) snprintf(buf, len, "%s(%d)", tasks[n->tmpl].name, (int)n->attempt); /* a Retry's attempt */
    else snprintf(buf, len, "%s", tasks[n->tmpl].name);
}

/* Node names as Argo builds them: wf, wf.task, wf.dag.task, wf.task(0). */
static void build_names(view *v)
{
    const sim_run *r = v->r;
    for (int i = 0; i < r->nnodes; i++) {
        const sim_node *n = &r->nodes[i];
        if (i == 0) snprintf(v->names[0], sizeof v->names[0], "%.*s", (int)v->namelen, v->name);
        else if (i >= NTASKS) snprintf(v->names[i], sizeof v->names[i], "%s(%d)", v->names[n->parent], (int)n->attempt);
        else snprintf(v->names[i], sizeof v->names[i], "%s.%s", v->names[tasks[i].dag], tasks[i].name);
        if (i == 0) snprintf(v->ids[0], sizeof v->ids[0], "%s", v->names[0]);
        else snprintf(v->ids[i], sizeof v->ids[i], "%s-%u", v->names[0], fnv32a(v->names[i]));
    }
}

static int visible(const sim_run *r, int i)
{
    return sim_node_visible(&r->nodes[i]) && sim_node_state(&r->nodes[i]) != P_UNKNOWN;
}

/* The outbound nodes of node i (Argo's getOutboundNodes), as a bit set. */
static uint32_t outbound(const sim_run *r, int i)
{
    const sim_node *n = &r->nodes[i];
    if (i >= NTASKS || n->kind == T_POD || n->kind == T_SKIPPED) return 1u << i;
    if (n->kind == T_RETRY) {
        int last = -1;
        for (int j = NTASKS; j < r->nnodes; j++)
            if (r->nodes[j].parent == i && visible(r, j)) last = j;
        return last >= 0 ? 1u << last : 0;
    }
    uint32_t out = 0; /* a DAG: the outbound nodes of its target tasks (no dependent inside it) */
    for (int k = 1; k < NTASKS; k++) {
        if (tasks[k].dag != i || !visible(r, k)) continue;
        int target = 1;
        for (int d = 1; d < NTASKS; d++)
            if (tasks[d].dag == i && (tasks[d].deps & (1u << k))) target = 0;
        if (target) out |= outbound(r, k);
    }
    return out;
}

/* 1 if node j is listed in node i's children. */
static int child_of(const sim_run *r, int j, int i)
{
    if (j >= NTASKS) return r->nodes[j].parent == i;
    if (j == 0) return 0;
    if (!tasks[j].deps) return tasks[j].dag == i;
    for (int d = 1; d < NTASKS; d++)
        if ((tasks[j].deps & (1u << d)) && (outbound(r, d) & (1u << i))) return 1;
    return 0;
}

/* ---- rendering ---- */

static int put_id_list(sim_buf *b, const view *v, const char *member, uint32_t set_or_children, int children_of)
{
    const sim_run *r = v->r;
    int rc = 0, first = 1;
    for (int j = 0; !rc && j < r->nnodes; j++) {
        int in = children_of >= 0 ? (visible(r, j) && child_of(r, j, children_of)) : (int)((set_or_children >> j) & 1);
        if (!in) continue;
        rc = sim_buf_printf(b, first ? ",\"%s\":[" : ",", member);
        if (!rc) rc = sim_put_str(b, v->ids[j]);
        first = 0;
    }
    if (!rc && !first) rc = sim_buf_put(b, "]", 1);
    return rc;
}

static int put_node(sim_buf *b, const view *v, int i)
{
    const sim_run *r = v->r;
    const sim_node *n = &r->nodes[i];
    int ph = sim_node_state(n);
    char dn[320];
    display_name(r, i, dn, sizeof dn);
    if (i == 0) snprintf(dn, sizeof dn, "%s", v->names[0]);
    int rc = sim_put_str(b, v->ids[i]);
    if (!rc) rc = sim_buf_puts(b, ":{\"id\":");
    if (!rc) rc = sim_put_str(b, v->ids[i]);
    if (!rc) rc = sim_buf_puts(b, ",\"name\":");
    if (!rc) rc = sim_put_str(b, v->names[i]);
    if (!rc) rc = sim_buf_puts(b, ",\"displayName\":");
    if (!rc) rc = sim_put_str(b, dn);
    if (!rc) rc = sim_buf_printf(b, ",\"type\":\"%s\",\"templateName\":\"%s\",\"templateScope\":\"local/%s\"",
                                 type_words[n->kind], tasks[n->tmpl].tmpl, v->names[0]);
    if (!rc) rc = sim_buf_printf(b, ",\"phase\":\"%s\"", phase_words[ph]);
    if (!rc && i > 0) { /* the enclosing DAG; a Retry's attempts share the Retry's */
        int dag = i >= NTASKS ? tasks[n->tmpl].dag : tasks[i].dag;
        rc = sim_buf_puts(b, ",\"boundaryID\":");
        if (!rc) rc = sim_put_str(b, v->ids[dag]);
    }
    const char *msg = ph == P_OMITTED ? "omitted: depends condition not met"
                    : ph == P_FAILED && n->kind == T_POD ? "Error (exit code 1)"
                    : ph == P_FAILED && n->kind == T_RETRY ? "No more retries left" : NULL;
    if (!rc && msg) rc = sim_buf_printf(b, ",\"message\":\"%s\"", msg);
    int64_t started = sim_node_first_at(n, ph == P_OMITTED ? P_OMITTED : n->kind == T_POD ? P_PENDING : P_RUNNING);
    int ended = ph >= P_SUCCEEDED;
    if (!rc) rc = sim_buf_puts(b, ",\"startedAt\":");
    if (!rc) rc = sim_put_time(b, started, SIM_TIME_Z);
    if (!rc) rc = sim_buf_puts(b, ",\"finishedAt\":");
    if (!rc) rc = sim_put_time(b, ended ? sim_node_since(n) : SIM_NO_TIME, SIM_TIME_Z);
    if (!rc && n->kind == T_POD)
        rc = sim_buf_printf(b, ",\"progress\":\"%d/1\"", ph == P_SUCCEEDED);
    if (!rc && n->kind == T_POD && ended) {
        int64_t secs_used = (sim_node_since(n) - sim_node_first_at(n, P_RUNNING)) / SEC;
        rc = sim_buf_printf(b, ",\"resourcesDuration\":{\"cpu\":%lld,\"memory\":%lld}", (long long)(secs_used + 1),
                            (long long)(secs_used * 4 + 1));
    }
    if (!rc) rc = put_id_list(b, v, "children", 0, i);
    if (!rc && n->kind == T_DAG && ended) rc = put_id_list(b, v, "outboundNodes", outbound(r, i), -1);
    if (!rc && n->kind == T_POD && ph >= P_RUNNING)
        rc = sim_buf_printf(b, ",\"hostNodeName\":\"worker-%u\"", (unsigned)(fnv32a(v->ids[i]) % 3 + 1));
    if (!rc) rc = sim_buf_put(b, "}", 1);
    return rc;
}

static const char spec_json[] =
    "{\"templates\":["
    "{\"name\":\"main\",\"inputs\":{},\"outputs\":{},\"metadata\":{},\"dag\":{\"tasks\":["
    "{\"name\":\"fetch\",\"template\":\"git-clone\",\"arguments\":{}},"
    "{\"name\":\"build\",\"template\":\"make\",\"arguments\":{},\"dependencies\":[\"fetch\"]},"
    "{\"name\":\"unit-tests\",\"template\":\"pytest\",\"arguments\":{},\"dependencies\":[\"build\"]},"
    "{\"name\":\"integration\",\"template\":\"integration\",\"arguments\":{},\"dependencies\":[\"build\"]},"
    "{\"name\":\"publish\",\"template\":\"publish\",\"arguments\":{},\"dependencies\":[\"unit-tests\",\"integration\"]}]}},"
    "{\"name\":\"integration\",\"inputs\":{},\"outputs\":{},\"metadata\":{},\"dag\":{\"tasks\":["
    "{\"name\":\"e2e\",\"template\":\"e2e\",\"arguments\":{}},{\"name\":\"smoke\",\"template\":\"smoke\",\"arguments\":{}}]}},"
    "{\"name\":\"git-clone\",\"inputs\":{},\"outputs\":{},\"metadata\":{},\"container\":{\"name\":\"\",\"image\":\"alpine/git:2.45.2\",\"args\":[\"clone\",\"https://example.com/repo.git\"],\"resources\":{}}},"
    "{\"name\":\"make\",\"inputs\":{},\"outputs\":{},\"metadata\":{},\"container\":{\"name\":\"\",\"image\":\"gcc:14\",\"command\":[\"make\"],\"resources\":{}}},"
    "{\"name\":\"pytest\",\"inputs\":{},\"outputs\":{},\"metadata\":{},\"container\":{\"name\":\"\",\"image\":\"python:3.12\",\"command\":[\"pytest\"],\"resources\":{}},\"retryStrategy\":{\"limit\":2}},"
    "{\"name\":\"e2e\",\"inputs\":{},\"outputs\":{},\"metadata\":{},\"container\":{\"name\":\"\",\"image\":\"python:3.12\",\"command\":[\"pytest\",\"e2e\"],\"resources\":{}},\"retryStrategy\":{\"limit\":1}},"
    "{\"name\":\"smoke\",\"inputs\":{},\"outputs\":{},\"metadata\":{},\"container\":{\"name\":\"\",\"image\":\"curlimages/curl:8.8.0\",\"args\":[\"-f\",\"http://app/healthz\"],\"resources\":{}}},"
    "{\"name\":\"publish\",\"inputs\":{},\"outputs\":{},\"metadata\":{},\"container\":{\"name\":\"\",\"image\":\"alpine:3.20\",\"command\":[\"sh\",\"-c\",\"echo publish\"],\"resources\":{}}}],"
    "\"entrypoint\":\"main\",\"arguments\":{}}";

static int render(sim_buf *b, const sim_record *rec)
{
    view *v = ex_malloc(sizeof *v);
    if (!v) return -1;
    const sim_run *r = rec->run;
    v->r = r;
    const char *slash = strchr(rec->id, '/');
    v->ns = rec->id;
    v->nslen = (size_t)(slash - rec->id);
    v->name = slash + 1;
    v->namelen = strlen(slash + 1);
    build_names(v);
    const sim_node *root = &r->nodes[0];
    int ph = sim_node_state(root);
    int done = ph >= P_SUCCEEDED;
    char uid[37];
    snprintf(uid, sizeof uid, "%08x-%04x-4%03x-8%03x-%012llx", r->seed, (unsigned)(r->start_ns / SEC % 65536),
             (unsigned)(fnv32a(rec->id) % 4096), (unsigned)(r->seed >> 20), (unsigned long long)(fnv32a(rec->id) * 7919ULL));
    int rc = sim_buf_puts(b, "{\"metadata\":{\"name\":");
    if (!rc) rc = sim_put_strn(b, v->name, v->namelen);
    if (!rc) rc = sim_buf_puts(b, ",\"generateName\":\"ci-dag-\",\"namespace\":");
    if (!rc) rc = sim_put_strn(b, v->ns, v->nslen);
    if (!rc) rc = sim_buf_printf(b, ",\"uid\":\"%s\",\"resourceVersion\":\"%u\",\"generation\":%u,\"creationTimestamp\":",
                                 uid, 1000 + r->changes, 1 + r->changes);
    if (!rc) rc = sim_put_time(b, r->start_ns, SIM_TIME_Z);
    if (!rc) rc = sim_buf_printf(b, ",\"labels\":{\"workflows.argoproj.io/completed\":\"%s\"%s%s%s}},\"spec\":%s,\"status\":{",
                                 done ? "true" : "false", ph != P_UNKNOWN ? ",\"workflows.argoproj.io/phase\":\"" : "",
                                 ph != P_UNKNOWN ? phase_words[ph] : "", ph != P_UNKNOWN ? "\"" : "", spec_json);
    if (!rc && ph != P_UNKNOWN) {
        int pods = 0, ok = 0;
        for (int i = 0; i < r->nnodes; i++)
            if (visible(r, i) && r->nodes[i].kind == T_POD) {
                pods++;
                ok += sim_node_state(&r->nodes[i]) == P_SUCCEEDED;
            }
        rc = sim_buf_printf(b, "\"phase\":\"%s\",\"startedAt\":", phase_words[ph]);
        if (!rc) rc = sim_put_time(b, sim_node_first_at(root, P_RUNNING), SIM_TIME_Z);
        if (!rc) rc = sim_buf_puts(b, ",\"finishedAt\":");
        if (!rc) rc = sim_put_time(b, done ? sim_node_since(root) : SIM_NO_TIME, SIM_TIME_Z);
        if (!rc) rc = sim_buf_printf(b, ",\"progress\":\"%d/%d\",\"nodes\":{", ok, pods);
        /* Go writes map keys sorted */
        int order[NTASKS + 8], n = 0;
        for (int i = 0; i < r->nnodes; i++)
            if (visible(r, i)) order[n++] = i;
        for (int a = 1; a < n; a++)
            for (int c = a; c > 0 && strcmp(v->ids[order[c - 1]], v->ids[order[c]]) > 0; c--) {
                int t = order[c];
                order[c] = order[c - 1];
                order[c - 1] = t;
            }
        for (int k = 0; !rc && k < n; k++) {
            if (k) rc = sim_buf_put(b, ",", 1);
            if (!rc) rc = put_node(b, v, order[k]);
        }
        if (!rc) rc = sim_buf_puts(b, "}");
    }
    if (!rc) rc = sim_buf_puts(b, "}}");
    ex_free(v);
    return rc;
}

/* ---- routing ---- */

static int dns_ok(const char *s, size_t n, size_t max)
{
    if (n == 0 || n > max) return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '.')) return 0;
    }
    return s[0] != '-' && s[0] != '.';
}

/* 0 none, 1 list (key = namespace), 2 workflow (key = namespace/name). */
static int parse(const char *path, char *key, size_t keylen)
{
    const char *seg[6];
    size_t len[6];
    int n = sim_path_split(path, seg, len, 5);
    if (n < 4 || n > 5 || !sim_seg_is(seg[0], len[0], "api") || !sim_seg_is(seg[1], len[1], "v1") ||
        !sim_seg_is(seg[2], len[2], "workflows") || !dns_ok(seg[3], len[3], 63))
        return 0;
    if (n == 4) {
        snprintf(key, keylen, "%.*s", (int)len[3], seg[3]);
        return 1;
    }
    if (!dns_ok(seg[4], len[4], 253)) return 0;
    snprintf(key, keylen, "%.*s/%.*s", (int)len[3], seg[3], (int)len[4], seg[4]);
    return 2;
}

static int faultable(const char *path)
{
    char key[400];
    return parse(path, key, sizeof key) == 2;
}

static void reply_error(sim_api *api, sim_reply *rep, int status, int code, const char *msg)
{
    sim_buf_reset(&api->reply);
    int rc = sim_buf_printf(&api->reply, "{\"code\":%d,\"message\":", code);
    if (!rc) rc = sim_put_str(&api->reply, msg);
    if (!rc) rc = sim_buf_put(&api->reply, "}", 1);
    sim_persona_reply(api, rep, status, rc);
}

static void list(sim_api *api, const sim_request *req, sim_reply *rep, const char *ns)
{
    long limit, offset = 0;
    const char *cont = req->query ? req->query(req->query_ctx, "listOptions.continue") : NULL;
    if (sim_query_long(req, "listOptions.limit", 0, 0, 1000000, &limit)) {
        reply_error(api, rep, 400, 3, "listOptions.limit: not a non-negative integer");
        return;
    }
    if (cont && *cont) {
        char *end;
        offset = strtol(cont, &end, 10);
        if (*end || offset < 0) {
            reply_error(api, rep, 400, 3, "listOptions.continue: not a continue token of this server");
            return;
        }
    }
    sim_persona_catch_up_all(api);
    size_t plen = strlen(ns);
    sim_buf *b = &api->reply;
    sim_buf_reset(b);
    int rc = sim_buf_printf(b, "{\"metadata\":{\"resourceVersion\":\"%llu\"", (unsigned long long)(1000 + api->stats.requests));
    long seen = 0, shown = 0, more = 0;
    /* items oldest first, as the Kubernetes API lists by name order of creation here */
    int opened = 0;
    for (const sim_record *r = api->store.by_id; !rc && r; r = r->hh.next) {
        if (!r->run || strncmp(r->id, ns, plen) != 0 || r->id[plen] != '/') continue;
        if (seen++ < offset) continue;
        if (limit && shown == limit) {
            more = 1;
            break;
        }
        if (!opened) {
            rc = sim_buf_printf(b, "},\"items\":[");
            opened = 1;
        } else {
            rc = sim_buf_put(b, ",", 1);
        }
        if (!rc) rc = render(b, r);
        shown++;
    }
    if (!rc && !opened) rc = sim_buf_puts(b, "},\"items\":[");
    if (!rc) rc = sim_buf_puts(b, "]");
    if (!rc && more) {
        /* the continue token sits in the list's metadata: rewrite it there */
        char tok[64];
        snprintf(tok, sizeof tok, ",\"continue\":\"%ld\"", offset + shown);
        char *meta_end = strstr(b->data, "},\"items\":[");
        size_t at = (size_t)(meta_end - b->data), tl = strlen(tok);
        if (!sim_buf_put(b, tok, tl)) { /* make room, then move the tail */
            memmove(b->data + at + tl, b->data + at, b->len - tl - at);
            memcpy(b->data + at, tok, tl);
        } else {
            rc = -1;
        }
    }
    if (!rc) rc = sim_buf_put(b, "}", 1);
    sim_persona_reply(api, rep, 200, rc);
}

static void handle(sim_api *api, const sim_request *req, sim_reply *rep)
{
    rep->content_type = "application/json";
    char key[400];
    int route = parse(req->path, key, sizeof key);
    int get = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
    if (!route || !get) {
        reply_error(api, rep, 404, 5, "Not Found");
        return;
    }
    if (route == 1) {
        list(api, req, rep, key);
        return;
    }
    sim_record *rec;
    int rc = sim_persona_run(api, key, plan, &rec);
    if (rc == SIM_RUN_EVICTED) {
        char msg[512];
        snprintf(msg, sizeof msg, "workflows.argoproj.io \"%s\" not found", strchr(key, '/') + 1);
        reply_error(api, rep, 404, 5, msg);
    } else if (rc != SIM_RUN_OK) {
        reply_error(api, rep, 503, 14, "simulator: store full (--max-workflows) or out of memory");
    } else {
        sim_buf_reset(&api->reply);
        sim_persona_reply(api, rep, 200, render(&api->reply, rec));
    }
}

static void new_key(ex_rng *rng, int64_t now_ns, char *buf, size_t len)
{
    static const char alnum[] = "bcdfghjklmnpqrstvwxz2456789";
    char sfx[6];
    for (int i = 0; i < 5; i++) sfx[i] = alnum[ex_rng_range(rng, 0, (int64_t)sizeof alnum - 1)];
    sfx[5] = '\0';
    (void)now_ns;
    snprintf(buf, len, "argo/ci-dag-%s", sfx);
}

const sim_persona sim_persona_argo = {
    .name = "argo-workflows",
    .summary = "Argo Workflows server API: workflows and their node graph",
    .example = "argo/ci-dag-x7k2p",
    .handle = handle,
    .faultable = faultable,
    .plan = plan,
    .new_key = new_key,
};
