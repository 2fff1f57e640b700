/* checkpoint.c — wm_monitor <-> versioned binary blob (pure). */
#include "worker/checkpoint.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/mem.h"

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
    if (b->failed) return;
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

static uint32_t fnv1a(const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
    return h;
}

int wk_ckpt_encode(const wm_monitor *m, uint8_t **out, size_t *len)
{
    wbuf b = {0};
    put(&b, MAGIC, sizeof MAGIC);
    put_uint(&b, WK_CKPT_VERSION, 1);
    put_str(&b, m->workflow_id);
    int64_t times[] = {m->submitted_ns, m->created_ns, m->timeout_ns, m->start_ns, m->end_ns, m->last_sent_ns};
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) put_i64(&b, times[i]);
    put_uint(&b, m->version, 4);
    put_uint(&b, m->polls, 4);
    put_uint(&b, m->poll_errors, 4);
    put_uint(&b, m->events_dropped, 2);
    put_uint(&b, m->stages_dropped, 2);
    uint8_t small[] = {m->last_status, m->end, m->nstages, m->nevents};
    put(&b, small, sizeof small);
    put_str(&b, m->error);
    for (size_t i = 0; i < m->nstages; i++) {
        const wm_stage *st = &m->stages[i];
        put_i64(&b, st->start_ns);
        put_i64(&b, st->end_ns);
        put_str(&b, wm_stage_type(st));
        put_str(&b, wm_stage_id(st));
        put_str(&b, st->error);
        uint8_t s2[] = {st->last_status, st->end};
        put(&b, s2, sizeof s2);
    }
    for (size_t i = 0; i < m->nevents; i++) {
        const wm_event *ev = &m->events[i];
        put_i64(&b, ev->time_ns);
        put_i64(&b, ev->before_ns);
        put_i64(&b, ev->after_ns);
        uint8_t s3[] = {ev->owner, ev->status, ev->source};
        put(&b, s3, sizeof s3);
    }
    if (!b.failed) put_uint(&b, fnv1a(b.p, b.len), 4);
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

/* Input cursor; the first error is kept in why and stops everything after. */
typedef struct rbuf {
    const uint8_t *p; /* not owned */
    size_t len, pos;  /* size, read position */
    char *why;        /* caller's message buffer */
    size_t whylen;
    int failed;       /* an error was recorded */
} rbuf;

static void fail(rbuf *r, const char *fmt, ...)
{
    if (r->failed) return;
    r->failed = 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->why, r->whylen, fmt, ap);
    va_end(ap);
}

static const uint8_t *take(rbuf *r, size_t n, const char *what)
{
    if (r->failed) return NULL;
    if (r->len - r->pos < n) {
        fail(r, "truncated: %zu bytes, %s needs %zu more at offset %zu", r->len, what, n - (r->len - r->pos),
             r->pos);
        return NULL;
    }
    const uint8_t *p = r->p + r->pos;
    r->pos += n;
    return p;
}

