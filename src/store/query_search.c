/* query_search.c — GET /api/search: TraceQL (q=) and logfmt tags (tags=)
 * over the traces of a time range, answered as Tempo's SearchResponse
 * JSON. Traces are visited newest first and the scan
 * stops at `limit` matches. When the query's matches must have some
 * status (`{status = error}`, `{status != ok && name = "x"}`:
 * tql_span_statuses), the scan passes over the traces whose stored
 * statuses have none of them without reading their spans (the status
 * engine); the traces it reads are evaluated as in the full scan, so the
 * answer is the same. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/duration.h"
#include "core/mem.h"
#include "store/query_int.h"

/* What Tempo shows for a trace whose root span has not arrived. */
#define NO_ROOT "<root span not yet received>"

/* ---- logfmt tags -------------------------------------------------------- */

static int tags_error(sq_tags *out, char *err, size_t errlen, size_t pos, const char *what)
{
    snprintf(err, errlen, "position %zu: %s", pos, what);
    sq_tags_free(out);
    return -1;
}

/* A quoted value at s[*i] (the quote); decoded into a new string. */
static char *quoted_value(const char *s, size_t *i)
{
    size_t start = *i + 1, j = start;
    char *v = ex_malloc(strlen(s + start) + 1);
    if (!v) return NULL;
    size_t o = 0;
    while (s[j] && s[j] != '"') {
        if (s[j] == '\\' && (s[j + 1] == '"' || s[j + 1] == '\\')) j++;
        v[o++] = s[j++];
    }
    if (s[j] != '"') {
        ex_free(v);
        return NULL;
    }
    v[o] = '\0';
    *i = j + 1;
    return v;
}

int sq_tags_parse(const char *s, sq_tags *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    size_t i = 0;
    for (;;) {
        while (s[i] == ' ' || s[i] == '\t') i++;
        if (!s[i]) return 0;
        size_t kstart = i;
        while (s[i] && s[i] != '=' && s[i] != ' ' && s[i] != '\t' && s[i] != '"') i++;
        if (i == kstart || s[i] != '=')
            return tags_error(out, err, errlen, i == kstart ? kstart + 1 : i + 1,
                              i == kstart ? "expected a tag name" : "expected \"=\" after the tag name");
        if (out->n >= SQ_TAGS_MAX) return tags_error(out, err, errlen, kstart + 1, "more than 32 tags");
        sq_tag *grown = ex_realloc(out->items, (out->n + 1) * sizeof *grown);
        if (!grown) return tags_error(out, err, errlen, kstart + 1, "out of memory");
        out->items = grown;
        sq_tag *t = &out->items[out->n];
        t->key = ex_strndup(s + kstart, i - kstart);
        t->value = NULL;
        out->n++;
        size_t vstart = ++i;
        if (s[i] == '"') {
            t->value = quoted_value(s, &i);
            if (!t->value) return tags_error(out, err, errlen, vstart + 1, "unterminated quoted value");
        } else {
            while (s[i] && s[i] != ' ' && s[i] != '\t') i++;
            t->value = ex_strndup(s + vstart, i - vstart);
        }
        if (!t->key || !t->value) return tags_error(out, err, errlen, kstart + 1, "out of memory");
        if (s[i] && s[i] != ' ' && s[i] != '\t')
            return tags_error(out, err, errlen, i + 1, "expected a space after the quoted value");
    }
}

void sq_tags_free(sq_tags *t)
{
    for (size_t i = 0; i < t->n; i++) {
        ex_free(t->items[i].key);
        ex_free(t->items[i].value);
    }
    ex_free(t->items);
    memset(t, 0, sizeof *t);
}

/* A tag holds for a span when the span's name (key "name"), status (key
 * "status": ok, error, unset) or a span or resource attribute with that
 * key has exactly the value, numbers and booleans compared as text. */
static int attr_is(const tql_attr *a, size_t n, const sq_tag *tag)
{
    char buf[64];
    for (size_t i = 0; i < n; i++) {
        if (strcmp(a[i].key, tag->key) != 0) continue;
        if (a[i].val.type == TQL_STRING ? strcmp(a[i].val.v.s, tag->value) == 0
                                        : a[i].val.type != TQL_NIL &&
                                              strcmp(sq_value_text(&a[i].val, buf, sizeof buf), tag->value) == 0)
            return 1;
    }
    return 0;
}

