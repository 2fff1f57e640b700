/* gh_read.c — a GitHub Actions run's expected span tree (gh_read.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "gh_read.h"

static const char *jstr(json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}

static int64_t jtime(json_t *o, const char *k) { return tk_time(json_string_value(json_object_get(o, k))); }

/* GitHub: conclusion → span status (success/neutral OK, skipped unset, the rest ERROR). */
static int gh_code(const char *conclusion)
{
    if (!strcmp(conclusion, "success") || !strcmp(conclusion, "neutral")) return 1;
    return strcmp(conclusion, "skipped") == 0 ? 0 : 2;
}

/* The run and its jobs (every attempt) and steps, as docs/sources.md maps them. */
void gh_read_run(const run *r, const char *key, tk_tree *t, th_resp *first)
{
    char path[512];
    tk_init(t, "github-actions", key);
    char owner[128], repo[128], id[64];
    assert_int_equal(sscanf(key, "%127[^/]/%127[^/]/%63s", owner, repo, id), 3);
    snprintf(path, sizeof path, "/repos/%s/%s/actions/runs/%s", owner, repo, id);
    json_t *wr = run_get_json(r, path, first);
    assert_string_equal(jstr(wr, "status"), "completed");
    const char *concl = jstr(wr, "conclusion");
    snprintf(t->root.name, sizeof t->root.name, "%s", jstr(wr, "name"));
    t->root.start = jtime(wr, "created_at");
    t->root.end = jtime(wr, "updated_at");
    t->root.code = gh_code(concl);
    snprintf(t->root.message, sizeof t->root.message, "concluded %s", concl);
    snprintf(t->root.word, sizeof t->root.word, "%s", concl);
    snprintf(path, sizeof path, "/repos/%s/%s/actions/runs/%s/jobs?filter=all&per_page=100", owner, repo, id);
    json_t *jobs = run_get_json(r, path, NULL);
    size_t i, k;
    json_t *job, *step;
    assert_true(json_array_size(json_object_get(jobs, "jobs")) >= 5);
    json_array_foreach(json_object_get(jobs, "jobs"), i, job) {
        long long jid = json_integer_value(json_object_get(job, "id"));
        long attempt = (long)json_integer_value(json_object_get(job, "run_attempt"));
        json_t *steps = json_object_get(job, "steps");
        tk_node *n = tk_add(t);
        snprintf(n->key, sizeof n->key, "job/%lld", jid);
        if (attempt > 1) snprintf(n->name, sizeof n->name, "%s (attempt %ld)", jstr(job, "name"), attempt);
        else snprintf(n->name, sizeof n->name, "%s", jstr(job, "name"));
        n->start = jtime(job, "created_at");
        n->end = jtime(job, "completed_at");
        n->code = gh_code(jstr(job, "conclusion"));
        snprintf(n->word, sizeof n->word, "%s", jstr(job, "conclusion"));
        snprintf(n->message, sizeof n->message, "concluded %s", jstr(job, "conclusion"));
        char jkey[64];
        snprintf(jkey, sizeof jkey, "job/%lld", jid);
        if (json_array_size(steps) > 0) { /* the wait for a runner */
            tk_node *q = tk_add(t);
            snprintf(q->key, sizeof q->key, "queued/%lld", jid);
            snprintf(q->parent, sizeof q->parent, "%s", jkey);
            snprintf(q->name, sizeof q->name, "queued");
            q->start = jtime(job, "created_at");
            q->end = jtime(job, "started_at");
            q->code = 1;
            snprintf(q->word, sizeof q->word, "started");
        }
        json_array_foreach(steps, k, step) {
            tk_node *s = tk_add(t);
            snprintf(s->key, sizeof s->key, "step/%lld/%lld", jid, (long long)json_integer_value(json_object_get(step, "number")));
            snprintf(s->parent, sizeof s->parent, "%s", jkey);
            snprintf(s->name, sizeof s->name, "%s", jstr(step, "name"));
            s->start = jtime(step, "started_at");
            s->end = jtime(step, "completed_at");
            s->code = gh_code(jstr(step, "conclusion"));
            snprintf(s->message, sizeof s->message, "concluded %s", jstr(step, "conclusion"));
            snprintf(s->word, sizeof s->word, "%s", jstr(step, "conclusion"));
        }
    }
    json_decref(jobs);
    json_decref(wr);
}

