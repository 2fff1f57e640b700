#include "otel/otel_env.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/hex.h"
#include "core/mem.h"
#include "core/secret.h"
#include "otel/otlp_proto.h"

const char *exo_env_get(char *const *envp, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; envp && envp[i]; i++)
        if (strncmp(envp[i], name, n) == 0 && envp[i][n] == '=') return envp[i][n + 1] ? envp[i] + n + 1 : NULL;
    return NULL;
}

/* ---- k=v lists --------------------------------------------------------- */

/* Percent-decode s[0..len) into a new string *out. 0, -1 (reason in why),
 * -2 on allocation failure. */
static int percent_decode(const char *s, size_t len, char **out, const char *what, char *why, size_t whylen)
{
    char *d = ex_malloc(len + 1);
    size_t o = 0;
    if (!d) return -2;
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '%') {
            d[o++] = s[i];
            continue;
        }
        int hi = i + 1 < len ? ex_hex_digit((unsigned char)s[i + 1]) : -1;
        int lo = i + 2 < len ? ex_hex_digit((unsigned char)s[i + 2]) : -1;
        if (hi < 0 || lo < 0 || (hi | lo) == 0) {
            if (hi < 0 || lo < 0)
                snprintf(why, whylen, "%s: invalid percent-encoding \"%.*s\"", what, (int)(len - i < 3 ? len - i : 3), s + i);
            else
                snprintf(why, whylen, "%s: \"%%00\" (NUL) is not allowed", what);
            ex_free(d);
            return -1;
        }
        d[o++] = (char)(hi << 4 | lo);
        i += 2;
    }
    d[o] = '\0';
    if (!exo__utf8_valid(d, o)) {
        snprintf(why, whylen, "%s: not valid UTF-8 after percent-decoding", what);
        ex_free(d);
        return -1;
    }
    *out = d;
    return 0;
}

static void trim(const char **s, size_t *len)
{
    while (*len && (**s == ' ' || **s == '\t')) (*s)++, (*len)--;
    while (*len && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t')) (*len)--;
}

void exo_kv_list_free(exo_kv_list *l)
{
    for (size_t i = 0; i < l->len; i++) {
        ex_free(l->items[i].key);
        ex_free(l->items[i].value);
    }
    ex_free(l->items);
    l->items = NULL;
    l->len = 0;
}

/* Decode one member m[0..n) ("k=v") into item. */
static int kv_member(const char *m, size_t n, size_t index, exo_kv *item, char *why, size_t whylen)
{
    const char *eq = memchr(m, '=', n);
    const char *k = m, *v = eq ? eq + 1 : NULL;
    size_t kn = eq ? (size_t)(eq - m) : n, vn = eq ? n - kn - 1 : 0;
    char what[96];
    trim(&k, &kn);
    trim(&v, &vn);
    snprintf(what, sizeof what, "member %zu (key \"%.*s\")", index + 1, (int)(kn > 40 ? 40 : kn), k);
    if (!eq) {
        snprintf(why, whylen, "%s has no '='", what);
        return -1;
    }
    if (kn == 0) {
        snprintf(why, whylen, "member %zu has an empty key", index + 1);
        return -1;
    }
    int rc = percent_decode(k, kn, &item->key, what, why, whylen);
    if (rc) return rc;
    if ((rc = percent_decode(v, vn, &item->value, what, why, whylen)) != 0) {
        ex_free(item->key);
        item->key = NULL;
    }
    return rc;
}

int exo_kv_list_parse(const char *s, exo_kv_list *out, char *why, size_t whylen)
{
    out->items = NULL;
    out->len = 0;
    size_t cap = 1;
    for (const char *p = s; *p; p++) cap += *p == ',';
    out->items = ex_calloc(cap, sizeof *out->items);
    if (!out->items) return -2;
    size_t index = 0;
    for (const char *p = s;; index++) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        const char *t = p;
        size_t tn = n;
        trim(&t, &tn);
        if (tn > 0) {
            int rc = kv_member(p, n, index, &out->items[out->len], why, whylen);
            if (rc) {
                exo_kv_list_free(out);
                return rc;
            }
            out->len++;
        }
        if (!end) break;
        p = end + 1;
    }
    return 0;
}

