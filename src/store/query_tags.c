/* query_tags.c — tag names and values for search builders (otlp-tempo.md
 * §4): GET /api/search/tags, /api/v2/search/tags, /api/search/tag/<t>/values
 * and /api/v2/search/tag/<t>/values. Without a TraceQL filter the answers
 * come from the database's tag tables; with one (q=), from the spans that
 * match it among the newest SQ_TAG_SCAN_MAX traces of the time range. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/mem.h"
#include "store/query_int.h"

/* Most traces a filtered tag lookup reads (newest first). */
#define SQ_TAG_SCAN_MAX 5000
/* Most tag names listed (all scopes). */
#define SQ_TAG_NAMES_MAX 10000

/* ---- a sorted set of (group, string) ------------------------------------- */

typedef struct set_item {
    int group;      /* scope or value type */
    char *s;        /* owned */
} set_item;

typedef struct str_set {
    set_item *items; /* sorted by group, then s */
    size_t n, cap, max;
    int nomem;       /* an insertion failed */
} str_set;

static int item_cmp(int g, const char *s, const set_item *it)
{
    if (g != it->group) return g < it->group ? -1 : 1;
    return strcmp(s, it->s);
}

/* Insert unless present or full. */
static void set_add(str_set *set, int group, const char *s)
{
    size_t lo = 0, hi = set->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = item_cmp(group, s, &set->items[mid]);
        if (c == 0) return;
        if (c < 0) hi = mid;
        else lo = mid + 1;
    }
    if (set->n >= set->max) return;
    if (set->n == set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 32;
        set_item *grown = ex_realloc(set->items, cap * sizeof *grown);
        if (!grown) {
            set->nomem = 1;
            return;
        }
        set->items = grown;
        set->cap = cap;
    }
    char *copy = ex_strdup(s);
    if (!copy) {
        set->nomem = 1;
        return;
    }
    memmove(&set->items[lo + 1], &set->items[lo], (set->n - lo) * sizeof *set->items);
    set->items[lo] = (set_item){group, copy};
    set->n++;
}

static void set_free(str_set *set)
{
    for (size_t i = 0; i < set->n; i++) ex_free(set->items[i].s);
    ex_free(set->items);
    memset(set, 0, sizeof *set);
}

/* ---- scanning traces that match a query ------------------------------------- */

typedef void (*span_visit_fn)(void *arg, const tql_trace *t, size_t span);

typedef struct span_scan {
    sq_ctx *ctx;
    const char *tenant;
    const tql_query *q;   /* NULL: every span */
    span_visit_fn visit;
    void *arg;
    char error[256];
    sq_work work;         /* against the context's limits */
} span_scan;

static int span_scan_cb(void *arg, const sdb_trace_summary *sum)
{
    span_scan *sc = arg;
    sdb_trace *t = NULL;
    int rc = sdb_trace_get(sc->ctx->db, sc->tenant, sum->trace_id, &t);
    if (rc < 0) {
        snprintf(sc->error, sizeof sc->error, "reading a trace: %s", sdb_errmsg(sc->ctx->db));
        return -1;
    }
    if (rc == 0) return 0;
    sq_view v;
    tql_match m = {0};
    int result = 0;
    if (sq_view_build(&v, t) < 0 || (sc->q && tql_eval(sc->q, &v.trace, &m) < 0)) {
        snprintf(sc->error, sizeof sc->error, "out of memory reading a trace");
        result = -1;
    } else if (sc->q) {
        for (size_t i = 0; i < m.nspans; i++) sc->visit(sc->arg, &v.trace, m.spans[i]);
    } else {
        for (size_t i = 0; i < v.trace.nspans; i++) sc->visit(sc->arg, &v.trace, i);
    }
    if (result == 0 && sq_work_add(&sc->work, protobuf_c_message_get_packed_size(&t->data->base), ex_mono_ns()))
        result = 1;
    tql_match_free(&m);
    sq_view_free(&v);
    sdb_trace_free(t);
    return result;
}

