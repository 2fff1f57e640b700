/* httpmeta.c — Link, conditional requests and rate-limit headers (httpmeta.h). */
#include "source/httpmeta.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/clock.h"
#include "core/iso8601.h"
#include "core/mem.h"
#include "source/profile_int.h"

/* ---- Link (RFC 8288 §3) ---- */

typedef struct cur {
    const char *p, *end;
} cur;

static void ows(cur *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t')) c->p++;
}

static int tchar(unsigned char ch) { return ch > 0x20 && ch < 0x7f && !strchr("\"(),/:;<=>?@[\\]{}", ch); }

/* A token or quoted-string value into out (unescaped, cut at outlen - 1). -1 if malformed. */
static int param_value(cur *c, char *out, size_t outlen)
{
    size_t o = 0;
    if (c->p < c->end && *c->p == '"') {
        for (c->p++; c->p < c->end && *c->p != '"'; c->p++) {
            if (*c->p == '\\' && ++c->p == c->end) return -1;
            if (o + 1 < outlen) out[o++] = *c->p;
        }
        if (c->p == c->end) return -1;
        c->p++;
    } else {
        const char *s = c->p;
        while (c->p < c->end && tchar((unsigned char)*c->p)) {
            if (o + 1 < outlen) out[o++] = *c->p;
            c->p++;
        }
        if (c->p == s) return -1;
    }
    out[o] = '\0';
    return 0;
}

/* 1 when the space-separated relation types in rel include "next". */
static int has_next(const char *rel)
{
    for (const char *p = rel; *p;) {
        while (*p == ' ' || *p == '\t') p++;
        size_t n = strcspn(p, " \t");
        if (n == 4 && strncasecmp(p, "next", 4) == 0) return 1;
        p += n;
    }
    return 0;
}

int sr_link_next(const char *v, size_t len, char *out, size_t outlen)
{
    cur c = {v, v + len};
    if (outlen) out[0] = '\0';
    for (;;) {
        while (c.p < c.end && (*c.p == ',' || *c.p == ' ' || *c.p == '\t')) c.p++;
        if (c.p == c.end) return 0;
        if (*c.p != '<') return -1;
        const char *t = ++c.p;
        while (c.p < c.end && *c.p != '>') c.p++;
        if (c.p == c.end) return -1;
        size_t tlen = (size_t)(c.p - t);
        c.p++;
        int next = 0, seen_rel = 0;
        for (;;) {
            ows(&c);
            if (c.p == c.end || *c.p == ',') break;
            if (*c.p != ';') return -1;
            c.p++;
            ows(&c);
            const char *name = c.p;
            while (c.p < c.end && tchar((unsigned char)*c.p)) c.p++;
            size_t nlen = (size_t)(c.p - name);
            if (nlen == 0) {
                if (c.p == c.end || *c.p == ',') break; /* a trailing ';' */
                return -1;
            }
            ows(&c);
            char val[256] = "";
            if (c.p < c.end && *c.p == '=') {
                c.p++;
                ows(&c);
                if (param_value(&c, val, sizeof val) != 0) return -1;
            }
            if (nlen == 3 && strncasecmp(name, "rel", 3) == 0 && !seen_rel) {
                seen_rel = 1; /* RFC 8288: later rel parameters are ignored */
                next = has_next(val);
            }
        }
        if (next) {
            if (tlen + 1 > outlen) return -1;
            memcpy(out, t, tlen);
            out[tlen] = '\0';
            return 1;
        }
    }
}

/* ---- conditional requests ---- */

static void keep(char *dst, size_t cap, const char *src)
{
    dst[0] = '\0';
    if (!src) return;
    size_t n = strlen(src);
    if (n == 0 || n >= cap || !sr_no_controls(src, n, "")) return;
    memcpy(dst, src, n + 1);
}

int sr_cond_store(sr_cond *c, const char *etag, const char *last_modified, const char *body, size_t len)
{
    sr_cond_clear(c);
    keep(c->etag, sizeof c->etag, etag);
    keep(c->last_modified, sizeof c->last_modified, last_modified);
    if (!c->etag[0] && !c->last_modified[0]) return 0;
    if (!(c->body = ex_malloc(len + 1))) {
        sr_cond_clear(c);
        return -1;
    }
    if (len) memcpy(c->body, body, len);
    c->body[len] = '\0';
    c->len = len;
    return 0;
}

int sr_cond_headers(const sr_cond *c, char lines[][SR_ETAG_MAX + 32], int max)
{
    int n = 0;
    if (!c->body) return 0;
    if (c->etag[0] && n < max) snprintf(lines[n++], SR_ETAG_MAX + 32, "If-None-Match: %s", c->etag);
    if (c->last_modified[0] && n < max) snprintf(lines[n++], SR_ETAG_MAX + 32, "If-Modified-Since: %s", c->last_modified);
    return n;
}

