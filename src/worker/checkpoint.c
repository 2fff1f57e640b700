/* checkpoint.c — mdl_monitor <-> versioned binary blob (pure). */
#include "worker/checkpoint.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/mem.h"
#include "model/attrs.h"
#include "worker/checkpoint_int.h"

static const uint8_t MAGIC[4] = {'X', 'T', 'C', 'K'};
#define NULL_STR 0xFFFFu

/* ---- writing ---- */

/* A growing output buffer; `failed` sticks after the first allocation error. */
typedef struct wbuf {
    uint8_t *p;    /* owned */
    size_t len;    /* bytes written */
    size_t cap;    /* bytes allocated */
    int failed;    /* out of memory */
} wbuf;

static void put(wbuf *b, const void *src, size_t n)
{
    if (b->failed || n == 0) return; /* n == 0: src may be NULL, which memcpy must not get */
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->len + n) cap *= 2;
        uint8_t *p = ex_realloc(b->p, cap);
        if (!p) {
            b->failed = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
}

static void put_uint(wbuf *b, uint64_t v, size_t bytes)
{
    uint8_t tmp[8];
    for (size_t i = 0; i < bytes; i++) tmp[i] = (uint8_t)(v >> (8 * i));
    put(b, tmp, bytes);
}

static void put_i64(wbuf *b, int64_t v) { put_uint(b, (uint64_t)v, 8); }

/* str (s != NULL) or nstr (s may be NULL). Lengths are bounded by the
 * monitor's own limits (ids, types, error messages all well under 64 KiB). */
static void put_str(wbuf *b, const char *s)
{
    if (!s) {
        put_uint(b, NULL_STR, 2);
        return;
    }
    size_t n = strlen(s);
    if (n >= NULL_STR) n = NULL_STR - 1; /* cannot happen for a valid monitor; keeps the blob well-formed */
    put_uint(b, n, 2);
    put(b, s, n);
}

uint32_t ck_fnv1a(const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
    return h;
}

/* A node's string block: u16 length + bytes (its NULs included). */
static void put_strs(wbuf *b, const mdl_node *n)
{
    size_t len = 0;
    if (n->strs) {
        const char *p = n->strs;
        for (int k = 0; k < 4 + n->has_error; k++) p += strlen(p) + 1;
        len = (size_t)(p - n->strs);
    }
    put_uint(b, len, 2);
    put(b, n->strs, len);
}

/* Format 4 keeps only whether a span was delivered: one sent but not
 * known delivered goes out again (identical) after a resume. */
static uint8_t delivered(uint8_t exported) { return exported == MDL_EXP_DELIVERED; }

static void put_node(wbuf *b, const mdl_node *n, int fmt)
{
    put_i64(b, n->start_ns);
    put_i64(b, n->end_ns);
    put_uint(b, n->parent, 4);
    uint8_t small[] = {n->last_word, n->end, n->end_known, n->has_error, delivered(n->exported)};
    put(b, small, fmt >= 4 ? 5 : 4);
    put_strs(b, n);
    size_t alen = mdl_attrs_len(n->attrs);
    put_uint(b, alen, 4);
    put(b, n->attrs, alen);
    put_uint(b, n->nevents, 2);
    for (size_t i = 0; i < n->nevents; i++) {
        const mdl_event *ev = &n->events[i];
        put_i64(b, ev->time_ns);
        put_i64(b, ev->before_ns);
        put_i64(b, ev->after_ns);
        uint8_t s2[] = {ev->word, ev->source};
        put(b, s2, sizeof s2);
    }
}

/* The submitter's span, a tagged section after the nodes (only when there is one). */
static void put_link(wbuf *b, const mdl_link *l)
{
    if (!l) return;
    put_uint(b, CK_TAG_LINK, 1);
    put(b, l->trace_id, 16);
    put(b, l->span_id, 8);
    put_uint(b, l->flags, 1);
}

int wk_ckpt_encode(const mdl_monitor *m, uint8_t **out, size_t *len)
{
    return wk_ckpt_encode_format(m, WK_CKPT_VERSION, out, len);
}