/* ---- the exporter configuration --------------------------------------- */

/* Parsing state: the environment and where errors and warnings go. */
typedef struct env_parse {
    char *const *envp;
    char *err;
    size_t errlen;
    char *warn;
    size_t warnlen;
} env_parse;

static int bad(env_parse *p, const char *var, const char *val, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int bad(env_parse *p, const char *var, const char *val, const char *fmt, ...)
{
    if (p->err && p->errlen) {
        char shown[201]; /* the value, credentials masked before it is cut */
        if (val) ex_secret_mask(val, shown, sizeof shown);
        int n = val ? snprintf(p->err, p->errlen, "%s=\"%s\": ", var, shown) : snprintf(p->err, p->errlen, "%s: ", var);
        if (n >= 0 && (size_t)n < p->errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
            va_end(ap);
        }
        ex_secret_mask_inplace(p->err, p->errlen);
    }
    return -1;
}

static void warn(env_parse *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(env_parse *p, const char *fmt, ...)
{
    if (!p->warn || !p->warnlen) return;
    size_t n = strlen(p->warn);
    if (n && n + 2 < p->warnlen) {
        strcpy(p->warn + n, "; ");
        n += 2;
    }
    if (n + 1 >= p->warnlen) return;
    va_list ap;
    va_start(ap, fmt);
    ex_secret_vformat(p->warn + n, p->warnlen - n, fmt, ap);
    va_end(ap);
}

/* The signal-specific OTLP variable if set, else the generic one; *var
 * names the one used (for messages). suffix: "ENDPOINT", "HEADERS"… */
static const char *otlp_get(env_parse *p, const char *suffix, char *var, size_t varlen)
{
    snprintf(var, varlen, "OTEL_EXPORTER_OTLP_TRACES_%s", suffix);
    const char *v = exo_env_get(p->envp, var);
    if (v) return v;
    snprintf(var, varlen, "OTEL_EXPORTER_OTLP_%s", suffix);
    return exo_env_get(p->envp, var);
}

static int parse_bool(env_parse *p, const char *var, const char *v)
{
    if (!v) return 0;
    if (strcasecmp(v, "true") == 0) return 1;
    if (strcasecmp(v, "false") != 0) warn(p, "%s=\"%.100s\": not \"true\" or \"false\", taken as false", var, v);
    return 0;
}

/* An integer number of milliseconds (or items) in [min, max]. */
static int parse_int(env_parse *p, const char *var, const char *v, int64_t min, int64_t max, const char *unit,
                     int64_t *out)
{
    if (!v) return 0;
    int64_t x = 0;
    for (const char *s = v; *s; s++) {
        if (*s < '0' || *s > '9') return bad(p, var, v, "not an integer number of %s", unit);
        if (x > (INT64_MAX - 9) / 10) return bad(p, var, v, "must be at most %" PRId64, max);
        x = x * 10 + (*s - '0');
    }
    if (x < min) return bad(p, var, v, "must be at least %" PRId64, min);
    if (x > max) return bad(p, var, v, "must be at most %" PRId64, max);
    *out = x;
    return 0;
}

static int parse_exporters(env_parse *p, exo_export_config *c)
{
    const char *var = "OTEL_TRACES_EXPORTER", *v = exo_env_get(p->envp, var);
    int none = 0;
    c->nexporters = 0;
    if (!v) {
        c->exporters[c->nexporters++] = EXO_EXPORTER_OTLP;
        return 0;
    }
    for (const char *s = v; *s;) {
        size_t n = strcspn(s, ",");
        const char *t = s;
        size_t tn = n;
        trim(&t, &tn);
        int kind = -1;
        if (tn == 4 && strncasecmp(t, "otlp", 4) == 0) kind = EXO_EXPORTER_OTLP;
        else if (tn == 7 && strncasecmp(t, "console", 7) == 0) kind = EXO_EXPORTER_CONSOLE;
        else if (tn == 4 && strncasecmp(t, "none", 4) == 0) none = 1;
        else if (tn > 0)
            return bad(p, var, v, "unknown exporter \"%.*s\" (known: otlp, console, none)", (int)(tn > 40 ? 40 : tn), t);
        int seen = 0;
        for (size_t i = 0; i < c->nexporters; i++) seen |= (int)c->exporters[i] == kind;
        if (kind >= 0 && !seen) c->exporters[c->nexporters++] = (exo_exporter_kind)kind;
        s += n + (s[n] == ',');
    }
    if (none && c->nexporters) return bad(p, var, v, "\"none\" cannot be combined with other exporters");
    if (!none && !c->nexporters) return bad(p, var, v, "names no exporter (known: otlp, console, none)");
    return 0;
}

static int parse_protocol(env_parse *p, exo_export_config *c)
{
    char var[64];
    const char *v = otlp_get(p, "PROTOCOL", var, sizeof var);
    c->protocol = EXO_PROTOCOL_HTTP_PROTOBUF; /* the specification's default */
    if (!v) return 0;
    if (strcasecmp(v, "grpc") == 0) c->protocol = EXO_PROTOCOL_GRPC;
    else if (strcasecmp(v, "http/protobuf") == 0) c->protocol = EXO_PROTOCOL_HTTP_PROTOBUF;
    else if (strcasecmp(v, "http/json") == 0) c->protocol = EXO_PROTOCOL_HTTP_JSON;
    else return bad(p, var, v, "unknown protocol (expected grpc, http/protobuf or http/json)");
    return 0;
}

/* Split an http(s) URL; *auth / *path point into url. 0 or -1 (reason). */
static int split_url(const char *url, int *tls, const char **auth, size_t *authlen, const char **rest,
                     const char **why)
{
    const char *sep = strstr(url, "://");
    if (!sep) return *why = "not a URL (expected http://host:port or https://host:port)", -1;
    size_t sn = (size_t)(sep - url);
    if (sn == 4 && strncasecmp(url, "http", 4) == 0) *tls = 0;
    else if (sn == 5 && strncasecmp(url, "https", 5) == 0) *tls = 1;
    else return *why = "unsupported URL scheme (expected http or https)", -1;
    *auth = sep + 3;
    *authlen = strcspn(*auth, "/?#");
    *rest = *auth + *authlen;
    if (*authlen == 0) return *why = "the URL has no host", -1;
    for (const char *s = url; *s; s++)
        if ((unsigned char)*s <= ' ' || *s == 0x7F) return *why = "the URL contains spaces or control characters", -1;
    if (strchr(url, '#')) return *why = "the URL has a fragment ('#')", -1;
    return 0;
}

static char *concat(const char *a, size_t an, const char *b, const char *c)
{
    size_t bn = strlen(b), cn = strlen(c);
    char *s = ex_malloc(an + bn + cn + 1);
    if (!s) return NULL;
    memcpy(s, a, an);
    memcpy(s + an, b, bn);
    memcpy(s + an + bn, c, cn + 1);
    return s;
}

/* The generic endpoint is a base URL: HTTP exporters add v1/traces to its
 * path (specification, "Endpoint URLs for OTLP/HTTP"). */
static char *http_traces_url(const char *base, const char *rest)
{
    size_t pathlen = strcspn(rest, "?");
    size_t head = (size_t)(rest - base) + pathlen;
    const char *add = pathlen && rest[pathlen - 1] == '/' ? "v1/traces" : "/v1/traces";
    return concat(base, head, add, rest + pathlen);
}

static int parse_endpoint(env_parse *p, exo_export_config *c)
{
    int grpc = c->protocol == EXO_PROTOCOL_GRPC;
    const char *var = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", *v = exo_env_get(p->envp, var);
    int specific = v != NULL;
    char *given = NULL;
    if (!v) v = exo_env_get(p->envp, var = "OTEL_EXPORTER_OTLP_ENDPOINT");
    if (!v) {
        v = grpc ? "http://localhost:4317" : "http://localhost:4318";
        var = "default";
    }
    if (grpc && !strstr(v, "://")) /* host:port: INSECURE picks the scheme */
        v = given = concat(c->insecure ? "http://" : "https://", strlen(c->insecure ? "http://" : "https://"), v, "");
    if (!v) return -2;
    const char *auth, *rest, *why;
    size_t authlen;
    int rc = 0;
    if (split_url(v, &c->tls, &auth, &authlen, &rest, &why)) {
        rc = bad(p, var, v, "%s", why);
        goto out;
    }
    c->endpoint_from = var;
    if (grpc) {
        c->endpoint = ex_strdup(v);
        c->url = concat(v, (size_t)(rest - v), EXO_OTLP_GRPC_PATH, "");
    } else {
        c->endpoint = specific ? ex_strdup(v) : http_traces_url(v, rest);
        c->url = c->endpoint ? ex_strdup(c->endpoint) : NULL;
    }
    if (!c->endpoint || !c->url) rc = -2;
out:
    ex_free(given);
    return rc;
}

/* HTTP header field names are tokens (RFC 9110 §5.6.2). */
static int http_token(const char *s)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";
    if (!*s) return 0;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || strchr(extra, *s)))
            return 0;
    return 1;
}

