#include "core/redis_url.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define MAX_DB 1000000                 /* far above any configured `databases` */
#define MAX_TIMEOUT_MS (86400 * 1000)  /* one day */

/* Options of the StackExchange.Redis string that change nothing for one
 * plain connection (see the header). */
static const char *const ignored_options[] = {
    "abortConnect", "allowAdmin", "asyncTimeout", "connectRetry", "keepAlive", "name",
    "configCheckSeconds", "resolveDns", "setlib", "responseTimeout",
};

/* Parse n bytes of s as a decimal integer in [0, max]. 0 or -1. */
static int parse_uint(const char *s, size_t n, long long max, long long *out)
{
    long long v = 0;
    if (n == 0 || n > 18) return -1;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i])) return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v > max) return -1;
    *out = v;
    return 0;
}

static int set_port(const char *s, size_t n, ex_redis_addr *a, char *why, size_t whylen)
{
    long long p;
    if (parse_uint(s, n, 65535, &p) || p == 0) {
        snprintf(why, whylen, "port \"%.*s\" is not a number from 1 to 65535", (int)n, s);
        return -1;
    }
    a->port = (int)p;
    return 0;
}

static int set_host(const char *s, size_t n, ex_redis_addr *a, char *why, size_t whylen)
{
    if (n == 0) {
        snprintf(why, whylen, "missing host");
        return -1;
    }
    if (n >= sizeof a->host) {
        snprintf(why, whylen, "host \"%.20s…\" is longer than %zu bytes", s, sizeof a->host - 1);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (isspace((unsigned char)s[i]) || s[i] == '/' || s[i] == '@' || s[i] == '[' || s[i] == ']') {
            snprintf(why, whylen, "host \"%.*s\" contains '%c'", (int)n, s, s[i]);
            return -1;
        }
    }
    memcpy(a->host, s, n);
    a->host[n] = '\0';
    return 0;
}

