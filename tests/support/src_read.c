/* src_read.c — Argo Workflows and Airflow final answers as span trees (src_read.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "src_read.h"

static const char *jstr(json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}

static int64_t jtime(json_t *o, const char *k) { return tk_time(json_string_value(json_object_get(o, k))); }

/* Argo: phase → span status. */
static int argo_code(const char *phase)
{
    if (!strcmp(phase, "Succeeded")) return 1;
    return !strcmp(phase, "Failed") || !strcmp(phase, "Error") ? 2 : 0;
}

/* The workflow and its node graph: a node's parent is the Retry/StepGroup/TaskGroup listing it in
 * children, else its boundaryID unless that is the workflow's own node (then the root). */
void read_argo(const run *r, const char *key, tk_tree *t)
{
    char path[512];
    tk_init(t, "argo-workflows", key);
    snprintf(path, sizeof path, "/api/v1/workflows/%s", key);
    json_t *wf = run_get_json(r, path, NULL);
    json_t *meta = json_object_get(wf, "metadata"), *st = json_object_get(wf, "status");
    const char *phase = jstr(st, "phase"), *self = jstr(meta, "name");
    assert_true(!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed") || !strcmp(phase, "Error"));
    const char *gen = jstr(meta, "generateName");
    size_t glen = strlen(gen);
    if (glen && gen[glen - 1] == '-') glen--;
    snprintf(t->root.name, sizeof t->root.name, "%.*s", (int)glen, glen ? gen : self);
    t->root.start = jtime(meta, "creationTimestamp");
    t->root.end = jtime(st, "finishedAt");
    t->root.code = argo_code(phase);
    if (json_string_value(json_object_get(st, "message")))
        snprintf(t->root.message, sizeof t->root.message, "%s", jstr(st, "message"));
    else snprintf(t->root.message, sizeof t->root.message, "workflow %s", phase);
    snprintf(t->root.word, sizeof t->root.word, "%s", phase);
    json_t *nodes = json_object_get(st, "nodes"), *node, *g;
    const char *id, *gid;
    json_object_foreach(nodes, id, node) {
        if (!strcmp(id, self)) continue;
        tk_node *n = tk_add(t);
        snprintf(n->key, sizeof n->key, "%s", id);
        const char *b = jstr(node, "boundaryID");
        if (b[0] && strcmp(b, self) != 0) snprintf(n->parent, sizeof n->parent, "%s", b);
        json_object_foreach(nodes, gid, g) {
            const char *type = jstr(g, "type");
            if (strcmp(type, "Retry") && strcmp(type, "StepGroup") && strcmp(type, "TaskGroup")) continue;
            size_t k;
            json_t *c;
            json_array_foreach(json_object_get(g, "children"), k, c) {
                if (!strcmp(json_string_value(c), id)) snprintf(n->parent, sizeof n->parent, "%s", gid);
            }
        }
        const char *dn = jstr(node, "displayName");
        snprintf(n->name, sizeof n->name, "%s", dn[0] ? dn : jstr(node, "name"));
        const char *ph = jstr(node, "phase");
        n->start = jtime(node, "startedAt");
        n->end = jtime(node, "finishedAt");
        n->code = argo_code(ph);
        if (json_string_value(json_object_get(node, "message")))
            snprintf(n->message, sizeof n->message, "%s", jstr(node, "message"));
        else snprintf(n->message, sizeof n->message, "node %s", ph);
        snprintf(n->word, sizeof n->word, "%s", ph);
    }
    json_decref(wf);
}

/* Airflow: a task instance's state → span status. */
static int af_code(const char *state)
{
    if (!strcmp(state, "success")) return 1;
    return !strcmp(state, "failed") || !strcmp(state, "removed") ? 2 : 0;
}

static const char *af_name(json_t *ti)
{
    const char *d = jstr(ti, "task_display_name");
    return d[0] ? d : jstr(ti, "task_id");
}

/* One task instance as a node. A retried instance's start is its last
 * try's, while its span starts at its first: not compared then. */
static tk_node *af_node(tk_tree *t, json_t *ti, const char *parent)
{
    tk_node *n = tk_add(t);
    long long idx = (long long)json_integer_value(json_object_get(ti, "map_index"));
    const char *state = json_string_value(json_object_get(ti, "state"));
    state = state ? state : "none";
    snprintf(n->parent, sizeof n->parent, "%s", parent);
    if (idx >= 0) {
        snprintf(n->key, sizeof n->key, "ti/%s/%lld", jstr(ti, "task_id"), idx);
        const char *rendered = json_string_value(json_object_get(ti, "rendered_map_index"));
        if (rendered) snprintf(n->name, sizeof n->name, "%s[%s]", af_name(ti), rendered);
        else snprintf(n->name, sizeof n->name, "%s[%lld]", af_name(ti), idx);
    } else {
        snprintf(n->key, sizeof n->key, "ti/%s", jstr(ti, "task_id"));
        snprintf(n->name, sizeof n->name, "%s", af_name(ti));
    }
    long long tries = (long long)json_integer_value(json_object_get(ti, "try_number"));
    n->start = tries > 1 ? TK_NO_TIME : jtime(ti, "start_date");
    n->end = jtime(ti, "end_date");
    n->code = af_code(state);
    if (!strcmp(state, "failed"))
        snprintf(n->message, sizeof n->message, "task failed (try %lld of %lld)", tries,
                 (long long)json_integer_value(json_object_get(ti, "max_tries")) + 1);
    else snprintf(n->message, sizeof n->message, "stage cancelled");
    snprintf(n->word, sizeof n->word, "%s", state);
    return n;
}

/* The DAG run and its task instances; a mapped task is a node of its own
 * (state word "mapped") with one child per map index. */
void read_airflow(const run *r, const char *key, tk_tree *t)
{
    char path[700], dag[256], run_id[300];
    tk_init(t, "airflow", key);
    assert_int_equal(sscanf(key, "%255[^/]/%299s", dag, run_id), 2);
    snprintf(path, sizeof path, "/api/v1/dags/%s/dagRuns/%s", dag, run_id);
    json_t *dr = run_get_json(r, path, NULL);
    const char *state = jstr(dr, "state");
    assert_true(!strcmp(state, "success") || !strcmp(state, "failed"));
    snprintf(t->root.name, sizeof t->root.name, "%s", jstr(dr, "dag_id"));
    t->root.start = jtime(dr, "start_date");
    t->root.end = jtime(dr, "end_date");
    t->root.code = af_code(state);
    snprintf(t->root.message, sizeof t->root.message, "DAG run failed");
    snprintf(t->root.word, sizeof t->root.word, "%s", state);
    snprintf(path, sizeof path, "/api/v1/dags/%s/dagRuns/%s/taskInstances?limit=100", dag, run_id);
    json_t *tis = run_get_json(r, path, NULL), *ti;
    size_t i;
    json_array_foreach(json_object_get(tis, "task_instances"), i, ti) {
        if (json_integer_value(json_object_get(ti, "map_index")) < 0) {
            af_node(t, ti, "");
            continue;
        }
        char group[320];
        snprintf(group, sizeof group, "ti/%s", jstr(ti, "task_id"));
        tk_node *g = NULL;
        for (size_t k = 0; k < t->n && !g; k++)
            if (!strcmp(t->nodes[k].key, group)) g = &t->nodes[k];
        if (!g) {
            g = tk_add(t);
            snprintf(g->key, sizeof g->key, "%s", group);
            snprintf(g->name, sizeof g->name, "%s", jstr(ti, "task_id"));
            snprintf(g->word, sizeof g->word, "mapped");
            snprintf(g->message, sizeof g->message, "stage failed without an error message");
            g->code = -1; /* decided by its children below */
        }
        size_t gi = (size_t)(g - t->nodes);
        tk_node *kid = af_node(t, ti, group);
        g = &t->nodes[gi]; /* tk_add may have moved it */
        int64_t ks = jtime(ti, "start_date");
        if (ks != TK_NO_TIME && (g->start == TK_NO_TIME || ks < g->start)) g->start = ks;
        if (kid->end != TK_NO_TIME && (g->end == TK_NO_TIME || kid->end > g->end)) g->end = kid->end;
        /* error if any child failed, skipped if all were, ok otherwise */
        if (kid->code == 2) g->code = 2;
        else if (g->code == -1) g->code = kid->code == 0 ? -2 : 1;
        else if (g->code == -2 && kid->code == 1) g->code = 1;
    }
    for (size_t k = 0; k < t->n; k++)
        if (t->nodes[k].code < 0) t->nodes[k].code = t->nodes[k].code == -2 ? 0 : 1;
    json_decref(tis);
    json_decref(dr);
}

