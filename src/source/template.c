/* template.c — keys, templates and URLs (template.h). */
#include "source/template.h"

#include <stdio.h>
#include <string.h>

#include "core/mem.h"
#include "source/profile_int.h"
#include "worker/event.h"

int sr_key_parse(const sr_profile *p, const char *text, size_t len, sr_key *out, char *err, size_t errlen)
{
    char q[400], names[SR_KEY_PARTS_MAX * (SR_NAME_MAX + 1) + 1];
    memset(out, 0, sizeof *out);
    wk_quote(text, len, 300, q, sizeof q);
    size_t have = 1;
    for (size_t i = 0; i < len; i++) have += text[i] == '/';
    if (have < p->nkey) {
        snprintf(err, errlen, "key %s: %zu part%s, %s needs %zu (%s)", q, have, have == 1 ? "" : "s", p->name, p->nkey,
                 sr_profile_key_format(p, names, sizeof names));
        return -1;
    }
    size_t pos = 0;
    for (size_t i = 0; i < p->nkey; i++) {
        size_t end = pos;
        if (i + 1 == p->nkey) end = len;
        else
            while (text[end] != '/') end++;
        size_t n = end - pos;
        const char *why = NULL;
        if (n == 0) why = "is empty";
        else if (n > SR_PART_MAX) why = "is longer than 256 bytes";
        else if (memchr(text + pos, '\0', n) || !sr_no_controls(text + pos, n, "")) why = "holds a control character";
        if (why) {
            snprintf(err, errlen, "key %s: part %zu (%s) %s", q, i + 1, p->key[i], why);
            sr_key_free(out);
            return -1;
        }
        if (!(out->parts[i] = ex_strndup(text + pos, n))) {
            snprintf(err, errlen, "key %s: out of memory", q);
            sr_key_free(out);
            return -1;
        }
        out->n = i + 1;
        pos = end + 1;
    }
    return 0;
}

void sr_key_free(sr_key *k)
{
    for (size_t i = 0; i < k->n; i++) ex_free(k->parts[i]);
    memset(k, 0, sizeof *k);
}

static int name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static int name_char(char c) { return name_start(c) || (c >= '0' && c <= '9'); }

/* Length of the placeholder name at t (after '{') when "{name}" is one, else 0. */
static size_t placeholder(const char *t)
{
    if (!name_start(t[0])) return 0;
    size_t n = 1;
    while (name_char(t[n]) && n <= SR_NAME_MAX) n++;
    return (t[n] == '}' && n <= SR_NAME_MAX) ? n : 0;
}

int sr_template_check(const sr_profile *p, const char *tmpl, char *err, size_t errlen)
{
    char names[SR_KEY_PARTS_MAX * (SR_NAME_MAX + 1) + 1];
    for (const char *t = tmpl; *t; t++) {
        size_t n = *t == '{' ? placeholder(t + 1) : 0;
        if (!n) continue;
        if (sr_profile_key_index(p, t + 1, n) < 0) {
            snprintf(err, errlen, "placeholder {%.*s} at byte %zu is not a key part (%s)", (int)n, t + 1,
                     (size_t)(t - tmpl), sr_profile_key_format(p, names, sizeof names));
            return -1;
        }
        t += n + 1;
    }
    return 0;
}

/* A growing output text. */
typedef struct sbuf {
    char *s;
    size_t len, cap, max;
    int bad; /* 1 too long, 2 out of memory */
} sbuf;

static void put(sbuf *b, const char *s, size_t n)
{
    if (b->bad) return;
    if (b->len + n > b->max) {
        b->bad = 1;
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *ns = ex_realloc(b->s, cap);
        if (!ns) {
            b->bad = 2;
            return;
        }
        b->s = ns;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static char *finish(sbuf *b, const char *what, char *err, size_t errlen)
{
    if (!b->s) put(b, "", 0); /* an empty text still gets its NUL */
    if (b->bad || !b->s) {
        snprintf(err, errlen, "%s: %s", what, b->bad == 1 ? "too long" : "out of memory");
        ex_free(b->s);
        return NULL;
    }
    return b->s;
}

static void put_pct(sbuf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (name_char((char)c) || c == '-' || c == '.' || c == '~') {
            put(b, s, 1);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            put(b, e, 3);
        }
    }
}

static void put_json(sbuf *b, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char e[8];
        if (c == '"' || c == '\\') {
            e[0] = '\\', e[1] = (char)c;
            put(b, e, 2);
        } else if (c < 0x20) {
            snprintf(e, sizeof e, "\\u%04x", c);
            put(b, e, 6);
        } else {
            put(b, s, 1);
        }
    }
}

/* Expand tmpl into b, each placeholder through enc. */
static void expand(sbuf *b, const sr_profile *p, const char *tmpl, const sr_key *k, void (*enc)(sbuf *, const char *))
{
    for (const char *t = tmpl; *t; t++) {
        size_t n = *t == '{' ? placeholder(t + 1) : 0;
        int i = n ? sr_profile_key_index(p, t + 1, n) : -1;
        if (i < 0 || (size_t)i >= k->n) {
            put(b, t, 1);
            continue;
        }
        enc(b, k->parts[i]);
        t += n + 1;
    }
}