/* Visit the spans matching q (NULL: all) of the newest SQ_TAG_SCAN_MAX
 * traces in [start, end], or fewer when a limit of ctx stops the scan
 * (then resp gets X-Extrace-Limit). 0, or -1 after a 500 answer. */
static int scan_spans(sq_ctx *ctx, const char *tenant, const tql_query *q, int64_t start, int64_t end,
                      span_visit_fn visit, void *arg, ex_http_resp *resp)
{
    span_scan sc = {ctx, tenant, q, visit, arg, ""};
    sq_work_start(&sc.work, ctx, ex_mono_ns());
    sdb_trace_query qry = {.start_ns = start, .end_ns = end, .limit = SQ_TAG_SCAN_MAX};
    if (sdb_traces_scan(ctx->db, tenant, &qry, span_scan_cb, &sc) < 0) {
        sq_reply_text(ctx, resp, 500, "tag lookup failed: %s", sc.error[0] ? sc.error : sdb_errmsg(ctx->db));
        return -1;
    }
    sq_work_report(ctx, &sc.work, resp);
    return 0;
}

/* ---- common parameters ------------------------------------------------------- */

typedef struct tag_params {
    int64_t start, end;    /* ns; 0 = unbounded */
    tql_query *q;          /* owned; NULL when absent or {} */
} tag_params;

static int tag_params_read(sq_ctx *ctx, const sq_request *req, ex_http_resp *resp, tag_params *p)
{
    memset(p, 0, sizeof *p);
    if (sq_time_arg(ctx, req, resp, "start", 0, &p->start) < 0 || sq_time_arg(ctx, req, resp, "end", 1, &p->end) < 0)
        return -1;
    const char *q = sq_arg(req, "q");
    char err[512];
    if (q && *q) {
        if (tql_parse(q, &p->q, err, sizeof err) < 0) {
            sq_reply_text(ctx, resp, 400, "invalid TraceQL query q=\"%.200s\": %s", q, err);
            return -1;
        }
        if (tql_is_match_all(p->q)) {
            tql_free(p->q);
            p->q = NULL;
        }
    }
    return 0;
}

/* ---- tag names ----------------------------------------------------------------- */

/* Intrinsics offered by /api/v2/search/tags (those this TraceQL knows). */
static const char *const intrinsic_tags[] = {
    "duration", "event:name", "instrumentation:name", "instrumentation:version", "kind", "name", "rootName",
    "rootServiceName", "span:duration", "span:id", "span:kind", "span:name", "span:parentID", "span:status",
    "span:statusMessage", "status", "statusMessage", "trace:duration", "trace:id", "trace:rootName",
    "trace:rootService", "traceDuration",
};

static const char *const scope_names[SDB_TAG_NSCOPES] = {"resource", "span", "event", "link", "instrumentation",
                                                         "intrinsic"};

static int name_cb(void *arg, sdb_tag_scope scope, const char *name)
{
    set_add(arg, (int)scope, name);
    return 0;
}

/* Keys of the attributes of a matched span, by scope. */
static void collect_keys(void *arg, const tql_trace *t, size_t i)
{
    const tql_span *s = &t->spans[i];
    for (size_t k = 0; k < s->nattrs; k++) set_add(arg, SDB_TAG_SPAN, s->attrs[k].key);
    for (size_t k = 0; k < s->nres_attrs; k++) set_add(arg, SDB_TAG_RESOURCE, s->res_attrs[k].key);
    for (size_t k = 0; k < s->nscope_attrs; k++) set_add(arg, SDB_TAG_INSTRUMENTATION, s->scope_attrs[k].key);
    for (size_t e = 0; e < s->nevents; e++)
        for (size_t k = 0; k < s->events[e].nattrs; k++) set_add(arg, SDB_TAG_EVENT, s->events[e].attrs[k].key);
}

