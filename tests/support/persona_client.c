#include "persona_client.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/iso8601.h"

typedef struct query_ctx {
    char buf[1024];
    const char *key[16];
    const char *val[16];
    int n;
} query_ctx;

static query_ctx qctx;

static const char *query(void *ctx, const char *key)
{
    query_ctx *q = ctx;
    for (int i = 0; i < q->n; i++)
        if (strcmp(q->key[i], key) == 0) return q->val[i];
    return NULL;
}

static const char *header(void *ctx, const char *name)
{
    pc *c = ctx;
    if (strcasecmp(name, "If-None-Match") == 0) return c->if_none_match;
    if (strcasecmp(name, "Host") == 0) return c->host ? c->host : "127.0.0.1:5146";
    return NULL;
}

void pc_init(pc *c, const sim_persona *p, uint64_t seed, double failure_rate, sim_advance advance)
{
    memset(c, 0, sizeof *c);
    ex_clock_init_fake(&c->clock, PC_T0);
    ex_rng_seed(&c->rng, seed);
    sim_env env = {&c->clock, &c->rng, failure_rate, 1.0, advance};
    sim_api_init(&c->api, &env, 1000, 1000);
    c->api.persona = p;
}

void pc_destroy(pc *c) { sim_api_destroy(&c->api); }

int pc_get(pc *c, const char *path, const char *q)
{
    memset(&qctx, 0, sizeof qctx);
    if (q) {
        snprintf(qctx.buf, sizeof qctx.buf, "%s", q);
        for (char *save, *kv = strtok_r(qctx.buf, "&", &save); kv && qctx.n < 16; kv = strtok_r(NULL, "&", &save)) {
            char *eq = strchr(kv, '=');
            if (!eq) continue;
            *eq = '\0';
            qctx.key[qctx.n] = kv;
            qctx.val[qctx.n++] = eq + 1;
        }
    }
    sim_request req = {.method = "GET", .path = path, .query = query, .query_ctx = &qctx, .header = header,
                       .header_ctx = c};
    sim_api_handle(&c->api, &req, &c->rep);
    assert_non_null(c->rep.body);
    memcpy(c->body, c->rep.body, c->rep.body_len);
    c->body[c->rep.body_len] = '\0';
    return c->rep.status;
}

json_t *pc_json(pc *c)
{
    json_error_t err;
    json_t *doc = json_loads(c->body, 0, &err);
    if (!doc) fail_msg("reply is not JSON: %s: %.300s", err.text, c->body);
    return doc;
}

const char *pc_header(pc *c, const char *name) { return sim_reply_header_get(&c->rep, name); }

int64_t pc_time(json_t *obj, const char *member)
{
    json_t *v = json_object_get(obj, member);
    if (!v) fail_msg("member %s missing", member);
    if (json_is_null(v)) return SIM_NO_TIME;
    if (!json_is_string(v)) fail_msg("member %s is not a string", member);
    int64_t ns;
    const char *why;
    if (ex_iso_parse(json_string_value(v), json_string_length(v), &ns, &why))
        fail_msg("member %s = %s: %s", member, json_string_value(v), why);
    return ns;
}

void pc_sleep(pc *c, int64_t ns) { ex_clock_advance(&c->clock, ns); }
