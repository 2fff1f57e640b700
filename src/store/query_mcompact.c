/* query_mcompact.c — TraceQL metrics from the per-minute span counts
 * (mroll) or the compact span table (mspans, db_mspans.c) instead of
 * whole traces. Rollup: for range queries on whole minutes counting spans
 * or their duration buckets by name, status, kind and service.name, each
 * count row is a view of n alike spans (its duration the bucket's upper
 * bound). Compact: when the filter, the by() fields
 * and the function's field all depend on one span alone
 * (tql_span_local), each compact row in the range becomes a one-span
 * view (name, status, kind, times, span attributes, the service.name of
 * its source) that the same evaluator and aggregator take, so the answer
 * is the one the trace scan gives. The span attributes are packed from
 * the row's stored span body when the query needs them (schema 4); a span
 * whose attributes do not pack (too many or too large), or whose resource
 * has a service.name that is not a string, is read as a whole trace. Exemplars
 * carry rowids during the scan; sqm_exemplar_ids turns them into ids. */
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/mem.h"
#include "store/query_metrics.h"

#define uthash_malloc(sz) ex_malloc(sz)
#define uthash_free(ptr, sz) ex_free(ptr)
#include <uthash.h>

/* Rows between two checks of the work limits. */
#define CHECK_EVERY 4096
/* Largest trace rowid counted in inspectedTraces (a bit each). */
#define TRACE_BITS_MAX (INT64_C(1) << 30)

long sqm_attrs_decode(const uint8_t *p, size_t len, tql_attr *out, size_t max)
{
    size_t n = 0, i = 0;
    while (i < len) {
        if (n == max) return -1;
        uint8_t type = p[i++];
        const uint8_t *nul = i < len ? memchr(p + i, 0, len - i) : NULL;
        if (!nul) return -1;
        tql_attr *a = &out[n++];
        a->key = (const char *)p + i;
        i = (size_t)(nul - p) + 1;
        size_t vn = type == SDB_MSPAN_INT || type == SDB_MSPAN_DOUBLE ? 8 : type == SDB_MSPAN_BOOL ? 1 : 0;
        if (type == SDB_MSPAN_STRING) {
            nul = i < len ? memchr(p + i, 0, len - i) : NULL;
            if (!nul) return -1;
            a->val = (tql_value){.type = TQL_STRING, .v.s = (const char *)p + i};
            i = (size_t)(nul - p) + 1;
            continue;
        }
        if (type > SDB_MSPAN_BOOL || len - i < vn) return -1;
        a->val.type = TQL_NIL;
        if (type == SDB_MSPAN_INT) a->val.type = TQL_INT, memcpy(&a->val.v.i, p + i, 8);
        else if (type == SDB_MSPAN_DOUBLE) a->val.type = TQL_FLOAT, memcpy(&a->val.v.f, p + i, 8);
        else if (type == SDB_MSPAN_BOOL) a->val.type = TQL_BOOL, a->val.v.b = p[i] != 0;
        i += vn;
    }
    return (long)n;
}

int sqm_compact_usable(const smx_query *mq, unsigned *needs, const char **name)
{
    *needs = 0;
    if (!tql_span_local(mq->filter, needs, name)) return 0;
    for (size_t i = 0; i < mq->nby; i++)
        if (!tql_fieldref_local(mq->by[i], needs)) return 0;
    return !mq->attr || tql_fieldref_local(mq->attr, needs);
}

/* The service.name of one source (resource + scope), looked up once. */
typedef struct source_svc {
    int64_t source;
    int kind;          /* sdb_source_service: 1 string, 0 none, 2 not a string */
    char *svc;         /* owned when kind is 1 */
    UT_hash_handle hh;
} source_svc;

/* The scan's state. */
typedef struct cscan {
    sqm_run *r;
    unsigned needs;
    source_svc *sources;         /* uthash by source id */
    source_svc *last;            /* the last one looked up */
    int unsure;                  /* the rollup met a service.name that is not a string */
    uint8_t *seen;               /* a bit per trace rowid (inspectedTraces) */
    size_t seen_len;
    uint64_t since_check;
    tql_attr attrs[SDB_MSPAN_ATTRS_MAX];
    uint8_t packed[SDB_MSPAN_ATTRS_BYTES]; /* the current row's attributes (sdb_mspan_attrs) */
    size_t packed_len;
    tql_attr res;
} cscan;

