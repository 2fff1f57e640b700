#include "otel/otlp_proto.h"

#include <stdalign.h>
#include <stdio.h>
#include <string.h>

#include "core/hex.h"
#include "core/mem.h"
#include "google/rpc/error_details.pb-c.h"
#include "google/rpc/status.pb-c.h"

/* ---- allocator ------------------------------------------------------- */

static void *pb_alloc(void *ud, size_t n)
{
    (void)ud;
    return ex_malloc(n ? n : 1);
}

static void pb_free(void *ud, void *p)
{
    (void)ud;
    ex_free(p);
}

ProtobufCAllocator exo_pb_allocator = {pb_alloc, pb_free, NULL};

/* ---- UTF-8 ------------------------------------------------------------ */

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    uint32_t cp;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) len = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, cp = c & 0x07;
    else return 0;
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) return 0;
    if (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) return 0;
    return len;
}

int exo__utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    /* ASCII eight bytes at a time: most text is */
    for (uint64_t w; i + 8 <= len; i += 8) {
        memcpy(&w, p + i, 8);
        if (w & UINT64_C(0x8080808080808080)) break;
    }
    while (i < len) {
        size_t k = utf8_seq(p + i, len - i);
        if (!k) return 0;
        i += k;
    }
    return 1;
}

size_t exo__utf8_repair_size(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t need = 1;
    for (size_t i = 0; i < len;) {
        size_t k = utf8_seq(p + i, len - i);
        need += k ? k : 3;
        i += k ? k : 1;
    }
    return need;
}

char *exo__utf8_repair(const char *s, size_t len, char *out)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        size_t k = utf8_seq(p + i, len - i);
        if (k) {
            memcpy(out + o, p + i, k);
            o += k;
            i += k;
        } else {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        }
    }
    out[o] = '\0';
    return out;
}

/* ---- views: requests built over spans in a bump arena ----------------- */

typedef struct arena_block {
    struct arena_block *next;
    size_t used, cap;
    max_align_t data[]; /* cap bytes */
} arena_block;

struct exo_otlp_view {
    exo_pb_request req;       /* the request; everything below it is in blocks */
    arena_block *blocks;      /* newest first; owned */
    int oom;                  /* an allocation failed */
};

#define ARENA_BLOCK 16384

static void *arena_alloc(exo_otlp_view *v, size_t n)
{
    n = (n + alignof(max_align_t) - 1) / alignof(max_align_t) * alignof(max_align_t);
    arena_block *b = v->blocks;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > ARENA_BLOCK ? n : ARENA_BLOCK;
        b = ex_malloc(sizeof *b + cap);
        if (!b) {
            v->oom = 1;
            return NULL;
        }
        b->next = v->blocks;
        b->used = 0;
        b->cap = cap;
        v->blocks = b;
    }
    void *p = (char *)b->data + b->used;
    b->used += n;
    return p;
}

/* A string for a proto3 field: s itself when valid UTF-8, else a repaired
 * copy in the arena. NULL only on allocation failure. */
static char *view_text(exo_otlp_view *v, const char *s)
{
    if (!s) return (char *)protobuf_c_empty_string;
    size_t len = strlen(s);
    if (exo__utf8_valid(s, len)) return (char *)s;
    char *out = arena_alloc(v, exo__utf8_repair_size(s, len));
    return out ? exo__utf8_repair(s, len, out) : NULL;
}

static void view_value(exo_otlp_view *v, const exo_attr *a, exo_pb_any *val)
{
    opentelemetry__proto__common__v1__any_value__init(val);
    switch (a->type) {
    case EXO_VAL_STRING:
        val->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
        val->string_value = view_text(v, a->v.s);
        break;
    case EXO_VAL_BOOL:
        val->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE;
        val->bool_value = a->v.b ? 1 : 0;
        break;
    case EXO_VAL_INT:
        val->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
        val->int_value = a->v.i;
        break;
    case EXO_VAL_DOUBLE:
        val->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE;
        val->double_value = a->v.d;
        break;
    }
}

