/* otlp_encode.c — ExportTraceServiceRequest straight from the span model.
 *
 * The message is written back to front into one growing buffer: a
 * message's fields are written in reverse field order (and repeated
 * fields in reverse item order), so when a nested message is finished its
 * size is known and its length prefix and tag go in front of it. Every
 * string is read once (validated and copied), nothing is allocated per
 * span or attribute, and no size is computed twice.
 *
 * The bytes are those protobuf-c packs for the view of exo_otlp_view_build
 * (fields in field-number order, proto3 defaults left out, oneof members
 * written even when zero, text repaired to valid UTF-8): test_otlp_encode
 * compares the two encodings over random spans and the fuzz corpora. */
#include <string.h>

#include "core/mem.h"
#include "otel/otlp_proto.h"

/* Wire types. */
enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

/* The writer: bytes occupy buf[cap - used, cap). */
typedef struct rev_buf {
    uint8_t *buf;
    size_t cap, used;
    int oom;
} rev_buf;

static int rb_grow(rev_buf *b, size_t need)
{
    size_t ncap = b->cap ? b->cap * 2 : 65536;
    while (ncap - b->used < need) ncap *= 2;
    uint8_t *nb = ex_malloc(ncap);
    if (!nb) {
        b->oom = 1;
        return -1;
    }
    if (b->used) memcpy(nb + ncap - b->used, b->buf + b->cap - b->used, b->used);
    ex_free(b->buf);
    b->buf = nb;
    b->cap = ncap;
    return 0;
}

/* Room for n more bytes in front; a pointer to where they start, or NULL. */
static inline uint8_t *rb_front(rev_buf *b, size_t n)
{
    if (b->cap - b->used < n && rb_grow(b, n) != 0) return NULL;
    b->used += n;
    return b->buf + b->cap - b->used;
}

static inline size_t varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) v >>= 7, n++;
    return n;
}

static inline void put_varint(rev_buf *b, uint64_t v)
{
    uint8_t *p = rb_front(b, varint_len(v));
    if (!p) return;
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p = (uint8_t)v;
}

static inline void put_tag(rev_buf *b, unsigned field, unsigned wt) { put_varint(b, (uint64_t)field << 3 | wt); }

static inline void put_fixed(rev_buf *b, uint64_t v, size_t n)
{
    uint8_t *p = rb_front(b, n);
    if (!p) return;
    for (size_t i = 0; i < n; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static void put_fixed64_field(rev_buf *b, unsigned field, uint64_t v)
{
    put_fixed(b, v, 8);
    put_tag(b, field, WT_I64);
}

/* Close a length-delimited field whose content started at mark (the
 * `used` value before it was written). */
static inline void close_len(rev_buf *b, unsigned field, size_t mark)
{
    put_varint(b, b->used - mark);
    put_tag(b, field, WT_LEN);
}

static void put_bytes_field(rev_buf *b, unsigned field, const uint8_t *p, size_t n)
{
    size_t mark = b->used;
    uint8_t *d = rb_front(b, n);
    if (d) memcpy(d, p, n);
    close_len(b, field, mark);
}

/* A string field: left out when empty unless `always` (a oneof member),
 * repaired to UTF-8 when it is not valid. NULL is "". */
static void put_text_field(rev_buf *b, unsigned field, const char *s, int always)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 && !always) return;
    size_t mark = b->used;
    if (exo__utf8_valid(s, n)) {
        uint8_t *d = rb_front(b, n);
        if (d && n) memcpy(d, s, n);
    } else {
        size_t rn = exo__utf8_repair_size(s, n); /* with the NUL */
        uint8_t *d = rb_front(b, rn);
        if (d) { /* repaired text ends with a NUL, which is not sent */
            exo__utf8_repair(s, n, (char *)d);
            memmove(d + 1, d, rn - 1);
            b->used--;
        }
    }
    close_len(b, field, mark);
}

static void put_value(rev_buf *b, const exo_attr *a)
{
    switch (a->type) {
    case EXO_VAL_STRING:
        put_text_field(b, 1, a->v.s, 1);
        break;
    case EXO_VAL_BOOL:
        put_varint(b, a->v.b ? 1 : 0);
        put_tag(b, 2, WT_VARINT);
        break;
    case EXO_VAL_INT:
        put_varint(b, (uint64_t)a->v.i);
        put_tag(b, 3, WT_VARINT);
        break;
    case EXO_VAL_DOUBLE: {
        uint64_t bits;
        memcpy(&bits, &a->v.d, sizeof bits);
        put_fixed(b, bits, 8);
        put_tag(b, 4, WT_I64);
        break;
    }
    }
}

/* Repeated KeyValue `field`, items in order (written last first). */
static void put_attrs(rev_buf *b, unsigned field, const exo_attrs *a)
{
    if (!a) return;
    for (size_t i = a->len; i-- > 0;) {
        size_t kv = b->used;
        size_t val = b->used;
        put_value(b, &a->items[i]);
        close_len(b, 2, val);
        put_text_field(b, 1, a->items[i].key, 0);
        close_len(b, field, kv);
    }
}

