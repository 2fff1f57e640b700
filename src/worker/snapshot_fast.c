/* snapshot_fast.c — the seed's answer read with yajl's callbacks, no DOM.
 *
 * Accept-only: every check of snapshot.c is here as a predicate, and
 * whatever fails one, or anything this file does not check the way
 * jansson does, makes it decline (-1). wm_snapshot_parse_flags then runs
 * the jansson parser, which writes the message. What this file must
 * match of jansson (json_loadb with JSON_REJECT_DUPLICATES) to accept no
 * more than it: an object at the top; no duplicate key in any object;
 * strict UTF-8 (no overlong form, surrogate or code point past U+10FFFF);
 * no \u0000; no control byte but tab, line feed and carriage return
 * (yajl also skips \v and \f); integers within long long and reals
 * that do not overflow; nothing but whitespace after the value. yajl
 * checks the grammar. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "core/iso8601.h"
#include "worker/snapshot_int.h"

#define FAST_DEPTH 32  /* deeper nesting: declined (jansson allows 2048) */
#define FAST_KEYS  256 /* keys of the objects open at once; more: declined */
#define ARENA      4096

/* The fields read; the entity's ones follow the workflow's. */
enum {
    F_NONE, F_WID, F_WSTATUS, F_WSTART, F_WEND, F_WCOMPLETE, F_WMSG, F_WENTS,
    F_ETYPE, F_EID, F_ESTATUS, F_ESTART, F_EEND, F_ECOMPLETE, F_EMSG, F_EPROC,
};
#define NAME(s) {s, sizeof s - 1}
static const struct {
    const char *s;
    size_t len;
} field_names[] = {
    NAME(""), NAME("workflowId"), NAME("workflowStatus"), NAME("workflowStartTime"), NAME("workflowEndTime"),
    NAME("isComplete"), NAME("workflowErrorMessage"), NAME("workflowEntities"), NAME("entityType"),
    NAME("entityId"), NAME("entityStatus"), NAME("entityStartTime"), NAME("entityEndTime"), NAME("isComplete"),
    NAME("entityErrorMessage"), NAME("entityProcessingStartTime"),
};
enum { IN_ROOT, IN_ENTS, IN_ENTITY }; /* the object whose keys are read */

typedef struct fast {
    const char *expected;
    unsigned flags;
    wm_snapshot *out;
    wm_snap_stage *st;     /* the entity being read */
    int where, field;      /* IN_*, the field whose value comes next */
    int depth, skip_from;  /* nesting; > 0: inside an ignored value opened at that depth */
    int done;              /* the top object closed */
    uint32_t seen;         /* fields of the current object with a non-null value (1 << F_*) */
    uint32_t root_seen;    /* the workflow's, while its entities are read */
    int is_map[FAST_DEPTH + 1];
    int key_from[FAST_DEPTH + 1]; /* where each open object's key hashes start */
    int nkeys;
    uint64_t keys[FAST_KEYS];
} fast;

/* ---- strict UTF-8 and escapes, as jansson reads them -------------------- */

/* Length of the valid UTF-8 sequence at s (jansson's utf8_check_*), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    if (len == 0 || len > n) return 0;
    uint32_t v = c & (len == 2 ? 0x1Fu : len == 3 ? 0x0Fu : 0x07u);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        v = (v << 6) | (s[i] & 0x3Fu);
    }
    if ((len == 3 && v < 0x800) || (len == 4 && v < 0x10000) || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    return len;
}

static int hexval(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* 0 when every byte past ASCII is strict UTF-8, no control byte other
 * than JSON's whitespace is there, and no \u escape names
 * U+0000 or a surrogate (yajl decodes those differently from jansson:
 * declined, even for a valid pair); -1 otherwise. An escaped backslash
 * is skipped; anything else odd is left to the grammar. */
