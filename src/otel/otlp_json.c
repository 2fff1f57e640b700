/* otlp_json.c — OTLP/JSON (otlp_json.h): the rules both directions share
 * (field names, which bytes fields are hex ids, the text forms of bytes),
 * the encoder, and the decoders of a collector's answers (response and
 * google.rpc.Status). Requests and other messages are decoded in
 * otlp_json_decode.c.
 *
 * Both directions walk the protobuf-c descriptors, so every message of the
 * model (links, kvlists, bytes, TracesData, responses) is covered by one
 * set of rules: the OTLP/JSON ones listed in otlp_json.h. */
#include "otel/otlp_json.h"

#include <ctype.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/hex.h"
#include "core/mem.h"
#include "otel/ids.h"
#include "otel/otlp_json_int.h"

#define CMEMBER(m, off) ((const void *)((const char *)(m) + (off)))

/* ---- rules both directions share ------------------------------------------ */

void exo__json_name(const char *name, char *out, size_t outlen)
{
    size_t o = 0;
    int up = 0;
    for (; *name && o + 1 < outlen; name++) {
        if (*name == '_') {
            up = 1;
            continue;
        }
        out[o++] = up ? (char)toupper((unsigned char)*name) : *name;
        up = 0;
    }
    out[o] = '\0';
}

size_t exo__json_id_len(const ProtobufCFieldDescriptor *f)
{
    if (f->type != PROTOBUF_C_TYPE_BYTES) return 0;
    if (strcmp(f->name, "trace_id") == 0) return 16;
    if (strcmp(f->name, "span_id") == 0 || strcmp(f->name, "parent_span_id") == 0) return 8;
    return 0;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void exo_b64_encode(const uint8_t *data, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16;
        if (i + 1 < n) v |= (uint32_t)data[i + 1] << 8;
        if (i + 2 < n) v |= data[i + 2];
        out[o++] = b64[v >> 18 & 63];
        out[o++] = b64[v >> 12 & 63];
        out[o++] = i + 1 < n ? b64[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? b64[v & 63] : '=';
    }
    out[o] = '\0';
}

static int b64val(int c)
{
    if (c == '-') return 62; /* URL-safe alphabet, accepted as proto3 JSON does */
    if (c == '_') return 63;
    const char *p = c ? strchr(b64, c) : NULL;
    return p ? (int)(p - b64) : -1;
}

/* Decode base64 (padding optional) into out (at least 3 * len / 4 + 3
 * bytes); returns the length, or -1 when s is not base64. */
static long b64_decode(const char *s, size_t len, uint8_t *out)
{
    while (len > 0 && s[len - 1] == '=') len--;
    if (len % 4 == 1) return -1;
    size_t o = 0;
    uint32_t acc = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64val((unsigned char)s[i]);
        if (v < 0) return -1;
        acc = acc << 6 | (uint32_t)v;
        if (i % 4 == 3) {
            out[o++] = (uint8_t)(acc >> 16);
            out[o++] = (uint8_t)(acc >> 8);
            out[o++] = (uint8_t)acc;
            acc = 0;
        }
    }
    if (len % 4 == 2) out[o++] = (uint8_t)(acc >> 4);
    if (len % 4 == 3) {
        out[o++] = (uint8_t)(acc >> 10);
        out[o++] = (uint8_t)(acc >> 2);
    }
    return (long)o;
}

long exo__json_bytes_decode(size_t want, const char *s, size_t n, uint8_t *out)
{
    if (!want) return b64_decode(s, n, out);
    if (n != 2 * want) return -1;
    for (size_t i = 0; i < want; i++) {
        int hi = ex_hex_digit((unsigned char)s[2 * i]), lo = ex_hex_digit((unsigned char)s[2 * i + 1]);
        if (hi < 0 || lo < 0) return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return (long)want;
}

/* ---- encoding ------------------------------------------------------------ */

/* Size of one element of a repeated field of type t. */
static size_t elt_size(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64: case PROTOBUF_C_TYPE_DOUBLE:
        return 8;
    case PROTOBUF_C_TYPE_BOOL: return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING: return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES: return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE: return sizeof(void *);
    default: return 4;
    }
}

static json_t *enc_message(const ProtobufCMessage *m);

static json_t *enc_string(const char *s)
{
    size_t n = strlen(s);
    if (exo__utf8_valid(s, n)) return json_stringn(s, n);
    char *fixed = ex_malloc(exo__utf8_repair_size(s, n));
    if (!fixed) return NULL;
    json_t *j = json_string(exo__utf8_repair(s, n, fixed));
    ex_free(fixed);
    return j;
}