/* Count trace rowid t once. */
static void saw_trace(cscan *c, int64_t t)
{
    if (t < 0 || t >= TRACE_BITS_MAX) return;
    size_t byte = (size_t)t / 8;
    if (byte >= c->seen_len) {
        size_t len = c->seen_len ? c->seen_len : 4096;
        while (len <= byte) len *= 2;
        uint8_t *p = ex_realloc(c->seen, len);
        if (!p) return; /* the count is then low; the answer is not affected */
        memset(p + c->seen_len, 0, len - c->seen_len);
        c->seen = p;
        c->seen_len = len;
    }
    if (!(c->seen[byte] & (1u << (t % 8)))) c->r->traces++;
    c->seen[byte] |= (uint8_t)(1u << (t % 8));
}

/* The service of source id (cached); NULL with r->error set on failure. */
static const source_svc *service_of(cscan *c, int64_t source)
{
    if (c->last && c->last->source == source) return c->last;
    source_svc *e;
    HASH_FIND(hh, c->sources, &source, sizeof source, e);
    if (!e) {
        char *svc = NULL;
        int kind = sdb_source_service(c->r->ctx->db, source, &svc);
        if (kind < 0 || !(e = ex_calloc(1, sizeof *e))) {
            ex_free(svc);
            snprintf(c->r->error, sizeof c->r->error, "reading a resource: %s",
                     kind < 0 ? sdb_errmsg(c->r->ctx->db) : "out of memory");
            return NULL;
        }
        *e = (source_svc){.source = source, .kind = kind, .svc = svc};
        HASH_ADD(hh, c->sources, source, sizeof e->source, e);
    }
    return c->last = e;
}

static void sources_free(cscan *c)
{
    source_svc *e, *tmp;
    HASH_ITER(hh, c->sources, e, tmp) {
        HASH_DEL(c->sources, e);
        ex_free(e->svc);
        ex_free(e);
    }
}

/* Rowids in place of the ids, resolved for exemplars only. */
static void rowid_ids(tql_trace *t, tql_span *s, int64_t trace, int64_t span)
{
    memset(t->trace_id, 0, 16);
    memcpy(t->trace_id, &trace, 8);
    memset(s->span_id, 0, 8);
    memcpy(s->span_id, &span, 8);
}

/* Filter and count the one-span trace t. 0, or -1 (r->agg_rc set). */
static int observe(cscan *c, const tql_trace *t)
{
    sqm_run *r = c->r;
    if (!tql_span_matches(r->filter, t, 0)) return 0;
    r->agg_rc = smx_agg_observe(r->agg, t, 0);
    return r->agg_rc == SMX_OK ? 0 : -1;
}

/* A row without its attributes: read its span from the stored trace. */
static int observe_stored(cscan *c, const sdb_mspan *m)
{
    sqm_run *r = c->r;
    uint8_t trace_id[16], span_id[8];
    sdb_trace *st = NULL;
    int rc = sdb_span_ids(r->ctx->db, m->span, trace_id, span_id);
    if (rc > 0) rc = sdb_trace_get(r->ctx->db, r->tenant, trace_id, &st);
    if (rc < 0) {
        snprintf(r->error, sizeof r->error, "reading a span: %s", sdb_errmsg(r->ctx->db));
        return -1;
    }
    if (rc == 0) return 0; /* removed by retention meanwhile */
    sq_view v;
    int result = 0;
    if (sq_view_build(&v, st) < 0) {
        r->agg_rc = SMX_NOMEM;
        result = -1;
    } else {
        r->bytes += protobuf_c_message_get_packed_size(&st->data->base);
        for (size_t i = 0; i < v.trace.nspans && result == 0; i++) {
            if (memcmp(v.spans[i].span_id, span_id, 8) != 0) continue;
            tql_span s = v.spans[i];
            tql_trace one = v.trace;
            one.spans = &s;
            one.nspans = 1;
            rowid_ids(&one, &s, m->trace, m->span);
            result = observe(c, &one);
            break;
        }
        sq_view_free(&v);
    }
    sdb_trace_free(st);
    return result;
}

/* The one-span view of compact row m into *s and *t (attributes only
 * when the query reads them). 1, 0 when the row lacks what the query
 * needs (read the stored span), -1 on error. */
