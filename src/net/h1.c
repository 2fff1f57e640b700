#include "net/h1.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/mem.h"

/* ---- which URLs ---- */

static int host_char(int c) { return isalnum(c) || c == '-' || c == '.' || c == '_'; }

int ex_h1_target_parse(const char *url, ex_h1_target *t)
{
    memset(t, 0, sizeof *t);
    if (strncasecmp(url, "http://", 7) != 0) return -1;
    const char *h = url + 7, *end = h + strcspn(h, "/?#");
    if (*end == '?' || *end == '#' || strpbrk(end, "?#") || memchr(h, '@', (size_t)(end - h))) return -1;
    const char *hend, *port = NULL;
    if (*h == '[') {
        hend = memchr(h, ']', (size_t)(end - h));
        if (!hend || hend == h + 1) return -1;
        for (const char *c = h + 1; c < hend; c++)
            if (!isxdigit((unsigned char)*c) && *c != ':' && *c != '.') return -1;
        if (hend + 1 < end && hend[1] != ':') return -1;
        port = hend + 1 < end ? hend + 2 : NULL;
        h++;
        t->ipv6 = 1;
    } else {
        hend = h;
        while (hend < end && *hend != ':') {
            if (!host_char((unsigned char)*hend)) return -1;
            hend++;
        }
        if (hend == h) return -1;
        port = hend < end ? hend + 1 : NULL;
    }
    if ((size_t)(hend - h) >= sizeof t->host) return -1;
    memcpy(t->host, h, (size_t)(hend - h));
    t->port = 80;
    if (port) {
        long v = 0;
        if (port == end) return -1;
        for (const char *c = port; c < end; c++) {
            if (!isdigit((unsigned char)*c) || (v = v * 10 + (*c - '0')) > 65535) return -1;
        }
        if (v < 1) return -1;
        t->port = (int)v;
    }
    t->path = end;
    return 0;
}

int ex_h1_proxy_env(const char *(*env)(const char *name))
{
    static const char *const names[] = {"http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        const char *v = env(names[i]);
        if (v && *v) return 1;
    }
    return 0;
}

int ex_h1_host_header(const ex_h1_target *t, char *out, size_t outlen)
{
    const char *l = t->ipv6 ? "[" : "", *r = t->ipv6 ? "]" : "";
    int n = t->port == 80 ? snprintf(out, outlen, "%s%s%s", l, t->host, r)
                          : snprintf(out, outlen, "%s%s%s:%d", l, t->host, r, t->port);
    return n < 0 || (size_t)n >= outlen ? -1 : n;
}

/* ---- request bytes ---- */

static int put(char **buf, size_t *cap, size_t *len, const char *s, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t c = *cap ? *cap : 256;
        while (c < *len + n + 1) c *= 2;
        char *b = ex_realloc(*buf, c);
        if (!b) return -1;
        *buf = b;
        *cap = c;
    }
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = '\0';
    return 0;
}

#define PUTS(s) put(buf, cap, &len, (s), strlen(s))

/* The header line as sent ("" to send nothing), the way libcurl reads
 * CURLOPT_HTTPHEADER entries. -1 for a line that would split the request. */
static int line_form(const char *line, const char **name, size_t *nlen, const char **value)
{
    if (strpbrk(line, "\r\n")) return -1;
    size_t n = strcspn(line, ":;");
    *name = line;
    *nlen = n;
    if (line[n] == ';') { /* "Name;" sends Name with an empty value; anything else after ';' is ignored */
        const char *v = line + n + 1;
        while (*v == ' ' || *v == '\t') v++;
        *value = *v ? NULL : "";
        return 0;
    }
    if (!line[n]) { *value = NULL; return 0; }
    const char *v = line + n + 1;
    while (*v == ' ' || *v == '\t') v++;
    *value = *v ? v : NULL; /* "Name:" only removes an internal header */
    return 0;
}

long ex_h1_request(char **buf, size_t *cap, const char *method, const char *target, const char *host,
                   const char *const *lines, size_t nlines, const char *body, size_t body_len)
{
    size_t len = 0;
    int own_host = 0;
    for (size_t i = 0; i < nlines; i++) {
        const char *name, *value;
        size_t nlen;
        if (line_form(lines[i], &name, &nlen, &value)) return -1;
        if (nlen == 4 && strncasecmp(name, "Host", 4) == 0) own_host = 1;
    }
    if (PUTS(method) || PUTS(" ") || PUTS(*target ? target : "/") || PUTS(" HTTP/1.1\r\n")) return -1;
    if (!own_host && (PUTS("Host: ") || PUTS(host) || PUTS("\r\n"))) return -1;
    for (size_t i = 0; i < nlines; i++) {
        const char *name, *value;
        size_t nlen;
        line_form(lines[i], &name, &nlen, &value);
        if (!value) continue;
        if (put(buf, cap, &len, name, nlen) || PUTS(": ") || PUTS(value) || PUTS("\r\n")) return -1;
    }
    if (body) {
        char cl[48];
        snprintf(cl, sizeof cl, "Content-Length: %zu\r\n", body_len);
        if (PUTS(cl)) return -1;
    }
    if (PUTS("\r\n") || (body && put(buf, cap, &len, body, body_len))) return -1;
    return (long)len;
}