/* Which scopes ?scope= asks for (bit per sdb_tag_scope); -1 if unknown. */
static int scope_mask(const char *scope)
{
    if (!scope || !*scope || strcmp(scope, "none") == 0 || strcmp(scope, "all") == 0)
        return (1 << SDB_TAG_NSCOPES) - 1;
    for (int i = 0; i < SDB_TAG_NSCOPES; i++)
        if (strcmp(scope, scope_names[i]) == 0) return 1 << i;
    return -1;
}

static void names_v1(sq_buf *b, const str_set *set)
{
    /* Tempo's v1 list has no scopes: resource and span names, once each. */
    str_set flat = {.max = SQ_TAG_NAMES_MAX};
    for (size_t i = 0; i < set->n; i++)
        if (set->items[i].group == SDB_TAG_RESOURCE || set->items[i].group == SDB_TAG_SPAN)
            set_add(&flat, 0, set->items[i].s);
    if (flat.nomem) b->failed = SQB_NOMEM;
    sqb_lit(b, "{\"tagNames\":[");
    for (size_t i = 0; i < flat.n; i++) {
        if (i) sqb_raw(b, ",", 1);
        sqb_jstr(b, flat.items[i].s);
    }
    sqb_lit(b, "]}");
    set_free(&flat);
}

static void names_v2(sq_buf *b, const str_set *set, int mask, int explicit_scope)
{
    static const int order[] = {SDB_TAG_RESOURCE, SDB_TAG_SPAN, SDB_TAG_EVENT, SDB_TAG_LINK,
                                SDB_TAG_INSTRUMENTATION, SDB_TAG_INTRINSIC};
    int first = 1;
    sqb_lit(b, "{\"scopes\":[");
    for (size_t o = 0; o < sizeof order / sizeof order[0]; o++) {
        int sc = order[o];
        if (!(mask & (1 << sc))) continue;
        size_t count = 0;
        for (size_t i = 0; i < set->n; i++) count += set->items[i].group == sc;
        /* Event, link and instrumentation scopes only when they have tags
         * (or were asked for), as Tempo lists them. */
        int optional = sc == SDB_TAG_EVENT || sc == SDB_TAG_LINK || sc == SDB_TAG_INSTRUMENTATION;
        if (optional && !count && !explicit_scope) continue;
        if (!first) sqb_raw(b, ",", 1);
        first = 0;
        sqb_lit(b, "{\"name\":");
        sqb_jstr(b, scope_names[sc]);
        sqb_lit(b, ",\"tags\":[");
        int firsttag = 1;
        if (sc == SDB_TAG_INTRINSIC) {
            for (size_t i = 0; i < sizeof intrinsic_tags / sizeof intrinsic_tags[0]; i++) {
                if (i) sqb_raw(b, ",", 1);
                sqb_jstr(b, intrinsic_tags[i]);
            }
        } else {
            for (size_t i = 0; i < set->n; i++) {
                if (set->items[i].group != sc) continue;
                if (!firsttag) sqb_raw(b, ",", 1);
                firsttag = 0;
                sqb_jstr(b, set->items[i].s);
            }
        }
        sqb_lit(b, "]}");
    }
    sqb_lit(b, "]}");
}

int sq_search_tags(sq_ctx *ctx, const sq_request *req, const char *tenant, int v2, ex_http_resp *resp)
{
    const char *scope = sq_arg(req, "scope");
    int mask = scope_mask(scope);
    if (mask < 0)
        return sq_reply_text(ctx, resp, 400,
                             "scope=\"%.100s\": expected resource, span, event, link, instrumentation, intrinsic or none",
                             scope);
    tag_params p;
    if (tag_params_read(ctx, req, resp, &p) < 0) return 1;
    str_set set = {.max = SQ_TAG_NAMES_MAX};
    int answered = 0;
    if (p.q) {
        answered = scan_spans(ctx, tenant, p.q, p.start, p.end, collect_keys, &set, resp) < 0;
    } else if (sdb_tag_names(ctx->db, tenant, (unsigned)mask & ~(1u << SDB_TAG_INTRINSIC), p.start,
                             SQ_TAG_NAMES_MAX, name_cb, &set) < 0) {
        answered = sq_reply_text(ctx, resp, 500, "listing tags: %s", sdb_errmsg(ctx->db));
    }
    if (!answered) {
        sq_buf b;
        sqb_init(&b, SQ_RESPONSE_MAX);
        if (set.nomem) b.failed = SQB_NOMEM;
        if (v2) names_v2(&b, &set, mask, scope && *scope && strcmp(scope, "none") && strcmp(scope, "all"));
        else names_v1(&b, &set);
        sq_reply_buf(ctx, resp, &b, "application/json");
    }
    set_free(&set);
    tql_free(p.q);
    return 1;
}

