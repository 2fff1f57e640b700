/* query_json.c — JSON output of the query API: a bounded buffer and
 * protobuf messages written as Tempo writes them (gogo jsonpb with its
 * defaults: lowerCamelCase keys, bytes in base64, enums by name, 64-bit
 * integers as strings, fields with default values omitted, oneof members
 * always written). */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "store/query_int.h"

/* ---- buffer ------------------------------------------------------------ */

void sqb_init(sq_buf *b, size_t max)
{
    memset(b, 0, sizeof *b);
    b->max = max;
}

void sqb_free(sq_buf *b)
{
    ex_free(b->p);
    memset(b, 0, sizeof *b);
}

/* Make room for n more bytes plus a NUL. */
static int reserve(sq_buf *b, size_t n)
{
    if (b->failed) return -1;
    if (n > b->max || b->len > b->max - n) {
        b->failed = SQB_TOOBIG;
        return -1;
    }
    if (b->len + n + 1 <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1) cap *= 2;
    char *p = ex_realloc(b->p, cap);
    if (!p) {
        b->failed = SQB_NOMEM;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

void sqb_raw(sq_buf *b, const char *s, size_t n)
{
    if (reserve(b, n) < 0) return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void sqb_lit(sq_buf *b, const char *s) { sqb_raw(b, s, strlen(s)); }

void sqb_printf(sq_buf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof small) {
        sqb_raw(b, small, (size_t)n);
        return;
    }
    if (reserve(b, (size_t)n) < 0) return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

static void jstr_valid(sq_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    sqb_raw(b, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        sqb_raw(b, s + run, i - run);
        run = i + 1;
        char esc[7] = {'\\', 0};
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
        }
        sqb_raw(b, esc, strlen(esc));
    }
    sqb_raw(b, s + run, n - run);
    sqb_raw(b, "\"", 1);
}

void sqb_jstr(sq_buf *b, const char *s)
{
    if (!s) s = "";
    size_t n = strlen(s);
    if (exo__utf8_valid(s, n)) {
        jstr_valid(b, s, n);
        return;
    }
    char *fixed = ex_malloc(exo__utf8_repair_size(s, n));
    if (!fixed) {
        b->failed = b->failed ? b->failed : SQB_NOMEM;
        return;
    }
    exo__utf8_repair(s, n, fixed);
    jstr_valid(b, fixed, strlen(fixed));
    ex_free(fixed);
}

void sqb_double(sq_buf *b, double d)
{
    if (isnan(d)) { sqb_lit(b, "\"NaN\""); return; }
    if (isinf(d)) { sqb_lit(b, d > 0 ? "\"Infinity\"" : "\"-Infinity\""); return; }
    char num[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(num, sizeof num, "%.*g", prec, d);
        if (strtod(num, NULL) == d) break;
    }
    sqb_lit(b, num);
}

void sqb_hex(sq_buf *b, const uint8_t *id, size_t n)
{
    char out[2 * 32 + 3];
    if (n > 32) n = 32;
    out[0] = '"';
    for (size_t i = 0; i < n; i++) snprintf(out + 1 + 2 * i, 3, "%02x", id[i]);
    out[1 + 2 * n] = '"';
    sqb_raw(b, out, 2 * n + 2);
}

char *sqb_take(sq_buf *b, size_t *len)
{
    if (b->failed || reserve(b, 0) < 0) return NULL;
    char *p = b->p;
    *len = b->len;
    memset(b, 0, sizeof *b);
    return p;
}

static void b64(sq_buf *b, const uint8_t *d, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    sqb_raw(b, "\"", 1);
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)d[i] << 16;
        if (i + 1 < n) v |= (uint32_t)d[i + 1] << 8;
        if (i + 2 < n) v |= d[i + 2];
        char q[4] = {tab[(v >> 18) & 63], tab[(v >> 12) & 63], i + 1 < n ? tab[(v >> 6) & 63] : '=',
                     i + 2 < n ? tab[v & 63] : '='};
        sqb_raw(b, q, 4);
    }
    sqb_raw(b, "\"", 1);
}

/* ---- protobuf messages ---------------------------------------------------- */

/* "start_time_unix_nano" -> "startTimeUnixNano". */
static void camel(const char *name, char *out, size_t outlen)
{
    size_t o = 0;
    int up = 0;
    for (const char *c = name; *c && o + 1 < outlen; c++) {
        if (*c == '_') { up = 1; continue; }
        out[o++] = up && *c >= 'a' && *c <= 'z' ? (char)(*c - 32) : *c;
        up = 0;
    }
    out[o] = '\0';
}

static size_t elt_size(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32: case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32: case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_ENUM:
        return 4;
    case PROTOBUF_C_TYPE_BOOL: return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING: return sizeof(char *);
    case PROTOBUF_C_TYPE_MESSAGE: return sizeof(ProtobufCMessage *);
    case PROTOBUF_C_TYPE_BYTES: return sizeof(ProtobufCBinaryData);
    default: return 8;
    }
}

/* Whether a singular proto3 value is the default (then jsonpb omits it). */
static int is_default(const ProtobufCFieldDescriptor *f, const void *p)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING: { const char *s = *(char *const *)p; return !s || !*s; }
    case PROTOBUF_C_TYPE_MESSAGE: return *(void *const *)p == NULL;
    case PROTOBUF_C_TYPE_BYTES: return ((const ProtobufCBinaryData *)p)->len == 0;
    case PROTOBUF_C_TYPE_BOOL: return !*(const protobuf_c_boolean *)p;
    case PROTOBUF_C_TYPE_FLOAT: return *(const float *)p == 0;
    case PROTOBUF_C_TYPE_DOUBLE: return *(const double *)p == 0;
    default: {
        size_t n = elt_size(f->type);
        static const uint8_t zero[8];
        return memcmp(p, zero, n) == 0;
    }
    }
}

