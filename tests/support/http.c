/* http.c — the integration tests' HTTP client (see http.h).
 *
 * Bodies are plain malloc'd memory, not ex_malloc'd: callers hand them on
 * to code that frees them with free(), and a test that makes extrace's
 * allocations fail (ex_mem_fail_after) must not break its own client. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_TIMEOUT_MS 5000L

static size_t body_cb(char *p, size_t sz, size_t n, void *arg)
{
    th_resp *r = arg;
    size_t len = sz * n;
    char *b = realloc(r->body, r->len + len + 1);
    if (!b) return 0; /* libcurl ends the transfer with CURLE_WRITE_ERROR */
    memcpy(b + r->len, p, len);
    r->body = b;
    r->len += len;
    r->body[r->len] = '\0';
    return len;
}

/* Copy the value of header line p (len bytes, CRLF included) into dst if
 * the line is `name` (with its colon, any case). */
static void keep_header(const char *p, size_t len, const char *name, char *dst, size_t cap)
{
    size_t v = strlen(name), e = len;
    if (len <= v || strncasecmp(p, name, v) != 0) return;
    while (v < len && p[v] == ' ') v++;
    while (e > v && (p[e - 1] == '\r' || p[e - 1] == '\n')) e--;
    snprintf(dst, cap, "%.*s", (int)(e - v), p + v);
}

static size_t header_cb(char *p, size_t sz, size_t n, void *arg)
{
    th_resp *r = arg;
    size_t len = sz * n;
    keep_header(p, len, "location:", r->location, sizeof r->location);
    keep_header(p, len, "allow:", r->allow, sizeof r->allow);
    keep_header(p, len, "retry-after:", r->retry_after, sizeof r->retry_after);
    keep_header(p, len, "x-extrace-limit:", r->limit, sizeof r->limit);
    keep_header(p, len, "etag:", r->etag, sizeof r->etag);
    keep_header(p, len, "link:", r->link, sizeof r->link);
    keep_header(p, len, "x-ratelimit-remaining:", r->rate_remaining, sizeof r->rate_remaining);
    keep_header(p, len, "x-extrace-engine:", r->engine, sizeof r->engine);
    return len;
}

void th_collect(CURL *c, th_resp *r)
{
    memset(r, 0, sizeof *r);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, body_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
}

CURLcode th_request_rc(CURL *c, const char *method, const char *url, const th_req *req, th_resp *r)
{
    static const th_req none = {0};
    struct curl_slist *headers = NULL;
    if (!req) req = &none;
    curl_easy_reset(c);
    th_collect(c, r);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, req->timeout_ms > 0 ? req->timeout_ms : DEFAULT_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "HEAD") == 0) curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    /* On a reused connection libcurl silently sends a request again when
     * the connection closed unanswered: a fresh one shows every drop. */
    if (req->fresh_connection) curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
    for (const char *const *h = req->headers; h && *h; h++) headers = curl_slist_append(headers, *h);
    if (headers) curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    if (req->body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)req->body_len);
    }
    CURLcode rc = curl_easy_perform(c);
    curl_slist_free_all(headers);
    if (!r->body && !(r->body = calloc(1, 1))) rc = CURLE_OUT_OF_MEMORY;
    if (rc == CURLE_OK) {
        char *ct = NULL;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
        curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
        snprintf(r->content_type, sizeof r->content_type, "%s", ct ? ct : "");
    }
    return rc;
}

void th_request(CURL *c, const char *method, const char *url, const th_req *req, th_resp *r)
{
    CURLcode rc = th_request_rc(c, method, url, req, r);
    if (rc != CURLE_OK) fail_msg("%s %s: %s", method, url, curl_easy_strerror(rc));
}

void th_resp_free(th_resp *r)
{
    free(r->body);
    r->body = NULL;
    r->len = 0;
}
