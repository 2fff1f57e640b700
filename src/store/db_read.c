/* db_read.c — the reader: a whole trace as OTLP TracesData, and trace
 * summaries in a time range. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "store/db_internal.h"

/* One span while a trace is being assembled. */
typedef struct loaded_span {
    exo_pb_span *span;   /* unpacked, ids filled in; moved into the tree */
    size_t src;          /* index into the trace's source list */
} loaded_span;

/* One source (resource + scope) of a trace being assembled. */
typedef struct loaded_source {
    int64_t id;                  /* sources.id */
    size_t group;                /* index of its ResourceSpans */
    exo_pb_scope_spans *ss;      /* unpacked head; spans added later */
} loaded_source;

/* State of one sdb_trace_get. */
typedef struct assembly {
    sdb *db;
    loaded_span *spans;
    size_t nspans, capspans;
    loaded_source *srcs;
    size_t nsrcs;
    exo_pb_resource_spans **groups;  /* distinct resources */
    uint8_t **group_blob;            /* their stored bytes, to compare */
    size_t *group_len;
    size_t ngroups;
} assembly;

static void free_msg(void *m)
{
    if (m) protobuf_c_message_free_unpacked(m, &exo_pb_allocator);
}

void sdb_trace_free(sdb_trace *t)
{
    if (!t) return;
    free_msg(t->data);
    ex_free((char *)t->summary.root_name);
    ex_free((char *)t->summary.root_service);
    ex_free(t->spans);
    ex_free(t);
}

/* Free what an assembly still owns (after a failure or after the tree
 * took its parts over). */
static void assembly_free(assembly *a)
{
    for (size_t i = 0; i < a->nspans; i++) free_msg(a->spans[i].span);
    for (size_t i = 0; i < a->nsrcs; i++) free_msg(a->srcs[i].ss);
    for (size_t i = 0; i < a->ngroups; i++) {
        free_msg(a->groups[i]);
        ex_free(a->group_blob[i]);
    }
    ex_free(a->spans);
    ex_free(a->srcs);
    ex_free(a->groups);
    ex_free(a->group_blob);
    ex_free(a->group_len);
}

static void *copy_bytes(const void *p, size_t n)
{
    void *c = ex_malloc(n ? n : 1);
    if (c && n) memcpy(c, p, n);
    return c;
}

/* Index of the source id in a->srcs, adding it; (size_t)-1 on OOM. */
static size_t source_index(assembly *a, int64_t id)
{
    for (size_t i = 0; i < a->nsrcs; i++)
        if (a->srcs[i].id == id) return i;
    loaded_source *p = ex_realloc(a->srcs, (a->nsrcs + 1) * sizeof *p);
    if (!p) return (size_t)-1;
    a->srcs = p;
    a->srcs[a->nsrcs] = (loaded_source){id, 0, NULL};
    return a->nsrcs++;
}

/* Read and unpack every span row of the trace. 0 or -1. */
static int load_spans(assembly *a, int64_t trace, const uint8_t trace_id[16])
{
    sdb *db = a->db;
    sqlite3_stmt *st = sdb__stmt(db, SQ_TRACE_SPANS);
    sqlite3_bind_int64(st, 1, trace);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (a->nspans == a->capspans) {
            size_t cap = a->capspans ? a->capspans * 2 : 16;
            loaded_span *p = ex_realloc(a->spans, cap * sizeof *p);
            if (!p) goto oom;
            a->spans = p;
            a->capspans = cap;
        }
        exo_pb_span *s = sdb__body_unpack(db, sqlite3_column_blob(st, 2), (size_t)sqlite3_column_bytes(st, 2));
        if (!s) {
            sqlite3_reset(st);
            char why[sizeof db->err];
            snprintf(why, sizeof why, "%s", db->err);
            return sdb__fail(db, "a stored span of this trace cannot be decoded: %s", why);
        }
        a->spans[a->nspans++] = (loaded_span){s, 0};
        if (sqlite3_column_bytes(st, 0) != 8) {
            sqlite3_reset(st);
            return sdb__fail(db, "%s: a stored span id is not 8 bytes", db->path);
        }
        size_t src = source_index(a, sqlite3_column_int64(st, 1));
        s->trace_id.data = copy_bytes(trace_id, 16);
        s->span_id.data = copy_bytes(sqlite3_column_blob(st, 0), 8);
        if (src == (size_t)-1 || !s->trace_id.data || !s->span_id.data) goto oom;
        s->trace_id.len = 16;
        s->span_id.len = 8;
        a->spans[a->nspans - 1].src = src;
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : sdb__sqlfail(db, "reading spans");
oom:
    sqlite3_reset(st);
    return sdb__fail(db, "out of memory while reading a trace");
}