static int tags_hold(const sq_tags *tags, const tql_span *s)
{
    for (size_t k = 0; k < tags->n; k++) {
        const sq_tag *t = &tags->items[k];
        int ok;
        if (strcmp(t->key, "name") == 0) ok = strcmp(s->name, t->value) == 0;
        else if (strcmp(t->key, "status") == 0) ok = strcmp(tql_status_name(s->status_code) ? tql_status_name(s->status_code) : "", t->value) == 0;
        else ok = attr_is(s->attrs, s->nattrs, t) || attr_is(s->res_attrs, s->nres_attrs, t);
        if (!ok) return 0;
    }
    return 1;
}

/* ---- the scan ------------------------------------------------------------- */

/* The engines (docs/query.md): auto picks status when it can answer. */
enum { ENGINE_AUTO, ENGINE_STATUS, ENGINE_SCAN };
_Static_assert(SDB_STATUS_BIT(0) == 1 && SDB_STATUS_BIT(1) == 2 && SDB_STATUS_BIT(2) == 4 && SDB_STATUS_BIT(3) == 8 &&
                   SDB_STATUS_ALL == TQL_STATUSES_ALL,
               "tql_span_statuses gives the store's status bits");

typedef struct search {
    sq_ctx *ctx;
    const char *tenant;
    tql_query *q;            /* owned */
    int engine;              /* asked for (engine=), then the one that answered */
    sq_tags tags;            /* owned */
    size_t limit, spss;
    sq_buf out;              /* the "traces" array items */
    size_t found;
    uint64_t inspected_traces, inspected_bytes;
    sq_work work;            /* against the context's limits */
    char error[512];         /* set when the scan fails */
} search;

static void render_spanset(search *s, const tql_trace *t, const tql_spanset *set)
{
    sq_buf *b = &s->out;
    tql_attr attrs[64];
    sqb_lit(b, "{\"spans\":[");
    for (size_t k = 0; k < set->nspans && k < s->spss; k++) {
        size_t i = set->spans[k];
        const tql_span *sp = &t->spans[i];
        if (k) sqb_raw(b, ",", 1);
        sqb_lit(b, "{\"spanID\":");
        sqb_hex(b, sp->span_id, 8);
        sqb_lit(b, ",\"name\":");
        sqb_jstr(b, sp->name);
        sqb_printf(b, ",\"startTimeUnixNano\":\"%" PRId64 "\",\"durationNanos\":\"%" PRId64 "\"", sp->start_ns,
                   sp->end_ns > sp->start_ns ? sp->end_ns - sp->start_ns : 0);
        size_t na = tql_span_attrs(s->q, t, i, attrs, sizeof attrs / sizeof attrs[0]);
        if (na > sizeof attrs / sizeof attrs[0]) na = sizeof attrs / sizeof attrs[0];
        if (na) {
            sqb_lit(b, ",\"attributes\":[");
            for (size_t a = 0; a < na; a++) {
                if (a) sqb_raw(b, ",", 1);
                sq_attr_json(b, &attrs[a]);
            }
            sqb_lit(b, "]");
        }
        sqb_lit(b, "}");
    }
    sqb_printf(b, "],\"matched\":%zu", set->nspans);
    /* by() groups and aggregate values, as Tempo adds them to a spanset. */
    if (set->nattrs) {
        sqb_lit(b, ",\"attributes\":[");
        for (size_t a = 0; a < set->nattrs; a++) {
            if (a) sqb_raw(b, ",", 1);
            sq_attr_json(b, &set->attrs[a]);
        }
        sqb_lit(b, "]");
    }
    sqb_lit(b, "}");
}

static void render_trace(search *s, const sdb_trace_summary *sum, const tql_trace *t, const tql_result *r)
{
    sq_buf *b = &s->out;
    if (s->found) sqb_raw(b, ",", 1);
    sqb_lit(b, "{\"traceID\":");
    sqb_hex(b, sum->trace_id, 16);
    sqb_lit(b, ",\"rootServiceName\":");
    sqb_jstr(b, sum->root_service ? sum->root_service : NO_ROOT);
    if (sum->root_name) {
        sqb_lit(b, ",\"rootTraceName\":");
        sqb_jstr(b, sum->root_name);
    }
    int64_t dur = sum->end_ns > sum->start_ns ? sum->end_ns - sum->start_ns : 0;
    sqb_printf(b, ",\"startTimeUnixNano\":\"%" PRId64 "\",\"durationMs\":%" PRId64, sum->start_ns,
               dur / INT64_C(1000000));
    /* One spanset per trace, or one per by() group; the spansets tags=
     * emptied are left out. Tempo also fills the deprecated singular
     * spanSet with the first one. */
    sqb_lit(b, ",\"spanSets\":[");
    const tql_spanset *first = NULL;
    for (size_t k = 0; k < r->nsets; k++) {
        if (!r->sets[k].nspans) continue;
        if (first) sqb_raw(b, ",", 1);
        else first = &r->sets[k];
        render_spanset(s, t, &r->sets[k]);
    }
    sqb_lit(b, "],\"spanSet\":");
    render_spanset(s, t, first);
    sqb_lit(b, "}");
}

