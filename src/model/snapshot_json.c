/* snapshot_json.c — the canonical snapshot read from JSON, every field checked. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/iso8601.h"
#include "model/snapshot.h"

typedef struct rd {
    char *why;
    size_t whylen;
    char path[64]; /* "" for the root, "nodes[3]." for a node */
} rd;

static int fail(rd *r, const char *field, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(rd *r, const char *field, const char *fmt, ...)
{
    int n = snprintf(r->why, r->whylen, "%s%s: ", r->path, field);
    if (n >= 0 && (size_t)n < r->whylen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->why + n, r->whylen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* A short, escaped rendering of any value for messages. */
static const char *show(const json_t *v, char *buf, size_t n)
{
    if (json_is_string(v)) {
        size_t o = 0, len = json_string_length(v);
        const char *s = json_string_value(v);
        buf[o++] = '"';
        for (size_t i = 0; i < len && i < 64 && o + 6 < n; i++) {
            unsigned char c = (unsigned char)s[i];
            if (c < 0x20 || c == '"' || c == '\\' || c == 0x7f) o += (size_t)snprintf(buf + o, n - o, "\\x%02x", c);
            else buf[o++] = (char)c;
        }
        if (len > 64 && o + 4 < n) o += (size_t)snprintf(buf + o, n - o, "...");
        snprintf(buf + o, n - o, "\"");
        return buf;
    }
    const char *t = json_is_object(v) ? "an object" : json_is_array(v) ? "an array" : NULL;
    if (t) return t;
    if (json_is_integer(v)) snprintf(buf, n, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (json_is_real(v)) snprintf(buf, n, "%.17g", json_real_value(v));
    else snprintf(buf, n, "%s", json_is_true(v) ? "true" : json_is_false(v) ? "false" : "null");
    return buf;
}

/* A string member of 1..max bytes without control characters, or absent/null. */
static int get_str(rd *r, const json_t *o, const char *field, size_t max, int required, const char **out)
{
    const json_t *v = json_object_get(o, field);
    char b[96];
    *out = NULL;
    if (!v || json_is_null(v)) return required ? fail(r, field, "required") : 0;
    if (!json_is_string(v)) return fail(r, field, "expected a string, got %s", show(v, b, sizeof b));
    size_t len = json_string_length(v);
    const char *s = json_string_value(v);
    if (len == 0 || len > max) return fail(r, field, "expected 1-%zu bytes, got %zu", max, len);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20) return fail(r, field, "control character in %s", show(v, b, sizeof b));
    *out = s;
    return 0;
}

int mdl_time_from_json(const json_t *v, int64_t *out_ns)
{
    *out_ns = MDL_NO_TIME;
    if (!v || json_is_null(v)) return 0;
    if (json_is_string(v)) {
        const char *why;
        return ex_iso_parse(json_string_value(v), json_string_length(v), out_ns, &why) ? -1 : 0;
    }
    if (!json_is_number(v)) return -1;
    double sec = json_number_value(v);
    if (!isfinite(sec) || sec < 0 || sec > 9.2e9) return -1;
    if (json_is_integer(v)) *out_ns = (int64_t)json_integer_value(v) * 1000000000;
    /* A double holds today's unix seconds to about 0.24 µs: sec * 1e9 would
     * turn a millisecond time (an epoch-ms API's value / 1000) into
     * …981999872 ns. Rounding to the microsecond gives back what was meant. */
    else *out_ns = (int64_t)llround(sec * 1e6) * 1000;
    return 0;
}

static int get_time(rd *r, const json_t *o, const char *field, int64_t *out)
{
    const json_t *v = json_object_get(o, field);
    char b[96];
    if (mdl_time_from_json(v, out))
        return fail(r, field, "expected an RFC 3339 time, unix seconds or null, got %s", show(v, b, sizeof b));
    return 0;
}

static int check_attr_value(rd *r, const char *key, const json_t *v, int in_array)
{
    char b[96];
    if (json_is_string(v) && json_string_length(v) > MDL_ATTR_STR_MAX)
        return fail(r, "attributes", "%.64s: string of %zu bytes (at most %d)", key, json_string_length(v),
                    MDL_ATTR_STR_MAX);
    if (json_is_string(v) || json_is_number(v) || json_is_boolean(v)) return 0;
    if (json_is_array(v) && !in_array) {
        size_t i;
        const json_t *e;
        json_array_foreach(v, i, e) {
            if (check_attr_value(r, key, e, 1)) return -1;
            if (json_typeof(e) != json_typeof(json_array_get(v, 0)) &&
                !(json_is_number(e) && json_is_number(json_array_get(v, 0))))
                return fail(r, "attributes", "%.64s: an array mixes types", key);
        }
        return 0;
    }
    return fail(r, "attributes", "%.64s: expected a string, number, boolean or an array of one, got %s", key,
                show(v, b, sizeof b));
}

static int get_attrs(rd *r, const json_t *o, const json_t **out)
{
    const json_t *a = json_object_get(o, "attributes"), *v;
    const char *k;
    char b[96];
    *out = NULL;
    if (!a || json_is_null(a)) return 0;
    if (!json_is_object(a)) return fail(r, "attributes", "expected an object, got %s", show(a, b, sizeof b));
    if (json_object_size(a) > MDL_MAX_ATTRS)
        return fail(r, "attributes", "%zu attributes (at most %d)", json_object_size(a), MDL_MAX_ATTRS);
    json_object_foreach((json_t *)a, k, v) {
        if (!k[0] || strlen(k) > MDL_ATTR_KEY_MAX) return fail(r, "attributes", "a key of %zu bytes", strlen(k));
        if (!json_is_null(v) && check_attr_value(r, k, v, 0)) return -1;
    }
    *out = a;
    return 0;
}

static int get_initial(rd *r, const json_t *o, mdl_snode *n)
{
    const json_t *v = json_object_get(o, "initial");
    char b[96];
    if (!v || json_is_null(v)) return 0;
    if (!json_is_object(v)) return fail(r, "initial", "expected {\"state\": …, \"time\": …}, got %s", show(v, b, sizeof b));
    size_t plen = strlen(r->path);
    snprintf(r->path + plen, sizeof r->path - plen, "initial.");
    int rc = get_str(r, v, "state", MDL_WORD_MAX, 1, &n->initial_state);
    if (!rc) rc = get_time(r, v, "time", &n->initial_ns);
    r->path[plen] = '\0';
    return rc;
}

/* The fields the root and a node share. */
static int read_common(rd *r, const json_t *o, mdl_snode *n)
{
    const char *status;
    char b[96];
    if (get_str(r, o, "status", MDL_WORD_MAX, 1, &status)) return -1;
    int st = mdl_status_parse(status);
    if (st < 0)
        return fail(r, "status", "unknown status %s (pending running ok error cancelled skipped)",
                    show(json_object_get(o, "status"), b, sizeof b));
    n->status = (uint8_t)st;
    const json_t *err = json_object_get(o, "error");
    if (err && !json_is_null(err) && !json_is_string(err))
        return fail(r, "error", "expected a string, got %s", show(err, b, sizeof b));
    if (json_is_string(err) && json_string_length(err)) {
        n->error = json_string_value(err);
        n->error_len = json_string_length(err);
    }
    if (get_str(r, o, "name", MDL_KEY_MAX, 0, &n->name) || get_str(r, o, "kind", MDL_WORD_MAX, 0, &n->kind) ||
        get_str(r, o, "state", MDL_WORD_MAX, 0, &n->state) || get_time(r, o, "since", &n->since_ns) ||
        get_time(r, o, "start", &n->start_ns) || get_time(r, o, "end", &n->end_ns) || get_initial(r, o, n) ||
        get_attrs(r, o, &n->attrs))
        return -1;
    if (n->start_ns != MDL_NO_TIME && n->end_ns != MDL_NO_TIME && n->end_ns < n->start_ns)
        return fail(r, "end", "before start");
    return 0;
}

static int read_nodes(rd *r, mdl_snapshot *s, const json_t *root)
{
    const json_t *a = json_object_get(root, "nodes"), *o;
    char b[96];
    size_t i;
    if (!a || json_is_null(a)) return 0;
    if (!json_is_array(a)) return fail(r, "nodes", "expected an array, got %s", show(a, b, sizeof b));
    if (json_array_size(a) > MDL_MAX_NODES)
        return fail(r, "nodes", "%zu nodes (at most %d)", json_array_size(a), MDL_MAX_NODES);
    json_array_foreach(a, i, o) {
        snprintf(r->path, sizeof r->path, "nodes[%zu].", i);
        if (!json_is_object(o)) return fail(r, "", "expected an object, got %s", show(o, b, sizeof b));
        mdl_snode *n = mdl_snapshot_add(s);
        if (!n) return fail(r, "", "out of memory");
        if (get_str(r, o, "key", MDL_KEY_MAX, 1, &n->key) || get_str(r, o, "id", MDL_KEY_MAX, 0, &n->id) ||
            get_str(r, o, "parent", MDL_KEY_MAX, 0, &n->parent) || read_common(r, o, n))
            return -1;
    }
    r->path[0] = '\0';
    return 0;
}

static int from_json(mdl_snapshot *s, json_t *json, int partial, char *why, size_t whylen)
{
    rd r = {why, whylen, ""};
    char b[96];
    mdl_snapshot_clear(s);
    if (!json_is_object(json)) return fail(&r, "snapshot", "expected an object, got %s", show(json, b, sizeof b));
    s->json = json_incref(json);
    const json_t *st = json_object_get(json, "status");
    s->root_absent = (uint8_t)(partial && (!st || json_is_null(st)));
    if ((!s->root_absent && read_common(&r, json, &s->root)) || read_nodes(&r, s, json)) return -1;
    return mdl_snapshot_link(s, why, whylen);
}

int mdl_snapshot_from_json(mdl_snapshot *s, json_t *json, char *why, size_t whylen)
{
    return from_json(s, json, 0, why, whylen);
}

int mdl_snapshot_from_json_partial(mdl_snapshot *s, json_t *json, char *why, size_t whylen)
{
    return from_json(s, json, 1, why, whylen);
}
