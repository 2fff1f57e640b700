/* secret.c — credentials out of text meant for people (secret.h). */
#include "core/secret.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/mem.h"

#define INPLACE_STACK 4096 /* ex_secret_mask_inplace copies up to this much on the stack */

/* Keys whose value is a credential (substrings, case-insensitive). */
static const char *const sensitive_keys[] = {
    "password", "passwd", "pwd", "secret", "token", "apikey", "api-key", "api_key",
    "authorization", "credential", "cookie", "signature",
};

/* Auth schemes that stay in front of a masked value. */
static const char *const schemes[] = {"bearer", "basic", "digest", "token", "negotiate", "apikey"};

/* The output: at most cap bytes (the NUL comes after). */
typedef struct out_buf {
    char *p;
    size_t len, cap;
} out_buf;

static void put(out_buf *o, const char *s, size_t n)
{
    size_t room = o->cap - o->len;
    if (n > room) n = room;
    memcpy(o->p + o->len, s, n);
    o->len += n;
}

static void put_mask(out_buf *o, size_t *count)
{
    put(o, EX_SECRET_MASK, sizeof EX_SECRET_MASK - 1);
    (*count)++;
}

static int key_char(char c) { return isalnum((unsigned char)c) || c == '_' || c == '-' || c == '.'; }
static int word_char(char c) { return isalnum((unsigned char)c) || c == '_' || c == '-'; }
static int blank(char c) { return c == ' ' || c == '\t'; }

/* Ends the part of a URL where its userinfo may be. */
static int url_stop(char c)
{
    return c == '\0' || isspace((unsigned char)c) || iscntrl((unsigned char)c) || strchr("\"'<>`", c) != NULL;
}

/* Ends an unquoted value. */
static int value_stop(char c)
{
    return c == '\0' || isspace((unsigned char)c) || iscntrl((unsigned char)c) ||
           strchr(",;&\"'()[]{}<>`", c) != NULL;
}

/* n bytes of s contain one of the sensitive key names. */
static int sensitive(const char *s, size_t n)
{
    for (size_t k = 0; k < sizeof sensitive_keys / sizeof *sensitive_keys; k++) {
        size_t kl = strlen(sensitive_keys[k]);
        for (size_t i = 0; i + kl <= n; i++)
            if (strncasecmp(s + i, sensitive_keys[k], kl) == 0) return 1;
    }
    return 0;
}

/* n bytes of s are one of the auth schemes. */
static int is_scheme(const char *s, size_t n)
{
    for (size_t k = 0; k < sizeof schemes / sizeof *schemes; k++)
        if (strlen(schemes[k]) == n && strncasecmp(s, schemes[k], n) == 0) return 1;
    return 0;
}

/* s follows "://": write its userinfo masked and return the bytes
 * consumed (through the '@'), or 0 when there is no userinfo. */
static size_t mask_userinfo(const char *s, out_buf *o, size_t *count)
{
    size_t end = 0, at = 0, colon = 0;
    int has_at = 0, has_colon = 0, plain = 1;
    while (!url_stop(s[end])) {
        if (s[end] == '@') {
            at = end;
            has_at = 1;
        }
        end++;
    }
    if (!has_at || at == 0) return 0;
    for (size_t i = 0; i < at && !has_colon; i++) {
        if (s[i] == ':') {
            colon = i;
            has_colon = 1;
        } else if (!isalnum((unsigned char)s[i]) && !strchr("._~%!$*+-", s[i])) {
            plain = 0;
        }
    }
    if (has_colon && plain && colon > 0) put(o, s, colon + 1); /* the user name stays */
    put_mask(o, count);
    put(o, "@", 1);
    return at + 1;
}

/* A masked value (n bytes of v) that ends in an auth scheme or is a
 * sensitive key with its ':' or '=' ("x-api-key: Authorization=Bearer
 * TOKEN", "pwd=authorization: basic TOKEN") announces the token after the
 * blanks at `rest`: mask it too, and so on. Returns the bytes consumed. */
static size_t mask_continued(const char *v, size_t n, const char *rest, out_buf *o, size_t *count)
{
    size_t used = 0;
    for (;;) {
        size_t w = n;
        while (w > 0 && isalpha((unsigned char)v[w - 1])) w--;
        int announces = is_scheme(v + w, n - w) || (n > 0 && (v[n - 1] == ':' || v[n - 1] == '=') &&
                                                     sensitive(v, n - 1)); /* not base64's padding */
        size_t b = 0, t;
        while (blank(rest[used + b])) b++;
        for (t = used + b; !value_stop(rest[t]); t++) {}
        if (!announces || b == 0 || t == used + b) return used;
        put(o, rest + used, b);
        put_mask(o, count);
        v = rest + used + b;
        n = t - (used + b);
        used = t;
    }
}