/* An int32 enum field (negative values take ten bytes, as int32 does). */
static void put_enum_field(rev_buf *b, unsigned field, int v)
{
    if (v == 0) return;
    put_varint(b, (uint64_t)(int64_t)(int32_t)v);
    put_tag(b, field, WT_VARINT);
}

static void put_time_field(rev_buf *b, unsigned field, int64_t ns)
{
    if (ns > 0) put_fixed64_field(b, field, (uint64_t)ns);
}

static void put_link(rev_buf *b, const exo_link *l)
{
    size_t mark = b->used;
    if (l->flags) {
        put_fixed(b, l->flags, 4);
        put_tag(b, 6, WT_I32);
    }
    put_attrs(b, 4, &l->attrs);
    put_bytes_field(b, 2, l->span_id, 8);
    put_bytes_field(b, 1, l->trace_id, 16);
    close_len(b, 13, mark);
}

static void put_event(rev_buf *b, const exo_event *e)
{
    size_t mark = b->used;
    put_attrs(b, 3, &e->attrs);
    put_text_field(b, 2, e->name, 0);
    put_time_field(b, 1, e->time_ns);
    close_len(b, 11, mark);
}

static void put_span(rev_buf *b, const exo_span *s)
{
    size_t mark = b->used;
    uint32_t flags = EXO_OTLP_SPAN_FLAGS;
    if (s->has_parent && s->parent_remote) flags |= EXO_FLAG_HAS_IS_REMOTE | EXO_FLAG_IS_REMOTE;
    put_fixed(b, flags, 4);
    put_tag(b, 16, WT_I32);
    size_t st = b->used; /* Status (always present) */
    put_enum_field(b, 3, s->status_code);
    put_text_field(b, 2, s->status_message, 0);
    close_len(b, 15, st);
    for (size_t i = s->nlinks; i-- > 0;) put_link(b, &s->links[i]);
    for (size_t i = s->nevents; i-- > 0;) put_event(b, &s->events[i]);
    put_attrs(b, 9, &s->attrs);
    put_time_field(b, 8, s->end_ns);
    put_time_field(b, 7, s->start_ns);
    put_enum_field(b, 6, s->kind);
    put_text_field(b, 5, s->name, 0);
    if (s->has_parent) put_bytes_field(b, 4, s->parent_span_id, 8);
    put_bytes_field(b, 2, s->span_id, 8);
    put_bytes_field(b, 1, s->trace_id, 16);
    close_len(b, 2, mark);
}

/* What is sent is copied out of the buffer once, into an allocation of
 * the exact size; the buffer is kept in *scratch (up to SCRATCH_KEEP) so
 * the next batch is written into warm memory. */
#define SCRATCH_KEEP (8u << 20)

int exo_otlp_proto_encode_scratch(exo_otlp_scratch *scratch, const exo_resource *res, const char *scope_name,
                                  const char *scope_version, exo_span *const *spans, size_t n, size_t prefix,
                                  uint8_t **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    rev_buf b = {scratch ? scratch->buf : NULL, scratch ? scratch->cap : 0, 0, 0};
    size_t rs = b.used; /* ResourceSpans */
    size_t ss = b.used; /* ScopeSpans */
    for (size_t i = n; i-- > 0;) put_span(&b, spans[i]);
    size_t sc = b.used; /* InstrumentationScope */
    put_text_field(&b, 2, scope_version, 0);
    put_text_field(&b, 1, scope_name, 0);
    close_len(&b, 1, sc);
    close_len(&b, 2, ss);
    size_t r = b.used; /* Resource */
    put_attrs(&b, 1, res ? &res->attrs : NULL);
    close_len(&b, 1, r);
    close_len(&b, 1, rs);
    size_t len = prefix + b.used;
    uint8_t *msg = b.oom ? NULL : ex_malloc(len ? len : 1);
    if (msg) memcpy(msg + prefix, b.buf + b.cap - b.used, b.used);
    if (scratch && b.cap <= SCRATCH_KEEP) {
        scratch->buf = b.buf;
        scratch->cap = b.cap;
    } else {
        ex_free(b.buf);
        if (scratch) *scratch = (exo_otlp_scratch){0};
    }
    if (!msg) return EXO_OTLP_ENOMEM;
    *out = msg;
    *out_len = len;
    return 0;
}

int exo_otlp_proto_encode_into(const exo_resource *res, const char *scope_name, const char *scope_version,
                               exo_span *const *spans, size_t n, size_t prefix, uint8_t **out, size_t *out_len)
{
    return exo_otlp_proto_encode_scratch(NULL, res, scope_name, scope_version, spans, n, prefix, out, out_len);
}

void exo_otlp_scratch_free(exo_otlp_scratch *s)
{
    ex_free(s->buf);
    *s = (exo_otlp_scratch){0};
}