static json_t *enc_bytes(const ProtobufCFieldDescriptor *f, const ProtobufCBinaryData *b)
{
    int hex = exo__json_id_len(f) != 0;
    size_t cap = hex ? 2 * b->len + 1 : 4 * ((b->len + 2) / 3) + 1;
    char *s = ex_malloc(cap);
    if (!s) return NULL;
    if (hex) exo_hex(b->data, b->len, s);
    else exo_b64_encode(b->data, b->len, s);
    json_t *j = json_string(s);
    ex_free(s);
    return j;
}

static json_t *enc_double(double d)
{
    if (isnan(d)) return json_string("NaN");
    if (isinf(d)) return json_string(d > 0 ? "Infinity" : "-Infinity");
    return json_real(d);
}

/* One value of field f stored at p. */
static json_t *enc_value(const ProtobufCFieldDescriptor *f, const void *p)
{
    char num[24];
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32: case PROTOBUF_C_TYPE_SFIXED32:
        return json_integer(*(const int32_t *)p);
    case PROTOBUF_C_TYPE_ENUM:
        return json_integer(*(const int *)p);
    case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32:
        return json_integer(*(const uint32_t *)p);
    case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
        snprintf(num, sizeof num, "%" PRId64, *(const int64_t *)p);
        return json_string(num);
    case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64:
        snprintf(num, sizeof num, "%" PRIu64, *(const uint64_t *)p);
        return json_string(num);
    case PROTOBUF_C_TYPE_BOOL:
        return json_boolean(*(const protobuf_c_boolean *)p);
    case PROTOBUF_C_TYPE_FLOAT:
        return enc_double(*(const float *)p);
    case PROTOBUF_C_TYPE_DOUBLE:
        return enc_double(*(const double *)p);
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;
        return enc_string(s ? s : "");
    }
    case PROTOBUF_C_TYPE_BYTES:
        return enc_bytes(f, p);
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *sub = *(ProtobufCMessage *const *)p;
        return sub ? enc_message(sub) : json_object();
    }
    }
    return NULL;
}

/* 1 when field f of m holds its default value (and is left out). */
static int is_default(const ProtobufCFieldDescriptor *f, const ProtobufCMessage *m)
{
    const void *p = CMEMBER(m, f->offset);
    if (f->label == PROTOBUF_C_LABEL_REQUIRED) return 0;
    if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->type != PROTOBUF_C_TYPE_STRING &&
        f->type != PROTOBUF_C_TYPE_MESSAGE)
        return !*(const protobuf_c_boolean *)CMEMBER(m, f->quantifier_offset);
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64:
        return *(const uint64_t *)p == 0;
    case PROTOBUF_C_TYPE_DOUBLE: return *(const double *)p == 0;
    case PROTOBUF_C_TYPE_FLOAT: return *(const float *)p == 0;
    case PROTOBUF_C_TYPE_BOOL: return !*(const protobuf_c_boolean *)p;
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;
        return !s || !*s;
    }
    case PROTOBUF_C_TYPE_BYTES: return ((const ProtobufCBinaryData *)p)->len == 0;
    case PROTOBUF_C_TYPE_MESSAGE: return *(ProtobufCMessage *const *)p == NULL;
    default: return *(const uint32_t *)p == 0;
    }
}

static json_t *enc_repeated(const ProtobufCFieldDescriptor *f, const void *arr, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++) {
        json_t *v = enc_value(f, (const char *)arr + i * elt_size(f->type));
        if (!v || json_array_append_new(a, v)) {
            json_decref(a);
            a = NULL;
        }
    }
    return a;
}

static json_t *enc_message(const ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    json_t *obj = json_object();
    for (unsigned i = 0; obj && i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        json_t *v;
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            if (*(const uint32_t *)CMEMBER(m, f->quantifier_offset) != f->id) continue;
            v = enc_value(f, CMEMBER(m, f->offset));
        } else if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)CMEMBER(m, f->quantifier_offset);
            if (n == 0) continue;
            v = enc_repeated(f, *(void *const *)CMEMBER(m, f->offset), n);
        } else {
            if (is_default(f, m)) continue;
            v = enc_value(f, CMEMBER(m, f->offset));
        }
        char key[64];
        exo__json_name(f->name, key, sizeof key);
        if (!v || json_object_set_new(obj, key, v)) { /* set_new releases v on failure */
            json_decref(obj);
            obj = NULL;
        }
    }
    return obj;
}

typedef struct text_buf {
    char *buf;       /* the text so far, NUL-terminated; owned (ex_free) */
    size_t len, cap; /* bytes of text (NUL not counted); bytes allocated */
} text_buf;

static int dump_cb(const char *chunk, size_t size, void *data)
{
    text_buf *t = data;
    if (t->cap - t->len < size + 1) {
        size_t cap = t->cap ? t->cap : 1024;
        while (cap - t->len < size + 1) cap *= 2;
        char *n = ex_realloc(t->buf, cap);
        if (!n) return -1;
        t->buf = n;
        t->cap = cap;
    }
    memcpy(t->buf + t->len, chunk, size);
    t->len += size;
    t->buf[t->len] = '\0';
    return 0;
}