/* ---- one response ---- */

static int hput(ex_h1_resp *r, const char *s, size_t n)
{
    return put(&r->hbuf, &r->hcap, &r->hlen, s, n);
}

/* The header being gathered is complete: its value (empty when none
 * came) trimmed of trailing blanks and terminated, and counted. A header
 * cut short by a failure is never counted. */
static int header_end(ex_h1_resp *r)
{
    if (!r->keep) return 0;
    r->keep = 0;
    if (r->last == 1) { /* a name without a value */
        if (hput(r, "", 1)) return -1;
        r->hoff[2 * r->nh + 1] = (uint32_t)r->hlen;
    } else {
        size_t start = r->hoff[2 * r->nh + 1];
        while (r->hlen > start && (r->hbuf[r->hlen - 1] == ' ' || r->hbuf[r->hlen - 1] == '\t')) r->hlen--;
    }
    if (hput(r, "", 1)) return -1;
    r->nh++;
    return 0;
}

static int fail_oom(ex_h1_resp *r)
{
    r->code = CURLE_OUT_OF_MEMORY;
    snprintf(r->err, sizeof r->err, "out of memory reading the response headers");
    return 1;
}

/* Trailers (after a chunked body) are not headers, as for libcurl's
 * CURLH_HEADER: they are skipped. */
static int on_field(http_parser *p, const char *at, size_t n)
{
    ex_h1_resp *r = p->data;
    if (r->headers_done) return 0;
    if (r->last != 1) { /* a new header */
        if (header_end(r)) return fail_oom(r);
        r->last = 1;
        if (r->nh == EX_H1_MAX_HEADERS) return 0; /* past the kept headers */
        r->keep = 1;
        r->hoff[2 * r->nh] = (uint32_t)r->hlen;
    }
    return r->keep && hput(r, at, n) ? fail_oom(r) : 0;
}

static int on_value(http_parser *p, const char *at, size_t n)
{
    ex_h1_resp *r = p->data;
    if (r->headers_done) return 0;
    if (r->last == 1 && r->keep) {
        if (hput(r, "", 1)) return fail_oom(r); /* the name's terminator */
        r->hoff[2 * r->nh + 1] = (uint32_t)r->hlen;
    }
    r->last = 2;
    return r->keep && hput(r, at, n) ? fail_oom(r) : 0;
}

static void headers_reset(ex_h1_resp *r)
{
    r->nh = 0;
    r->hlen = 0;
    r->last = 0;
    r->keep = 0;
}

static int on_begin(http_parser *p)
{
    ((ex_h1_resp *)p->data)->got_bytes = 1;
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    ex_h1_resp *r = p->data; /* (here 1 would mean "no body": errors are -1) */
    if (header_end(r)) {
        fail_oom(r);
        return -1;
    }
    r->last = 0;
    if (p->status_code < 100) { /* http-parser takes "HTTP/1.1 20 OK"; libcurl wants three digits */
        r->code = CURLE_WEIRD_SERVER_REPLY;
        snprintf(r->err, sizeof r->err, "Invalid status line (status %d)", (int)p->status_code);
        return -1;
    }
    if (p->status_code < 200 && p->status_code != 101) return 0; /* interim */
    r->status = p->status_code;
    r->headers_done = 1;
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
    ex_h1_resp *r = p->data;
    r->body_bytes += n;
    if (r->body_cb && r->body_cb(r->body_arg, at, n) != 0) {
        r->code = CURLE_WRITE_ERROR;
        snprintf(r->err, sizeof r->err, "Failure writing output to destination");
        return 1;
    }
    return 0;
}

static int on_complete(http_parser *p)
{
    ex_h1_resp *r = p->data;
    if (!r->headers_done) { /* 1xx: the final answer follows */
        headers_reset(r);
        return 0;
    }
    r->state = EX_H1_DONE;
    r->keep_alive = http_should_keep_alive(p);
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = on_begin,
    .on_header_field = on_field,
    .on_header_value = on_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_complete,
};