static int parse_headers(env_parse *p, exo_export_config *c)
{
    char var[64], why[160] = "";
    const char *v = otlp_get(p, "HEADERS", var, sizeof var);
    if (!v) return 0;
    int rc = exo_kv_list_parse(v, &c->headers, why, sizeof why);
    if (rc == -2) return -2;
    if (rc) return bad(p, var, NULL, "%s", why);
    for (size_t i = 0; i < c->headers.len; i++) {
        const exo_kv *h = &c->headers.items[i];
        if (!http_token(h->key))
            return bad(p, var, NULL, "header %zu: \"%.40s\" is not a valid header name", i + 1, h->key);
        if (strpbrk(h->value, "\r\n"))
            return bad(p, var, NULL, "header %zu (\"%.40s\"): the value contains a line break", i + 1, h->key);
    }
    return 0;
}

static int parse_otlp(env_parse *p, exo_export_config *c)
{
    char var[64];
    const char *v;
    int rc;
    if ((rc = parse_protocol(p, c)) != 0) return rc;
    v = otlp_get(p, "INSECURE", var, sizeof var);
    c->insecure = parse_bool(p, var, v);
    if ((rc = parse_endpoint(p, c)) != 0) return rc;
    if ((rc = parse_headers(p, c)) != 0) return rc;
    v = otlp_get(p, "TIMEOUT", var, sizeof var);
    if ((rc = parse_int(p, var, v, 1, 3600000, "milliseconds", &c->timeout_ms)) != 0) return rc;
    if ((v = otlp_get(p, "COMPRESSION", var, sizeof var)) != NULL) {
        if (strcasecmp(v, "gzip") == 0) c->compression = EXO_COMPRESSION_GZIP;
        else if (strcasecmp(v, "none") == 0) c->compression = EXO_COMPRESSION_NONE;
        else return bad(p, var, v, "unknown compression (expected gzip or none)");
    }
    static const char *const paths[] = {"CERTIFICATE", "CLIENT_KEY", "CLIENT_CERTIFICATE"};
    char **dst[] = {&c->certificate, &c->client_key, &c->client_certificate};
    for (size_t i = 0; i < 3; i++)
        if ((v = otlp_get(p, paths[i], var, sizeof var)) != NULL && !(*dst[i] = ex_strdup(v))) return -2;
    return 0;
}

