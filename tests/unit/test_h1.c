/* Unit tests of net/h1: which URLs the HTTP/1.1 client takes, the proxy
 * variables that send polls to libcurl, the request bytes, and answers
 * read through http-parser — whole, byte by byte, chunked, closed early. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/mem.h"
#include "net/h1.h"

static void test_target(void **state)
{
    ex_h1_target t;
    assert_int_equal(ex_h1_target_parse("http://127.0.0.1:5146", &t), 0);
    assert_string_equal(t.host, "127.0.0.1");
    assert_int_equal(t.port, 5146);
    assert_string_equal(t.path, "");
    assert_int_equal(ex_h1_target_parse("HTTP://api/v1", &t), 0);
    assert_string_equal(t.host, "api");
    assert_int_equal(t.port, 80);
    assert_string_equal(t.path, "/v1");
    assert_int_equal(ex_h1_target_parse("http://[::1]:8080/x/", &t), 0);
    assert_string_equal(t.host, "::1");
    assert_int_equal(t.ipv6, 1);
    assert_int_equal(t.port, 8080);
    assert_string_equal(t.path, "/x/");
    /* libcurl's: TLS, user info, a query, odd ports and hosts. */
    const char *curl_only[] = {"https://api:443",   "http://u:p@api",   "http://api/?q=1", "http://api#f",
                               "http://api:0",      "http://api:65536", "http://api:",     "http://",
                               "http://ap%20i/",    "http://[::1",      "http://[]:80",    "ftp://api",
                               "http://[::1]x:80",  "http://api:80x",   "http://bü.de/"};
    for (size_t i = 0; i < sizeof curl_only / sizeof *curl_only; i++)
        assert_int_equal(ex_h1_target_parse(curl_only[i], &t), -1);
}

static const char *env_val;
static const char *env_name;
static const char *fake_env(const char *name) { return strcmp(name, env_name) == 0 ? env_val : NULL; }

static void test_proxy_env(void **state)
{
    const char *names[] = {"http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"};
    for (size_t i = 0; i < 4; i++) {
        env_name = names[i];
        env_val = "http://proxy:3128";
        assert_int_equal(ex_h1_proxy_env(fake_env), 1);
        env_val = "";
        assert_int_equal(ex_h1_proxy_env(fake_env), 0);
    }
    env_name = "https_proxy"; /* only for https://, which libcurl serves anyway */
    env_val = "http://proxy:3128";
    assert_int_equal(ex_h1_proxy_env(fake_env), 0);
}

static void test_host_header(void **state)
{
    ex_h1_target t;
    char h[64];
    assert_int_equal(ex_h1_target_parse("http://api", &t), 0);
    assert_int_equal(ex_h1_host_header(&t, h, sizeof h), 3);
    assert_string_equal(h, "api");
    assert_int_equal(ex_h1_target_parse("http://[::1]:81", &t), 0);
    ex_h1_host_header(&t, h, sizeof h);
    assert_string_equal(h, "[::1]:81");
    assert_int_equal(ex_h1_host_header(&t, h, 4), -1);
}

static void test_request(void **state)
{
    char *buf = NULL;
    size_t cap = 0;
    const char *lines[] = {"Accept: application/json", "User-Agent: x/1", "X-Drop:", "X-Empty;", "Authorization:  Bearer t"};
    long n = ex_h1_request(&buf, &cap, "GET", "/workflows/a", "h:1", lines, 5, NULL, 0);
    const char *want = "GET /workflows/a HTTP/1.1\r\nHost: h:1\r\nAccept: application/json\r\nUser-Agent: x/1\r\n"
                       "X-Empty: \r\nAuthorization: Bearer t\r\n\r\n";
    assert_int_equal(n, (long)strlen(want));
    assert_string_equal(buf, want);
    /* A Host line replaces the default; a body gets its length. */
    const char *own[] = {"Host: other"};
    n = ex_h1_request(&buf, &cap, "POST", "", "h:1", own, 1, "{}", 2);
    want = "POST / HTTP/1.1\r\nHost: other\r\nContent-Length: 2\r\n\r\n{}";
    assert_int_equal(n, (long)strlen(want));
    assert_memory_equal(buf, want, (size_t)n);
    /* A line that would split the request is refused. */
    const char *bad[] = {"X: a\r\nEvil: 1"};
    assert_int_equal(ex_h1_request(&buf, &cap, "GET", "/", "h", bad, 1, NULL, 0), -1);
    ex_free(buf);
}