static int row_view(cscan *c, const sdb_mspan *m, tql_span *s, tql_trace *t)
{
    const source_svc *svc = NULL;
    if ((c->needs & (TQL_LOCAL_ATTRS | TQL_LOCAL_SERVICE)) && !(svc = service_of(c, m->source))) return -1;
    if (svc && svc->kind == 2) return 0;
    c->packed_len = 0;
    if (c->needs & TQL_LOCAL_ATTRS) {
        long len = sdb_mspan_attrs(c->r->ctx->db, m->span, c->packed, sizeof c->packed);
        if (len == -2) return 0; /* too many or too large to pack */
        if (len < 0) {
            snprintf(c->r->error, sizeof c->r->error, "%s", sdb_errmsg(c->r->ctx->db));
            return -1;
        }
        c->packed_len = (size_t)len;
    }
    *s = (tql_span){.name = m->name, .kind = m->kind, .status_code = m->status, .status_message = "",
                    .start_ns = m->start_ns, .end_ns = m->start_ns + m->dur_ns, .scope_name = "", .scope_version = ""};
    if (c->needs & TQL_LOCAL_ATTRS) {
        long n = sqm_attrs_decode(c->packed, c->packed_len, c->attrs, SDB_MSPAN_ATTRS_MAX);
        if (n < 0) {
            snprintf(c->r->error, sizeof c->r->error, "compact span %lld: its attributes do not decode",
                     (long long)m->span);
            return -1;
        }
        s->attrs = c->attrs;
        s->nattrs = (size_t)n;
    }
    if (svc && svc->kind == 1) {
        c->res = (tql_attr){"service.name", {.type = TQL_STRING, .v.s = svc->svc}};
        s->res_attrs = &c->res;
        s->nres_attrs = 1;
    }
    *t = (tql_trace){.spans = s, .nspans = 1, .root_name = "", .root_service = ""};
    rowid_ids(t, s, m->trace, m->span);
    return 1;
}

static int row_cb(void *arg, const sdb_mspan *m)
{
    cscan *c = arg;
    sqm_run *r = c->r;
    r->spans++;
    saw_trace(c, m->trace);
    if (++c->since_check >= CHECK_EVERY) {
        c->since_check = 0;
        if (sq_work_add(&r->work, 0, ex_mono_ns())) return 1;
    }
    tql_span s;
    tql_trace t;
    int v = row_view(c, m, &s, &t), rc;
    if (v < 0) return -1;
    uint64_t bytes = 40 + strlen(m->name) + c->packed_len;
    r->bytes += bytes;
    r->work.bytes += bytes;
    rc = v ? observe(c, &t) : observe_stored(c, m); /* what the row lacks is in the stored span */
    if (rc == 0 || r->agg_rc != SMX_TOO_MANY_VALUES) return rc;
    snprintf(r->work.stopped, sizeof r->work.stopped, "quantile values: more than %u spans to keep for exact quantiles",
             SMX_VALUES_MAX);
    return 1;
}

/* The end of a scan: free the state, name a database failure. */
static int scan_done(sqm_run *r, cscan *c, long rc)
{
    ex_free(c->seen);
    sources_free(c);
    if (rc < 0 && !r->error[0] && r->agg_rc == SMX_OK)
        snprintf(r->error, sizeof r->error, "%s", sdb_errmsg(r->ctx->db));
    return rc < 0 ? -1 : 0;
}

int sqm_compact_scan(sqm_run *r, unsigned needs, const char *name, int64_t start_ns, int64_t end_ns)
{
    cscan c = {.r = r, .needs = needs};
    r->used = SQM_COMPACT;
    long rc = sdb_mspans_scan(r->ctx->db, r->tenant, start_ns, end_ns, name, 0, row_cb, &c);
    return scan_done(r, &c, rc);
}

/* ---- the rollup engine ------------------------------------------------------ */

/* Probes of the compact table for exemplars, and rows read at each. */
#define EXEMPLAR_PROBES 50
#define EXEMPLAR_ROWS 8

int sqm_rollup_usable(const smx_query *mq, const smx_grid *g, unsigned *needs, const char **name)
{
    if (!g || g->instant || g->step_ns % SDB_MINUTE_NS || g->start_ns % SDB_MINUTE_NS) return 0;
    if (mq->fn != SMX_RATE && mq->fn != SMX_COUNT && mq->fn != SMX_QUANTILE && mq->fn != SMX_HISTOGRAM) return 0;
    *needs = 0;
    if (!tql_span_local(mq->filter, needs, name)) return 0;
    for (size_t i = 0; i < mq->nby; i++)
        if (!tql_fieldref_local(mq->by[i], needs)) return 0;
    if (*needs & (TQL_LOCAL_ATTRS | TQL_LOCAL_DURATION)) return 0;
    if (!mq->attr) return 1;
    tql_fieldinfo fi;
    tql_fieldref_info(mq->attr, &fi);
    return fi.is_intrinsic && strcmp(fi.name, "duration") == 0;
}