/* Keep the matched spans that also satisfy tags=; returns how many
 * spansets still have spans. */
static size_t apply_tags(const sq_tags *tags, const tql_trace *t, tql_result *r)
{
    size_t sets = 0;
    for (size_t k = 0; k < r->nsets; k++) {
        tql_spanset *ss = &r->sets[k];
        size_t kept = 0;
        for (size_t i = 0; i < ss->nspans; i++)
            if (!tags->n || tags_hold(tags, &t->spans[ss->spans[i]])) ss->spans[kept++] = ss->spans[i];
        ss->nspans = kept;
        sets += kept > 0;
    }
    return sets;
}

static int scan_cb(void *arg, const sdb_trace_summary *sum)
{
    search *s = arg;
    sdb_trace *t = NULL;
    int rc = sdb_trace_get(s->ctx->db, s->tenant, sum->trace_id, &t);
    if (rc < 0) {
        snprintf(s->error, sizeof s->error, "reading a trace: %s", sdb_errmsg(s->ctx->db));
        return -1;
    }
    if (rc == 0) return 0; /* removed by retention since the summary was read */
    s->inspected_traces++;
    uint64_t bytes = protobuf_c_message_get_packed_size(&t->data->base);
    s->inspected_bytes += bytes;
    sq_view v;
    tql_result r = {0};
    int result = -1;
    if (sq_view_build(&v, t) < 0 || tql_eval_spansets(s->q, &v.trace, &r) < 0) {
        snprintf(s->error, sizeof s->error, "out of memory evaluating a trace");
        goto out;
    }
    if (apply_tags(&s->tags, &v.trace, &r) > 0) {
        render_trace(s, sum, &v.trace, &r);
        s->found++;
    }
    if (s->out.failed) {
        snprintf(s->error, sizeof s->error, s->out.failed == SQB_TOOBIG ? "response larger than %u bytes"
                                                                        : "out of memory building the response (%u)",
                 SQ_RESPONSE_MAX);
        goto out;
    }
    result = s->found >= s->limit || sq_work_add(&s->work, bytes, ex_mono_ns()) ? 1 : 0;
out:
    tql_result_free(&r);
    sq_view_free(&v);
    sdb_trace_free(t);
    return result;
}

/* ---- parameters ------------------------------------------------------------- */

int sq_count_arg(sq_ctx *ctx, const sq_request *req, ex_http_resp *resp, const char *name, size_t def,
                     size_t max, size_t *out)
{
    const char *v = sq_arg(req, name);
    *out = def;
    if (!v || !*v) return 0;
    char *end = NULL;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || end == v || *end || n < 0 || (unsigned long long)n > max) {
        sq_reply_text(ctx, resp, 400, "%s=\"%.100s\": expected an integer from 0 to %zu (0: the default, %zu)", name,
                      v, max, def);
        return -1;
    }
    if (n > 0) *out = (size_t)n;
    return 0;
}

static int duration_arg(sq_ctx *ctx, const sq_request *req, ex_http_resp *resp, const char *name, int64_t *ns)
{
    const char *v = sq_arg(req, name);
    const char *why = NULL;
    *ns = 0;
    if (!v || !*v) return 0;
    if (ex_duration_parse(v, ns, &why) < 0) {
        sq_reply_text(ctx, resp, 400, "%s=\"%.100s\": %s (a duration such as 100ms, 1.5s or 2m)", name, v, why);
        return -1;
    }
    return 0;
}