/* ---- tag values ------------------------------------------------------------------ */

/* Value types of the v2 answer, in output order. */
enum { VT_STRING, VT_INT, VT_FLOAT, VT_BOOL, VT_DURATION, VT_KEYWORD };
static const char *const vt_names[] = {"string", "int", "float", "bool", "duration", "keyword"};

static int value_cb(void *arg, sdb_tag_scope scope, sdb_value_type type, const char *value)
{
    static const int map[] = {[SDB_VAL_STRING] = VT_STRING, [SDB_VAL_INT] = VT_INT, [SDB_VAL_DOUBLE] = VT_FLOAT,
                              [SDB_VAL_BOOL] = VT_BOOL};
    set_add(arg, (unsigned)type < 4 ? map[type] : VT_STRING, value);
    return 0;
}

typedef struct value_collect {
    const tql_fieldref *field;
    str_set *set;
} value_collect;

static void collect_value(void *arg, const tql_trace *t, size_t i)
{
    value_collect *vc = arg;
    tql_value vals[16];
    size_t n = tql_fieldref_values(vc->field, t, i, vals, 16);
    if (n > 16) n = 16;
    for (size_t k = 0; k < n; k++) {
        char buf[64];
        const tql_value *v = &vals[k];
        switch (v->type) {
        case TQL_STRING: set_add(vc->set, VT_STRING, v->v.s); break;
        case TQL_INT: set_add(vc->set, VT_INT, sq_value_text(v, buf, sizeof buf)); break;
        case TQL_FLOAT: set_add(vc->set, VT_FLOAT, sq_value_text(v, buf, sizeof buf)); break;
        case TQL_BOOL: set_add(vc->set, VT_BOOL, sq_value_text(v, buf, sizeof buf)); break;
        case TQL_STATUS: case TQL_KIND: set_add(vc->set, VT_KEYWORD, sq_value_text(v, buf, sizeof buf)); break;
        default: break; /* durations and nil: not offered as values */
        }
    }
}

/* Ids are unique per span: listing them as values helps no one. */
static int is_id(const char *intrinsic)
{
    return strcmp(intrinsic, "span:id") == 0 || strcmp(intrinsic, "span:parentID") == 0 ||
           strcmp(intrinsic, "trace:id") == 0;
}

/* Values of a field without a filter: from the tag tables where the
 * database keeps them, fixed keyword lists for status and kind, a scan
 * for the other string intrinsics. 0, or -1 when answered (500). */
static int values_unfiltered(sq_ctx *ctx, const char *tenant, const tql_fieldref *f, const tag_params *p,
                             str_set *set, ex_http_resp *resp)
{
    tql_fieldinfo info;
    tql_fieldref_info(f, &info);
    long rc = 0;
    if (!info.is_intrinsic) {
        static const unsigned masks[] = {
            [TQL_SCOPE_ANY] = 1u << SDB_TAG_RESOURCE | 1u << SDB_TAG_SPAN, [TQL_SCOPE_SPAN] = 1u << SDB_TAG_SPAN,
            [TQL_SCOPE_RESOURCE] = 1u << SDB_TAG_RESOURCE, [TQL_SCOPE_EVENT] = 1u << SDB_TAG_EVENT,
            [TQL_SCOPE_INSTRUMENTATION] = 1u << SDB_TAG_INSTRUMENTATION};
        rc = sdb_tag_values(ctx->db, tenant, masks[info.scope], info.name, p->start, 0, value_cb, set);
    } else if (strcmp(info.name, "name") == 0) {
        rc = sdb_tag_values(ctx->db, tenant, 1u << SDB_TAG_INTRINSIC, "name", p->start, 0, value_cb, set);
    } else if (info.type == TQL_STATUS) {
        for (int c = 0; c <= 2; c++) set_add(set, VT_KEYWORD, tql_status_name(c));
    } else if (info.type == TQL_KIND) {
        for (int k = 0; k <= 5; k++) set_add(set, VT_KEYWORD, tql_kind_name(k));
    } else if (info.type == TQL_STRING && !is_id(info.name)) {
        value_collect vc = {f, set};
        return scan_spans(ctx, tenant, NULL, p->start, p->end, collect_value, &vc, resp);
    }
    if (rc < 0) {
        sq_reply_text(ctx, resp, 500, "listing tag values: %s", sdb_errmsg(ctx->db));
        return -1;
    }
    return 0;
}

