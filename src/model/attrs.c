/* attrs.c — attribute blobs: encode from a snapshot node, apply to a span. */
#include "model/attrs.h"

#include <string.h>

#include "core/mem.h"

typedef struct wbuf {
    uint8_t *p;
    size_t len, cap;
    int err;
} wbuf;

static void put(wbuf *b, const void *src, size_t n)
{
    if (b->err || n == 0) return; /* n == 0: src may be NULL, which memcpy must not get */
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n) cap *= 2;
        uint8_t *p = ex_realloc(b->p, cap);
        if (!p) {
            b->err = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
}

static void put_u16(wbuf *b, size_t v)
{
    uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    put(b, x, 2);
}

static void put_u64(wbuf *b, uint64_t v, size_t n)
{
    uint8_t x[8];
    for (size_t i = 0; i < n; i++) x[i] = (uint8_t)(v >> (8 * i));
    put(b, x, n);
}

/* A string value; one equal to the node's key or id is kept as a
 * reference to it ('K', 'I'): the seed's type and id cost nothing twice. */
static void put_str(wbuf *b, const char *key, const char *s, size_t len, const mdl_attr_refs *refs)
{
    put_u16(b, strlen(key));
    put(b, key, strlen(key));
    if (refs->key && strlen(refs->key) == len && memcmp(refs->key, s, len) == 0) {
        put(b, "K", 1);
        return;
    }
    if (refs->id && strlen(refs->id) == len && memcmp(refs->id, s, len) == 0) {
        put(b, "I", 1);
        return;
    }
    put(b, "s", 1);
    put_u64(b, len, 4);
    put(b, s, len);
}

/* One attribute of the JSON object; returns 1 if written, 0 if left out. */
static int put_json(wbuf *b, const char *key, const json_t *v, const mdl_attr_refs *refs)
{
    if (json_is_null(v)) return 0;
    if (json_is_string(v)) {
        put_str(b, key, json_string_value(v), json_string_length(v), refs);
        return 1;
    }
    if (json_is_array(v)) {
        char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!text) {
            b->err = 1;
            return 0;
        }
        put_str(b, key, text, strlen(text), refs);
        free(text);
        return 1;
    }
    put_u16(b, strlen(key));
    put(b, key, strlen(key));
    if (json_is_integer(v)) {
        put(b, "i", 1);
        put_u64(b, (uint64_t)json_integer_value(v), 8);
    } else if (json_is_real(v)) {
        double d = json_real_value(v);
        uint64_t u;
        memcpy(&u, &d, 8);
        put(b, "d", 1);
        put_u64(b, u, 8);
    } else {
        uint8_t t = json_is_true(v);
        put(b, "b", 1);
        put(b, &t, 1);
    }
    return 1;
}

int mdl_attrs_encode(const mdl_snode *n, const mdl_attr_refs *refs, uint8_t **out)
{
    wbuf b = {0};
    size_t count = 0;
    *out = NULL;
    put_u64(&b, 0, 4); /* total length, filled below */
    put_u16(&b, 0);    /* count, filled below */
    for (size_t i = 0; i < n->nsattrs; i++, count++)
        put_str(&b, n->sattrs[i].key, n->sattrs[i].val, strlen(n->sattrs[i].val), refs);
    const char *k;
    const json_t *v;
    if (n->attrs) json_object_foreach((json_t *)n->attrs, k, v) count += (size_t)put_json(&b, k, v, refs);
    if (b.err) {
        ex_free(b.p);
        return -1;
    }
    if (count == 0) {
        ex_free(b.p);
        return 0;
    }
    for (int i = 0; i < 4; i++) b.p[i] = (uint8_t)(b.len >> (8 * i));
    b.p[4] = (uint8_t)count;
    b.p[5] = (uint8_t)(count >> 8);
    uint8_t *p = ex_realloc(b.p, b.len); /* exact size: it lives as long as the node */
    *out = p ? p : b.p;
    return 0;
}

static uint64_t get_u(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

size_t mdl_attrs_len(const uint8_t *blob) { return blob ? (size_t)get_u(blob, 4) : 0; }

int mdl_attrs_equal(const uint8_t *a, const uint8_t *b)
{
    size_t la = mdl_attrs_len(a), lb = mdl_attrs_len(b);
    return la == lb && (la == 0 || memcmp(a, b, la) == 0);
}

/* Walk a blob; with `a` set, add each attribute to it. 0, or -1 when the
 * bytes are malformed or memory ran out. */
static int walk(const uint8_t *blob, size_t len, const mdl_attr_refs *refs, exo_attrs *a)
{
    if (len < 6 || get_u(blob, 4) != len) return -1;
    size_t count = (size_t)get_u(blob + 4, 2), o = 6;
    char key[MDL_ATTR_KEY_MAX + 1];
    for (size_t i = 0; i < count; i++) {
        if (o + 3 > len) return -1;
        size_t kl = (size_t)get_u(blob + o, 2);
        if (kl == 0 || kl > MDL_ATTR_KEY_MAX || o + 2 + kl + 1 > len) return -1;
        memcpy(key, blob + o + 2, kl);
        key[kl] = '\0';
        o += 2 + kl;
        uint8_t t = blob[o++];
        if (t == 'K' || t == 'I') {
            const char *ref = refs ? (t == 'K' ? refs->key : refs->id) : "";
            if (a && exo_attrs_add_str(a, key, ref ? ref : "")) return -1;
            continue;
        }
        size_t need = t == 's' ? 4 : t == 'b' ? 1 : 8;
        if ((t != 's' && t != 'i' && t != 'd' && t != 'b') || o + need > len) return -1;
        if (t == 's') {
            size_t sl = (size_t)get_u(blob + o, 4);
            if (sl > len - o - 4) return -1;
            if (a) {
                char *s = ex_malloc(sl + 1);
                if (!s) return -1;
                memcpy(s, blob + o + 4, sl);
                s[sl] = '\0';
                int rc = exo_attrs_add_str(a, key, s);
                ex_free(s);
                if (rc) return -1;
            }
            o += 4 + sl;
            continue;
        }
        uint64_t u = get_u(blob + o, need);
        o += need;
        if (!a) continue;
        double d;
        memcpy(&d, &u, 8);
        int rc = t == 'i' ? exo_attrs_add_int(a, key, (int64_t)u)
               : t == 'd' ? exo_attrs_add_double(a, key, d)
                          : exo_attrs_add_bool(a, key, u != 0);
        if (rc) return -1;
    }
    return o == len ? 0 : -1;
}

int mdl_attrs_apply(const uint8_t *blob, const mdl_attr_refs *refs, exo_attrs *a)
{
    return blob ? walk(blob, mdl_attrs_len(blob), refs, a) : 0;
}

int mdl_attrs_check(const uint8_t *blob, size_t len) { return walk(blob, len, NULL, NULL); }