/* The group of a resource blob, adding (and unpacking) it. */
static int group_of(assembly *a, const void *blob, size_t len, size_t *out)
{
    for (size_t i = 0; i < a->ngroups; i++)
        if (a->group_len[i] == len && memcmp(a->group_blob[i], blob, len) == 0) {
            *out = i;
            return 0;
        }
    size_t n = a->ngroups + 1;
    exo_pb_resource_spans **g = ex_realloc(a->groups, n * sizeof *g);
    if (g) a->groups = g;
    uint8_t **b = ex_realloc(a->group_blob, n * sizeof *b);
    if (b) a->group_blob = b;
    size_t *l = ex_realloc(a->group_len, n * sizeof *l);
    if (l) a->group_len = l;
    if (!g || !b || !l) return sdb__fail(a->db, "out of memory while reading a trace");
    exo_pb_resource_spans *rs = opentelemetry__proto__trace__v1__resource_spans__unpack(&exo_pb_allocator, len, blob);
    uint8_t *copy = copy_bytes(blob, len);
    if (!rs || !copy) {
        free_msg(rs);
        ex_free(copy);
        return sdb__fail(a->db, "%s: a stored resource cannot be decoded", a->db->path);
    }
    a->groups[a->ngroups] = rs;
    a->group_blob[a->ngroups] = copy;
    a->group_len[a->ngroups] = len;
    *out = a->ngroups++;
    return 0;
}

/* Read each source's resource and scope. 0 or -1. */
static int load_sources(assembly *a)
{
    sdb *db = a->db;
    for (size_t i = 0; i < a->nsrcs; i++) {
        sqlite3_stmt *st = sdb__stmt(db, SQ_SOURCE_GET);
        sqlite3_bind_int64(st, 1, a->srcs[i].id);
        int rc = sqlite3_step(st);
        if (rc != SQLITE_ROW) {
            sqlite3_reset(st);
            if (rc == SQLITE_DONE) return sdb__fail(db, "%s: a span refers to a missing resource", db->path);
            return sdb__sqlfail(db, "reading a resource");
        }
        int err = group_of(a, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0), &a->srcs[i].group);
        if (err == 0) {
            a->srcs[i].ss = opentelemetry__proto__trace__v1__scope_spans__unpack(
                &exo_pb_allocator, (size_t)sqlite3_column_bytes(st, 1), sqlite3_column_blob(st, 1));
            if (!a->srcs[i].ss) err = sdb__fail(db, "%s: a stored scope cannot be decoded", db->path);
        }
        sqlite3_reset(st);
        if (err) return -1;
    }
    return 0;
}

static int span_cmp(const void *x, const void *y)
{
    const exo_pb_span *a = ((const loaded_span *)x)->span, *b = ((const loaded_span *)y)->span;
    if (a->start_time_unix_nano != b->start_time_unix_nano)
        return a->start_time_unix_nano < b->start_time_unix_nano ? -1 : 1;
    return memcmp(a->span_id.data, b->span_id.data, 8);
}

/* Move spans, scopes and resources into t->data and t->spans. 0 or -1;
 * on failure what was moved is freed with t. */
