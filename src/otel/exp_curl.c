#include "otel/exp_curl.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/clock.h"
#include "core/mem.h"
#include "core/strcopy.h"
#include "otel/exporter.h"

/* One POST in flight. */
typedef struct http_call {
    exo_http_client *client;         /* not owned */
    CURL *easy;                      /* owned */
    struct curl_slist *extra;        /* owned: base headers + the extra line, or NULL */
    exo_http_done_cb cb;
    void *arg;
    exo_http_response resp;          /* filled while the transfer runs */
    size_t body_cap;                 /* bytes allocated in resp.body */
} http_call;

static char *dup_or_null(const char *s) { return s ? ex_strdup(s) : NULL; }

int exo_http_client_init(exo_http_client *c, uv_loop_t *loop, const exo_export_config *cfg, long http_version,
                         const char *const *base_headers, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    c->http_version = http_version;
    c->url = ex_strdup(cfg->url);
    c->cainfo = dup_or_null(cfg->certificate);
    c->sslcert = dup_or_null(cfg->client_certificate);
    c->sslkey = dup_or_null(cfg->client_key);
    c->curl = ex_curl_loop_new(loop);
    c->fresh_connections = http_version == CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE &&
                           curl_version_info(CURLVERSION_NOW)->version_num < 0x080000;
    if (!c->url || !c->curl || (cfg->certificate && !c->cainfo) || (cfg->client_certificate && !c->sslcert) ||
        (cfg->client_key && !c->sslkey)) {
        snprintf(err, errlen, "out of memory setting up the HTTP client for %s", cfg->url ? cfg->url : "(no url)");
        return -1;
    }
    char line[1024];
    struct curl_slist *h = NULL, *t;
    for (size_t i = 0; base_headers && base_headers[i]; i++) {
        if (!(t = curl_slist_append(h, base_headers[i]))) goto oom;
        h = t;
    }
    for (size_t i = 0; i < cfg->headers.len; i++) {
        const exo_kv *kv = &cfg->headers.items[i];
        int n = snprintf(line, sizeof line, "%s: %s", kv->key, kv->value);
        if (n < 0 || (size_t)n >= sizeof line || strpbrk(line, "\r\n")) {
            /* The value is not quoted: headers often carry credentials. */
            snprintf(err, errlen, "OTEL_EXPORTER_OTLP_HEADERS: header \"%s\" is too long or contains a line break",
                     kv->key);
            curl_slist_free_all(h);
            return -1;
        }
        if (!(t = curl_slist_append(h, line))) goto oom;
        h = t;
    }
    if (!(t = curl_slist_append(h, "User-Agent: " EXO_OTLP_USER_AGENT))) goto oom;
    h = t;
    /* curl would wait for "100 Continue" before sending large bodies. */
    if (!(t = curl_slist_append(h, "Expect:"))) goto oom;
    c->headers = t;
    return 0;
oom:
    curl_slist_free_all(h);
    snprintf(err, errlen, "out of memory building request headers for %s", cfg->url);
    return -1;
}

static size_t body_cb(char *p, size_t size, size_t n, void *arg)
{
    http_call *call = arg;
    size_t len = size * n, room = EXO_HTTP_MAX_BODY - call->resp.body_len;
    size_t keep = len < room ? len : room;
    if (keep < len) call->resp.body_truncated = 1;
    if (keep == 0) return len;
    if (call->resp.body_len + keep + 1 > call->body_cap) {
        size_t ncap = call->body_cap ? call->body_cap * 2 : 1024;
        while (ncap < call->resp.body_len + keep + 1) ncap *= 2;
        uint8_t *nb = ex_realloc(call->resp.body, ncap);
        if (!nb) return 0; /* curl reports CURLE_WRITE_ERROR */
        call->resp.body = nb;
        call->body_cap = ncap;
    }
    memcpy(call->resp.body + call->resp.body_len, p, keep);
    call->resp.body_len += keep;
    call->resp.body[call->resp.body_len] = '\0';
    return len;
}

/* Copy a header value without surrounding blanks and line end. */
static void copy_value(char *out, size_t outlen, const char *v, size_t len)
{
    while (len && (*v == ' ' || *v == '\t')) v++, len--;
    while (len && (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' ' || v[len - 1] == '\t')) len--;
    ex_copy_cut(out, outlen, v, len);
}