/* Point *out at n KeyValues for the attributes (none: NULL, 0). */
static void view_attrs(exo_otlp_view *v, const exo_attrs *a, size_t *n, exo_pb_kv ***out)
{
    *n = 0;
    *out = NULL;
    if (!a || a->len == 0) return;
    exo_pb_kv **arr = arena_alloc(v, a->len * sizeof *arr);
    exo_pb_kv *kvs = arena_alloc(v, a->len * sizeof *kvs);
    exo_pb_any *vals = arena_alloc(v, a->len * sizeof *vals);
    if (!arr || !kvs || !vals) return;
    for (size_t i = 0; i < a->len; i++) {
        opentelemetry__proto__common__v1__key_value__init(&kvs[i]);
        kvs[i].key = view_text(v, a->items[i].key);
        view_value(v, &a->items[i], &vals[i]);
        kvs[i].value = &vals[i];
        arr[i] = &kvs[i];
    }
    *n = a->len;
    *out = arr;
}

static uint64_t unix_nano(int64_t ns) { return ns < 0 ? 0 : (uint64_t)ns; }

static void view_events(exo_otlp_view *v, const exo_span *s, exo_pb_span *ps)
{
    if (s->nevents == 0) return;
    exo_pb_event **arr = arena_alloc(v, s->nevents * sizeof *arr);
    exo_pb_event *evs = arena_alloc(v, s->nevents * sizeof *evs);
    if (!arr || !evs) return;
    for (size_t i = 0; i < s->nevents; i++) {
        opentelemetry__proto__trace__v1__span__event__init(&evs[i]);
        evs[i].time_unix_nano = unix_nano(s->events[i].time_ns);
        evs[i].name = view_text(v, s->events[i].name);
        view_attrs(v, &s->events[i].attrs, &evs[i].n_attributes, &evs[i].attributes);
        arr[i] = &evs[i];
    }
    ps->n_events = s->nevents;
    ps->events = arr;
}

static void view_links(exo_otlp_view *v, exo_span *s, exo_pb_span *ps)
{
    if (s->nlinks == 0) return;
    Opentelemetry__Proto__Trace__V1__Span__Link **arr = arena_alloc(v, s->nlinks * sizeof *arr);
    Opentelemetry__Proto__Trace__V1__Span__Link *ls = arena_alloc(v, s->nlinks * sizeof *ls);
    if (!arr || !ls) return;
    for (size_t i = 0; i < s->nlinks; i++) {
        opentelemetry__proto__trace__v1__span__link__init(&ls[i]);
        ls[i].trace_id.len = 16;
        ls[i].trace_id.data = s->links[i].trace_id;
        ls[i].span_id.len = 8;
        ls[i].span_id.data = s->links[i].span_id;
        ls[i].flags = s->links[i].flags;
        view_attrs(v, &s->links[i].attrs, &ls[i].n_attributes, &ls[i].attributes);
        arr[i] = &ls[i];
    }
    ps->n_links = s->nlinks;
    ps->links = arr;
}

static void view_span(exo_otlp_view *v, exo_span *s, exo_pb_span *ps, exo_pb_status *st)
{
    opentelemetry__proto__trace__v1__span__init(ps);
    ps->trace_id.len = 16;
    ps->trace_id.data = s->trace_id;
    ps->span_id.len = 8;
    ps->span_id.data = s->span_id;
    if (s->has_parent) {
        ps->parent_span_id.len = 8;
        ps->parent_span_id.data = s->parent_span_id;
    }
    ps->flags = EXO_OTLP_SPAN_FLAGS;
    if (s->has_parent && s->parent_remote) ps->flags |= EXO_FLAG_HAS_IS_REMOTE | EXO_FLAG_IS_REMOTE;
    ps->name = view_text(v, s->name);
    ps->kind = (Opentelemetry__Proto__Trace__V1__Span__SpanKind)s->kind;
    ps->start_time_unix_nano = unix_nano(s->start_ns);
    ps->end_time_unix_nano = unix_nano(s->end_ns);
    view_attrs(v, &s->attrs, &ps->n_attributes, &ps->attributes);
    view_events(v, s, ps);
    view_links(v, s, ps);
    opentelemetry__proto__trace__v1__status__init(st);
    st->code = (Opentelemetry__Proto__Trace__V1__Status__StatusCode)s->status_code;
    if (s->status_message) st->message = view_text(v, s->status_message);
    ps->status = st;
}