static int prescan(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        if (c >= 0x20 && c < 0x80 && c != '\\') {
            i++;
        } else if (c < 0x20) { /* yajl takes \v and \f as whitespace, jansson no control byte at all */
            if (c != '\t' && c != '\n' && c != '\r') return -1;
            i++;
        } else if (c >= 0x80) {
            size_t l = utf8_len(s + i, n - i);
            if (!l) return -1;
            i += l;
        } else if (i + 1 < n && s[i + 1] == 'u') {
            if (i + 6 > n) return -1;
            int v = 0;
            for (int k = 2; k < 6; k++) {
                int h = hexval(s[i + k]);
                if (h < 0) return -1;
                v = v * 16 + h;
            }
            if (v == 0 || (v >= 0xD800 && v <= 0xDFFF)) return -1;
            i += 6;
        } else {
            i += 2;
        }
    }
    return 0;
}

/* ---- yajl's memory: a bump arena on the caller's stack ------------------ */

typedef struct arena {
    size_t used;
    _Alignas(16) unsigned char buf[ARENA];
} arena;

static int in_arena(const arena *a, const void *p)
{
    return (const unsigned char *)p >= a->buf && (const unsigned char *)p < a->buf + ARENA;
}

static void *a_malloc(void *ctx, size_t n)
{
    arena *a = ctx;
    size_t need = ((n + 15) & ~(size_t)15) + 16;
    if (n > ARENA || ARENA - a->used < need) return malloc(n);
    unsigned char *p = a->buf + a->used;
    memcpy(p, &n, sizeof n); /* the size, for a_realloc */
    a->used += need;
    return p + 16;
}

static void a_free(void *ctx, void *p)
{
    if (!in_arena(ctx, p)) free(p);
}

static void *a_realloc(void *ctx, void *p, size_t n)
{
    if (!p) return a_malloc(ctx, n);
    if (!in_arena(ctx, p)) return realloc(p, n);
    size_t old;
    memcpy(&old, (unsigned char *)p - 16, sizeof old);
    if (n <= old) return p;
    void *q = a_malloc(ctx, n);
    if (q) memcpy(q, p, old);
    return q;
}

/* ---- the fields ---------------------------------------------------------- */

/* Status, end time and isComplete agree, the end not before the start
 * (snapshot.c's check_completion). */
static int completion_ok(wm_status status, int complete, int64_t start, int64_t end)
{
    int terminal = status == WM_COMPLETED || status == WM_FAILED;
    return terminal == complete && (end != WM_NO_TIME) == complete && (!complete || end >= start);
}

static uint32_t bit(int f) { return 1u << f; }

static int field_of(const fast *f, const unsigned char *k, size_t len)
{
    int lo = f->where == IN_ROOT ? F_WID : F_ETYPE, hi = f->where == IN_ROOT ? F_WENTS : F_EPROC;
    if (hi == F_EPROC && !(f->flags & WM_PARSE_PROCESSING_TIME)) hi = F_EMSG; /* an unknown field then */
    for (int i = lo; i <= hi; i++)
        if (field_names[i].len == len && memcmp(field_names[i].s, k, len) == 0) return i;
    return F_NONE;
}

static int read_time(const unsigned char *s, size_t len, int64_t *ns)
{
    return ex_iso_parse((const char *)s, len, ns, NULL) == 0;
}

/* A string value of a known field; 1 to go on, 0 to decline. */
static int on_field_string(fast *f, int field, const unsigned char *s, size_t len)
{
    wm_snapshot *o = f->out;
    wm_snap_stage *st = f->st;
    int status;
    switch (field) {
    case F_WID: return strlen(f->expected) == len && memcmp(f->expected, s, len) == 0;
    case F_WSTATUS:
    case F_ESTATUS:
        if ((status = wm__status_find((const char *)s, len)) < 0) return 0;
        *(field == F_WSTATUS ? &o->status : &st->status) = (wm_status)status;
        return 1;
    case F_WSTART: return read_time(s, len, &o->start_ns);
    case F_WEND: return read_time(s, len, &o->end_ns);
    case F_ESTART: return read_time(s, len, &st->start_ns);
    case F_EEND: return read_time(s, len, &st->end_ns);
    case F_EPROC: return read_time(s, len, &st->processing_ns);
    case F_WMSG: o->has_error = 1; wm__copy_message(o->error, (const char *)s, len); return 1;
    case F_EMSG: st->has_error = 1; wm__copy_message(st->error, (const char *)s, len); return 1;
    case F_ETYPE: return strlen(st->type) == len && memcmp(st->type, s, len) == 0;
    case F_EID:
        if (len == 0 || len > WM_ID_MAX) return 0;
        memcpy(st->id, s, len);
        st->id[len] = '\0';
        return 1;
    default: return 0; /* a string where an object or a boolean belongs */
    }
}