/* ---- answers ---- */

typedef struct sink {
    char data[4096];
    size_t len;
    size_t limit; /* refuse past this (0: none) */
} sink;

static int to_sink(void *arg, const char *d, size_t n)
{
    sink *k = arg;
    if ((k->limit && k->len + n > k->limit) || k->len + n > sizeof k->data) return -1;
    memcpy(k->data + k->len, d, n);
    k->len += n;
    return 0;
}

/* Feed `text` in pieces of `step` bytes (0: at once); the last state. */
static ex_h1_state feed(ex_h1_resp *r, sink *k, const char *text, size_t step)
{
    memset(k, 0, sizeof *k);
    ex_h1_resp_begin(r, to_sink, k);
    size_t len = strlen(text);
    ex_h1_state st = EX_H1_MORE;
    for (size_t i = 0; i < len && st == EX_H1_MORE; i += step ? step : len)
        st = ex_h1_resp_feed(r, text + i, step && len - i > step ? step : len - i);
    return st;
}

static void test_content_length(void **state)
{
    const char *a = "HTTP/1.1 200 OK\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT  \r\nContent-Length: 5\r\n"
                    "etag:\t\"v1\"\r\nX-Empty:\r\n\r\nhello";
    ex_h1_resp r = {0};
    sink k;
    for (size_t step = 0; step <= 7; step++) {
        assert_int_equal(feed(&r, &k, a, step), EX_H1_DONE);
        assert_int_equal(r.status, 200);
        assert_int_equal(r.keep_alive, 1);
        assert_int_equal(k.len, 5);
        assert_memory_equal(k.data, "hello", 5);
        assert_string_equal(ex_h1_resp_header(&r, "DATE"), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_string_equal(ex_h1_resp_header(&r, "ETag"), "\"v1\"");
        assert_string_equal(ex_h1_resp_header(&r, "x-empty"), "");
        assert_null(ex_h1_resp_header(&r, "Link"));
        assert_int_equal(r.nh, 4);
        const char *name, *value;
        ex_h1_resp_header_at(&r, 1, &name, &value);
        assert_string_equal(name, "Content-Length");
        assert_string_equal(value, "5");
    }
    ex_h1_resp_free(&r);
}

static void test_chunked_and_interim(void **state)
{
    const char *a = "HTTP/1.1 100 Continue\r\nX-Interim: 1\r\n\r\n"
                    "HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\nRetry-After: 7\r\n\r\n"
                    "3\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nX-Trailer: t\r\n\r\n";
    ex_h1_resp r = {0};
    sink k;
    for (size_t step = 0; step <= 5; step++) {
        assert_int_equal(feed(&r, &k, a, step), EX_H1_DONE);
        assert_int_equal(r.status, 503);
        assert_int_equal(k.len, 19);
        assert_memory_equal(k.data, "abc0123456789abcdef", 19);
        assert_string_equal(ex_h1_resp_header(&r, "retry-after"), "7");
        assert_null(ex_h1_resp_header(&r, "X-Interim")); /* the 100's headers are not the answer's */
        assert_null(ex_h1_resp_header(&r, "X-Trailer")); /* nor are trailers (libcurl's CURLH_HEADER) */
        assert_int_equal(r.nh, 2);
        assert_int_equal(r.keep_alive, 1);
    }
    ex_h1_resp_free(&r);
}

static void test_close_and_keep_alive(void **state)
{
    ex_h1_resp r = {0};
    sink k;
    /* HTTP/1.0 without a length: the body ends with the connection. */
    assert_int_equal(feed(&r, &k, "HTTP/1.0 200 OK\r\nServer: py\r\n\r\n{\"a\":1}", 3), EX_H1_MORE);
    assert_int_equal(ex_h1_resp_eof(&r), EX_H1_DONE);
    assert_int_equal(r.keep_alive, 0);
    assert_int_equal(k.len, 7);
    /* Connection: close, and bytes past the answer, end keep-alive. */
    assert_int_equal(feed(&r, &k, "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n", 0), EX_H1_DONE);
    assert_int_equal(r.keep_alive, 0);
    assert_int_equal(feed(&r, &k, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\nHTTP/1.1", 0), EX_H1_DONE);
    assert_int_equal(r.status, 404);
    assert_int_equal(r.keep_alive, 0);
    assert_int_equal(feed(&r, &k, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx", 0), EX_H1_DONE);
    assert_int_equal(ex_h1_resp_feed(&r, "y", 1), EX_H1_DONE);
    assert_int_equal(r.keep_alive, 0);
    ex_h1_resp_free(&r);
}

static void test_failures(void **state)
{
    ex_h1_resp r = {0};
    sink k;
    /* Nothing at all, then closed. */
    memset(&k, 0, sizeof k);
    ex_h1_resp_begin(&r, to_sink, &k);
    assert_int_equal(ex_h1_resp_eof(&r), EX_H1_FAILED);
    assert_int_equal(r.code, CURLE_GOT_NOTHING);
    assert_string_equal(r.err, "Empty reply from server");
    /* Closed inside a sized body, a chunked one, the headers. */
    assert_int_equal(feed(&r, &k, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 0), EX_H1_MORE);
    assert_int_equal(ex_h1_resp_eof(&r), EX_H1_FAILED);
    assert_int_equal(r.code, CURLE_PARTIAL_FILE);
    assert_string_equal(r.err, "transfer closed with 7 bytes remaining to read");
    assert_int_equal(feed(&r, &k, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", 0), EX_H1_MORE);
    assert_int_equal(ex_h1_resp_eof(&r), EX_H1_FAILED);
    assert_string_equal(r.err, "transfer closed with outstanding read data remaining");
    assert_int_equal(feed(&r, &k, "HTTP/1.1 200 OK\r\nContent-Le", 0), EX_H1_MORE);
    assert_int_equal(ex_h1_resp_eof(&r), EX_H1_FAILED);
    assert_int_equal(r.code, CURLE_RECV_ERROR);
    /* Not HTTP; a bad chunk size. */
    assert_int_equal(feed(&r, &k, "SSH-2.0-OpenSSH\r\n", 0), EX_H1_FAILED);
    assert_int_equal(r.code, CURLE_WEIRD_SERVER_REPLY);
    assert_int_equal(feed(&r, &k, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 0), EX_H1_FAILED);
    assert_int_equal(r.code, CURLE_WEIRD_SERVER_REPLY);
    /* A status of two digits (http-parser takes it, libcurl does not). */
    assert_int_equal(feed(&r, &k, "HTTP/1.1 20 OK\r\nContent-Length: 0\r\n\r\n", 0), EX_H1_FAILED);
    assert_int_equal(r.code, CURLE_WEIRD_SERVER_REPLY);
    /* The body refused (too large): libcurl's write error. */
    memset(&k, 0, sizeof k);
    k.limit = 3;
    ex_h1_resp_begin(&r, to_sink, &k);
    const char *big = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
    assert_int_equal(ex_h1_resp_feed(&r, big, strlen(big)), EX_H1_FAILED);
    assert_int_equal(r.code, CURLE_WRITE_ERROR);
    assert_int_equal(r.status, 200);
    ex_h1_resp_free(&r);
}

static void test_many_headers(void **state)
{
    size_t cap = 200 * 16 + 64, len = 0;
    char *a = malloc(cap);
    len += (size_t)snprintf(a, cap, "HTTP/1.1 200 OK\r\n");
    for (int i = 0; i < 150; i++) len += (size_t)snprintf(a + len, cap - len, "X-%d: %d\r\n", i, i);
    snprintf(a + len, cap - len, "Content-Length: 0\r\n\r\n");
    ex_h1_resp r = {0};
    sink k;
    assert_int_equal(feed(&r, &k, a, 7), EX_H1_DONE);
    assert_int_equal(r.nh, EX_H1_MAX_HEADERS);
    assert_string_equal(ex_h1_resp_header(&r, "X-99"), "99");
    assert_null(ex_h1_resp_header(&r, "X-100"));
    ex_h1_resp_free(&r);
    free(a);
}

/* Answers written back to back on one connection (pipelined requests,
 * RFC 9112 §9.3.2): each read through its own ex_h1_resp, the bytes past
 * one answer handed to the next, at once and in pieces of every size. */
static void test_pipelined(void **state)
{
    static const char *const answers[] = {
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
        "HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n",
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nzz",
    };
    static const int status[] = {200, 204, 200, 404, 200}, keep[] = {1, 1, 1, 1, 0};
    static const char *const body[] = {"hello", "", "abcde", "", "zz"};
    char all[1024] = "";
    for (size_t i = 0; i < 5; i++) strcat(all, answers[i]);
    size_t len = strlen(all);
    (void)state;
    for (size_t step = 0; step <= len; step += step < 20 ? 1 : 37) {
        ex_h1_resp r = {0};
        sink k;
        size_t a = 0, off = 0, piece_end = 0;
        memset(&k, 0, sizeof k);
        ex_h1_resp_begin(&r, to_sink, &k);
        while (a < 5) {
            if (off == piece_end) { /* the next read */
                assert_true(off < len);
                piece_end = step && len - off > step ? off + step : len;
            }
            size_t used;
            ex_h1_state st = ex_h1_resp_feed_used(&r, all + off, piece_end - off, &used);
            assert_true(used <= piece_end - off);
            off += used;
            if (st == EX_H1_MORE) {
                assert_int_equal(off, piece_end);
                continue;
            }
            assert_int_equal(st, EX_H1_DONE);
            assert_int_equal(r.status, status[a]);
            assert_int_equal(r.keep_alive, keep[a]);
            assert_int_equal(k.len, strlen(body[a]));
            assert_memory_equal(k.data, body[a], k.len);
            if (a == 1) assert_string_equal(ex_h1_resp_header(&r, "X-A"), "1");
            a++;
            memset(&k, 0, sizeof k);
            ex_h1_resp_begin(&r, to_sink, &k);
        }
        assert_int_equal(off, len);
        ex_h1_resp_free(&r);
    }
}

/* The wait before the loop's next turn: the rest of the window, only
 * with enough calls in flight and a turn shorter than the window. */
static void test_pace_wait(void **state)
{
    (void)state;
    const uint64_t us = 1000, win = 250 * us, t0 = 1000000 * us;
    assert_int_equal(ex_h1_pace_wait(t0 + 40 * us, t0, win, 64), 210 * us);  /* a short turn: the rest */
    assert_int_equal(ex_h1_pace_wait(t0, t0, win, 64), win);                  /* no time at all: all of it */
    assert_int_equal(ex_h1_pace_wait(t0 + win, t0, win, 64), 0);              /* the turn lasted the window */
    assert_int_equal(ex_h1_pace_wait(t0 + 3 * win, t0, win, 64), 0);          /* a long turn (a busy loop) */
    assert_int_equal(ex_h1_pace_wait(t0 + 40 * us, t0, win, EX_H1_PACE_MIN), 210 * us);
    assert_int_equal(ex_h1_pace_wait(t0 + 40 * us, t0, win, EX_H1_PACE_MIN - 1), 0); /* too few in flight */
    assert_int_equal(ex_h1_pace_wait(t0 + 40 * us, t0, 0, 64), 0);            /* window 0: off */
    assert_int_equal(ex_h1_pace_wait(t0 + 40 * us, 0, win, 64), 0);           /* the first turn */
    assert_int_equal(ex_h1_pace_wait(t0 - 1, t0, win, 64), 0);                /* a clock that went back */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_target),           cmocka_unit_test(test_proxy_env),
        cmocka_unit_test(test_host_header),      cmocka_unit_test(test_request),
        cmocka_unit_test(test_content_length),   cmocka_unit_test(test_chunked_and_interim),
        cmocka_unit_test(test_close_and_keep_alive), cmocka_unit_test(test_failures),
        cmocka_unit_test(test_many_headers),     cmocka_unit_test(test_pipelined), cmocka_unit_test(test_pace_wait),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