exo_otlp_view *exo_otlp_view_build(const exo_resource *res, const char *scope_name,
                                   const char *scope_version, exo_span *const *spans, size_t n)
{
    exo_otlp_view *v = ex_calloc(1, sizeof *v);
    if (!v) return NULL;
    opentelemetry__proto__collector__trace__v1__export_trace_service_request__init(&v->req);
    exo_pb_resource_spans **rsa = arena_alloc(v, sizeof *rsa);
    exo_pb_resource_spans *rs = arena_alloc(v, sizeof *rs);
    exo_pb_resource *r = arena_alloc(v, sizeof *r);
    exo_pb_scope_spans **ssa = arena_alloc(v, sizeof *ssa);
    exo_pb_scope_spans *ss = arena_alloc(v, sizeof *ss);
    exo_pb_scope *scope = arena_alloc(v, sizeof *scope);
    exo_pb_span **sa = arena_alloc(v, (n ? n : 1) * sizeof *sa);
    exo_pb_span *ps = arena_alloc(v, (n ? n : 1) * sizeof *ps);
    exo_pb_status *st = arena_alloc(v, (n ? n : 1) * sizeof *st);
    if (v->oom) goto out;

    opentelemetry__proto__resource__v1__resource__init(r);
    view_attrs(v, res ? &res->attrs : NULL, &r->n_attributes, &r->attributes);
    opentelemetry__proto__common__v1__instrumentation_scope__init(scope);
    scope->name = view_text(v, scope_name);
    scope->version = view_text(v, scope_version);
    for (size_t i = 0; i < n; i++) {
        view_span(v, spans[i], &ps[i], &st[i]);
        sa[i] = &ps[i];
    }
    opentelemetry__proto__trace__v1__scope_spans__init(ss);
    ss->scope = scope;
    ss->n_spans = n;
    ss->spans = sa;
    ssa[0] = ss;
    opentelemetry__proto__trace__v1__resource_spans__init(rs);
    rs->resource = r;
    rs->n_scope_spans = 1;
    rs->scope_spans = ssa;
    rsa[0] = rs;
    v->req.n_resource_spans = 1;
    v->req.resource_spans = rsa;
out:
    if (v->oom) {
        exo_otlp_view_free(v);
        return NULL;
    }
    return v;
}

const exo_pb_request *exo_otlp_view_request(const exo_otlp_view *v) { return &v->req; }

void exo_otlp_view_free(exo_otlp_view *v)
{
    if (!v) return;
    while (v->blocks) {
        arena_block *next = v->blocks->next;
        ex_free(v->blocks);
        v->blocks = next;
    }
    ex_free(v);
}

int exo_otlp_proto_encode(const exo_resource *res, const char *scope_name, const char *scope_version,
                          exo_span *const *spans, size_t n, uint8_t **out, size_t *out_len)
{
    return exo_otlp_proto_encode_into(res, scope_name, scope_version, spans, n, 0, out, out_len);
}

int exo_otlp_proto_encode_pbc(const exo_resource *res, const char *scope_name, const char *scope_version,
                              exo_span *const *spans, size_t n, uint8_t **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    exo_otlp_view *v = exo_otlp_view_build(res, scope_name, scope_version, spans, n);
    if (!v) return EXO_OTLP_ENOMEM;
    size_t len = opentelemetry__proto__collector__trace__v1__export_trace_service_request__get_packed_size(&v->req);
    uint8_t *buf = ex_malloc(len ? len : 1);
    if (buf) {
        *out_len = opentelemetry__proto__collector__trace__v1__export_trace_service_request__pack(&v->req, buf);
        *out = buf;
    }
    exo_otlp_view_free(v);
    return buf ? 0 : EXO_OTLP_ENOMEM;
}

/* ---- decoding received requests --------------------------------------- */

int exo__read_varint(const uint8_t *p, size_t len, size_t *pos, uint64_t *v)
{
    uint64_t r = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (*pos >= len) return -1;
        uint8_t b = p[(*pos)++];
        r |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80)) {
            *v = r;
            return 0;
        }
    }
    return -1;
}

/* Walk the wire format of a message of type d and fail when AnyValues nest
 * deeper than the bound: protobuf-c's unpack recurses without a limit, so
 * hostile input must be measured before it is unpacked. `depth` is the
 * number of enclosing AnyValues. Returns 0, or 1 for too deep, -1 for
 * malformed wire data. */