/* At a word start: "KEY=VALUE" or "KEY: VALUE" (KEY and VALUE possibly
 * quoted) with a sensitive KEY. Writes it masked and returns the bytes
 * consumed, or 0 when s does not start so. */
static size_t mask_key_value(const char *s, size_t keylen, out_buf *o, size_t *count)
{
    if (!sensitive(s, keylen)) return 0;
    size_t i = keylen;
    if (s[i] == '"' || s[i] == '\'') i++; /* the closing quote of a quoted key */
    while (blank(s[i])) i++;
    if (s[i] != '=' && s[i] != ':') return 0;
    i++;
    while (blank(s[i])) i++;
    char q = 0;
    if (s[i] == '"' || s[i] == '\'') q = s[i++];
    size_t v = i, e = i;
    if (q) {
        while (s[e] && s[e] != q) e++;
    } else {
        size_t w = v;
        while (isalpha((unsigned char)s[w])) w++;
        if (w > v && blank(s[w]) && is_scheme(s + v, w - v)) { /* "Bearer xyz": the scheme stays */
            while (blank(s[w])) w++;
            v = w;
        }
        e = v;
        while (!value_stop(s[e])) e++;
    }
    if (e == v) return 0; /* empty: nothing to hide */
    put(o, s, v);
    put_mask(o, count);
    if (q) {
        if (s[e] == q) put(o, &s[e++], 1);
        return e;
    }
    return e + mask_continued(s + v, e - v, s + e, o, count);
}

/* At a word start: "Bearer TOKEN" or "Basic TOKEN". */
static size_t mask_scheme(const char *s, size_t wordlen, out_buf *o, size_t *count)
{
    if (!((wordlen == 6 && strncmp(s, "Bearer", 6) == 0) || (wordlen == 5 && strncmp(s, "Basic", 5) == 0)))
        return 0;
    size_t v = wordlen;
    if (!blank(s[v])) return 0;
    while (blank(s[v])) v++;
    size_t e = v;
    while (!value_stop(s[e])) e++;
    if (e == v) return 0;
    put(o, s, v);
    put_mask(o, count);
    return e + mask_continued(s + v, e - v, s + e, o, count);
}

size_t ex_secret_mask(const char *in, char *out, size_t outlen)
{
    out_buf o = {out, 0, outlen ? outlen - 1 : 0};
    size_t count = 0;
    for (size_t i = 0; in[i];) {
        if (in[i] == ':' && in[i + 1] == '/' && in[i + 2] == '/') {
            put(&o, "://", 3);
            i += 3;
            i += mask_userinfo(in + i, &o, &count);
            continue;
        }
        if (key_char(in[i]) && (i == 0 || !word_char(in[i - 1]))) {
            size_t k = 0, n;
            while (key_char(in[i + k])) k++;
            if ((n = mask_scheme(in + i, k, &o, &count)) || (n = mask_key_value(in + i, k, &o, &count))) {
                i += n;
                continue;
            }
            put(&o, in + i, k); /* a harmless word: the rules looked at it whole */
            i += k;
            continue;
        }
        put(&o, in + i, 1);
        i++;
    }
    if (outlen) out[o.len] = '\0';
    return count;
}

size_t ex_secret_mask_inplace(char *s, size_t cap)
{
    char stack[INPLACE_STACK];
    size_t n = strlen(s);
    char *copy = n < sizeof stack ? stack : ex_malloc(n + 1);
    if (!copy) {
        snprintf(s, cap, "%s", EX_SECRET_MASK);
        return 1;
    }
    memcpy(copy, s, n + 1);
    size_t count = ex_secret_mask(copy, s, cap);
    if (copy != stack) ex_free(copy);
    return count;
}

size_t ex_secret_vformat(char *out, size_t outlen, const char *fmt, va_list ap)
{
    char raw[1024];
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(raw, sizeof raw, fmt, ap);
    char *full = n >= (int)sizeof raw ? ex_malloc((size_t)n + 1) : NULL;
    if (full) vsnprintf(full, (size_t)n + 1, fmt, again);
    va_end(again);
    if (n >= (int)sizeof raw && !full) /* no memory: drop a URL the cut may have split */
        for (char *u = strstr(raw, "://"), *next; u; u = next)
            if (!(next = strstr(u + 3, "://"))) *u = '\0';
    if (n < 0) raw[0] = '\0';
    size_t count = ex_secret_mask(full ? full : raw, out, outlen);
    ex_free(full);
    return count;
}

size_t ex_secret_format(char *out, size_t outlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t count = ex_secret_vformat(out, outlen, fmt, ap);
    va_end(ap);
    return count;
}
