/* otlp_json_decode.c — the OTLP/JSON decoder of requests and other messages
 * of the model (otlp_json.h), for untrusted input. It walks the protobuf-c
 * descriptors with the rules of otlp_json.h, using the field names and
 * bytes forms of otlp_json.c, and keeps the JSON path of the value being
 * decoded so that every error names it. */
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
#include "otel/otlp_json_int.h"

#define MEMBER(m, off) ((void *)((char *)(m) + (off)))

typedef struct json_dec {
    char path[256];   /* JSON path of the value being decoded */
    size_t plen;      /* length of path */
    char *err;        /* caller's buffer for the first error, or NULL */
    size_t errlen;    /* size of err */
    char vbuf[200];   /* scratch for DESCRIBE, one value per message */
} json_dec;

/* ---- errors -------------------------------------------------------------- */

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

/* The string j quoted for an error message, quotes, backslashes and
 * control bytes escaped: its first 40 bytes (finishing a character cut
 * there) then "…" when longer, or less when out is full. */
static const char *describe_string(const json_t *j, char *out, size_t outlen)
{
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
    return describe_string(j, out, outlen);
}

#define DESCRIBE(j) describe((j), d->vbuf, sizeof d->vbuf)

/* ---- scalars ------------------------------------------------------------- */

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

static int dec_bytes(json_dec *d, const ProtobufCFieldDescriptor *f, const json_t *j, ProtobufCBinaryData *out)
{
    size_t want = exo__json_id_len(f);
    uint8_t *buf = NULL;
    long len = -1;
    if (json_is_string(j)) {
        size_t n = json_string_length(j);
        if (n == 0) return 0; /* "" is the default: empty */
        buf = ex_malloc(want ? want : 3 * n / 4 + 3);
        if (!buf) return oom(d);
        len = exo__json_bytes_decode(want, json_string_value(j), n, buf);
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

/* One number, enum or bool of field f into p. */
static int dec_scalar(json_dec *d, const ProtobufCFieldDescriptor *f, const json_t *j, void *p)
{
    int64_t i;
    uint64_t u;
    double x;
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
    case PROTOBUF_C_TYPE_FLOAT:
        if ((rc = dec_double(d, j, &x)) == 0) *(float *)p = (float)x;
        return rc;
    case PROTOBUF_C_TYPE_DOUBLE:
        return dec_double(d, j, (double *)p);
    default:
        return fail(d, EXO_OTLP_EINVAL, "unsupported field type");
    }
}

/* ---- messages ------------------------------------------------------------ */

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
    switch (f->type) {
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
    default:
        return dec_scalar(d, f, j, p);
    }
}

static int dec_repeated(json_dec *d, const ProtobufCFieldDescriptor *f, const json_t *j, ProtobufCMessage *m,
                        int depth)
{
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
    exo__json_name(f ? f->name : "?", out, outlen);
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
        exo__json_name(f->name, key, sizeof key);
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

/* ---- entry points -------------------------------------------------------- */

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
        int rc = fail(d, EXO_OTLP_EINVAL, "expected a JSON object, got %s", DESCRIBE(*root));
        json_decref(*root);
        *root = NULL;
        return rc;
    }
    return 0;
}

int exo__json_load_object(const char *json, size_t len, json_t **root)
{
    json_dec d = {0};
    return load(&d, json, len, root);
}

int exo__json_int(const json_t *j, int64_t lo, int64_t hi, int64_t *out)
{
    json_dec d = {0};
    return dec_int(&d, j, lo, hi, out);
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