void ex_h1_resp_begin(ex_h1_resp *r, ex_h1_body_cb cb, void *arg)
{
    http_parser_init(&r->parser, HTTP_RESPONSE);
    r->parser.data = r;
    r->body_cb = cb;
    r->body_arg = arg;
    r->state = EX_H1_MORE;
    r->status = 0;
    r->keep_alive = 0;
    r->got_bytes = 0;
    r->headers_done = 0;
    r->body_bytes = 0;
    r->code = CURLE_OK;
    r->err[0] = '\0';
    headers_reset(r);
}

static ex_h1_state failed(ex_h1_resp *r, CURLcode code, const char *fmt, const char *a)
{
    r->state = EX_H1_FAILED;
    r->keep_alive = 0;
    r->code = code;
    if (a != r->err) snprintf(r->err, sizeof r->err, fmt, a);
    return r->state;
}

ex_h1_state ex_h1_resp_feed_used(ex_h1_resp *r, const char *data, size_t n, size_t *used)
{
    *used = 0;
    if (r->state != EX_H1_MORE) return r->state;
    if (n) r->got_bytes = 1;
    *used = http_parser_execute(&r->parser, &settings, data, n);
    enum http_errno e = HTTP_PARSER_ERRNO(&r->parser);
    if (r->state == EX_H1_DONE) return r->state;
    *used = n; /* a failed answer ends the connection: nothing after it is read */
    if (e == HPE_OK && r->parser.upgrade) return failed(r, CURLE_WEIRD_SERVER_REPLY, "%s", "Unexpected protocol upgrade");
    if (e == HPE_OK) return EX_H1_MORE;
    if (r->code != CURLE_OK) return failed(r, r->code, "%s", r->err);
    return failed(r, CURLE_WEIRD_SERVER_REPLY, "Weird server reply (%s)", http_errno_description(e));
}

ex_h1_state ex_h1_resp_feed(ex_h1_resp *r, const char *data, size_t n)
{
    if (r->state != EX_H1_MORE) {
        if (n) r->keep_alive = 0;
        return r->state;
    }
    size_t used;
    ex_h1_state st = ex_h1_resp_feed_used(r, data, n, &used);
    if (st == EX_H1_DONE && used < n) r->keep_alive = 0; /* bytes nobody asked for */
    return st;
}

ex_h1_state ex_h1_resp_eof(ex_h1_resp *r)
{
    if (r->state != EX_H1_MORE) return r->state;
    if (!r->got_bytes) return failed(r, CURLE_GOT_NOTHING, "%s", "Empty reply from server");
    uint64_t left = r->parser.content_length;
    int chunked = (r->parser.flags & F_CHUNKED) != 0, sized = (r->parser.flags & F_CONTENTLENGTH) != 0;
    http_parser_execute(&r->parser, &settings, NULL, 0);
    if (r->state == EX_H1_DONE) {
        r->keep_alive = 0;
        return r->state;
    }
    if (r->code != CURLE_OK) return failed(r, r->code, "%s", r->err);
    if (!r->headers_done)
        return failed(r, CURLE_RECV_ERROR, "%s", "Connection closed before the end of the response headers");
    if (chunked) return failed(r, CURLE_PARTIAL_FILE, "%s", "transfer closed with outstanding read data remaining");
    char n[32];
    snprintf(n, sizeof n, "%" PRIu64, sized ? left : 0);
    return failed(r, CURLE_PARTIAL_FILE, "transfer closed with %s bytes remaining to read", n);
}

const char *ex_h1_resp_header(const ex_h1_resp *r, const char *name)
{
    for (size_t i = 0; i < r->nh; i++)
        if (strcasecmp(r->hbuf + r->hoff[2 * i], name) == 0) return r->hbuf + r->hoff[2 * i + 1];
    return NULL;
}

void ex_h1_resp_header_at(const ex_h1_resp *r, size_t i, const char **name, const char **value)
{
    *name = r->hbuf + r->hoff[2 * i];
    *value = r->hbuf + r->hoff[2 * i + 1];
}

void ex_h1_resp_free(ex_h1_resp *r)
{
    ex_free(r->hbuf);
    r->hbuf = NULL;
    r->hcap = r->hlen = 0;
}

uint64_t ex_h1_pace_wait(uint64_t now_ns, uint64_t turn_ns, uint64_t window_ns, int inflight)
{
    if (!window_ns || !turn_ns || inflight < EX_H1_PACE_MIN || now_ns < turn_ns) return 0;
    uint64_t took = now_ns - turn_ns;
    return took >= window_ns ? 0 : window_ns - took;
}