static int check_nesting(const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t len, int depth)
{
    if (d == &opentelemetry__proto__common__v1__any_value__descriptor &&
        ++depth > EXO_OTLP_MAX_VALUE_DEPTH)
        return 1;
    size_t pos = 0;
    while (pos < len) {
        uint64_t key, n;
        size_t at = pos;
        /* protobuf-c reads a tag, and a length prefix, of at most 5 bytes:
         * a longer (overlong) varint is malformed to it, so it is here */
        if (exo__read_varint(p, len, &pos, &key) || pos - at > 5 || (key >> 3) == 0 || (key >> 3) > 0x1FFFFFFF)
            return -1;
        switch (key & 7) {
        case 0:
            if (exo__read_varint(p, len, &pos, &n)) return -1;
            break;
        case 1:
        case 5: {
            size_t w = (key & 7) == 1 ? 8 : 4;
            if (len - pos < w) return -1;
            pos += w;
            break;
        }
        case 2: {
            at = pos;
            if (exo__read_varint(p, len, &pos, &n) || pos - at > 5 || n > len - pos) return -1;
            const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(d, (unsigned)(key >> 3));
            if (f && f->type == PROTOBUF_C_TYPE_MESSAGE) {
                int rc = check_nesting(f->descriptor, p + pos, (size_t)n, depth);
                if (rc) return rc;
            }
            pos += (size_t)n;
            break;
        }
        default:
            return -1; /* groups do not exist in proto3 */
        }
    }
    return 0;
}

static void set_text(char *dst, size_t dstlen, const char *src)
{
    if (!dst || dstlen == 0) return;
    size_t n = src ? strlen(src) : 0;
    if (n >= dstlen) n = dstlen - 1;
    if (n) memcpy(dst, src, n);
    dst[n] = '\0';
}

int exo__proto_check_request(const uint8_t *buf, size_t len, char *err, size_t errlen)
{
    set_text(err, errlen, "");
    int rc = check_nesting(&opentelemetry__proto__collector__trace__v1__export_trace_service_request__descriptor,
                           buf, len, 0);
    if (rc > 0) {
        if (err) snprintf(err, errlen, "protobuf: attribute values nested deeper than %d", EXO_OTLP_MAX_VALUE_DEPTH);
        return EXO_OTLP_EINVAL;
    }
    if (rc < 0) {
        set_text(err, errlen, "protobuf: malformed wire data");
        return EXO_OTLP_EINVAL;
    }
    return 0;
}

int exo_otlp_proto_decode_request(const uint8_t *buf, size_t len, exo_pb_request **out, char *err,
                                  size_t errlen)
{
    *out = NULL;
    int rc = exo__proto_check_request(buf, len, err, errlen);
    if (rc != 0) return rc;
    *out = opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(&exo_pb_allocator,
                                                                                            len, buf);
    if (!*out) {
        set_text(err, errlen, "protobuf: not a valid ExportTraceServiceRequest (or out of memory)");
        return EXO_OTLP_EINVAL;
    }
    return 0;
}

void exo_otlp_request_free(exo_pb_request *req)
{
    if (req) opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(req, &exo_pb_allocator);
}

/* ---- collector answers --------------------------------------------------- */

int exo_otlp_proto_decode_response(const uint8_t *buf, size_t len, int64_t *rejected, char *msg,
                                   size_t msglen)
{
    *rejected = 0;
    set_text(msg, msglen, "");
    exo_pb_response *r =
        opentelemetry__proto__collector__trace__v1__export_trace_service_response__unpack(&exo_pb_allocator, len, buf);
    if (!r) return EXO_OTLP_EINVAL;
    if (r->partial_success) {
        *rejected = r->partial_success->rejected_spans;
        set_text(msg, msglen, r->partial_success->error_message);
    }
    opentelemetry__proto__collector__trace__v1__export_trace_service_response__free_unpacked(r, &exo_pb_allocator);
    return 0;
}

/* The delay of a RetryInfo detail in ns, or -1 when d is something else. */
static int64_t retry_delay(const Google__Protobuf__Any *d)
{
    static const char suffix[] = "google.rpc.RetryInfo";
    size_t n = strlen(d->type_url), k = sizeof suffix - 1;
    if (n < k || strcmp(d->type_url + n - k, suffix) != 0 || (n > k && d->type_url[n - k - 1] != '/'))
        return -1;
    Google__Rpc__RetryInfo *ri = google__rpc__retry_info__unpack(&exo_pb_allocator, d->value.len, d->value.data);
    if (!ri) return -1;
    int64_t ns = 0;
    if (ri->retry_delay) {
        int64_t s = ri->retry_delay->seconds, nanos = ri->retry_delay->nanos;
        if (s < 0 || (s == 0 && nanos < 0)) ns = 0;
        else if (s > INT64_MAX / 1000000000 - 1) ns = INT64_MAX;
        else ns = s * 1000000000 + nanos;
    }
    google__rpc__retry_info__free_unpacked(ri, &exo_pb_allocator);
    return ns;
}

