/* otlp_pieces.c — decode an ExportTraceServiceRequest in pieces (see
 * otlp_pieces.h). */
#include "otel/otlp_pieces.h"

#include <stdio.h>
#include <string.h>

#include "core/arena.h"
#include "core/mem.h"

/* Field numbers of the nested lists. */
enum { REQ_RESOURCE_SPANS = 1, RS_SCOPE_SPANS = 2, SS_SPANS = 2 };

#define INVALID "protobuf: not a valid ExportTraceServiceRequest (or out of memory)"

/* One length-delimited field found in a message. */
typedef struct field {
    const uint8_t *p;
    size_t len;
} field;

/* Split msg into the length-delimited occurrences of field `list` (into
 * *items, ex_malloc'd, *n of them) and everything else (copied to *head,
 * ex_malloc'd, *head_len bytes). The wire format was checked before.
 * 0, EXO_OTLP_EINVAL (`list` with another wire type) or EXO_OTLP_ENOMEM. */
static int split(const uint8_t *msg, size_t len, unsigned list, field **items, size_t *n, uint8_t **head,
                 size_t *head_len)
{
    size_t pos = 0, cap = 0;
    *items = NULL;
    *n = *head_len = 0;
    if (!(*head = ex_malloc(len ? len : 1))) return EXO_OTLP_ENOMEM;
    while (pos < len) {
        size_t start = pos;
        uint64_t key, v;
        if (exo__read_varint(msg, len, &pos, &key)) return EXO_OTLP_EINVAL;
        unsigned wt = (unsigned)(key & 7);
        if (wt == 0 && exo__read_varint(msg, len, &pos, &v)) return EXO_OTLP_EINVAL;
        if (wt == 1 || wt == 5) {
            size_t w = wt == 1 ? 8 : 4;
            if (len - pos < w) return EXO_OTLP_EINVAL;
            pos += w;
        }
        if (wt == 2) {
            if (exo__read_varint(msg, len, &pos, &v) || v > len - pos) return EXO_OTLP_EINVAL;
            if ((key >> 3) == list) {
                if (*n == cap) {
                    cap = cap ? cap * 2 : 16;
                    field *grown = ex_realloc(*items, cap * sizeof *grown);
                    if (!grown) return EXO_OTLP_ENOMEM;
                    *items = grown;
                }
                (*items)[(*n)++] = (field){msg + pos, (size_t)v};
                pos += (size_t)v;
                continue;
            }
            pos += (size_t)v;
        } else if ((key >> 3) == list || (wt != 0 && wt != 1 && wt != 5)) {
            return EXO_OTLP_EINVAL;
        }
        memcpy(*head + *head_len, msg + start, pos - start);
        *head_len += pos - start;
    }
    return 0;
}

/* The spans of a piece are unpacked into an arena and freed together
 * (protobuf-c allocates every string, attribute and array on its own:
 * with malloc that was most of the decode's cost, bench/README.md). */
#define ARENA_CHUNK ((size_t)64 << 10)
#define ARENA_KEEP ((size_t)4 << 20) /* kept between the pieces of one request */

static void *arena_alloc(void *ud, size_t n)
{
    return ex_arena_alloc(ud, n);
}

static void arena_free(void *ud, void *p)
{
    (void)ud;
    (void)p; /* everything goes at the piece's end */
}

/* The walk's state. */
typedef struct walk {
    size_t max_spans;
    exo_otlp_piece_fn cb;
    void *arg;
    exo_pb_span **spans;  /* the current piece's spans (max_spans slots) */
    ex_arena arena;       /* the current piece's spans live here */
    ProtobufCAllocator pb; /* allocating from arena */
} walk;