static void values_json(sq_buf *b, const str_set *set, int v2)
{
    sqb_lit(b, "{\"tagValues\":[");
    if (!v2) {
        /* v1: plain strings, once each whatever their type. */
        str_set flat = {.max = SDB_TAG_VALUES_PER_KEY * 4};
        for (size_t i = 0; i < set->n; i++) set_add(&flat, 0, set->items[i].s);
        for (size_t i = 0; i < flat.n; i++) {
            if (i) sqb_raw(b, ",", 1);
            sqb_jstr(b, flat.items[i].s);
        }
        if (flat.nomem) b->failed = SQB_NOMEM;
        set_free(&flat);
    } else {
        for (size_t i = 0; i < set->n; i++) {
            if (i) sqb_raw(b, ",", 1);
            sqb_lit(b, "{\"type\":");
            sqb_jstr(b, vt_names[set->items[i].group]);
            sqb_lit(b, ",\"value\":");
            sqb_jstr(b, set->items[i].s);
            sqb_lit(b, "}");
        }
    }
    sqb_lit(b, "]}");
}

int sq_tag_values(sq_ctx *ctx, const sq_request *req, const char *tenant, const char *tag, int v2,
                  ex_http_resp *resp)
{
    char err[512];
    tql_fieldref *f = NULL;
    /* v1 names are bare attribute keys of either scope: ".key" in TraceQL. */
    char *field_text = ex_malloc(strlen(tag) + 4);
    if (!field_text) return sq_reply_text(ctx, resp, 500, "out of memory");
    if (v2) strcpy(field_text, tag);
    else if (strpbrk(tag, " \"{}()=~!<>&|,`")) snprintf(field_text, strlen(tag) + 4, ".\"%s\"", tag);
    else snprintf(field_text, strlen(tag) + 4, ".%s", tag);
    int bad = tql_fieldref_parse(field_text, &f, err, sizeof err) < 0;
    ex_free(field_text);
    if (bad)
        return sq_reply_text(ctx, resp, 400,
                             "tag \"%.200s\": %s (expected a scoped tag such as resource.service.name, span.x, .x or "
                             "an intrinsic such as name)",
                             tag, err);
    tag_params p;
    str_set set = {.max = SDB_TAG_VALUES_PER_KEY};
    if (tag_params_read(ctx, req, resp, &p) == 0) {
        int answered;
        if (p.q) {
            value_collect vc = {f, &set};
            answered = scan_spans(ctx, tenant, p.q, p.start, p.end, collect_value, &vc, resp) < 0;
        } else {
            answered = values_unfiltered(ctx, tenant, f, &p, &set, resp) < 0;
        }
        if (!answered) {
            sq_buf b;
            sqb_init(&b, SQ_RESPONSE_MAX);
            if (set.nomem) b.failed = SQB_NOMEM;
            values_json(&b, &set, v2);
            sq_reply_buf(ctx, resp, &b, "application/json");
        }
        tql_free(p.q);
    }
    set_free(&set);
    tql_fieldref_free(f);
    return 1;
}