static int roll_cb(void *arg, const sdb_mroll *m)
{
    cscan *c = arg;
    sqm_run *r = c->r;
    r->spans += (uint64_t)m->n;
    r->bytes += 40 + strlen(m->name);
    const source_svc *svc = NULL;
    if ((c->needs & TQL_LOCAL_SERVICE) && !(svc = service_of(c, m->source))) return -1;
    if (svc && svc->kind == 2) return c->unsure = 1; /* a service.name that is not a string: ask the rows */
    int64_t start = m->minute * SDB_MINUTE_NS;
    /* the bucket's upper bound stands for its durations (Tempo's log2 buckets) */
    int64_t dur = m->bucket < 0 ? 0 : m->bucket >= 63 ? INT64_MAX - start : INT64_C(1) << m->bucket;
    tql_span s = {.name = m->name, .kind = m->kind, .status_code = m->status, .status_message = "",
                  .start_ns = start, .end_ns = start + dur, .scope_name = "", .scope_version = ""};
    if (svc && svc->kind == 1) {
        c->res = (tql_attr){"service.name", {.type = TQL_STRING, .v.s = svc->svc}};
        s.res_attrs = &c->res;
        s.nres_attrs = 1;
    }
    tql_trace t = {.spans = &s, .nspans = 1, .root_name = "", .root_service = ""};
    if (!tql_span_matches(r->filter, &t, 0)) return 0;
    for (int64_t left = m->n; left > 0; left -= UINT32_MAX) {
        r->agg_rc = smx_agg_observe_n(r->agg, &t, 0, left > UINT32_MAX ? UINT32_MAX : (uint32_t)left, 0);
        if (r->agg_rc != SMX_OK) return -1;
    }
    return 0;
}

/* A compact row offered as an exemplar only. */
static int probe_cb(void *arg, const sdb_mspan *m)
{
    cscan *c = arg;
    tql_span s;
    tql_trace t;
    int v = row_view(c, m, &s, &t);
    if (v <= 0) return v;
    if (!tql_span_matches(c->r->filter, &t, 0)) return 0;
    c->r->agg_rc = smx_agg_exemplar(c->r->agg, &t, 0);
    return c->r->agg_rc == SMX_OK ? 0 : -1;
}

int sqm_rollup_scan(sqm_run *r, unsigned needs, const char *name, const smx_grid *g, size_t exemplars)
{
    cscan c = {.r = r, .needs = needs};
    r->used = SQM_ROLLUP;
    long rc = sdb_mroll_scan(r->ctx->db, r->tenant, g->start_ns / SDB_MINUTE_NS, g->end_ns / SDB_MINUTE_NS, name,
                             roll_cb, &c);
    if (rc >= 0 && c.unsure) { /* start over from the rows */
        smx_agg_clear(r->agg);
        r->spans = r->bytes = 0;
        scan_done(r, &c, 0);
        return sqm_compact_scan(r, needs, name, g->start_ns, g->end_ns);
    }
    /* exemplars: a few rows at evenly spaced times */
    int64_t span = g->end_ns - g->start_ns;
    for (size_t p = 0; rc >= 0 && exemplars && p < EXEMPLAR_PROBES; p++) {
        int64_t at = g->start_ns + (int64_t)((double)span * (double)p / EXEMPLAR_PROBES);
        rc = sdb_mspans_scan(r->ctx->db, r->tenant, at, g->end_ns, name, EXEMPLAR_ROWS, probe_cb, &c);
    }
    return scan_done(r, &c, rc);
}

int sqm_exemplar_ids(sqm_run *r, const smx_exemplar *x, uint8_t trace_id[16], uint8_t span_id[8])
{
    if (r->used == SQM_SCAN) {
        memcpy(trace_id, x->trace_id, 16);
        memcpy(span_id, x->span_id, 8);
        return 1;
    }
    int64_t span;
    memcpy(&span, x->span_id, 8);
    return sdb_span_ids(r->ctx->db, span, trace_id, span_id) > 0;
}
