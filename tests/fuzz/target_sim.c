/* target_sim.c — the simulator's request routing, seed and personas
 * (src/sim/routes.c, persona_*.c): paths, query arguments and
 * If-None-Match come from the network. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/persona.h"
#include "targets.h"

typedef struct fz_query {
    const char *key[8];
    const char *val[8];
    int n;
} fz_query;

static const char *fz_query_get(void *ctx, const char *key)
{
    fz_query *q = ctx;
    for (int i = 0; i < q->n; i++)
        if (strcmp(q->key[i], key) == 0) return q->val[i];
    return NULL;
}

static const char *fz_header(void *ctx, const char *name)
{
    return strcmp(name, "If-None-Match") == 0 ? ctx : strcmp(name, "Host") == 0 ? "fuzz:1" : NULL;
}

/* One request; the reply must be well formed. */
static void fz_answer(sim_api *api, const sim_request *req)
{
    sim_reply rep;
    sim_api_handle(api, req, &rep);
    if (rep.status < 200 || rep.status > 599 || !rep.body || rep.body_len > SIM_REPLY_MAX ||
        rep.nheaders > SIM_REPLY_HEADERS) {
        fprintf(stderr, "sim: bad reply to %s: status %d\n", req->path, rep.status);
        abort();
    }
    if (rep.status == 304) return;
    json_error_t err;
    json_t *doc = json_loadb(rep.body, rep.body_len, JSON_REJECT_DUPLICATES, &err);
    if (!doc) {
        fprintf(stderr, "sim: reply %d to %s is not JSON: %s\n", rep.status, req->path, err.text);
        abort();
    }
    json_decref(doc);
}

int fuzz_run_sim(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    static const char *const sources[] = {"seed", "github-actions", "argo-workflows", "airflow"};
    char *text = malloc(size);
    if (!text) return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    /* lines: path, then query arguments k=v, the last one "inm=" is If-None-Match */
    char *save = NULL, *path = strtok_r(text, "\n", &save);
    fz_query q = {0};
    const char *inm = NULL;
    for (char *line; q.n < 8 && (line = strtok_r(NULL, "\n", &save));) {
        char *eq = strchr(line, '=');
        if (!eq) continue;
        *eq = '\0';
        if (strcmp(line, "inm") == 0) inm = eq + 1;
        else q.key[q.n] = line, q.val[q.n++] = eq + 1;
    }
    ex_clock clock;
    ex_rng rng;
    ex_clock_init_fake(&clock, INT64_C(1714557600000000000));
    ex_rng_seed(&rng, data[0]);
    sim_env env = {&clock, &rng, 0.3, 1.0, (data[0] & 4) ? SIM_ADVANCE_ON_TIME : SIM_ADVANCE_ON_POLL};
    sim_api api;
    sim_api_init(&api, &env, 4, 4);
    api.persona = sim_persona_find(sources[data[0] % 4]);
    api.rate = (sim_ratelimit){.limit = (data[0] & 8) ? 2 : 0, .window_ns = 1000000000, .status = 403};
    sim_request req = {.method = (data[0] & 16) ? "HEAD" : "GET", .path = path ? path : "/", .query = fz_query_get,
                       .query_ctx = &q, .header = fz_header, .header_ctx = (void *)inm};
    fz_answer(&api, &req);
    ex_clock_advance(&clock, INT64_C(3600000000000));
    fz_answer(&api, &req);
    sim_api_destroy(&api);
    free(text);
    return 0;
}
