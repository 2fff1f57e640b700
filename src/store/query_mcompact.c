/* query_mcompact.c — TraceQL metrics from the compact span table
 * (db_mspans.c) instead of whole traces: when the filter, the by() fields
 * and the function's field all depend on one span alone
 * (tql_span_local), each compact row in the range becomes a one-span
 * view (name, status, kind, times, span attributes, service.name) that
 * the same evaluator and aggregator take, so the answer is the one the
 * trace scan gives. A row that kept no attributes (too many or too large)
 * is read from its stored span when the query needs them. Exemplars
 * carry rowids during the scan; sqm_exemplar_ids turns them into ids. */
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/mem.h"
#include "store/query_metrics.h"

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

/* The scan's state. */
typedef struct cscan {
    sqm_run *r;
    unsigned needs;
    uint8_t *seen;               /* a bit per trace rowid (inspectedTraces) */
    size_t seen_len;
    uint64_t since_check;
    tql_attr attrs[SDB_MSPAN_ATTRS_MAX];
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

static int row_cb(void *arg, const sdb_mspan *m)
{
    cscan *c = arg;
    sqm_run *r = c->r;
    r->spans++;
    uint64_t bytes = 40 + strlen(m->name) + m->attrs_len + (m->service ? strlen(m->service) : 0);
    saw_trace(c, m->trace);
    if (++c->since_check >= CHECK_EVERY) {
        c->since_check = 0;
        if (sq_work_add(&r->work, 0, ex_mono_ns())) return 1;
    }
    r->bytes += bytes;
    r->work.bytes += bytes;
    if ((c->needs & TQL_LOCAL_ATTRS) && !m->attrs_kept) {
        int rc = observe_stored(c, m);
        if (rc < 0 && r->agg_rc == SMX_TOO_MANY_VALUES) goto too_many;
        return rc;
    }
    tql_span s = {.name = m->name, .kind = m->kind, .status_code = m->status, .status_message = "",
                  .start_ns = m->start_ns, .end_ns = m->start_ns + m->dur_ns, .scope_name = "", .scope_version = ""};
    if (c->needs & TQL_LOCAL_ATTRS) {
        long n = sqm_attrs_decode(m->attrs, m->attrs_len, c->attrs, SDB_MSPAN_ATTRS_MAX);
        if (n < 0) {
            snprintf(r->error, sizeof r->error, "compact span %lld: its attributes do not decode", (long long)m->span);
            return -1;
        }
        s.attrs = c->attrs;
        s.nattrs = (size_t)n;
        if (m->service) {
            c->res = (tql_attr){"service.name", {.type = TQL_STRING, .v.s = m->service}};
            s.res_attrs = &c->res;
            s.nres_attrs = 1;
        }
    }
    tql_trace t = {.spans = &s, .nspans = 1, .root_name = "", .root_service = ""};
    rowid_ids(&t, &s, m->trace, m->span);
    if (observe(c, &t) == 0) return 0;
    if (r->agg_rc != SMX_TOO_MANY_VALUES) return -1;
too_many:
    snprintf(r->work.stopped, sizeof r->work.stopped, "quantile values: more than %u spans to keep for exact quantiles",
             SMX_VALUES_MAX);
    return 1;
}

int sqm_compact_scan(sqm_run *r, unsigned needs, const char *name, int64_t start_ns, int64_t end_ns)
{
    cscan c = {.r = r, .needs = needs};
    r->compact = 1;
    long rc = sdb_mspans_scan(r->ctx->db, r->tenant, start_ns, end_ns, name, row_cb, &c);
    ex_free(c.seen);
    if (rc < 0 && !r->error[0] && r->agg_rc == SMX_OK)
        snprintf(r->error, sizeof r->error, "%s", sdb_errmsg(r->ctx->db));
    return rc < 0 ? -1 : 0;
}

int sqm_exemplar_ids(sqm_run *r, const smx_exemplar *x, uint8_t trace_id[16], uint8_t span_id[8])
{
    if (!r->compact) {
        memcpy(trace_id, x->trace_id, 16);
        memcpy(span_id, x->span_id, 8);
        return 1;
    }
    int64_t span;
    memcpy(&span, x->span_id, 8);
    return sdb_span_ids(r->ctx->db, span, trace_id, span_id) > 0;
}
