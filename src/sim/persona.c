#include "sim/persona.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <xxhash.h>

#include "core/log.h"
#include "core/mem.h"

static const sim_persona *const personas[] = {&sim_persona_github, &sim_persona_argo, &sim_persona_airflow};
#define NPERSONAS (sizeof personas / sizeof personas[0])

const sim_persona *sim_persona_find(const char *name)
{
    for (size_t i = 0; i < NPERSONAS; i++)
        if (strcmp(personas[i]->name, name) == 0) return personas[i];
    return NULL;
}

const char *sim_persona_names(void) { return "seed, github-actions, argo-workflows, airflow"; }

int sim_persona_check(const char *name, char *why, size_t whylen)
{
    if (strcmp(name, "seed") == 0 || sim_persona_find(name)) return 0;
    snprintf(why, whylen, "must be one of %s", sim_persona_names());
    return -1;
}

int sim_persona_run(sim_api *api, const char *key, sim_plan_fn plan, sim_record **out)
{
    *out = NULL;
    sim_record *r = sim_store_find(&api->store, key);
    if (!r) {
        if (sim_store_was_evicted(&api->store, key)) return SIM_RUN_EVICTED;
        int rc = sim_store_add(&api->store, key, &api->env, &r);
        if (rc == SIM_STORE_FULL) return SIM_RUN_FULL;
        if (rc != SIM_STORE_OK) return SIM_RUN_NOMEM;
        if (!(r->run = plan(key, &api->env))) {
            sim_store_drop(&api->store, r);
            return SIM_RUN_NOMEM;
        }
        ex_debug("sim", "%s: run %s planned with %u nodes", api->persona ? api->persona->name : "?", key,
                 (unsigned)r->run->nnodes);
    }
    if (sim_run_catch_up(r->run, &api->env)) {
        sim_store_completed(&api->store, r);
        ex_debug("sim", "run %s completed", key);
    }
    *out = r;
    return SIM_RUN_OK;
}

void sim_persona_catch_up_all(sim_api *api)
{
    for (sim_record *r = api->store.by_id; r; r = r->hh.next)
        if (r->run && sim_run_catch_up(r->run, &api->env)) sim_store_completed(&api->store, r);
}

void sim_persona_reply(sim_api *api, sim_reply *rep, int status, int render_rc)
{
    static const char nomem[] = "{\"message\":\"simulator: reply too large or out of memory\"}";
    rep->status = status;
    rep->body = api->reply.data;
    rep->body_len = api->reply.len;
    if (render_rc || api->reply.overflow || !rep->body) {
        rep->status = 500;
        rep->body = nomem;
        rep->body_len = sizeof nomem - 1;
    }
}

/* 1 if the If-None-Match list names tag (weak comparison: W/ ignored). */
static int none_match(const char *list, const char *tag)
{
    const char *opaque = strncmp(tag, "W/", 2) == 0 ? tag + 2 : tag;
    size_t olen = strlen(opaque);
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',') p++;
        if (*p == '*') return 1;
        if (strncmp(p, "W/", 2) == 0) p += 2;
        const char *end = p;
        while (*end && *end != ',') end++;
        size_t n = (size_t)(end - p);
        while (n && (p[n - 1] == ' ' || p[n - 1] == '\t')) n--;
        if (n == olen && memcmp(p, opaque, n) == 0) return 1;
        p = end;
    }
    return 0;
}

int sim_persona_etag(sim_api *api, const sim_request *req, sim_reply *rep)
{
    if (rep->status != 200 || !rep->body) return 0;
    XXH128_hash_t h = XXH3_128bits(rep->body, rep->body_len);
    if (sim_reply_header(rep, "ETag", "W/\"%016llx%016llx\"", (unsigned long long)h.high64,
                         (unsigned long long)h.low64))
        return 0;
    const char *inm = req->header ? req->header(req->header_ctx, "If-None-Match") : NULL;
    if (!inm || !none_match(inm, sim_reply_header_get(rep, "ETag"))) return 0;
    rep->status = 304;
    rep->body = "";
    rep->body_len = 0;
    api->not_modified++;
    return 1;
}

int sim_path_split(const char *path, const char **seg, size_t *len, int max)
{
    int n = 0;
    const char *p = path;
    while (*p) {
        while (*p == '/') p++;
        if (!*p) break;
        const char *e = strchr(p, '/');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (n == max) return max + 1;
        seg[n] = p;
        len[n++] = l;
        p += l;
    }
    return n;
}

int sim_seg_is(const char *s, size_t n, const char *t) { return strlen(t) == n && memcmp(s, t, n) == 0; }