/* Header lines and, after the body, HTTP/2 trailers (gRPC's status). */
static size_t header_cb(char *p, size_t size, size_t n, void *arg)
{
    http_call *call = arg;
    exo_http_response *r = &call->resp;
    size_t len = size * n;
    const char *colon = memchr(p, ':', len);
    if (!colon) return len;
    size_t nlen = (size_t)(colon - p);
    const char *v = colon + 1;
    size_t vlen = len - nlen - 1;
#define IS(name) (nlen == sizeof(name) - 1 && strncasecmp(p, name, nlen) == 0)
    if (IS("content-type")) {
        copy_value(r->content_type, sizeof r->content_type, v, vlen);
        char *semi = strchr(r->content_type, ';');
        if (semi) *semi = '\0';
        for (char *q = r->content_type; *q; q++) *q = (char)tolower((unsigned char)*q);
        size_t l = strlen(r->content_type);
        while (l && r->content_type[l - 1] == ' ') r->content_type[--l] = '\0';
    } else if (IS("retry-after")) {
        copy_value(r->retry_after, sizeof r->retry_after, v, vlen);
    } else if (IS("grpc-status")) {
        copy_value(r->grpc_status, sizeof r->grpc_status, v, vlen);
    } else if (IS("grpc-encoding")) {
        copy_value(r->grpc_encoding, sizeof r->grpc_encoding, v, vlen);
    } else if (IS("grpc-message")) {
        copy_value(r->grpc_message, sizeof r->grpc_message, v, vlen);
    } else if (IS("grpc-status-details-bin") && vlen < 64 * 1024) {
        ex_free(r->grpc_details);
        r->grpc_details = ex_malloc(vlen + 1);
        if (r->grpc_details) copy_value(r->grpc_details, vlen + 1, v, vlen);
    }
#undef IS
    return len;
}

static void call_free(http_call *call)
{
    if (call->easy) curl_easy_cleanup(call->easy);
    curl_slist_free_all(call->extra);
    ex_free(call->resp.body);
    ex_free(call->resp.grpc_details);
    ex_free(call);
}

static void call_done_cb(CURL *easy, CURLcode result, void *arg)
{
    http_call *call = arg;
    call->resp.result = result;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &call->resp.status);
    if (result != CURLE_OK && !call->resp.error[0]) snprintf(call->resp.error, sizeof call->resp.error, "%s",
                                                             curl_easy_strerror(result));
    call->client->active--;
    call->cb(call->arg, &call->resp);
    call_free(call);
}

/* The base headers plus one extra line, or NULL on allocation failure. */
static struct curl_slist *headers_with(const struct curl_slist *base, const char *extra)
{
    struct curl_slist *h = NULL, *t;
    for (const struct curl_slist *i = base; i; i = i->next) {
        if (!(t = curl_slist_append(h, i->data))) goto fail;
        h = t;
    }
    if (!(t = curl_slist_append(h, extra))) goto fail;
    return t;
fail:
    curl_slist_free_all(h);
    return NULL;
}

int exo_http_client_post(exo_http_client *c, const uint8_t *body, size_t len, const char *extra_header,
                         int64_t timeout_ns, exo_http_done_cb cb, void *arg, char *err, size_t errlen)
{
    if (!c->curl) {
        snprintf(err, errlen, "HTTP client for %s is shut down", c->url ? c->url : "(none)");
        return -1;
    }
    http_call *call = ex_calloc(1, sizeof *call);
    if (!call || !(call->easy = curl_easy_init())) goto oom;
    if (extra_header && !(call->extra = headers_with(c->headers, extra_header))) goto oom;
    call->client = c;
    call->cb = cb;
    call->arg = arg;
    long timeout_ms = (long)(timeout_ns / EX_NS_PER_MS);
    if (timeout_ms < 1) timeout_ms = 1;
    CURL *e = call->easy;
    curl_easy_setopt(e, CURLOPT_URL, c->url);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, (const char *)body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, call->extra ? call->extra : c->headers);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, c->http_version);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, body_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, call);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, call);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, call->resp.error);
    if (c->fresh_connections) {
        curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
        curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
    }
    if (c->cainfo) curl_easy_setopt(e, CURLOPT_CAINFO, c->cainfo);
    if (c->sslcert) curl_easy_setopt(e, CURLOPT_SSLCERT, c->sslcert);
    if (c->sslkey) curl_easy_setopt(e, CURLOPT_SSLKEY, c->sslkey);
    if (ex_curl_loop_add(c->curl, e, call_done_cb, call) != 0) {
        snprintf(err, errlen, "could not start a request to %s", c->url);
        call_free(call);
        return -1;
    }
    c->active++;
    return 0;
oom:
    if (call) call_free(call);
    snprintf(err, errlen, "out of memory starting a request to %s", c->url);
    return -1;
}

void exo_http_client_shutdown(exo_http_client *c)
{
    if (c->curl) ex_curl_loop_destroy(c->curl); /* runs the callbacks of what is in flight */
    c->curl = NULL;
    curl_slist_free_all(c->headers);
    c->headers = NULL;
    ex_free(c->url);
    ex_free(c->cainfo);
    ex_free(c->sslcert);
    ex_free(c->sslkey);
    c->url = c->cainfo = c->sslcert = c->sslkey = NULL;
}

char *exo_http_body_excerpt(const uint8_t *body, size_t len, char *out, size_t outlen)
{
    size_t n = 0;
    for (size_t i = 0; i < len && n + 1 < outlen; i++) {
        unsigned char ch = body[i];
        out[n++] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '.';
    }
    if (outlen) out[n] = '\0';
    return out;
}