/* A scalar value; kind: 's' string, 'b' boolean, 'n' null, '#' number. */
static int on_scalar(fast *f, int kind, const unsigned char *s, size_t len, int b)
{
    if (f->skip_from) return 1;        /* inside an unknown field's value */
    if (f->where == IN_ENTS) return 0; /* an entity that is not an object */
    int field = f->field;
    f->field = F_NONE;
    if (field == F_NONE || kind == 'n') return 1; /* an unknown field; null: as absent */
    f->seen |= bit(field);
    if (kind == 'b') {
        if (field != F_WCOMPLETE && field != F_ECOMPLETE) return 0;
        *(field == F_WCOMPLETE ? &f->out->complete : &f->st->complete) = b;
        return 1;
    }
    if (kind != 's') return 0;
    return on_field_string(f, field, s, len);
}

static int cb_null(void *ctx) { return on_scalar(ctx, 'n', NULL, 0, 0); }
static int cb_bool(void *ctx, int b) { return on_scalar(ctx, 'b', NULL, 0, b); }
static int cb_string(void *ctx, const unsigned char *s, size_t len) { return on_scalar(ctx, 's', s, len, 0); }

/* A number is never a known field's value; elsewhere jansson refuses an
 * integer beyond long long and a real that overflows. */
static int cb_number(void *ctx, const char *s, size_t len)
{
    fast *f = ctx;
    char buf[64];
    if (!f->skip_from && f->field != F_NONE) return 0;
    if (len >= sizeof buf) return 0;
    memcpy(buf, s, len);
    buf[len] = '\0';
    errno = 0;
    if (strpbrk(buf, ".eE")) {
        double d = strtod(buf, NULL);
        if (errno == ERANGE && (d > 1.0 || d < -1.0)) return 0;
    } else {
        (void)strtoll(buf, NULL, 10);
        if (errno == ERANGE) return 0;
    }
    return on_scalar(f, '#', NULL, 0, 0);
}

/* ---- objects and arrays -------------------------------------------------- */

static int open_value(fast *f, int is_map)
{
    if (f->depth >= FAST_DEPTH) return 0;
    if (f->depth == 0 && !is_map) return 0;
    f->depth++;
    f->is_map[f->depth] = is_map;
    f->key_from[f->depth] = f->nkeys;
    if (f->skip_from || f->depth == 1) return 1;
    if (f->where == IN_ENTS) { /* an entity */
        if (!is_map) return 0;
        f->where = IN_ENTITY;
        f->root_seen = f->seen;
        f->seen = 0;
        return 1;
    }
    if (f->field == F_WENTS && is_map && !(f->seen & bit(F_WENTS))) {
        f->seen |= bit(F_WENTS);
        f->field = F_NONE;
        f->where = IN_ENTS;
        return 1;
    }
    if (f->field != F_NONE) return 0; /* an object or array where a string or boolean belongs */
    f->skip_from = f->depth;
    return 1;
}

static int cb_start_map(void *ctx) { return open_value(ctx, 1); }
static int cb_start_array(void *ctx) { return open_value(ctx, 0); }

