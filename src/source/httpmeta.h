/* httpmeta.h — what HTTP answers' headers tell a polite poller. Pure.
 *
 *   Link (RFC 8288)        the rel="next" target of a paged answer;
 *   ETag / Last-Modified   kept per request (and page) and sent back as
 *                          If-None-Match / If-Modified-Since; a 304 reuses
 *                          the body kept with them;
 *   rate limits            X-RateLimit-Limit/-Remaining/-Reset/-Used
 *                          (GitHub), RateLimit-Limit/-Remaining/-Reset
 *                          (IETF draft 3–6), RateLimit / RateLimit-Policy
 *                          (IETF draft 7+, structured fields, and the older
 *                          "limit=…, remaining=…, reset=…" form) and
 *                          Retry-After (seconds or an HTTP date) —
 *                          gathered into one sr_ratelimit, from which
 *                          sr_ratelimit_pause says how long every poll of
 *                          that host should wait. */
#ifndef EXTRACE_SOURCE_HTTPMETA_H
#define EXTRACE_SOURCE_HTTPMETA_H
#include <stddef.h>
#include <stdint.h>

#define SR_ETAG_MAX 512 /* longer validators are not kept */
#define SR_DATE_MAX 64

/* ---- Link ---- */

/* Find the target of the first link with rel "next" (rel may list several
 * types, case-insensitively) in a Link header value v[0..len). Returns 1
 * with the target (between '<' and '>', unresolved) in out, 0 when there
 * is none, -1 when the value is malformed or the target does not fit in
 * outlen bytes. out is always terminated. */
int sr_link_next(const char *v, size_t len, char *out, size_t outlen);

/* ---- conditional requests ---- */

typedef struct sr_cond {
    char etag[SR_ETAG_MAX];          /* "" when none */
    char last_modified[SR_DATE_MAX]; /* "" when none */
    char *body;                      /* the answer they validate (ex_malloc'd), NULL when none */
    size_t len;
} sr_cond;

/* After a 200: keep the validators (NULL or invalid ones are dropped:
 * control characters, too long) and a copy of the body. Returns 0, or -1
 * when out of memory (the entry is then empty). */
int sr_cond_store(sr_cond *c, const char *etag, const char *last_modified, const char *body, size_t len);
/* The request headers to send: up to two "Name: value" lines written to
 * lines[0..], each of size linelen. Returns how many (0 when nothing kept
 * or no body to reuse). */
int sr_cond_headers(const sr_cond *c, char lines[][SR_ETAG_MAX + 32], int max);
/* Forget everything (frees the body). */
void sr_cond_clear(sr_cond *c);

/* ---- rate limits ---- */

typedef struct sr_ratelimit {
    int64_t limit;        /* requests per window; -1 unknown */
    int64_t remaining;    /* requests left in the window; -1 unknown */
    int64_t used;         /* -1 unknown */
    int64_t reset_ns;     /* unix ns when the window resets; 0 unknown */
    int64_t retry_at_ns;  /* unix ns given by Retry-After; 0 none */
} sr_ratelimit;

/* An empty record (everything unknown). */
void sr_ratelimit_init(sr_ratelimit *rl);
/* Feed one response header (name case-insensitive, value v[0..vlen)).
 * Unrelated headers and malformed values are ignored (returns 0); a header
 * that set something returns 1. now_ns turns relative times into absolute
 * ones. X-RateLimit-Reset is unix seconds when ≥ 10^9, else seconds from
 * now (both forms are in use). */
int sr_ratelimit_header(sr_ratelimit *rl, const char *name, const char *v, size_t vlen, int64_t now_ns);

typedef struct sr_pace_policy {
    double reserve_fraction; /* slow down when remaining < this share of limit (0.1) */
    int64_t reserve_min;     /* … or below this many requests (10) */
    int64_t max_pause_ns;    /* never pause longer than this (1 h), against bogus resets */
    int64_t margin_ns;       /* added to a wait until reset (1 s), for clock skew */
    int64_t unknown_reset_ns; /* remaining 0 and no reset given: wait this long (60 s) */
} sr_pace_policy;

/* The defaults above. */
sr_pace_policy sr_pace_default(void);

typedef enum {
    SR_PACE_NONE = 0,   /* no pause */
    SR_PACE_RETRY_AFTER,/* the server said when to come back */
    SR_PACE_EXHAUSTED,  /* nothing left until reset */
    SR_PACE_SPREAD,     /* under the reserve: the rest spread until reset */
} sr_pace_reason;

/* How long every poll of the host should pause from now_ns, given what rl
 * says: Retry-After wins; remaining 0 waits until reset + margin (or
 * unknown_reset_ns); remaining below the reserve spreads what is left
 * until reset: one request per (reset − now) / remaining; else 0. Capped
 * at max_pause_ns; never negative. *reason (may be NULL) says which rule. */
int64_t sr_ratelimit_pause(const sr_ratelimit *rl, int64_t now_ns, const sr_pace_policy *pol,
                           sr_pace_reason *reason);
/* "retry_after", "exhausted", "spread", "none". */
const char *sr_pace_reason_name(sr_pace_reason r);

/* Parse an HTTP date (IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT", the
 * obsolete RFC 850 and asctime forms) in s[0..len). 0 and *out_ns, or -1. */
int sr_http_date_parse(const char *s, size_t len, int64_t *out_ns);

#endif