int sim_query_long(const sim_request *req, const char *key, long def, long min, long max, long *out)
{
    const char *v = req->query ? req->query(req->query_ctx, key) : NULL;
    *out = def;
    if (!v) return 0;
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (!*v || *end || errno || x < min || x > max) return -1;
    *out = x;
    return 0;
}

void sim_request_base(const sim_request *req, char *buf, size_t len)
{
    const char *host = req->header ? req->header(req->header_ctx, "Host") : NULL;
    int ok = host && *host && strlen(host) < 256;
    for (const char *p = host; ok && *p; p++)
        if (*p <= ' ' || *p == '/' || *p == '"' || *p == '<' || *p == '>' || *p == '\\' || *p >= 0x7f) ok = 0;
    snprintf(buf, len, "http://%s", ok ? host : "localhost");
}

char *sim_format_time(int64_t ns, sim_time_style style, char *buf)
{
    time_t secs = (time_t)(ns / EX_NS_PER_SEC);
    int64_t frac = ns % EX_NS_PER_SEC;
    struct tm tm;
    gmtime_r(&secs, &tm);
    int n = (int)strftime(buf, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    if (style == SIM_TIME_OFFSET) {
        if (frac) n += snprintf(buf + n, 16, ".%06lld", (long long)(frac / 1000));
        snprintf(buf + n, 8, "+00:00");
    } else {
        if (frac) {
            n += snprintf(buf + n, 16, ".%09lld", (long long)frac);
            while (buf[n - 1] == '0') n--; /* the shortest exact fraction */
        }
        snprintf(buf + n, 8, "Z");
    }
    return buf;
}

int sim_put_time(sim_buf *b, int64_t ns, sim_time_style style)
{
    if (ns == SIM_NO_TIME) return sim_buf_puts(b, "null");
    char t[48];
    return sim_buf_printf(b, "\"%s\"", sim_format_time(ns, style, t));
}

int sim_put_strn(sim_buf *b, const char *s, size_t n)
{
    if (sim_buf_put(b, "\"", 1)) return -1;
    size_t i = 0;
    while (i < n) {
        size_t run = i;
        while (run < n && (unsigned char)s[run] >= 0x20 && s[run] != '"' && s[run] != '\\') run++;
        if (run > i && sim_buf_put(b, s + i, run - i)) return -1;
        if ((i = run) >= n) break;
        unsigned char c = (unsigned char)s[i++];
        int rc = c == '"' ? sim_buf_put(b, "\\\"", 2) : c == '\\' ? sim_buf_put(b, "\\\\", 2)
               : c == '\n' ? sim_buf_put(b, "\\n", 2) : sim_buf_printf(b, "\\u%04x", c);
        if (rc) return -1;
    }
    return sim_buf_put(b, "\"", 1);
}

int sim_put_str(sim_buf *b, const char *s) { return sim_put_strn(b, s, strlen(s)); }

/* Start a new window when the current one has ended. */
static void rate_roll(sim_ratelimit *rl, int64_t now)
{
    if (rl->reset_ns == 0 || now >= rl->reset_ns) {
        rl->used = 0;
        rl->reset_ns = now + rl->window_ns;
    }
}

static void rate_headers(const sim_ratelimit *rl, sim_reply *rep)
{
    int64_t remaining = rl->limit - rl->used;
    sim_reply_header(rep, "X-RateLimit-Limit", "%lld", (long long)rl->limit);
    sim_reply_header(rep, "X-RateLimit-Remaining", "%lld", (long long)(remaining > 0 ? remaining : 0));
    sim_reply_header(rep, "X-RateLimit-Reset", "%lld",
                     (long long)((rl->reset_ns + EX_NS_PER_SEC - 1) / EX_NS_PER_SEC));
    sim_reply_header(rep, "X-RateLimit-Used", "%lld", (long long)rl->used);
    sim_reply_header(rep, "X-RateLimit-Resource", "core");
}

int sim_rate_check(sim_api *api, sim_reply *rep, const char *refusal_body)
{
    sim_ratelimit *rl = &api->rate;
    if (rl->limit <= 0) return 0;
    rate_roll(rl, ex_clock_now(api->env.clock));
    if (rl->used < rl->limit) return 0;
    rl->refused++;
    rep->status = rl->status ? rl->status : 403;
    rep->body = refusal_body;
    rep->body_len = strlen(refusal_body);
    rate_headers(rl, rep);
    return -1;
}

void sim_rate_account(sim_api *api, sim_reply *rep)
{
    sim_ratelimit *rl = &api->rate;
    if (rl->limit <= 0) return;
    if (rep->status != 304) rl->used++;
    rate_headers(rl, rep);
}