static int build_tree(assembly *a, sdb_trace *t)
{
    qsort(a->spans, a->nspans, sizeof *a->spans, span_cmp);
    size_t *nsp = ex_calloc(a->nsrcs + 1, sizeof *nsp), *nss = ex_calloc(a->ngroups + 1, sizeof *nss);
    exo_pb_scope_spans **scope_of = ex_calloc(a->nsrcs + 1, sizeof *scope_of);
    t->data = ex_malloc(sizeof *t->data);
    t->spans = ex_calloc(a->nspans + 1, sizeof *t->spans);
    int rc = -1;
    if (!nsp || !nss || !scope_of || !t->data || !t->spans) goto out;
    opentelemetry__proto__trace__v1__traces_data__init(t->data);
    if (!(t->data->resource_spans = ex_calloc(a->ngroups + 1, sizeof *t->data->resource_spans))) goto out;
    /* Size every repeated field first, so each array is allocated once. */
    for (size_t i = 0; i < a->nspans; i++) nsp[a->spans[i].src]++;
    for (size_t i = 0; i < a->nsrcs; i++) nss[a->srcs[i].group]++;
    for (size_t g = 0; g < a->ngroups; g++) {
        if (!(a->groups[g]->scope_spans = ex_calloc(nss[g] + 1, sizeof(exo_pb_scope_spans *)))) goto out;
        t->data->resource_spans[t->data->n_resource_spans++] = a->groups[g];
        a->groups[g] = NULL;
    }
    for (size_t i = 0; i < a->nsrcs; i++) {
        exo_pb_resource_spans *rs = t->data->resource_spans[a->srcs[i].group];
        if (!(a->srcs[i].ss->spans = ex_calloc(nsp[i] + 1, sizeof(exo_pb_span *)))) goto out;
        scope_of[i] = rs->scope_spans[rs->n_scope_spans++] = a->srcs[i].ss;
        a->srcs[i].ss = NULL;
    }
    for (size_t i = 0; i < a->nspans; i++) {
        size_t src = a->spans[i].src;
        exo_pb_scope_spans *ss = scope_of[src];
        ss->spans[ss->n_spans++] = a->spans[i].span;
        t->spans[t->nspans++] = (sdb_span_ref){a->spans[i].span, t->data->resource_spans[a->srcs[src].group], ss};
        a->spans[i].span = NULL;
    }
    rc = 0;
out:
    ex_free(nsp);
    ex_free(nss);
    ex_free(scope_of);
    return rc ? sdb__fail(a->db, "out of memory while reading a trace") : 0;
}

static char *column_strdup(sqlite3_stmt *st, int col)
{
    const char *s = (const char *)sqlite3_column_text(st, col);
    return s ? ex_strdup(s) : NULL;
}

static int trace_get(sdb *db, const char *tenant, const uint8_t trace_id[16], sdb_trace **out)
{
    *out = NULL;
    int64_t tid = sdb__tenant_id(db, tenant, 0);
    if (tid <= 0) return tid < 0 ? -1 : 0;
    sqlite3_stmt *st = sdb__stmt(db, SQ_TRACE_GET);
    sqlite3_bind_int64(st, 1, tid);
    sqlite3_bind_blob(st, 2, trace_id, 16, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        return rc == SQLITE_DONE ? 0 : sdb__sqlfail(db, "reading a trace");
    }
    sdb_trace *t = ex_calloc(1, sizeof *t);
    if (!t) {
        sqlite3_reset(st);
        return sdb__fail(db, "out of memory while reading a trace");
    }
    int64_t row = sqlite3_column_int64(st, 0);
    memcpy(t->summary.trace_id, trace_id, 16);
    t->summary.start_ns = sqlite3_column_int64(st, 1);
    t->summary.end_ns = sqlite3_column_int64(st, 2);
    t->summary.root_name = column_strdup(st, 3);
    t->summary.root_service = column_strdup(st, 4);
    sqlite3_reset(st);
    assembly a = {.db = db};
    rc = -1;
    if (load_spans(&a, row, trace_id) == 0 && load_sources(&a) == 0 && build_tree(&a, t) == 0) rc = 1;
    assembly_free(&a);
    if (rc != 1) {
        sdb_trace_free(t);
        return -1;
    }
    *out = t;
    return 1;
}

int sdb_trace_get(sdb *db, const char *tenant, const uint8_t trace_id[16], sdb_trace **out)
{
    /* A reader beside a live writer reads the trace row, its spans and
     * their sources from one snapshot (inside a scan one is open already). */
    int own_txn = db->writer && sqlite3_get_autocommit(db->conn) &&
                  sqlite3_exec(db->conn, "BEGIN", NULL, NULL, NULL) == SQLITE_OK;
    int rc = trace_get(db, tenant, trace_id, out);
    if (own_txn) sqlite3_exec(db->conn, "COMMIT", NULL, NULL, NULL);
    return rc;
}

/* Deliver the summaries a prepared statement yields (columns trace_id,
 * root_service, root_name, start_ns, end_ns). Finalizes it. */
static long deliver(sdb *db, sqlite3_stmt *st, const sdb_trace_query *q, sdb_trace_cb cb, void *arg)
{
    long n = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        sdb_trace_summary s = {{0}};
        if (sqlite3_column_bytes(st, 0) == 16) memcpy(s.trace_id, sqlite3_column_blob(st, 0), 16);
        s.root_service = (const char *)sqlite3_column_text(st, 1);
        s.root_name = (const char *)sqlite3_column_text(st, 2);
        s.start_ns = sqlite3_column_int64(st, 3);
        s.end_ns = sqlite3_column_int64(st, 4);
        n++;
        int r = cb(arg, &s);
        if (r < 0) {
            n = -1;
            break;
        }
        if (r > 0 || (q->limit && (size_t)n >= q->limit)) break;
    }
    if (n >= 0 && rc != SQLITE_ROW && rc != SQLITE_DONE) n = sdb__sqlfail(db, "searching traces");
    sqlite3_finalize(st);
    return n;
}