/* The entity just closed: required fields there and every rule kept. */
static int entity_ok(const fast *f)
{
    const wm_snap_stage *st = f->st;
    uint32_t need = bit(F_ETYPE) | bit(F_EID) | bit(F_ESTATUS) | bit(F_ESTART) | bit(F_ECOMPLETE);
    if ((f->seen & need) != need) return 0;
    if (!completion_ok(st->status, st->complete, st->start_ns, st->end_ns)) return 0;
    if (st->processing_ns == WM_NO_TIME) return 1;
    return st->status != WM_INITIALIZING && st->processing_ns >= st->start_ns &&
           (st->end_ns == WM_NO_TIME || st->processing_ns <= st->end_ns);
}

static int workflow_ok(const fast *f)
{
    const wm_snapshot *o = f->out;
    uint32_t need = bit(F_WID) | bit(F_WSTATUS) | bit(F_WSTART) | bit(F_WCOMPLETE);
    return (f->seen & need) == need && completion_ok(o->status, o->complete, o->start_ns, o->end_ns);
}

static int close_value(fast *f)
{
    int d = f->depth--;
    if (f->is_map[d]) f->nkeys = f->key_from[d];
    if (f->skip_from) {
        if (d == f->skip_from) f->skip_from = 0;
        return 1;
    }
    if (d == 1) return f->done = workflow_ok(f);
    if (f->where == IN_ENTITY) {
        if (!entity_ok(f)) return 0;
        f->out->nstages++;
        f->where = IN_ENTS;
        f->seen = f->root_seen;
        return 1;
    }
    f->where = IN_ROOT; /* workflowEntities closed */
    return 1;
}

static int cb_end(void *ctx) { return close_value(ctx); }

/* FNV-1a: a repeated hash declines, a duplicate key always repeats one. */
static int key_unique(fast *f, const unsigned char *k, size_t len)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (size_t i = 0; i < len; i++) h = (h ^ k[i]) * 0x100000001b3u;
    for (int i = f->key_from[f->depth]; i < f->nkeys; i++)
        if (f->keys[i] == h) return 0;
    if (f->nkeys >= FAST_KEYS) return 0;
    f->keys[f->nkeys++] = h;
    return 1;
}

static void stage_init(wm_snap_stage *st)
{
    st->has_error = 0;
    st->error[0] = '\0';
    st->end_ns = WM_NO_TIME;
    st->processing_ns = WM_NO_TIME;
}

static int cb_key(void *ctx, const unsigned char *k, size_t len)
{
    fast *f = ctx;
    if (!key_unique(f, k, len)) return 0;
    if (f->skip_from) return 1;
    if (f->where != IN_ENTS) {
        f->field = field_of(f, k, len);
        return 1;
    }
    /* An entity's type, the key of its object. */
    if (f->out->nstages >= WM_MAX_STAGES || !wm__type_name_ok((const char *)k, len)) return 0;
    f->st = &f->out->stages[f->out->nstages];
    stage_init(f->st);
    memcpy(f->st->type, k, len);
    f->st->type[len] = '\0';
    return 1;
}

static const yajl_callbacks callbacks = {
    cb_null, cb_bool, NULL, NULL, cb_number, cb_string, cb_start_map, cb_key, cb_end, cb_start_array, cb_end,
};

int wm_snapshot__parse_fast(const char *body, size_t len, const char *expected_workflow_id, unsigned flags,
                            wm_snapshot *out)
{
    const unsigned char *b = (const unsigned char *)body;
    size_t i = 0;
    while (i < len && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r')) i++;
    if (i == len || b[i] != '{' || prescan(b, len) != 0) return -1;
    fast f = {.expected = expected_workflow_id, .flags = flags, .out = out};
    out->has_error = 0;
    out->error[0] = '\0';
    out->end_ns = WM_NO_TIME;
    out->nstages = 0;
    arena a;
    a.used = 0;
    yajl_alloc_funcs af = {a_malloc, a_realloc, a_free, &a};
    yajl_handle h = yajl_alloc(&callbacks, &af, &f);
    if (!h) return -1;
    int ok = yajl_parse(h, b, len) == yajl_status_ok && yajl_complete_parse(h) == yajl_status_ok && f.done;
    yajl_free(h);
    return ok ? 0 : -1;
}
