#include "otel/otlp_json.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "otel/ids.h"

/* Both directions walk the protobuf-c descriptors, so every message of the
 * model (links, kvlists, bytes, TracesData, responses) is covered by one
 * set of rules: the OTLP/JSON ones listed in otlp_json.h. */

#define MEMBER(m, off) ((void *)((char *)(m) + (off)))
#define CMEMBER(m, off) ((const void *)((const char *)(m) + (off)))

/* lowerCamelCase JSON name of a snake_case field name. */
static void json_name(const char *name, char *out, size_t outlen)
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

/* Byte length of an id field written as hex (16 trace, 8 span), or 0 for
 * fields that are not ids (other bytes are base64). */
static size_t id_len(const ProtobufCFieldDescriptor *f)
{
    if (f->type != PROTOBUF_C_TYPE_BYTES) return 0;
    if (strcmp(f->name, "trace_id") == 0) return 16;
    if (strcmp(f->name, "span_id") == 0 || strcmp(f->name, "parent_span_id") == 0) return 8;
    return 0;
}

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

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* ---- encoding ------------------------------------------------------------ */

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
    int hex = id_len(f) != 0;
    size_t cap = hex ? 2 * b->len + 1 : 4 * ((b->len + 2) / 3) + 1;
    char *s = ex_malloc(cap);
    if (!s) return NULL;
    if (hex) {
        exo_hex(b->data, b->len, s);
    } else {
        size_t o = 0;
        for (size_t i = 0; i < b->len; i += 3) {
            uint32_t v = (uint32_t)b->data[i] << 16;
            if (i + 1 < b->len) v |= (uint32_t)b->data[i + 1] << 8;
            if (i + 2 < b->len) v |= b->data[i + 2];
            s[o++] = b64[v >> 18 & 63];
            s[o++] = b64[v >> 12 & 63];
            s[o++] = i + 1 < b->len ? b64[v >> 6 & 63] : '=';
            s[o++] = i + 2 < b->len ? b64[v & 63] : '=';
        }
        s[o] = '\0';
    }
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
        json_name(f->name, key, sizeof key);
        if (!v || json_object_set_new(obj, key, v)) { /* set_new releases v on failure */
            json_decref(obj);
            obj = NULL;
        }
    }
    return obj;
}