static int parse_bsp(env_parse *p, exo_export_config *c)
{
    const char *q = "OTEL_BSP_MAX_QUEUE_SIZE", *b = "OTEL_BSP_MAX_EXPORT_BATCH_SIZE";
    const char *qv = exo_env_get(p->envp, q), *bv = exo_env_get(p->envp, b);
    if (parse_int(p, "OTEL_BSP_SCHEDULE_DELAY", exo_env_get(p->envp, "OTEL_BSP_SCHEDULE_DELAY"), 1, 3600000,
                  "milliseconds", &c->bsp_schedule_delay_ms) ||
        parse_int(p, "OTEL_BSP_EXPORT_TIMEOUT", exo_env_get(p->envp, "OTEL_BSP_EXPORT_TIMEOUT"), 1, 3600000,
                  "milliseconds", &c->bsp_export_timeout_ms) ||
        parse_int(p, q, qv, 1, 10000000, "spans", &c->bsp_max_queue_size) ||
        parse_int(p, b, bv, 1, 10000000, "spans", &c->bsp_max_export_batch_size))
        return -1;
    if (c->bsp_max_export_batch_size > c->bsp_max_queue_size) {
        if (bv)
            return bad(p, b, bv, "must not exceed the queue size (%s=%" PRId64 ")", q, c->bsp_max_queue_size);
        c->bsp_max_export_batch_size = c->bsp_max_queue_size;
    }
    return 0;
}