/* Unpack the spans of one ScopeSpans piece by piece and deliver them. */
static int walk_scope(walk *w, exo_pb_resource_spans *rs, size_t ri, size_t si, const uint8_t *msg, size_t len)
{
    field *spans;
    size_t n, head_len;
    uint8_t *head;
    int rc = split(msg, len, SS_SPANS, &spans, &n, &head, &head_len);
    exo_pb_scope_spans *ss = NULL;
    if (rc == 0 && !(ss = opentelemetry__proto__trace__v1__scope_spans__unpack(&exo_pb_allocator, head_len, head)))
        rc = EXO_OTLP_EINVAL;
    ex_free(head);
    exo_pb_scope_spans *ssp[1] = {ss};
    exo_pb_request req = OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_REQUEST__INIT;
    exo_pb_resource_spans *rsp[1] = {rs};
    req.n_resource_spans = 1;
    req.resource_spans = rsp;
    rs->n_scope_spans = 1;
    rs->scope_spans = ssp;
    for (size_t k = 0; rc == 0 && k < n; k += w->max_spans) {
        size_t m = n - k < w->max_spans ? n - k : w->max_spans, got = 0;
        for (; got < m; got++) {
            w->spans[got] = opentelemetry__proto__trace__v1__span__unpack(&w->pb, spans[k + got].len, spans[k + got].p);
            if (!w->spans[got]) break;
        }
        if (got < m) {
            rc = EXO_OTLP_EINVAL;
        } else {
            ss->n_spans = m;
            ss->spans = w->spans;
            exo_otlp_piece piece = {&req, ri, si, k};
            if (w->cb(w->arg, &piece) != 0) rc = EXO_OTLP_ESTOPPED;
        }
        ex_arena_reset(&w->arena);
    }
    rs->n_scope_spans = 0;
    rs->scope_spans = NULL;
    if (ss) {
        ss->n_spans = 0;
        ss->spans = NULL;
        opentelemetry__proto__trace__v1__scope_spans__free_unpacked(ss, &exo_pb_allocator);
    }
    ex_free(spans);
    return rc;
}

/* Unpack the head of one ResourceSpans and walk its ScopeSpans. */
static int walk_resource(walk *w, size_t ri, const uint8_t *msg, size_t len)
{
    field *scopes;
    size_t n, head_len;
    uint8_t *head;
    int rc = split(msg, len, RS_SCOPE_SPANS, &scopes, &n, &head, &head_len);
    exo_pb_resource_spans *rs = NULL;
    if (rc == 0 && !(rs = opentelemetry__proto__trace__v1__resource_spans__unpack(&exo_pb_allocator, head_len, head)))
        rc = EXO_OTLP_EINVAL;
    ex_free(head);
    for (size_t s = 0; rc == 0 && s < n; s++) rc = walk_scope(w, rs, ri, s, scopes[s].p, scopes[s].len);
    if (rs) opentelemetry__proto__trace__v1__resource_spans__free_unpacked(rs, &exo_pb_allocator);
    ex_free(scopes);
    return rc;
}

int exo_otlp_proto_decode_pieces(const uint8_t *buf, size_t len, size_t max_spans, exo_otlp_piece_fn cb, void *arg,
                                 char *err, size_t errlen)
{
    int rc = exo__proto_check_request(buf, len, err, errlen);
    if (rc != 0) return rc;
    walk w = {max_spans ? max_spans : 1, cb, arg, NULL, {0}, {arena_alloc, arena_free, NULL}};
    ex_arena_init(&w.arena, ARENA_CHUNK, ARENA_KEEP);
    w.pb.allocator_data = &w.arena;
    field *resources;
    size_t n, head_len;
    uint8_t *head;
    rc = split(buf, len, REQ_RESOURCE_SPANS, &resources, &n, &head, &head_len);
    /* The request's other fields are unknown ones: protobuf-c keeps and
     * ignores them, and so does this. */
    ex_free(head);
    if (rc == 0 && n && !(w.spans = ex_malloc(w.max_spans * sizeof *w.spans))) rc = EXO_OTLP_ENOMEM;
    for (size_t r = 0; rc == 0 && r < n; r++) rc = walk_resource(&w, r, resources[r].p, resources[r].len);
    ex_free(w.spans);
    ex_arena_free(&w.arena);
    ex_free(resources);
    if (rc == EXO_OTLP_EINVAL && err) snprintf(err, errlen, "%s", INVALID);
    if (rc == EXO_OTLP_ENOMEM && err) snprintf(err, errlen, "out of memory");
    return rc;
}
