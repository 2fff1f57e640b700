/* h1.h — the pure half of the worker's plain-HTTP/1.1 client: which URLs
 * it may take, the request bytes, and one response read through the
 * nodejs http-parser (libhttp-parser, docs/worker.md#the-request-path).
 * No I/O here; net/h1_uv.h moves the bytes.
 *
 * Failures are named with libcurl's codes and texts, so that a poll made
 * here is classified and logged exactly as one made by libcurl. */
#ifndef EXTRACE_NET_H1_H
#define EXTRACE_NET_H1_H
#include <curl/curl.h>
#include <http_parser.h>
#include <stddef.h>
#include <stdint.h>

#define EX_H1_HOST_MAX    256
#define EX_H1_MAX_HEADERS 100 /* response headers kept; more are ignored */
#define EX_H1_ERR_MAX     CURL_ERROR_SIZE

/* An http:// URL the client can take: host, port, the request target. */
typedef struct ex_h1_target {
    char host[EX_H1_HOST_MAX]; /* as written, brackets of an IPv6 literal dropped */
    int port;                  /* 80 when the URL names none */
    int ipv6;                  /* host is an IPv6 literal */
    const char *path;          /* into the URL: from its first '/' after the authority, or "" */
} ex_h1_target;

/* 0 and *t when `url` is "http://host[:port][/path]" with an ASCII host
 * (a name, IPv4 or [IPv6]), no user info, query or fragment in the base
 * and a port in 1..65535; -1 otherwise (libcurl takes such URLs). */
int ex_h1_target_parse(const char *url, ex_h1_target *t);

/* 1 when libcurl would consult a proxy variable for an http:// URL, i.e.
 * any of http_proxy, HTTP_PROXY, all_proxy, ALL_PROXY is set and not
 * empty; `env` is getenv or a test's stand-in. The client then steps
 * aside entirely and libcurl applies them (with no_proxy) as before. */
int ex_h1_proxy_env(const char *(*env)(const char *name));

/* The Host header value for t: "host" or "host:port" (port not 80),
 * "[addr]" for IPv6. Returns its length, or -1 if it does not fit. */
int ex_h1_host_header(const ex_h1_target *t, char *out, size_t outlen);

/* Request bytes "METHOD target HTTP/1.1\r\nHost: …\r\n<lines>\r\n" plus
 * Content-Length and the body when body != NULL, into a growing buffer
 * (*buf, *cap; ex_realloc). `lines` are "Name: value" header lines as
 * libcurl takes them in CURLOPT_HTTPHEADER: "Name:" (nothing after the
 * colon) sends nothing, "Name;" sends the header empty, and a Host line
 * replaces the default. Returns the length, or -1 without memory or for a
 * line with CR or LF. */
long ex_h1_request(char **buf, size_t *cap, const char *method, const char *target, const char *host,
                   const char *const *lines, size_t nlines, const char *body, size_t body_len);

/* Takes body bytes as they arrive: 0 to go on, -1 to stop (the response
 * then fails with CURLE_WRITE_ERROR). */
typedef int (*ex_h1_body_cb)(void *arg, const char *data, size_t n);

typedef enum {
    EX_H1_MORE = 0, /* the answer is not complete yet */
    EX_H1_DONE,     /* a complete final answer */
    EX_H1_FAILED,   /* code and err say why */
} ex_h1_state;

/* One response being read. */
typedef struct ex_h1_resp {
    http_parser parser;
    ex_h1_body_cb body_cb;
    void *body_arg;
    ex_h1_state state;
    int status;          /* the final answer's status, 0 until its headers are in */
    int keep_alive;      /* DONE: the connection may carry the next request */
    int got_bytes;       /* some byte of an answer arrived */
    int headers_done;    /* the final answer's headers are complete */
    uint64_t body_bytes; /* body bytes handed to body_cb */
    CURLcode code;       /* FAILED: libcurl's code for it */
    char err[EX_H1_ERR_MAX]; /* FAILED: libcurl's text for it */
    /* Headers as "name\0value\0" in hbuf; hoff[2i], hoff[2i+1] locate pair i. */
    char *hbuf;
    size_t hlen, hcap;
    uint32_t hoff[2 * EX_H1_MAX_HEADERS];
    size_t nh;
    int last; /* the last header callback: 0 none, 1 a name, 2 a value */
    int keep; /* the header being read is kept (one of the first EX_H1_MAX_HEADERS) */
} ex_h1_resp;

/* Start reading an answer (hbuf kept from a previous one). */
void ex_h1_resp_begin(ex_h1_resp *r, ex_h1_body_cb cb, void *arg);
/* Feed bytes read from the connection. Returns the state; bytes past the
 * end of a DONE answer clear keep_alive (nothing was asked for them). */
ex_h1_state ex_h1_resp_feed(ex_h1_resp *r, const char *data, size_t n);
/* The same for a connection that carries pipelined answers: *used says
 * how many of the n bytes belong to this answer. On DONE the rest (n -
 * *used) begins the next answer and keep_alive is the answer's own; on
 * MORE or FAILED *used is n. */
ex_h1_state ex_h1_resp_feed_used(ex_h1_resp *r, const char *data, size_t n, size_t *used);
/* The peer closed the connection: DONE for an answer delimited by the
 * close, else FAILED with libcurl's words (empty reply, closed early). */
ex_h1_state ex_h1_resp_eof(ex_h1_resp *r);
/* The value of header `name` (case-insensitive; its first occurrence,
 * surrounding blanks trimmed), or NULL. */
const char *ex_h1_resp_header(const ex_h1_resp *r, const char *name);
/* Header i (0 ≤ i < r->nh) in the order received. */
void ex_h1_resp_header_at(const ex_h1_resp *r, size_t i, const char **name, const char **value);
/* Free hbuf. */
void ex_h1_resp_free(ex_h1_resp *r);

/* ---- pacing the loop (pure) ----
 *
 * A client with many requests in flight on a loop that turns faster than
 * its answers come wakes for one or two answers at a time: a read, a
 * write and their loopback segments per answer. Holding each turn of the
 * loop to at least a window lets the answers of that window arrive
 * first, so that one read takes several and one writev sends the
 * requests they start. The wait before the next turn, in ns: 0 when the
 * window is 0, fewer than EX_H1_PACE_MIN calls are in flight, or the
 * turn that began at `turn_ns` (0: none yet) already lasted the window. */
#define EX_H1_PACE_MIN 16
uint64_t ex_h1_pace_wait(uint64_t now_ns, uint64_t turn_ns, uint64_t window_ns, int inflight);

#endif