int exo_export_config_from_env(char *const *envp, exo_export_config *out, char *err, size_t errlen, char *warn,
                               size_t warnlen)
{
    env_parse p = {envp, err, errlen, warn, warnlen};
    memset(out, 0, sizeof *out);
    if (err && errlen) err[0] = '\0';
    if (warn && warnlen) warn[0] = '\0';
    out->protocol = EXO_PROTOCOL_HTTP_PROTOBUF;
    out->endpoint_from = "default";
    out->timeout_ms = 10000;
    out->bsp_schedule_delay_ms = 5000;
    out->bsp_export_timeout_ms = 30000;
    out->bsp_max_queue_size = 2048;
    out->bsp_max_export_batch_size = 512;
    out->sdk_disabled = parse_bool(&p, "OTEL_SDK_DISABLED", exo_env_get(envp, "OTEL_SDK_DISABLED"));
    if (out->sdk_disabled) return 0; /* a no-op SDK reads nothing else */
    int rc = parse_exporters(&p, out);
    if (rc == 0) rc = parse_bsp(&p, out);
    if (rc == 0 && exo_export_config_has(out, EXO_EXPORTER_OTLP)) rc = parse_otlp(&p, out);
    if (rc == -2 && err && errlen) snprintf(err, errlen, "out of memory");
    return rc;
}

void exo_export_config_free(exo_export_config *c)
{
    if (!c) return;
    ex_free(c->endpoint);
    ex_free(c->url);
    ex_free(c->certificate);
    ex_free(c->client_key);
    ex_free(c->client_certificate);
    exo_kv_list_free(&c->headers);
    c->endpoint = c->url = c->certificate = c->client_key = c->client_certificate = NULL;
}

const char *exo_exporter_name(exo_exporter_kind k) { return k == EXO_EXPORTER_OTLP ? "otlp" : "console"; }

const char *exo_protocol_name(exo_otlp_protocol p)
{
    switch (p) {
    case EXO_PROTOCOL_GRPC: return "grpc";
    case EXO_PROTOCOL_HTTP_JSON: return "http/json";
    default: return "http/protobuf";
    }
}

int exo_export_config_has(const exo_export_config *c, exo_exporter_kind k)
{
    for (size_t i = 0; i < c->nexporters; i++)
        if (c->exporters[i] == k) return 1;
    return 0;
}