/* The time, duration and status conditions shared by both searches, on table t;
 * the statement's parameters ?1..?7 are bound by bind_window. */
#define WINDOW_SQL                                                                                                   \
    " t.tenant = ?1 AND t.start_ns <= ?2 AND t.start_ns >= ?3 AND t.end_ns >= ?4"                                    \
    " AND t.end_ns - t.start_ns >= ?5 AND t.end_ns - t.start_ns <= ?6 AND t.statuses & ?7 != 0"

static void bind_window(sdb *db, sqlite3_stmt *st, int64_t tid, const sdb_trace_query *q)
{
    /* A trace overlapping the window started at most max_trace_ns before
     * its start: that bounds the index range scanned. */
    int64_t lo_start = INT64_MIN;
    int64_t max_trace = sdb__max_trace(db);
    if (q->start_ns && q->start_ns > INT64_MIN + max_trace) lo_start = q->start_ns - max_trace;
    sqlite3_bind_int64(st, 1, tid);
    sqlite3_bind_int64(st, 2, q->end_ns ? q->end_ns : INT64_MAX);
    sqlite3_bind_int64(st, 3, lo_start);
    sqlite3_bind_int64(st, 4, q->start_ns ? q->start_ns : INT64_MIN);
    sqlite3_bind_int64(st, 5, q->min_duration_ns > 0 ? q->min_duration_ns : INT64_MIN);
    sqlite3_bind_int64(st, 6, q->max_duration_ns > 0 ? q->max_duration_ns : INT64_MAX);
    sqlite3_bind_int(st, 7, (int)(q->statuses ? q->statuses : SDB_STATUS_ALL));
}

long sdb_traces_scan(sdb *db, const char *tenant, const sdb_trace_query *q, sdb_trace_cb cb, void *arg)
{
    int64_t tid = sdb__tenant_id(db, tenant, 0);
    if (tid <= 0) return tid < 0 ? -1 : 0;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->conn,
                           "SELECT trace_id, root_service, root_name, start_ns, end_ns FROM traces t"
                           " WHERE" WINDOW_SQL " ORDER BY t.start_ns DESC, t.id DESC",
                           -1, &st, NULL) != SQLITE_OK)
        return sdb__sqlfail(db, "searching traces");
    bind_window(db, st, tid, q);
    return deliver(db, st, q, cb, arg);
}

/* State of one sdb_traces_by_attr. */
typedef struct attr_search {
    sdb *db;
    int64_t tenant;
    const char *key, *value;
    size_t vlen;
    int64_t *traces;       /* matching trace rowids (owned) */
    size_t n, cap;
} attr_search;

/* Whether the span body has attribute key = value (string). */
static int span_has(const attr_search *as, const void *blob, size_t bloblen)
{
    const uint8_t *body;
    size_t len;
    if (sdb__body_raw(as->db, blob, bloblen, &body, &len) != 0) return 0; /* the trace read says why */
    /* Most candidates of a chunk do not even contain the bytes. */
    if (!memmem(body, len, as->value, as->vlen)) return 0;
    exo_pb_span *s = opentelemetry__proto__trace__v1__span__unpack(&exo_pb_allocator, len, body);
    int found = 0;
    for (size_t i = 0; s && i < s->n_attributes && !found; i++) {
        const exo_pb_kv *kv = s->attributes[i];
        found = kv->key && strcmp(kv->key, as->key) == 0 && kv->value &&
                kv->value->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE &&
                strlen(kv->value->string_value) == as->vlen &&
                memcmp(kv->value->string_value, as->value, as->vlen) == 0;
    }
    free_msg(s);
    return found;
}