void sr_cond_clear(sr_cond *c)
{
    ex_free(c->body);
    memset(c, 0, sizeof *c);
}

/* ---- rate limits ---- */

void sr_ratelimit_init(sr_ratelimit *rl)
{
    rl->limit = rl->remaining = rl->used = -1;
    rl->reset_ns = rl->retry_at_ns = 0;
}

/* A non-negative number (fraction allowed) at the start of c, OWS first. -1 if none. */
static double number(cur *c)
{
    ows(c);
    double v = 0;
    const char *s = c->p;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9' && c->p - s < 15) v = v * 10 + (*c->p++ - '0');
    if (c->p == s) return -1;
    if (c->p < c->end && *c->p == '.') {
        double f = 0.1;
        for (c->p++; c->p < c->end && *c->p >= '0' && *c->p <= '9'; c->p++, f /= 10) v += (*c->p - '0') * f;
    }
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') c->p++, v *= 10; /* beyond 15 digits */
    return v > 1e15 ? 1e15 : v; /* no count or time of seconds is that large; keeps casts defined */
}

/* A whole header value that is one number (then ',' or ';' or end allowed). */
static double lead_number(const char *v, size_t len)
{
    cur c = {v, v + len};
    double d = number(&c);
    ows(&c);
    if (d < 0 || (c.p < c.end && *c.p != ',' && *c.p != ';')) return -1;
    return d;
}

static int64_t secs_ns(double s) { return s > 9.2e9 ? INT64_MAX / 2 : (int64_t)(s * 1e9); }

/* now + s seconds, at most INT64_MAX / 2 (a far reset is "much later", never an overflow). */
static int64_t later_ns(int64_t now, double s)
{
    int64_t d = secs_ns(s);
    return d > INT64_MAX / 2 - (now > 0 ? now : 0) ? INT64_MAX / 2 : now + d;
}

/* IETF draft structured forms: list items separated by ',', parameters by
 * ';', "k=v" members (r, t, q, w, remaining, reset, limit) read. */
static int structured(sr_ratelimit *rl, const char *v, size_t len, int policy, int64_t now)
{
    cur c = {v, v + len};
    int set = 0;
    int64_t best_rem = -1, best_reset = 0;
    while (c.p < c.end) {
        ows(&c);
        const char *k = c.p;
        while (c.p < c.end && (tchar((unsigned char)*c.p) || *c.p == '"') && *c.p != '=') c.p++;
        size_t klen = (size_t)(c.p - k);
        double d = -1;
        if (c.p < c.end && *c.p == '=') {
            c.p++;
            d = number(&c);
        } else if (policy && klen && k[0] >= '0' && k[0] <= '9') {
            cur n = {k, k + klen};
            d = number(&n);
            if (d >= 0 && rl->limit < 0) rl->limit = (int64_t)d, set = 1;
            d = -1;
        }
        if (d >= 0 && klen) {
            if (!policy && (sr_ieq(k, klen, "r") || sr_ieq(k, klen, "remaining"))) {
                if (best_rem < 0 || (int64_t)d < best_rem) best_rem = (int64_t)d, best_reset = -1;
            } else if (!policy && (sr_ieq(k, klen, "t") || sr_ieq(k, klen, "reset"))) {
                if (best_reset <= 0) best_reset = later_ns(now, d);
            } else if (sr_ieq(k, klen, "q") || sr_ieq(k, klen, "limit")) {
                rl->limit = (int64_t)d, set = 1;
            }
        }
        while (c.p < c.end && *c.p != ';' && *c.p != ',') c.p++;
        if (c.p < c.end) c.p++;
    }
    if (best_rem >= 0) rl->remaining = best_rem, set = 1;
    if (best_reset > 0) rl->reset_ns = best_reset, set = 1;
    return set;
}

int sr_ratelimit_header(sr_ratelimit *rl, const char *name, const char *v, size_t vlen, int64_t now_ns)
{
    size_t nlen = strlen(name);
    int x = nlen > 2 && strncasecmp(name, "x-", 2) == 0;
    const char *n = x ? name + 2 : name;
    size_t nl = x ? nlen - 2 : nlen;
    if (!x && sr_ieq(n, nl, "retry-after")) {
        double d = lead_number(v, vlen);
        int64_t at;
        if (d >= 0) rl->retry_at_ns = later_ns(now_ns, d);
        else if (sr_http_date_parse(v, vlen, &at) == 0) rl->retry_at_ns = at;
        else return 0;
        return 1;
    }
    if (!x && sr_ieq(n, nl, "ratelimit")) return structured(rl, v, vlen, 0, now_ns);
    if (!x && sr_ieq(n, nl, "ratelimit-policy")) return structured(rl, v, vlen, 1, now_ns);
    double d = lead_number(v, vlen);
    if (d < 0) return 0;
    if (sr_ieq(n, nl, "ratelimit-limit")) rl->limit = (int64_t)d;
    else if (sr_ieq(n, nl, "ratelimit-remaining")) rl->remaining = (int64_t)d;
    else if (sr_ieq(n, nl, "ratelimit-used")) rl->used = (int64_t)d;
    else if (sr_ieq(n, nl, "ratelimit-reset")) rl->reset_ns = (x && d >= 1e9) ? secs_ns(d) : later_ns(now_ns, d);
    else return 0;
    return 1;
}