int exo_otlp_json_encode_message(const ProtobufCMessage *msg, char **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    json_t *root = enc_message(msg);
    if (!root) return EXO_OTLP_ENOMEM;
    text_buf t = {0};
    int rc = json_dump_callback(root, dump_cb, &t, JSON_COMPACT | JSON_REAL_PRECISION(17));
    json_decref(root);
    if (rc != 0 || !t.buf) {
        ex_free(t.buf);
        return EXO_OTLP_ENOMEM;
    }
    *out = t.buf;
    *out_len = t.len;
    return 0;
}

int exo_otlp_json_encode(const exo_resource *res, const char *scope_name, const char *scope_version,
                         exo_span *const *spans, size_t n, char **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    exo_otlp_view *v = exo_otlp_view_build(res, scope_name, scope_version, spans, n);
    if (!v) return EXO_OTLP_ENOMEM;
    int rc = exo_otlp_json_encode_message(&exo_otlp_view_request(v)->base, out, out_len);
    exo_otlp_view_free(v);
    return rc;
}

/* ---- a collector's answers ----------------------------------------------- */

static void copy_text(char *dst, size_t dstlen, const char *src)
{
    if (!dst || dstlen == 0) return;
    snprintf(dst, dstlen, "%s", src ? src : "");
}

int exo_otlp_json_decode_response(const char *json, size_t len, int64_t *rejected, char *msg, size_t msglen)
{
    ProtobufCMessage *m;
    *rejected = 0;
    copy_text(msg, msglen, "");
    if (exo_otlp_json_decode_message(&opentelemetry__proto__collector__trace__v1__export_trace_service_response__descriptor,
                                     json, len, &m, NULL, 0))
        return EXO_OTLP_EINVAL;
    exo_pb_response *r = (exo_pb_response *)m;
    if (r->partial_success) {
        *rejected = r->partial_success->rejected_spans;
        copy_text(msg, msglen, r->partial_success->error_message);
    }
    protobuf_c_message_free_unpacked(m, &exo_pb_allocator);
    return 0;
}

/* A JSON google.protobuf.Duration ("1.5s", "3s", "0.000000100s") in ns;
 * -1 when malformed or negative. */
static int64_t parse_duration(const char *s)
{
    int64_t sec = 0, frac = 0, scale = 1000000000;
    if (!isdigit((unsigned char)*s)) return -1;
    for (; isdigit((unsigned char)*s); s++) {
        if (sec > (INT64_MAX / 1000000000 - 10) / 10) return INT64_MAX;
        sec = sec * 10 + (*s - '0');
    }
    if (*s == '.') {
        s++;
        for (int k = 0; isdigit((unsigned char)*s); s++, k++)
            if (k < 9) frac += (*s - '0') * (scale /= 10);
    }
    if (strcmp(s, "s") != 0) return -1;
    return sec * 1000000000 + frac;
}

/* The retryDelay of the first google.rpc.RetryInfo in a Status's details
 * that has one, in ns (-1 when malformed); -1 when there is none. */
static int64_t retry_info_delay(const json_t *details)
{
    const json_t *el;
    size_t i;
    json_array_foreach(details, i, el) {
        const char *type = json_string_value(json_object_get(el, "@type"));
        const char *delay = json_string_value(json_object_get(el, "retryDelay"));
        size_t tn = type ? strlen(type) : 0, k = strlen("google.rpc.RetryInfo");
        if (delay && tn >= k && strcmp(type + tn - k, "google.rpc.RetryInfo") == 0) return parse_duration(delay);
    }
    return -1;
}

int exo_otlp_json_decode_status(const char *json, size_t len, int32_t *code, char *msg, size_t msglen,
                                int64_t *retry_delay_ns)
{
    json_t *root;
    int64_t c = 0;
    *code = 0;
    copy_text(msg, msglen, "");
    if (retry_delay_ns) *retry_delay_ns = -1;
    if (exo__json_load_object(json, len, &root)) return EXO_OTLP_EINVAL;
    const json_t *jc = json_object_get(root, "code"), *jm = json_object_get(root, "message");
    int rc = EXO_OTLP_EINVAL;
    if ((jc && !json_is_null(jc) && exo__json_int(jc, INT32_MIN, INT32_MAX, &c)) ||
        (jm && !json_is_string(jm) && !json_is_null(jm)))
        goto out;
    *code = (int32_t)c;
    copy_text(msg, msglen, json_string_value(jm));
    if (retry_delay_ns) *retry_delay_ns = retry_info_delay(json_object_get(root, "details"));
    rc = 0;
out:
    json_decref(root);
    return rc;
}