/* HOST, HOST:PORT, [V6], [V6]:PORT or a bare IPv6 address (n bytes of s). */
static int parse_endpoint(const char *s, size_t n, ex_redis_addr *a, char *why, size_t whylen)
{
    const char *end = s + n, *host = s, *port = NULL;
    size_t hostlen = n;
    if (n > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (!close) {
            snprintf(why, whylen, "host \"%.*s\" has no closing ']'", (int)n, s);
            return -1;
        }
        if (close + 1 < end && close[1] != ':') {
            snprintf(why, whylen, "unexpected \"%.*s\" after the host", (int)(end - close - 1), close + 1);
            return -1;
        }
        if (close + 1 < end) port = close + 2;
        host = s + 1;
        hostlen = (size_t)(close - host);
    } else {
        const char *colon = memchr(s, ':', n);
        /* Two or more colons without brackets: an IPv6 address, no port. */
        if (colon && !memchr(colon + 1, ':', (size_t)(end - colon - 1))) {
            port = colon + 1;
            hostlen = (size_t)(colon - s);
        }
    }
    if (set_host(host, hostlen, a, why, whylen)) return -1;
    return port ? set_port(port, (size_t)(end - port), a, why, whylen) : 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    c = (char)tolower((unsigned char)c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Copy n bytes of src into dst, decoding %XX. 0, or -1 with why. */
static int pct_copy(char *dst, size_t dstlen, const char *src, size_t n, const char *what, char *why,
                    size_t whylen)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = src[i];
        if (c == '%') {
            int hi = i + 2 < n ? hexval(src[i + 1]) : -1, lo = i + 2 < n ? hexval(src[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                snprintf(why, whylen, "%s has a malformed %%-escape", what);
                return -1;
            }
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (o + 1 >= dstlen) {
            snprintf(why, whylen, "%s is longer than %zu bytes", what, dstlen - 1);
            return -1;
        }
        dst[o++] = c;
    }
    dst[o] = '\0';
    return 0;
}

/* USER:PASSWORD or :PASSWORD (n bytes of s), %-decoded. */
static int parse_userinfo(const char *s, size_t n, ex_redis_addr *a, char *why, size_t whylen)
{
    const char *colon = memchr(s, ':', n);
    if (!colon) {
        snprintf(why, whylen,
                 "the part before '@' has no ':' (write redis://:PASSWORD@HOST or redis://USER:PASSWORD@HOST)");
        return -1;
    }
    if (pct_copy(a->user, sizeof a->user, s, (size_t)(colon - s), "the user name", why, whylen)) return -1;
    return pct_copy(a->password, sizeof a->password, colon + 1, (size_t)(s + n - colon - 1), "the password",
                    why, whylen);
}

/* The part of a redis:// URL after the scheme. */
static int parse_url(const char *s, ex_redis_addr *a, char *why, size_t whylen)
{
    /* The last '@' ends the credentials, so an unencoded '@' or '/' in a
     * password still works. */
    const char *at = strrchr(s, '@');
    if (at && parse_userinfo(s, (size_t)(at - s), a, why, whylen)) return -1;
    const char *host = at ? at + 1 : s;
    size_t hostlen = strcspn(host, "/?#");
    if (parse_endpoint(host, hostlen, a, why, whylen)) return -1;
    const char *p = host + hostlen;
    if (*p == '/') {
        size_t dblen = strcspn(++p, "?#");
        long long db = 0;
        if (dblen > 0 && parse_uint(p, dblen, MAX_DB, &db)) {
            snprintf(why, whylen, "database \"%.*s\" is not a number from 0 to %d", (int)dblen, p, MAX_DB);
            return -1;
        }
        a->db = (int)db;
        p += dblen;
    }
    if (*p) {
        snprintf(why, whylen, "unexpected \"%s\" after the address (query parameters are not supported)", p);
        return -1;
    }
    return 0;
}

static int key_is(const char *key, size_t keylen, const char *name)
{
    return strlen(name) == keylen && strncasecmp(key, name, keylen) == 0;
}

/* A number of milliseconds or a database index from an option value. */
static int option_number(const char *key, size_t keylen, const char *v, size_t vlen, long long max,
                         long long *out, char *why, size_t whylen)
{
    if (parse_uint(v, vlen, max, out) == 0) return 0;
    snprintf(why, whylen, "option %.*s=\"%.*s\": not a number from 0 to %lld", (int)keylen, key, (int)vlen, v,
             max);
    return -1;
}

/* One KEY=VALUE item of the StackExchange.Redis form. */
static int apply_option(const char *s, size_t n, ex_redis_addr *a, char *why, size_t whylen)
{
    const char *eq = memchr(s, '=', n), *v = eq + 1;
    size_t keylen = (size_t)(eq - s), vlen = (size_t)(s + n - v);
    long long num;
    if (key_is(s, keylen, "password"))
        return pct_copy(a->password, sizeof a->password, v, vlen, "the password", why, whylen);
    if (key_is(s, keylen, "user"))
        return pct_copy(a->user, sizeof a->user, v, vlen, "the user name", why, whylen);
    if (key_is(s, keylen, "defaultDatabase")) {
        if (option_number(s, keylen, v, vlen, MAX_DB, &num, why, whylen)) return -1;
        a->db = (int)num;
        return 0;
    }
    if (key_is(s, keylen, "connectTimeout") || key_is(s, keylen, "syncTimeout")) {
        if (option_number(s, keylen, v, vlen, MAX_TIMEOUT_MS, &num, why, whylen)) return -1;
        *(key_is(s, keylen, "syncTimeout") ? &a->command_timeout_ms : &a->connect_timeout_ms) = num;
        return 0;
    }
    if (key_is(s, keylen, "ssl")) {
        if (vlen == 5 && strncasecmp(v, "false", 5) == 0) return 0;
        if (vlen == 4 && strncasecmp(v, "true", 4) == 0)
            snprintf(why, whylen, "TLS is not supported (ssl=true); connect to a plain-text port");
        else
            snprintf(why, whylen, "option ssl=\"%.*s\": not true or false", (int)vlen, v);
        return -1;
    }
    for (size_t i = 0; i < sizeof ignored_options / sizeof ignored_options[0]; i++)
        if (key_is(s, keylen, ignored_options[i])) return 0;
    snprintf(why, whylen, "unknown or unsupported option \"%.*s\"", (int)keylen, s);
    return -1;
}

/* HOST[:PORT][,KEY=VALUE…] in any order, items trimmed of blanks. */
static int parse_config_string(const char *s, ex_redis_addr *a, char *why, size_t whylen)
{
    const char *endpoint = NULL;
    size_t endpoint_len = 0;
    while (*s) {
        size_t n = strcspn(s, ",");
        const char *next = s[n] ? s + n + 1 : s + n;
        while (n > 0 && isspace((unsigned char)*s)) { s++; n--; }
        while (n > 0 && isspace((unsigned char)s[n - 1])) n--;
        if (n > 0 && memchr(s, '=', n)) {
            if (apply_option(s, n, a, why, whylen)) return -1;
        } else if (n > 0 && endpoint) {
            snprintf(why, whylen, "more than one endpoint (\"%.*s\", \"%.*s\") is not supported",
                     (int)endpoint_len, endpoint, (int)n, s);
            return -1;
        } else if (n > 0) {
            endpoint = s;
            endpoint_len = n;
        }
        s = next;
    }
    if (!endpoint) {
        snprintf(why, whylen, "missing host");
        return -1;
    }
    return parse_endpoint(endpoint, endpoint_len, a, why, whylen);
}

int ex_redis_url_parse(const char *text, ex_redis_addr *out, char *why, size_t whylen)
{
    memset(out, 0, sizeof *out);
    out->port = EX_REDIS_DEFAULT_PORT;
    if (!text) text = "";
    while (isspace((unsigned char)*text)) text++;
    const char *sep = strstr(text, "://");
    if (!sep) return parse_config_string(text, out, why, whylen);
    size_t schemelen = (size_t)(sep - text);
    if (key_is(text, schemelen, "redis")) return parse_url(sep + 3, out, why, whylen);
    if (key_is(text, schemelen, "rediss"))
        snprintf(why, whylen, "TLS is not supported (rediss://); use redis:// to a plain-text port");
    else
        snprintf(why, whylen, "unsupported scheme \"%.*s://\" (use redis://HOST:PORT or HOST:PORT)",
                 (int)schemelen, text);
    return -1;
}

int ex_redis_url_check(const char *text, char *why, size_t whylen)
{
    ex_redis_addr a;
    return ex_redis_url_parse(text, &a, why, whylen);
}

char *ex_redis_addr_format(const ex_redis_addr *a, char *buf, size_t len)
{
    int v6 = strchr(a->host, ':') != NULL;
    int n = snprintf(buf, len, "%s%s%s:%d", v6 ? "[" : "", a->host, v6 ? "]" : "", a->port);
    if (a->db != 0 && n > 0 && (size_t)n < len) snprintf(buf + n, len - (size_t)n, "/%d", a->db);
    return buf;
}