/* Collect the traces of chunk's spans that have the attribute. 0 or -1. */
static int search_chunk(attr_search *as, sqlite3_stmt *spans, int64_t chunk)
{
    sqlite3_reset(spans);
    sqlite3_bind_int64(spans, 1, chunk * SDB__BLOOM_CHUNK);
    sqlite3_bind_int64(spans, 2, (chunk + 1) * SDB__BLOOM_CHUNK);
    int rc;
    while ((rc = sqlite3_step(spans)) == SQLITE_ROW) {
        if (!span_has(as, sqlite3_column_blob(spans, 1), (size_t)sqlite3_column_bytes(spans, 1))) continue;
        int64_t trace = sqlite3_column_int64(spans, 0);
        if (as->n && as->traces[as->n - 1] == trace) continue;
        if (as->n == as->cap) {
            size_t cap = as->cap ? as->cap * 2 : 16;
            int64_t *p = ex_realloc(as->traces, cap * sizeof *p);
            if (!p) return sdb__fail(as->db, "out of memory");
            as->traces = p;
            as->cap = cap;
        }
        as->traces[as->n++] = trace;
    }
    return rc == SQLITE_DONE ? 0 : sdb__sqlfail(as->db, "reading spans");
}

/* Test every chunk's bloom and search the chunks that may match. */
static int search_chunks(attr_search *as)
{
    uint32_t pos[SDB__BLOOM_K];
    sdb__bloom_bits(as->tenant, as->key, as->value, as->vlen, pos);
    sqlite3_stmt *blooms = NULL, *spans = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2(as->db->conn, "SELECT chunk, bits FROM attr_bloom", -1, &blooms, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(as->db->conn, "SELECT trace, body FROM spans WHERE id >= ?1 AND id < ?2", -1, &spans,
                           NULL) != SQLITE_OK) {
        sdb__sqlfail(as->db, "searching by attribute");
        goto out;
    }
    int step;
    while ((step = sqlite3_step(blooms)) == SQLITE_ROW) {
        if (sqlite3_column_bytes(blooms, 1) != SDB__BLOOM_BYTES ||
            !sdb__bloom_test(sqlite3_column_blob(blooms, 1), pos))
            continue;
        if (search_chunk(as, spans, sqlite3_column_int64(blooms, 0)) != 0) goto out;
    }
    if (step != SQLITE_DONE) {
        sdb__sqlfail(as->db, "reading attribute blooms");
        goto out;
    }
    rc = 0;
out:
    sqlite3_finalize(blooms);
    sqlite3_finalize(spans);
    return rc;
}

long sdb_traces_by_attr(sdb *db, const char *tenant, const char *key, const char *value, size_t vlen,
                        const sdb_trace_query *q, sdb_trace_cb cb, void *arg)
{
    int64_t tid = sdb__tenant_id(db, tenant, 0);
    if (tid <= 0) return tid < 0 ? -1 : 0;
    attr_search as = {db, tid, key, value, vlen, NULL, 0, 0};
    if (search_chunks(&as) != 0) {
        ex_free(as.traces);
        return -1;
    }
    /* The matching traces, through the same window and order as a scan
     * (a temp table of their rowids joined to traces). */
    long n = -1;
    sqlite3_stmt *st = NULL;
    char *msg = NULL;
    if (sqlite3_exec(db->conn, "CREATE TEMP TABLE IF NOT EXISTS attr_hits(id INTEGER PRIMARY KEY);"
                               "DELETE FROM temp.attr_hits;", NULL, NULL, &msg) != SQLITE_OK ||
        sqlite3_prepare_v2(db->conn, "INSERT OR IGNORE INTO temp.attr_hits(id) VALUES(?1)", -1, &st, NULL) !=
            SQLITE_OK) {
        sdb__fail(db, "%s: searching by attribute: %s", db->path, msg ? msg : sqlite3_errmsg(db->conn));
        goto out;
    }
    for (size_t i = 0; i < as.n; i++) {
        sqlite3_bind_int64(st, 1, as.traces[i]);
        if (sqlite3_step(st) != SQLITE_DONE) {
            sdb__sqlfail(db, "searching by attribute");
            goto out;
        }
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    st = NULL;
    if (sqlite3_prepare_v2(db->conn,
                           "SELECT t.trace_id, t.root_service, t.root_name, t.start_ns, t.end_ns"
                           " FROM temp.attr_hits h CROSS JOIN traces t ON t.id = h.id"
                           " WHERE" WINDOW_SQL " ORDER BY t.start_ns DESC, t.id DESC",
                           -1, &st, NULL) != SQLITE_OK) {
        sdb__sqlfail(db, "searching by attribute");
        goto out;
    }
    bind_window(db, st, tid, q);
    n = deliver(db, st, q, cb, arg);
    st = NULL; /* finalized by deliver */
out:
    sqlite3_free(msg);
    sqlite3_finalize(st);
    ex_free(as.traces);
    return n;
}