typedef struct text_buf {
    char *buf;
    size_t len, cap;
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

/* ---- decoding ------------------------------------------------------------ */

typedef struct json_dec {
    char path[256];   /* JSON path of the value being decoded */
    size_t plen;
    char *err;        /* caller's buffer for the first error */
    size_t errlen;
} json_dec;

static size_t path_push(json_dec *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static size_t path_push(json_dec *d, const char *fmt, ...)
{
    size_t mark = d->plen;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(d->path + d->plen, sizeof d->path - d->plen, fmt, ap);
    va_end(ap);
    if (n > 0) d->plen += (size_t)n < sizeof d->path - d->plen ? (size_t)n : sizeof d->path - d->plen - 1;
    return mark;
}

static void path_pop(json_dec *d, size_t mark)
{
    d->plen = mark;
    d->path[mark] = '\0';
}

static int fail(json_dec *d, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(json_dec *d, int rc, const char *fmt, ...)
{
    if (!d->err || d->errlen == 0) return rc;
    int cut = d->plen + 1 >= sizeof d->path; /* the path did not fit */
    int n = snprintf(d->err, d->errlen, "%s%s: ", d->plen ? d->path : "(root)", cut ? "\xE2\x80\xA6" : "");
    if (n >= 0 && (size_t)n < d->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(d->err + n, d->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return rc;
}

static int oom(json_dec *d) { return fail(d, EXO_OTLP_ENOMEM, "out of memory"); }

/* A short, printable, valid UTF-8 rendering of j for error messages. */
static const char *describe(const json_t *j, char *out, size_t outlen)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_TRUE: return "true";
    case JSON_FALSE: return "false";
    case JSON_NULL: return "null";
    case JSON_INTEGER: snprintf(out, outlen, "%" JSON_INTEGER_FORMAT, json_integer_value(j)); return out;
    case JSON_REAL: snprintf(out, outlen, "%.17g", json_real_value(j)); return out;
    case JSON_STRING: break;
    }
    const unsigned char *s = (const unsigned char *)json_string_value(j);
    size_t n = json_string_length(j), o = 0, max = 40;
    out[o++] = '"';
    for (size_t i = 0; i < n && o + 8 < outlen; i++) {
        if (i == max) {
            while (i < n && (s[i] & 0xC0) == 0x80 && o + 1 < outlen) out[o++] = (char)s[i++];
            o += (size_t)snprintf(out + o, outlen - o, "\xE2\x80\xA6"); /* … */
            break;
        }
        if (s[i] < 0x20 || s[i] == '"' || s[i] == '\\' || s[i] == 0x7F)
            o += (size_t)snprintf(out + o, outlen - o, s[i] == '"' || s[i] == '\\' ? "\\%c" : "\\x%02x", s[i]);
        else
            out[o++] = (char)s[i];
    }
    if (o + 1 < outlen) out[o++] = '"';
    out[o] = '\0';
    return out;
}

#define DESCRIBE(j) describe((j), vbuf, sizeof vbuf)

/* A decimal integer string: optional '-', then digits only. */
static int decimal_text(const char *s, int allow_minus)
{
    if (allow_minus && *s == '-') s++;
    if (!*s) return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9') return 0;
    return 1;
}

static int dec_int(json_dec *d, const json_t *j, int64_t lo, int64_t hi, int64_t *out)
{
    char vbuf[200];
    int64_t v;
    if (json_is_integer(j)) {
        v = json_integer_value(j);
    } else if (json_is_real(j) && floor(json_real_value(j)) == json_real_value(j) &&
               fabs(json_real_value(j)) < 9.2233720368547758e18) {
        v = (int64_t)json_real_value(j);
    } else if (json_is_string(j) && decimal_text(json_string_value(j), 1)) {
        errno = 0;
        long long x = strtoll(json_string_value(j), NULL, 10);
        if (errno) return fail(d, EXO_OTLP_EINVAL, "%s is out of range", DESCRIBE(j));
        v = x;
    } else {
        return fail(d, EXO_OTLP_EINVAL, "expected an integer (a number or a decimal string), got %s",
                    DESCRIBE(j));
    }
    if (v < lo || v > hi)
        return fail(d, EXO_OTLP_EINVAL, "%s is out of range [%" PRId64 ", %" PRId64 "]", DESCRIBE(j), lo, hi);
    *out = v;
    return 0;
}

static int dec_uint(json_dec *d, const json_t *j, uint64_t hi, uint64_t *out)
{
    char vbuf[200];
    uint64_t v;
    if (json_is_integer(j) && json_integer_value(j) >= 0) {
        v = (uint64_t)json_integer_value(j);
    } else if (json_is_real(j) && floor(json_real_value(j)) == json_real_value(j) &&
               json_real_value(j) >= 0 && json_real_value(j) < 1.8446744073709552e19) {
        v = (uint64_t)json_real_value(j);
    } else if (json_is_string(j) && decimal_text(json_string_value(j), 0)) {
        errno = 0;
        unsigned long long x = strtoull(json_string_value(j), NULL, 10);
        if (errno) return fail(d, EXO_OTLP_EINVAL, "%s is out of range", DESCRIBE(j));
        v = x;
    } else {
        return fail(d, EXO_OTLP_EINVAL,
                    "expected a non-negative integer (a number or a decimal string), got %s", DESCRIBE(j));
    }
    if (v > hi) return fail(d, EXO_OTLP_EINVAL, "%s is out of range [0, %" PRIu64 "]", DESCRIBE(j), hi);
    *out = v;
    return 0;
}

static int dec_double(json_dec *d, const json_t *j, double *out)
{
    char vbuf[200];
    if (json_is_number(j)) {
        *out = json_number_value(j);
        return 0;
    }
    const char *s = json_is_string(j) ? json_string_value(j) : "";
    if (strcmp(s, "NaN") == 0) *out = NAN;
    else if (strcmp(s, "Infinity") == 0) *out = INFINITY;
    else if (strcmp(s, "-Infinity") == 0) *out = -INFINITY;
    else {
        char *end;
        double x = *s && !isspace((unsigned char)*s) ? strtod(s, &end) : NAN;
        if (isnan(x) || *end != '\0' || !isfinite(x))
            return fail(d, EXO_OTLP_EINVAL, "expected a number, got %s", DESCRIBE(j));
        *out = x;
    }
    return 0;
}

static int dec_enum(json_dec *d, const ProtobufCFieldDescriptor *f, const json_t *j, int *out)
{
    char vbuf[200];
    const ProtobufCEnumDescriptor *ed = f->descriptor;
    if (json_is_string(j)) {
        const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value_by_name(ed, json_string_value(j));
        if (!ev) return fail(d, EXO_OTLP_EINVAL, "unknown %s value %s", ed->short_name, DESCRIBE(j));
        *out = ev->value;
        return 0;
    }
    int64_t v;
    if (!json_is_number(j))
        return fail(d, EXO_OTLP_EINVAL, "expected an integer %s value, got %s", ed->short_name, DESCRIBE(j));
    int rc = dec_int(d, j, INT32_MIN, INT32_MAX, &v);
    if (rc == 0) *out = (int)v; /* proto3 enums are open: unknown numbers are kept */
    return rc;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
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

static int dec_bytes(json_dec *d, const ProtobufCFieldDescriptor *f, const json_t *j, ProtobufCBinaryData *out)
{
    char vbuf[200];
    size_t want = id_len(f);
    if (!json_is_string(j)) {
        if (want) return fail(d, EXO_OTLP_EINVAL, "expected %zu hex digits, got %s", 2 * want, DESCRIBE(j));
        return fail(d, EXO_OTLP_EINVAL, "expected a base64 string, got %s", DESCRIBE(j));
    }
    const char *s = json_string_value(j);
    size_t n = json_string_length(j);
    if (n == 0) return 0; /* "" is the default: empty */
    uint8_t *buf = ex_malloc(want ? want : 3 * n / 4 + 3);
    if (!buf) return oom(d);
    long len = -1;
    if (want && n == 2 * want) {
        len = (long)want;
        for (size_t i = 0; i < want && len >= 0; i++) {
            int hi = hexval((unsigned char)s[2 * i]), lo = hexval((unsigned char)s[2 * i + 1]);
            if (hi < 0 || lo < 0) len = -1;
            else buf[i] = (uint8_t)(hi << 4 | lo);
        }
    } else if (!want) {
        len = b64_decode(s, n, buf);
    }
    if (len < 0) {
        ex_free(buf);
        if (want) return fail(d, EXO_OTLP_EINVAL, "expected %zu hex digits, got %s", 2 * want, DESCRIBE(j));
        return fail(d, EXO_OTLP_EINVAL, "expected a base64 string, got %s", DESCRIBE(j));
    }
    out->data = buf;
    out->len = (size_t)len;
    return 0;
}

static int dec_message(json_dec *d, const json_t *obj, ProtobufCMessage *m, int depth);

/* A new, initialised message of type desc, or NULL. */
static ProtobufCMessage *new_message(const ProtobufCMessageDescriptor *desc)
{
    ProtobufCMessage *m = ex_malloc(desc->sizeof_message);
    if (m) protobuf_c_message_init(desc, m);
    return m;
}

/* Decode one (not repeated) value of field f into p. What p points to is
 * always left in a state protobuf_c_message_free_unpacked can free. */
static int dec_value(json_dec *d, const ProtobufCFieldDescriptor *f, const json_t *j, void *p, int depth)
{
    char vbuf[200];
    int64_t i;
    uint64_t u;
    int rc = 0;
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32: case PROTOBUF_C_TYPE_SFIXED32:
        if ((rc = dec_int(d, j, INT32_MIN, INT32_MAX, &i)) == 0) *(int32_t *)p = (int32_t)i;
        return rc;
    case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32:
        if ((rc = dec_uint(d, j, UINT32_MAX, &u)) == 0) *(uint32_t *)p = (uint32_t)u;
        return rc;
    case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
        return dec_int(d, j, INT64_MIN, INT64_MAX, (int64_t *)p);
    case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64:
        return dec_uint(d, j, UINT64_MAX, (uint64_t *)p);
    case PROTOBUF_C_TYPE_ENUM:
        return dec_enum(d, f, j, (int *)p);
    case PROTOBUF_C_TYPE_BOOL:
        if (!json_is_boolean(j)) return fail(d, EXO_OTLP_EINVAL, "expected true or false, got %s", DESCRIBE(j));
        *(protobuf_c_boolean *)p = json_is_true(j);
        return 0;
    case PROTOBUF_C_TYPE_FLOAT: {
        double x;
        if ((rc = dec_double(d, j, &x)) == 0) *(float *)p = (float)x;
        return rc;
    }
    case PROTOBUF_C_TYPE_DOUBLE:
        return dec_double(d, j, (double *)p);
    case PROTOBUF_C_TYPE_STRING: {
        if (!json_is_string(j)) return fail(d, EXO_OTLP_EINVAL, "expected a string, got %s", DESCRIBE(j));
        char *s = ex_strndup(json_string_value(j), json_string_length(j));
        if (!s) return oom(d);
        *(char **)p = s;
        return 0;
    }
    case PROTOBUF_C_TYPE_BYTES:
        return dec_bytes(d, f, j, p);
    case PROTOBUF_C_TYPE_MESSAGE: {
        if (!json_is_object(j)) return fail(d, EXO_OTLP_EINVAL, "expected an object, got %s", DESCRIBE(j));
        ProtobufCMessage *sub = new_message(f->descriptor);
        if (!sub) return oom(d);
        *(ProtobufCMessage **)p = sub;
        return dec_message(d, j, sub, depth);
    }
    }
    return fail(d, EXO_OTLP_EINVAL, "unsupported field type");
}

static int dec_repeated(json_dec *d, const ProtobufCFieldDescriptor *f, const json_t *j, ProtobufCMessage *m,
                        int depth)
{
    char vbuf[200];
    if (!json_is_array(j)) return fail(d, EXO_OTLP_EINVAL, "expected an array, got %s", DESCRIBE(j));
    if (f->type != PROTOBUF_C_TYPE_MESSAGE) /* the OTLP model has none */
        return fail(d, EXO_OTLP_EINVAL, "repeated scalar fields are not supported");
    size_t n = json_array_size(j);
    if (n == 0) return 0;
    ProtobufCMessage **arr = ex_calloc(n, sizeof *arr);
    if (!arr) return oom(d);
    size_t *count = MEMBER(m, f->quantifier_offset);
    *(ProtobufCMessage ***)MEMBER(m, f->offset) = arr;
    for (size_t i = 0; i < n; i++) {
        const json_t *el = json_array_get(j, i);
        size_t mark = path_push(d, "[%zu]", i);
        int rc;
        if (!json_is_object(el)) {
            rc = fail(d, EXO_OTLP_EINVAL, "expected an object, got %s", DESCRIBE(el));
        } else if (!(arr[*count] = new_message(f->descriptor))) {
            rc = oom(d);
        } else {
            rc = dec_message(d, el, arr[(*count)++], depth);
        }
        path_pop(d, mark);
        if (rc) return rc;
    }
    return 0;
}

/* The JSON name of the field with number id (for oneof messages). */
static const char *field_json_name(const ProtobufCMessageDescriptor *desc, unsigned id, char *out, size_t outlen)
{
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(desc, id);
    json_name(f ? f->name : "?", out, outlen);
    return out;
}

static int dec_field(json_dec *d, const ProtobufCFieldDescriptor *f, const json_t *j, ProtobufCMessage *m,
                     int depth)
{
    if (f->label == PROTOBUF_C_LABEL_REPEATED) return dec_repeated(d, f, j, m, depth);
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        uint32_t *which = MEMBER(m, f->quantifier_offset);
        if (*which != 0) {
            char other[64];
            return fail(d, EXO_OTLP_EINVAL, "only one value may be set, %s is set already",
                        field_json_name(m->descriptor, *which, other, sizeof other));
        }
        /* Select the member first: the zeroed union is freeable as any of them. */
        *which = f->id;
        return dec_value(d, f, j, MEMBER(m, f->offset), depth);
    }
    int rc = dec_value(d, f, j, MEMBER(m, f->offset), depth);
    if (rc == 0 && f->label == PROTOBUF_C_LABEL_OPTIONAL && f->type != PROTOBUF_C_TYPE_STRING &&
        f->type != PROTOBUF_C_TYPE_MESSAGE)
        *(protobuf_c_boolean *)MEMBER(m, f->quantifier_offset) = 1;
    return rc;
}

static int dec_message(json_dec *d, const json_t *obj, ProtobufCMessage *m, int depth)
{
    const ProtobufCMessageDescriptor *desc = m->descriptor;
    if (desc == &opentelemetry__proto__common__v1__any_value__descriptor && ++depth > EXO_OTLP_MAX_VALUE_DEPTH)
        return fail(d, EXO_OTLP_EINVAL, "values nested deeper than %d", EXO_OTLP_MAX_VALUE_DEPTH);
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &desc->fields[i];
        char key[64];
        json_name(f->name, key, sizeof key);
        const json_t *j = json_object_get(obj, key);
        if (!j && strcmp(key, f->name) != 0) j = json_object_get(obj, f->name);
        if (!j || json_is_null(j)) continue; /* null is the default value */
        size_t mark = path_push(d, "%s%s", d->plen ? "." : "", key);
        int rc = dec_field(d, f, j, m, depth);
        path_pop(d, mark);
        if (rc) return rc;
    }
    return 0;
}

/* Parse len bytes of JSON into *root, or fail with the parser's position. */
static int load(json_dec *d, const char *json, size_t len, json_t **root)
{
    json_error_t je;
    *root = json_loadb(json, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (!*root) {
        if (d->err && d->errlen)
            snprintf(d->err, d->errlen, "invalid JSON at line %d, column %d: %s", je.line, je.column, je.text);
        return EXO_OTLP_EINVAL;
    }
    if (!json_is_object(*root)) {
        char vbuf[200];
        int rc = fail(d, EXO_OTLP_EINVAL, "expected a JSON object, got %s", DESCRIBE(*root));
        json_decref(*root);
        *root = NULL;
        return rc;
    }
    return 0;
}

int exo_otlp_json_decode_message(const ProtobufCMessageDescriptor *desc, const char *json, size_t len,
                                 ProtobufCMessage **out, char *err, size_t errlen)
{
    json_dec d = {.err = err, .errlen = errlen};
    json_t *root;
    *out = NULL;
    if (err && errlen) err[0] = '\0';
    int rc = load(&d, json, len, &root);
    if (rc) return rc;
    ProtobufCMessage *m = new_message(desc);
    rc = m ? dec_message(&d, root, m, 0) : oom(&d);
    json_decref(root);
    if (rc) {
        protobuf_c_message_free_unpacked(m, &exo_pb_allocator);
        return rc;
    }
    *out = m;
    return 0;
}

int exo_otlp_json_decode_request(const char *json, size_t len, exo_pb_request **out, char *err, size_t errlen)
{
    ProtobufCMessage *m;
    int rc = exo_otlp_json_decode_message(&opentelemetry__proto__collector__trace__v1__export_trace_service_request__descriptor,
                                          json, len, &m, err, errlen);
    *out = rc ? NULL : (exo_pb_request *)m;
    return rc;
}

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

int exo_otlp_json_decode_status(const char *json, size_t len, int32_t *code, char *msg, size_t msglen,
                                int64_t *retry_delay_ns)
{
    json_dec d = {0};
    json_t *root;
    int64_t c = 0;
    *code = 0;
    copy_text(msg, msglen, "");
    if (retry_delay_ns) *retry_delay_ns = -1;
    if (load(&d, json, len, &root)) return EXO_OTLP_EINVAL;
    const json_t *jc = json_object_get(root, "code"), *jm = json_object_get(root, "message");
    int rc = EXO_OTLP_EINVAL;
    if ((jc && !json_is_null(jc) && dec_int(&d, jc, INT32_MIN, INT32_MAX, &c)) || (jm && !json_is_string(jm) && !json_is_null(jm)))
        goto out;
    *code = (int32_t)c;
    copy_text(msg, msglen, json_string_value(jm));
    const json_t *details = json_object_get(root, "details"), *el;
    size_t i;
    json_array_foreach(details, i, el) {
        const char *type = json_string_value(json_object_get(el, "@type"));
        const char *delay = json_string_value(json_object_get(el, "retryDelay"));
        size_t tn = type ? strlen(type) : 0, k = strlen("google.rpc.RetryInfo");
        if (retry_delay_ns && delay && tn >= k && strcmp(type + tn - k, "google.rpc.RetryInfo") == 0) {
            *retry_delay_ns = parse_duration(delay);
            break;
        }
    }
    rc = 0;
out:
    json_decref(root);
    return rc;
}