sr_pace_policy sr_pace_default(void)
{
    sr_pace_policy p = {0.1, 10, 3600 * EX_NS_PER_SEC, EX_NS_PER_SEC, 60 * EX_NS_PER_SEC};
    return p;
}

int64_t sr_ratelimit_pause(const sr_ratelimit *rl, int64_t now, const sr_pace_policy *pol, sr_pace_reason *reason)
{
    sr_pace_reason why = SR_PACE_NONE;
    int64_t pause = 0;
    if (rl->retry_at_ns > now) {
        why = SR_PACE_RETRY_AFTER;
        pause = rl->retry_at_ns - now;
    } else if (rl->remaining == 0) {
        why = SR_PACE_EXHAUSTED;
        pause = rl->reset_ns > now ? rl->reset_ns - now + pol->margin_ns : rl->reset_ns ? 0 : pol->unknown_reset_ns;
        if (pause == 0) why = SR_PACE_NONE; /* the window has reset since */
    } else if (rl->remaining > 0 && rl->reset_ns > now) {
        double reserve = rl->limit > 0 ? (double)rl->limit * pol->reserve_fraction : 0;
        if (reserve < (double)pol->reserve_min) reserve = (double)pol->reserve_min;
        if ((double)rl->remaining < reserve) {
            why = SR_PACE_SPREAD;
            pause = (rl->reset_ns - now) / rl->remaining;
        }
    }
    if (pause > pol->max_pause_ns) pause = pol->max_pause_ns;
    if (pause < 0) pause = 0;
    if (reason) *reason = pause ? why : SR_PACE_NONE;
    return pause;
}

const char *sr_pace_reason_name(sr_pace_reason r)
{
    switch (r) {
    case SR_PACE_RETRY_AFTER: return "retry_after";
    case SR_PACE_EXHAUSTED: return "exhausted";
    case SR_PACE_SPREAD: return "spread";
    default: return "none";
    }
}

/* ---- HTTP dates (RFC 9110 §5.6.7) ---- */

static int month(const char *s)
{
    static const char m[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    for (int i = 0; i < 12; i++)
        if (strncmp(s, m + 3 * i, 3) == 0) return i + 1;
    return 0;
}

int sr_http_date_parse(const char *s, size_t len, int64_t *out_ns)
{
    char b[64], mon[4] = "", wd[16] = "", zone[4] = "";
    int d, y, hh, mm, ss, used = 0;
    if (len == 0 || len >= sizeof b) return -1;
    memcpy(b, s, len);
    b[len] = '\0';
    if (sscanf(b, "%3[A-Za-z], %2d %3s %4d %2d:%2d:%2d %3s%n", wd, &d, mon, &y, &hh, &mm, &ss, zone, &used) == 8 &&
        (size_t)used == len) {
    } else if (sscanf(b, "%15[A-Za-z], %2d-%3[A-Za-z]-%2d %2d:%2d:%2d %3s%n", wd, &d, mon, &y, &hh, &mm, &ss, zone,
                      &used) == 8 && (size_t)used == len) {
        y += y < 70 ? 2000 : 1900; /* RFC 9110: two-digit years more than 50 years ahead are past */
    } else if (sscanf(b, "%3[A-Za-z] %3[A-Za-z] %2d %2d:%2d:%2d %4d%n", wd, mon, &d, &hh, &mm, &ss, &y, &used) == 7 &&
               (size_t)used == len) {
        strcpy(zone, "GMT");
    } else {
        return -1;
    }
    int m = month(mon);
    if (!m || strcmp(zone, "GMT") != 0 || d < 1 || d > 31 || hh > 23 || mm > 59 || ss > 60 || y < 1970 || y > 2261 ||
        d < 0 || hh < 0 || mm < 0 || ss < 0)
        return -1;
    int64_t t = ex_days_from_civil(y, m, d) * 86400 + hh * 3600 + mm * 60 + ss;
    *out_ns = t * EX_NS_PER_SEC;
    return 0;
}