int wk_ckpt_encode_format(const mdl_monitor *m, int fmt, uint8_t **out, size_t *len)
{
    wbuf b = {0};
    if (fmt < 3 || fmt > WK_CKPT_VERSION) {
        *out = NULL;
        *len = 0;
        return -1;
    }
    put(&b, MAGIC, sizeof MAGIC);
    put_uint(&b, (uint64_t)fmt, 1);
    put_str(&b, m->key);
    int64_t times[] = {m->submitted_ns, m->created_ns, m->timeout_ns, m->last_sent_ns};
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) put_i64(&b, times[i]);
    put_uint(&b, m->version, 4);
    put_uint(&b, m->polls, 4);
    put_uint(&b, m->poll_errors, 4);
    uint16_t counts[] = {m->max_nodes, m->max_events, m->events_dropped, m->nodes_dropped, m->nnodes};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) put_uint(&b, counts[i], 2);
    put_uint(&b, mdl_monitor_nwords(m), 1);
    for (unsigned i = 0; i < mdl_monitor_nwords(m); i++) put_str(&b, mdl_monitor_own_word(m, i));
    put_node(&b, &m->root, fmt);
    for (size_t i = 0; i < m->nnodes; i++) put_node(&b, &m->nodes[i], fmt);
    if (fmt >= 4) put_uint(&b, delivered(m->queued_exported), 1);
    put_link(&b, mdl_monitor_link(m));
    if (!b.failed) put_uint(&b, ck_fnv1a(b.p, b.len), 4);
    if (b.failed) {
        ex_free(b.p);
        *out = NULL;
        *len = 0;
        return -1;
    }
    *out = b.p;
    *len = b.len;
    return 0;
}

/* ---- reading ---- */

void ck_fail(ck_rbuf *r, const char *fmt, ...)
{
    if (r->failed) return;
    r->failed = 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->why, r->whylen, fmt, ap);
    va_end(ap);
}

const uint8_t *ck_take(ck_rbuf *r, size_t n, const char *what)
{
    if (r->failed) return NULL;
    if (r->len - r->pos < n) {
        ck_fail(r, "truncated: %zu bytes, %s needs %zu more at offset %zu", r->len, what, n - (r->len - r->pos),
             r->pos);
        return NULL;
    }
    const uint8_t *p = r->p + r->pos;
    r->pos += n;
    return p;
}