static uint64_t get_uint(rbuf *r, size_t bytes, const char *what)
{
    const uint8_t *p = take(r, bytes, what);
    uint64_t v = 0;
    if (p)
        for (size_t i = 0; i < bytes; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static int64_t get_i64(rbuf *r, const char *what) { return (int64_t)get_uint(r, 8, what); }

/* A string of min..max bytes without NUL, as an owned copy; NULL for a
 * NULL nstr (allowed only if nullable) or on error. */
static char *get_str(rbuf *r, size_t min, size_t max, int nullable, const char *what)
{
    size_t n = (size_t)get_uint(r, 2, what);
    if (r->failed) return NULL;
    if (n == NULL_STR) {
        if (!nullable) fail(r, "%s is missing", what);
        return NULL;
    }
    if (n < min || n > max) {
        fail(r, "%s has %zu bytes (allowed %zu..%zu)", what, n, min, max);
        return NULL;
    }
    const uint8_t *p = take(r, n, what);
    if (!p) return NULL;
    if (memchr(p, '\0', n)) {
        fail(r, "%s contains a NUL byte", what);
        return NULL;
    }
    char *s = ex_strndup((const char *)p, n);
    if (!s) fail(r, "out of memory");
    return s;
}

static int status_ok(uint8_t s) { return s < WM_NSTATUS || s == WM_NO_STATUS; }

#define ERR_MAX 8192   /* longest error message accepted back */
#define NAME_MAX_B WM_TYPE_MAX /* longest entity type accepted back */

static void get_stage(rbuf *r, wm_stage *st, size_t i)
{
    char what[32];
    snprintf(what, sizeof what, "stage %zu", i);
    st->start_ns = get_i64(r, what);
    st->end_ns = get_i64(r, what);
    char *type = get_str(r, 1, NAME_MAX_B, 0, "a stage's type");
    char *id = get_str(r, 1, WM_ID_MAX, 0, "a stage's id");
    st->error = get_str(r, 0, ERR_MAX, 1, "a stage's error");
    const uint8_t *s2 = take(r, 2, what);
    if (type && id) {
        size_t tl = strlen(type), il = strlen(id);
        st->names = ex_malloc(tl + il + 2);
        if (st->names) {
            memcpy(st->names, type, tl + 1);
            memcpy(st->names + tl + 1, id, il + 1);
        } else {
            fail(r, "out of memory");
        }
    }
    ex_free(type);
    ex_free(id);
    if (!s2) return;
    st->last_status = s2[0];
    st->end = s2[1];
    if (!status_ok(st->last_status)) fail(r, "%s: last status %u is not a status", what, st->last_status);
    if (st->end > WM_END_NOT_FOUND) fail(r, "%s: end reason %u is unknown", what, st->end);
}

static void get_event(rbuf *r, wm_event *ev, size_t i, uint8_t nstages)
{
    ev->time_ns = get_i64(r, "an event");
    ev->before_ns = get_i64(r, "an event");
    ev->after_ns = get_i64(r, "an event");
    const uint8_t *s3 = take(r, 3, "an event");
    if (!s3) return;
    ev->owner = s3[0];
    ev->status = s3[1];
    ev->source = s3[2];
    if (ev->owner != WM_OWNER_WORKFLOW && ev->owner >= nstages)
        fail(r, "event %zu belongs to stage %u of %u", i, ev->owner, nstages);
    else if (ev->status >= WM_NSTATUS) fail(r, "event %zu: status %u is not a status", i, ev->status);
    else if (ev->source > WM_SRC_POLL) fail(r, "event %zu: time source %u is unknown", i, ev->source);
}

/* Check the envelope: magic, version, checksum. 0 or -1 (why set). */
static int check_envelope(rbuf *r)
{
    if (r->len < sizeof MAGIC + 1 + 4 || memcmp(r->p, MAGIC, sizeof MAGIC) != 0) {
        fail(r, "not an extrace checkpoint (%zu bytes, no \"XTCK\" header)", r->len);
        return -1;
    }
    uint8_t v = r->p[sizeof MAGIC];
    if (v == 0 || v > WK_CKPT_VERSION) {
        fail(r, "checkpoint format version %u is not supported (this build reads 1..%u)", v, WK_CKPT_VERSION);
        return -1;
    }
    size_t body = r->len - 4;
    uint32_t want = 0;
    for (int i = 0; i < 4; i++) want |= (uint32_t)r->p[body + i] << (8 * i);
    uint32_t got = fnv1a(r->p, body);
    if (want != got) {
        fail(r, "checksum mismatch (stored %08x, computed %08x): the checkpoint is corrupt", want, got);
        return -1;
    }
    r->len = body; /* the fields end where the checksum starts */
    r->pos = sizeof MAGIC + 1;
    return 0;
}

/* Fill m's scalar fields and counts from r. */
static void get_scalars(rbuf *r, wm_monitor *m)
{
    m->created_ns = get_i64(r, "created");
    m->timeout_ns = get_i64(r, "timeout");
    m->start_ns = get_i64(r, "start");
    m->end_ns = get_i64(r, "end");
    m->last_sent_ns = get_i64(r, "last poll");
    /* Version 1 kept the last poll's receive time, which is no honest lower
     * bound for the next event; the monitor's creation precedes every send. */
    if (r->p[sizeof MAGIC] == 1 && m->last_sent_ns != WM_NO_TIME) m->last_sent_ns = m->created_ns;
    m->version = (uint32_t)get_uint(r, 4, "version");
    m->polls = (uint32_t)get_uint(r, 4, "polls");
    m->poll_errors = (uint32_t)get_uint(r, 4, "poll errors");
    m->events_dropped = (uint16_t)get_uint(r, 2, "events dropped");
    m->stages_dropped = (uint16_t)get_uint(r, 2, "stages dropped");
    const uint8_t *s = take(r, 4, "statuses and counts");
    if (!s) return;
    m->last_status = s[0];
    m->end = s[1];
    m->nstages = s[2];
    m->nevents = s[3];
    if (!status_ok(m->last_status)) fail(r, "last status %u is not a status", m->last_status);
    else if (m->end > WM_END_NOT_FOUND) fail(r, "end reason %u is unknown", m->end);
    else if (m->nstages > WM_MAX_STAGES) fail(r, "%u stages (at most %d)", m->nstages, WM_MAX_STAGES);
    else if (m->nevents > WM_MAX_EVENTS) fail(r, "%u events (at most %d)", m->nevents, WM_MAX_EVENTS);
    else if (m->timeout_ns < 0) fail(r, "negative timeout %lld", (long long)m->timeout_ns);
}

wm_monitor *wk_ckpt_decode(const uint8_t *blob, size_t len, char *why, size_t whylen)
{
    rbuf r = {blob, len, 0, why, whylen, 0};
    wm_monitor *m = NULL;
    if (whylen) why[0] = '\0';
    if (check_envelope(&r) != 0) return NULL;
    char *id = get_str(&r, 1, WM_ID_MAX, 0, "the workflow id");
    int64_t submitted = get_i64(&r, "submitted");
    if (id) m = wm_monitor_new(id, submitted, 0, 0);
    ex_free(id);
    if (!m) {
        fail(&r, "out of memory");
        return NULL;
    }
    get_scalars(&r, m);
    uint8_t ns = m->nstages, ne = m->nevents;
    m->nstages = m->nevents = 0; /* counted up as they are filled, so wm_monitor_free stays safe */
    m->error = get_str(&r, 0, ERR_MAX, 1, "the workflow error");
    if (!r.failed && ns) {
        m->stages = ex_calloc(ns, sizeof *m->stages);
        if (!m->stages) fail(&r, "out of memory");
    }
    for (uint8_t i = 0; i < ns && !r.failed; i++) {
        get_stage(&r, &m->stages[i], i);
        m->nstages = (uint8_t)(i + 1);
    }
    if (!r.failed && ne) {
        m->events = ex_calloc(ne, sizeof *m->events);
        if (!m->events) fail(&r, "out of memory");
        else m->events_cap = ne;
    }
    for (uint8_t i = 0; i < ne && !r.failed; i++) {
        get_event(&r, &m->events[i], i, ns);
        m->nevents = (uint8_t)(i + 1);
    }
    if (!r.failed && r.pos != r.len) fail(&r, "%zu unexpected bytes after the last event", r.len - r.pos);
    if (r.failed) {
        wm_monitor_free(m);
        return NULL;
    }
    return m;
}