int exo_otlp_decode_status(const uint8_t *buf, size_t len, int32_t *code, char *msg, size_t msglen,
                           int64_t *retry_delay_ns)
{
    *code = 0;
    set_text(msg, msglen, "");
    if (retry_delay_ns) *retry_delay_ns = -1;
    Google__Rpc__Status *st = google__rpc__status__unpack(&exo_pb_allocator, len, buf);
    if (!st) return EXO_OTLP_EINVAL;
    *code = st->code;
    set_text(msg, msglen, st->message);
    for (size_t i = 0; retry_delay_ns && i < st->n_details; i++) {
        int64_t d = retry_delay(st->details[i]);
        if (d >= 0) {
            *retry_delay_ns = d;
            break;
        }
    }
    google__rpc__status__free_unpacked(st, &exo_pb_allocator);
    return 0;
}

int exo_otlp_grpc_retryable(int grpc_code, int has_retry_info)
{
    switch (grpc_code) {
    case 1:  /* CANCELLED */
    case 4:  /* DEADLINE_EXCEEDED */
    case 10: /* ABORTED */
    case 11: /* OUT_OF_RANGE */
    case 14: /* UNAVAILABLE */
    case 15: /* DATA_LOSS */
        return 1;
    case 8: /* RESOURCE_EXHAUSTED: the server says when recovery is possible */
        return has_retry_info ? 1 : 0;
    default:
        return 0;
    }
}

int exo_otlp_http_retryable(int http_status)
{
    return http_status == 429 || http_status == 502 || http_status == 503 || http_status == 504;
}

/* ---- gRPC message framing ------------------------------------------------ */

void exo_grpc_frame_header(uint8_t *hdr, size_t len, int compressed)
{
    hdr[0] = compressed ? 1 : 0;
    hdr[1] = (uint8_t)(len >> 24);
    hdr[2] = (uint8_t)(len >> 16);
    hdr[3] = (uint8_t)(len >> 8);
    hdr[4] = (uint8_t)len;
}

int exo_grpc_frame(const uint8_t *msg, size_t len, int compressed, uint8_t **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    if (len > UINT32_MAX) return EXO_OTLP_ETOOBIG;
    uint8_t *b = ex_malloc(5 + len);
    if (!b) return EXO_OTLP_ENOMEM;
    exo_grpc_frame_header(b, len, compressed);
    if (len) memcpy(b + 5, msg, len);
    *out = b;
    *out_len = 5 + len;
    return 0;
}

int exo_grpc_unframe(const uint8_t *buf, size_t len, size_t max_msg, const uint8_t **msg,
                     size_t *msg_len, int *compressed, size_t *consumed)
{
    *msg = NULL;
    *msg_len = 0;
    *consumed = 0;
    if (len < 5) return EXO_OTLP_EINCOMPLETE;
    if (buf[0] > 1) return EXO_OTLP_EINVAL;
    size_t n = (size_t)buf[1] << 24 | (size_t)buf[2] << 16 | (size_t)buf[3] << 8 | buf[4];
    if (n > max_msg) return EXO_OTLP_ETOOBIG;
    if (len - 5 < n) return EXO_OTLP_EINCOMPLETE;
    *compressed = buf[0];
    *msg = buf + 5;
    *msg_len = n;
    *consumed = 5 + n;
    return 0;
}

size_t exo_grpc_decode_message(const char *in, char *out, size_t outlen)
{
    size_t o = 0;
    if (outlen == 0) return 0;
    for (size_t i = 0; in[i] && o + 1 < outlen; i++) {
        int hi, lo;
        if (in[i] == '%' && (hi = ex_hex_digit(in[i + 1])) >= 0 && (lo = ex_hex_digit(in[i + 2])) >= 0) {
            out[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            out[o++] = in[i];
        }
    }
    out[o] = '\0';
    return o;
}