static int is_absolute(const char *u) { return strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0; }

char *sr_url_build(const sr_profile *p, const char *tmpl, const char *base, const sr_key *k, char *err, size_t errlen)
{
    sbuf b = {.max = 8192};
    if (!is_absolute(tmpl)) {
        if (!base || !*base) {
            snprintf(err, errlen, "%s: no base URL for %s (set base_url or --api-url)", p->origin, tmpl);
            return NULL;
        }
        size_t bl = strlen(base);
        while (bl && base[bl - 1] == '/') bl--;
        put(&b, base, bl);
        if (tmpl[0] != '/') put(&b, "/", 1);
    }
    expand(&b, p, tmpl, k, put_pct);
    return finish(&b, "URL", err, errlen);
}

char *sr_body_build(const sr_profile *p, const char *tmpl, const sr_key *k, char *err, size_t errlen)
{
    sbuf b = {.max = 65536};
    expand(&b, p, tmpl, k, put_json);
    return finish(&b, "body", err, errlen);
}

/* Length of "scheme://authority" of an absolute http(s) URL, or 0. */
static size_t origin_len(const char *u)
{
    if (!is_absolute(u)) return 0;
    const char *a = strstr(u, "://") + 3;
    size_t n = strcspn(a, "/?#");
    return n ? (size_t)(a - u) + n : 0;
}

/* RFC 3986 §5.2.4 on path[0..len) into b. */
static void put_dedotted(sbuf *b, const char *path, size_t len)
{
    size_t start = b->len;
    size_t i = 0;
    while (i < len) {
        size_t seg = i + 1;
        while (seg < len && path[seg] != '/') seg++;
        size_t n = seg - i; /* "/name" */
        if ((n == 2 && path[i + 1] == '.') || (n == 3 && path[i + 1] == '.' && path[i + 2] == '.')) {
            if (n == 3 && !b->bad) /* drop the last output segment */
                while (b->len > start && b->s[--b->len] != '/') {}
            if (!b->bad && b->s) b->s[b->len] = '\0';
            if (seg >= len) put(b, "/", 1);
        } else {
            put(b, path + i, n);
        }
        i = seg;
    }
}

char *sr_url_resolve(const char *base, const char *ref)
{
    size_t ol = origin_len(base);
    char err[64];
    sbuf b = {.max = 16384};
    if (!ol) return NULL;
    if (is_absolute(ref)) {
        put(&b, ref, strlen(ref));
    } else if (ref[0] == '/' && ref[1] == '/') {
        const char *colon = strchr(base, ':');
        put(&b, base, (size_t)(colon - base) + 1);
        put(&b, ref, strlen(ref));
    } else {
        put(&b, base, ol);
        const char *bpath = base + ol;
        size_t bplen = strcspn(bpath, "?#");
        if (ref[0] == '/') {
            size_t pl = strcspn(ref, "?#");
            put_dedotted(&b, ref, pl);
            put(&b, ref + pl, strlen(ref + pl));
        } else if (ref[0] == '?' || ref[0] == '#' || ref[0] == '\0') {
            put(&b, bpath, bplen);
            if (ref[0] == '#' || ref[0] == '\0') {
                const char *q = bpath + bplen;
                put(&b, q, *q == '?' ? strcspn(q, "#") : 0);
            }
            put(&b, ref, strlen(ref));
        } else {
            /* merge: the base path up to its last '/', then ref. */
            size_t dir = bplen;
            while (dir && bpath[dir - 1] != '/') dir--;
            size_t pl = strcspn(ref, "?#");
            sbuf m = {.max = 16384};
            put(&m, "/", dir ? 0 : 1);
            put(&m, bpath, dir);
            put(&m, ref, pl);
            if (m.bad) b.bad = m.bad;
            else if (m.s) put_dedotted(&b, m.s, m.len);
            ex_free(m.s);
            put(&b, ref + pl, strlen(ref + pl));
        }
    }
    return finish(&b, "URL", err, sizeof err);
}

int sr_base_url_check(const char *url, const char **why)
{
    size_t ol = origin_len(url);
    if (!is_absolute(url)) return *why = "not an http:// or https:// URL", -1;
    if (!ol) return *why = "no host", -1;
    const char *auth = strstr(url, "://") + 3;
    if (memchr(auth, '@', ol - (size_t)(auth - url)))
        return *why = "user or password in the URL: credentials go in auth:", -1;
    if (strpbrk(url, "?#")) return *why = "a base URL has no query or fragment", -1;
    if (strpbrk(url, " \"<>\\^`|{}")) return *why = "spaces, quotes, <>, \\, ^, `, |, { or } in the URL", -1;
    return 0;
}