static void value_json(sq_buf *b, const ProtobufCFieldDescriptor *f, const void *p)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32: case PROTOBUF_C_TYPE_SFIXED32:
        sqb_printf(b, "%" PRId32, *(const int32_t *)p);
        break;
    case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32:
        sqb_printf(b, "%" PRIu32, *(const uint32_t *)p);
        break;
    case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
        sqb_printf(b, "\"%" PRId64 "\"", *(const int64_t *)p);
        break;
    case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64:
        sqb_printf(b, "\"%" PRIu64 "\"", *(const uint64_t *)p);
        break;
    case PROTOBUF_C_TYPE_FLOAT: sqb_double(b, *(const float *)p); break;
    case PROTOBUF_C_TYPE_DOUBLE: sqb_double(b, *(const double *)p); break;
    case PROTOBUF_C_TYPE_BOOL: sqb_lit(b, *(const protobuf_c_boolean *)p ? "true" : "false"); break;
    case PROTOBUF_C_TYPE_ENUM: {
        int v = *(const int *)p;
        const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(f->descriptor, v);
        if (ev) sqb_jstr(b, ev->name);
        else sqb_printf(b, "%d", v);
        break;
    }
    case PROTOBUF_C_TYPE_STRING: sqb_jstr(b, *(char *const *)p); break;
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *d = p;
        b64(b, d->data, d->len);
        break;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *m = *(ProtobufCMessage *const *)p;
        if (m) sq_pb_json(b, m);
        else sqb_lit(b, "{}");
        break;
    }
    }
}

void sq_pb_json(sq_buf *b, const ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    const char *base = (const char *)m;
    int first = 1;
    sqb_raw(b, "{", 1);
    for (unsigned i = 0; i < d->n_fields && !b->failed; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const void *p = base + f->offset;
        size_t count = 1;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            count = *(const size_t *)(base + f->quantifier_offset);
            if (!count) continue;
        } else if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            if (*(const uint32_t *)(base + f->quantifier_offset) != f->id) continue;
        } else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset &&
                   f->type != PROTOBUF_C_TYPE_MESSAGE && f->type != PROTOBUF_C_TYPE_STRING) {
            if (!*(const protobuf_c_boolean *)(base + f->quantifier_offset)) continue;
        } else if (is_default(f, p)) {
            continue;
        }
        char key[128];
        camel(f->name, key, sizeof key);
        if (!first) sqb_raw(b, ",", 1);
        first = 0;
        sqb_jstr(b, key);
        sqb_raw(b, ":", 1);
        if (f->label != PROTOBUF_C_LABEL_REPEATED) {
            value_json(b, f, p);
            continue;
        }
        const char *arr = *(const char *const *)p;
        size_t sz = elt_size(f->type);
        sqb_raw(b, "[", 1);
        for (size_t k = 0; k < count; k++) {
            if (k) sqb_raw(b, ",", 1);
            value_json(b, f, arr + k * sz);
        }
        sqb_raw(b, "]", 1);
    }
    sqb_raw(b, "}", 1);
}

/* ---- search attributes ----------------------------------------------------- */

void sq_attr_json(sq_buf *b, const tql_attr *a)
{
    sqb_lit(b, "{\"key\":");
    sqb_jstr(b, a->key);
    sqb_lit(b, ",\"value\":{");
    switch (a->val.type) {
    case TQL_STRING: sqb_lit(b, "\"stringValue\":"); sqb_jstr(b, a->val.v.s); break;
    case TQL_INT: sqb_printf(b, "\"intValue\":\"%" PRId64 "\"", a->val.v.i); break;
    case TQL_FLOAT: sqb_lit(b, "\"doubleValue\":"); sqb_double(b, a->val.v.f); break;
    case TQL_BOOL: sqb_lit(b, a->val.v.b ? "\"boolValue\":true" : "\"boolValue\":false"); break;
    case TQL_DURATION: sqb_printf(b, "\"intValue\":\"%" PRId64 "\"", a->val.v.i); break;
    default: break;
    }
    sqb_lit(b, "}}");
}

const char *sq_value_text(const tql_value *v, char *buf, size_t buflen)
{
    switch (v->type) {
    case TQL_STRING: snprintf(buf, buflen, "%s", v->v.s); break;
    case TQL_INT: case TQL_DURATION: snprintf(buf, buflen, "%" PRId64, v->v.i); break;
    case TQL_FLOAT: {
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(buf, buflen, "%.*g", prec, v->v.f);
            if (strtod(buf, NULL) == v->v.f) break;
        }
        break;
    }
    case TQL_BOOL: snprintf(buf, buflen, "%s", v->v.b ? "true" : "false"); break;
    case TQL_STATUS: snprintf(buf, buflen, "%s", tql_status_name((int)v->v.i) ? tql_status_name((int)v->v.i) : "");
        break;
    case TQL_KIND: snprintf(buf, buflen, "%s", tql_kind_name((int)v->v.i) ? tql_kind_name((int)v->v.i) : ""); break;
    case TQL_NIL: snprintf(buf, buflen, "%s", ""); break;
    }
    return buf;
}