/* Read every parameter into s and qry; -1 after a 400 answer. */
static int search_params(search *s, const sq_request *req, ex_http_resp *resp, sdb_trace_query *qry)
{
    sq_ctx *ctx = s->ctx;
    char err[512];
    const char *q = sq_arg(req, "q");
    if (!q || !*q) q = "{}";
    if (tql_parse(q, &s->q, err, sizeof err) < 0) {
        sq_reply_text(ctx, resp, 400, "invalid TraceQL query q=\"%.200s\": %s", q, err);
        return -1;
    }
    const char *engine = sq_arg(req, "engine");
    if (engine && *engine) {
        static const char *const names[] = {"auto", "status", "scan"};
        for (s->engine = 0; s->engine < 3 && strcmp(engine, names[s->engine]) != 0;) s->engine++;
        if (s->engine == 3) {
            sq_reply_text(ctx, resp, 400, "engine=\"%.100s\": expected auto, status or scan", engine);
            return -1;
        }
    }
    const char *tags = sq_arg(req, "tags");
    if (tags && sq_tags_parse(tags, &s->tags, err, sizeof err) < 0) {
        sq_reply_text(ctx, resp, 400, "tags=\"%.200s\": %s", tags, err);
        return -1;
    }
    if (sq_count_arg(ctx, req, resp, "limit", SQ_LIMIT_DEFAULT, SQ_LIMIT_MAX, &s->limit) < 0 ||
        sq_count_arg(ctx, req, resp, "spss", SQ_SPSS_DEFAULT, SQ_SPSS_MAX, &s->spss) < 0 ||
        sq_time_arg(ctx, req, resp, "start", 0, &qry->start_ns) < 0 ||
        sq_time_arg(ctx, req, resp, "end", 1, &qry->end_ns) < 0 ||
        duration_arg(ctx, req, resp, "minDuration", &qry->min_duration_ns) < 0 ||
        duration_arg(ctx, req, resp, "maxDuration", &qry->max_duration_ns) < 0)
        return -1;
    if (qry->start_ns && qry->end_ns && qry->end_ns < qry->start_ns) {
        sq_reply_text(ctx, resp, 400, "end=%s is before start=%s", sq_arg(req, "end"), sq_arg(req, "start"));
        return -1;
    }
    if (qry->min_duration_ns && qry->max_duration_ns && qry->max_duration_ns < qry->min_duration_ns) {
        sq_reply_text(ctx, resp, 400, "maxDuration=%s is below minDuration=%s", sq_arg(req, "maxDuration"),
                      sq_arg(req, "minDuration"));
        return -1;
    }
    return 0;
}

/* The scan, passing over the traces without a status q's matches may
 * have unless engine=scan; s->engine says which engine answered. */
static long run(search *s, sdb_trace_query *qry)
{
    unsigned statuses = s->engine == ENGINE_SCAN ? TQL_STATUSES_ALL : tql_span_statuses(s->q);
    s->engine = statuses == TQL_STATUSES_ALL ? ENGINE_SCAN : ENGINE_STATUS;
    if (!statuses) return 0; /* no span can match */
    qry->statuses = statuses;
    /* A required span attribute value (a workflow id, say) is looked up
     * through the store's per-chunk Bloom filters instead of a full scan. */
    const char *key, *value;
    return tql_required_span_eq(s->q, &key, &value)
               ? sdb_traces_by_attr(s->ctx->db, s->tenant, key, value, strlen(value), qry, scan_cb, s)
               : sdb_traces_scan(s->ctx->db, s->tenant, qry, scan_cb, s);
}

int sq_search(sq_ctx *ctx, const sq_request *req, const char *tenant, ex_http_resp *resp)
{
    search s = {.ctx = ctx, .tenant = tenant};
    sdb_trace_query qry = {0};
    sqb_init(&s.out, SQ_RESPONSE_MAX);
    if (search_params(&s, req, resp, &qry) < 0) goto out;
    ctx->stats.searches++;
    sq_work_start(&s.work, ctx, ex_mono_ns());
    long rc = run(&s, &qry);
    ctx->stats.inspected += s.inspected_traces;
    if (rc < 0) {
        sq_reply_text(ctx, resp, 500, "search failed: %s", s.error[0] ? s.error : sdb_errmsg(ctx->db));
        goto out;
    }
    sq_buf b;
    sqb_init(&b, SQ_RESPONSE_MAX);
    sqb_lit(&b, "{\"traces\":[");
    if (s.out.len) sqb_raw(&b, s.out.p, s.out.len);
    if (s.out.failed) b.failed = s.out.failed;
    sqb_printf(&b, "],\"metrics\":{\"inspectedTraces\":%" PRIu64 ",\"inspectedBytes\":\"%" PRIu64 "\"}}",
               s.inspected_traces, s.inspected_bytes);
    sq_reply_buf(ctx, resp, &b, "application/json");
    if (resp->status == 200) {
        sq_work_report(ctx, &s.work, resp);
        ex_http_resp_header(resp, "X-Extrace-Engine", s.engine == ENGINE_STATUS ? "status" : "scan");
    }
out:
    sqb_free(&s.out);
    sq_tags_free(&s.tags);
    tql_free(s.q);
    return 1;
}