uint64_t ck_get_uint(ck_rbuf *r, size_t bytes, const char *what)
{
    const uint8_t *p = ck_take(r, bytes, what);
    uint64_t v = 0;
    if (p)
        for (size_t i = 0; i < bytes; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

int64_t ck_get_i64(ck_rbuf *r, const char *what) { return (int64_t)ck_get_uint(r, 8, what); }

/* A string of min..max bytes without NUL, as an owned copy; NULL for a
 * NULL nstr (allowed only if nullable) or on error. */
char *ck_get_str(ck_rbuf *r, size_t min, size_t max, int nullable, const char *what)
{
    size_t n = (size_t)ck_get_uint(r, 2, what);
    if (r->failed) return NULL;
    if (n == NULL_STR) {
        if (!nullable) ck_fail(r, "%s is missing", what);
        return NULL;
    }
    if (n < min || n > max) {
        ck_fail(r, "%s has %zu bytes (allowed %zu..%zu)", what, n, min, max);
        return NULL;
    }
    const uint8_t *p = ck_take(r, n, what);
    if (!p) return NULL;
    if (memchr(p, '\0', n)) {
        ck_fail(r, "%s contains a NUL byte", what);
        return NULL;
    }
    char *s = ex_strndup((const char *)p, n);
    if (!s) ck_fail(r, "out of memory");
    return s;
}

/* Check the envelope: magic, version, checksum. 0 or -1 (why set). */
static int check_envelope(ck_rbuf *r)
{
    if (r->len < sizeof MAGIC + 1 + 4 || memcmp(r->p, MAGIC, sizeof MAGIC) != 0) {
        ck_fail(r, "not an extrace checkpoint (%zu bytes, no \"XTCK\" header)", r->len);
        return -1;
    }
    uint8_t v = r->p[sizeof MAGIC];
    if (v == 0 || v > WK_CKPT_VERSION) {
        ck_fail(r, "checkpoint format version %u is not supported (this build reads 1..%u)", v, WK_CKPT_VERSION);
        return -1;
    }
    size_t body = r->len - 4;
    uint32_t want = 0;
    for (int i = 0; i < 4; i++) want |= (uint32_t)r->p[body + i] << (8 * i);
    uint32_t got = ck_fnv1a(r->p, body);
    if (want != got) {
        ck_fail(r, "checksum mismatch (stored %08x, computed %08x): the checkpoint is corrupt", want, got);
        return -1;
    }
    r->len = body; /* the fields end where the checksum starts */
    r->pos = sizeof MAGIC + 1;
    return 0;
}


/* A node's string block: 4 strings (5 with an error), NULs included. */
static void get_strs(ck_rbuf *r, mdl_node *n, int root, const char *what)
{
    size_t len = (size_t)ck_get_uint(r, 2, what);
    const uint8_t *p = ck_take(r, len, what);
    if (!p || (!len && root && !n->has_error)) return; /* an unnamed root has none */
    size_t nul = 0;
    for (size_t i = 0; i < len; i++) nul += p[i] == 0;
    if (!len || p[len - 1] != 0 || nul != 4u + n->has_error || (!root && !p[0])) {
        ck_fail(r, "%s: malformed strings (%zu bytes, %zu parts)", what, len, nul);
        return;
    }
    if (!(n->strs = ex_malloc(len))) ck_fail(r, "out of memory");
    else memcpy(n->strs, p, len);
}

static void get_attrs(ck_rbuf *r, mdl_node *n, const char *what)
{
    size_t len = (size_t)ck_get_uint(r, 4, what);
    if (r->failed || !len) return;
    const uint8_t *p = ck_take(r, len, what);
    if (!p) return;
    if (mdl_attrs_check(p, len)) ck_fail(r, "%s: malformed attributes", what);
    else if (!(n->attrs = ex_malloc(len))) ck_fail(r, "out of memory");
    else memcpy(n->attrs, p, len);
}

static void get_events(ck_rbuf *r, mdl_monitor *m, mdl_node *n, const char *what)
{
    uint16_t ne = (uint16_t)ck_get_uint(r, 2, what);
    if (r->failed || !ne) return;
    if ((size_t)m->nevents + ne > m->max_events) {
        ck_fail(r, "%s: %u events beyond the limit of %u", what, ne, m->max_events);
        return;
    }
    if (!(n->events = ex_calloc(ne, sizeof *n->events))) {
        ck_fail(r, "out of memory");
        return;
    }
    for (uint16_t i = 0; i < ne && !r->failed; i++) {
        mdl_event *ev = &n->events[i];
        ev->time_ns = ck_get_i64(r, what);
        ev->before_ns = ck_get_i64(r, what);
        ev->after_ns = ck_get_i64(r, what);
        const uint8_t *s2 = ck_take(r, 2, what);
        if (!s2) return;
        ev->word = s2[0];
        ev->source = s2[1];
        if (!mdl_monitor_word_valid(m, ev->word) || ev->source > MDL_SRC_POLL)
            ck_fail(r, "%s: event %u has word %u, time source %u", what, i, ev->word, ev->source);
        n->nevents = (uint16_t)(i + 1);
        m->nevents++;
    }
}

/* Node i (MDL_ROOT: the root) of a format-fmt blob. */
static void get_node(ck_rbuf *r, mdl_monitor *m, mdl_node *n, uint32_t i, int fmt)
{
    char what[40];
    if (i == MDL_ROOT) snprintf(what, sizeof what, "the root");
    else snprintf(what, sizeof what, "node %u", i);
    n->start_ns = ck_get_i64(r, what);
    n->end_ns = ck_get_i64(r, what);
    n->parent = (uint32_t)ck_get_uint(r, 4, what);
    const uint8_t *s = ck_take(r, fmt >= 4 ? 5 : 4, what);
    if (!s) return;
    n->last_word = s[0];
    n->end = s[1];
    n->end_known = s[2];
    n->has_error = s[3];
    uint8_t sent = fmt >= 4 ? s[4] : 0;
    n->exported = sent ? MDL_EXP_DELIVERED : MDL_EXP_NONE;
    if (n->parent != MDL_ROOT && (i == MDL_ROOT || n->parent >= i))
        ck_fail(r, "%s: parent %u does not come before it", what, n->parent);
    else if (n->last_word != MDL_NO_WORD && !mdl_monitor_word_valid(m, n->last_word))
        ck_fail(r, "%s: state word %u is unknown", what, n->last_word);
    else if (n->end > MDL_END_SKIPPED || n->end_known > 1 || n->has_error > 1)
        ck_fail(r, "%s: end %u/%u/%u is unknown", what, n->end, n->end_known, n->has_error);
    else if (sent > 1 || (sent && (i == MDL_ROOT || n->end == MDL_END_OPEN)))
        ck_fail(r, "%s: export state %u does not fit a %s", what, sent, i == MDL_ROOT ? "root" : "node");
    get_strs(r, n, i == MDL_ROOT, what);
    get_attrs(r, n, what);
    get_events(r, m, n, what);
}

static mdl_monitor *decode_v3(ck_rbuf *r, int fmt)
{
    char *key = ck_get_str(r, 1, 4 * MDL_KEY_MAX, 0, "the workflow key");
    int64_t t[4];
    for (int i = 0; i < 4; i++) t[i] = ck_get_i64(r, "times");
    uint32_t u[3];
    for (int i = 0; i < 3; i++) u[i] = (uint32_t)ck_get_uint(r, 4, "counters");
    uint16_t c[5];
    for (int i = 0; i < 5; i++) c[i] = (uint16_t)ck_get_uint(r, 2, "counts");
    mdl_monitor *m = key && !r->failed ? mdl_monitor_new(key, t[0], t[1], t[2], c[0], c[1]) : NULL;
    ex_free(key);
    if (!m) {
        ck_fail(r, "limits %u nodes, %u events or the key are out of range (or out of memory)", c[0], c[1]);
        return NULL;
    }
    m->last_sent_ns = t[3];
    m->version = u[0], m->polls = u[1], m->poll_errors = u[2];
    m->events_dropped = c[2], m->nodes_dropped = c[3];
    if (m->timeout_ns < 0) ck_fail(r, "negative timeout %lld", (long long)m->timeout_ns);
    if (c[4] > m->max_nodes) ck_fail(r, "%u nodes (at most %u)", c[4], m->max_nodes);
    uint8_t nw = (uint8_t)ck_get_uint(r, 1, "words");
    for (uint8_t i = 0; i < nw && !r->failed; i++) {
        char *w = ck_get_str(r, 1, MDL_WORD_MAX, 0, "a state word");
        if (w && mdl_monitor_add_word(m, w, strlen(w))) ck_fail(r, "too many state words");
        ex_free(w);
    }
    get_node(r, m, &m->root, MDL_ROOT, fmt);
    if (!r->failed && c[4] && !(m->nodes = ex_calloc(c[4], sizeof *m->nodes))) ck_fail(r, "out of memory");
    for (uint32_t i = 0; i < c[4] && !r->failed; i++) {
        m->nnodes = (uint16_t)(i + 1); /* counted as filled: mdl_monitor_free stays safe */
        get_node(r, m, &m->nodes[i], i, fmt);
    }
    uint8_t q = fmt >= 4 ? (uint8_t)ck_get_uint(r, 1, "the Queued span's export state") : 0;
    if (q > 1) ck_fail(r, "the Queued span's export state %u is unknown", q);
    m->queued_exported = q ? MDL_EXP_DELIVERED : MDL_EXP_NONE;
    return m;
}

/* Tagged sections after the nodes (format 3 and later): the link. */
static void get_sections(ck_rbuf *r, mdl_monitor *m)
{
    while (!r->failed && r->pos < r->len) {
        size_t at = r->pos;
        uint8_t tag = (uint8_t)ck_get_uint(r, 1, "a section tag");
        const mdl_link *had = mdl_monitor_link(m);
        if (tag != CK_TAG_LINK || had) {
            ck_fail(r, "%zu unexpected bytes after the last field (%s section tag 0x%02x at byte %zu)", r->len - at,
                    had && tag == CK_TAG_LINK ? "repeated" : "unknown", tag, at);
            return;
        }
        const uint8_t *p = ck_take(r, 25, "the link");
        if (p && mdl_monitor_set_link(m, p, p + 16, p[24])) ck_fail(r, "out of memory");
    }
}

mdl_monitor *wk_ckpt_decode(const uint8_t *blob, size_t len, char *why, size_t whylen)
{
    ck_rbuf r = {blob, len, 0, why, whylen, 0};
    if (whylen) why[0] = '\0';
    if (check_envelope(&r) != 0) return NULL;
    uint8_t v = blob[4];
    mdl_monitor *m = v >= 3 ? decode_v3(&r, v) : wk_ckpt_decode_v2(&r, v);
    if (m && v >= 3) get_sections(&r, m);
    if (m && !r.failed && r.pos != r.len) ck_fail(&r, "%zu unexpected bytes after the last field", r.len - r.pos);
    if (r.failed) {
        mdl_monitor_free(m);
        return NULL;
    }
    return m;
}
