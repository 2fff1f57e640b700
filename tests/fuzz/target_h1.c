/* target_h1.c — the worker's HTTP/1.1 client reading an answer through
 * http-parser (net/h1.h; docs/fuzzing.md). */
#include <string.h>

#include "net/h1.h"
#include "targets_int.h"

#define H1_BODY_LIMIT 64 /* the second reading refuses bodies past this */

typedef struct h1_body {
    size_t len, limit;
    uint64_t sum; /* of the bytes, to compare two readings */
} h1_body;

static int h1_take(void *arg, const char *d, size_t n)
{
    h1_body *b = arg;
    if (b->limit && b->len + n > b->limit) return -1;
    for (size_t i = 0; i < n; i++) b->sum = b->sum * 31 + (unsigned char)d[i];
    b->len += n;
    return 0;
}

/* Read data[0..size) in pieces of `step` bytes (0: at once), then the
 * close when `eof`. */
static ex_h1_state h1_read_all(ex_h1_resp *r, h1_body *b, const uint8_t *data, size_t size, size_t step, int eof)
{
    ex_h1_resp_begin(r, h1_take, b);
    ex_h1_state st = EX_H1_MORE;
    for (size_t i = 0; i < size; i += step ? step : size) /* bytes past the answer too: they end keep-alive */
        st = ex_h1_resp_feed(r, (const char *)data + i, step && size - i > step ? step : size - i);
    if (st == EX_H1_MORE && eof) st = ex_h1_resp_eof(r);
    return st;
}

static void h1_check_one(const ex_h1_resp *r, ex_h1_state st, const h1_body *b, size_t size)
{
    if (b->len > size) fuzz__fail("h1", "%zu body bytes from %zu input bytes", b->len, size);
    if (r->nh > EX_H1_MAX_HEADERS) fuzz__fail("h1", "%zu headers kept", r->nh);
    if (st == EX_H1_FAILED) {
        fuzz__check_terminated("h1", "the error", r->err, sizeof r->err);
        if (r->code == CURLE_OK || !r->err[0]) fuzz__fail("h1", "failed with code %d and \"%s\"", (int)r->code, r->err);
        if (r->keep_alive) fuzz__fail("h1", "a failed answer keeps the connection");
    }
    if (st == EX_H1_DONE && (r->status < 100 || r->status > 999 || (r->status < 200 && r->status != 101)))
        fuzz__fail("h1", "a final answer with status %d", r->status);
    for (size_t i = 0; r->headers_done && i < r->nh; i++) { /* (a failure may leave a partial one) */
        const char *name, *value;
        ex_h1_resp_header_at(r, i, &name, &value);
        size_t vl = strlen(value);
        if (!*name) fuzz__fail("h1", "header %zu has no name", i);
        if (vl && (value[0] == ' ' || value[0] == '\t' || value[vl - 1] == ' ' || value[vl - 1] == '\t'))
            fuzz__fail("h1", "header %s value \"%s\" not trimmed", name, value);
        const char *first = ex_h1_resp_header(r, name);
        if (!first) fuzz__fail("h1", "header %s not found by name", name);
    }
}

/* The input read as answers back to back on one connection (pipelined
 * requests): ex_h1_resp_feed_used hands the bytes past each answer to the
 * next. Up to H1_PIPE_MAX answers; a digest of what each said. */
#define H1_PIPE_MAX 8

typedef struct h1_pipe {
    size_t n;                       /* answers complete */
    int status[H1_PIPE_MAX], keep[H1_PIPE_MAX];
    uint64_t sum[H1_PIPE_MAX];
    ex_h1_state last;               /* of the answer after the n complete ones */
    size_t taken;                   /* input bytes consumed */
} h1_pipe;

static void h1_read_pipe(h1_pipe *out, const uint8_t *data, size_t size, size_t step)
{
    ex_h1_resp r = {0};
    h1_body b = {0};
    memset(out, 0, sizeof *out);
    ex_h1_resp_begin(&r, h1_take, &b);
    ex_h1_state st = EX_H1_MORE;
    size_t off = 0, end = 0;
    while (out->n < H1_PIPE_MAX && off < size && st != EX_H1_FAILED) {
        if (off == end) end = step && size - off > step ? off + step : size;
        size_t used;
        st = ex_h1_resp_feed_used(&r, (const char *)data + off, end - off, &used);
        if (used > end - off) fuzz__fail("h1", "used %zu of %zu bytes", used, end - off);
        off += used;
        if (st == EX_H1_MORE && off != end) fuzz__fail("h1", "an answer in progress left %zu bytes", end - off);
        if (st != EX_H1_DONE) continue;
        if (used == 0 && b.len == 0 && r.status == 0) fuzz__fail("h1", "an answer from no bytes");
        out->status[out->n] = r.status;
        out->keep[out->n] = r.keep_alive;
        out->sum[out->n++] = b.sum;
        if (!r.keep_alive) break; /* nothing is read after an answer that ends the connection */
        memset(&b, 0, sizeof b);
        ex_h1_resp_begin(&r, h1_take, &b);
        st = EX_H1_MORE;
    }
    out->last = st;
    out->taken = off;
    ex_h1_resp_free(&r);
}

static void h1_check_pipe(const uint8_t *data, size_t size, size_t step)
{
    h1_pipe whole, parts;
    h1_read_pipe(&whole, data, size, 0);
    h1_read_pipe(&parts, data, size, step);
    int same = whole.n == parts.n && whole.last == parts.last &&
               (whole.last == EX_H1_FAILED || whole.taken == parts.taken); /* (a failure: wherever it was seen) */
    for (size_t i = 0; same && i < whole.n; i++)
        same = whole.status[i] == parts.status[i] && whole.keep[i] == parts.keep[i] && whole.sum[i] == parts.sum[i];
    if (!same)
        fuzz__fail("h1", "pipelined: %zu answers (state %d, %zu bytes) at once, %zu (%d, %zu) in pieces of %zu", whole.n,
                   (int)whole.last, whole.taken, parts.n, (int)parts.last, parts.taken, step);
}

int fuzz_run_h1(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    size_t step = data[0] & 15;
    int eof = (data[0] & 16) != 0;
    data++;
    size--;
    ex_h1_resp whole = {0}, parts = {0}, cut = {0};
    h1_body bw = {0}, bp = {0}, bc = {.limit = H1_BODY_LIMIT};
    ex_h1_state sw = h1_read_all(&whole, &bw, data, size, 0, eof);
    ex_h1_state sp = h1_read_all(&parts, &bp, data, size, step, eof);
    ex_h1_state sc = h1_read_all(&cut, &bc, data, size, step, eof);
    h1_check_one(&whole, sw, &bw, size);
    h1_check_one(&parts, sp, &bp, size);
    h1_check_one(&cut, sc, &bc, size);
    /* Pieces or not, the same answer. Headers are compared once complete:
     * http-parser hands over a partial name at the end of each piece, so a
     * failure inside the headers may leave different partial ones (nobody
     * reads the headers of an answer without its status). */
    int heads = whole.headers_done && parts.headers_done;
    if (sw != sp || whole.status != parts.status || whole.keep_alive != parts.keep_alive || bw.len != bp.len ||
        bw.sum != bp.sum || whole.headers_done != parts.headers_done || (heads && whole.nh != parts.nh) ||
        (sw == EX_H1_FAILED && whole.code != parts.code))
        fuzz__fail("h1", "at once: state %d status %d body %zu, %zu headers; in pieces of %zu: %d %d %zu, %zu", (int)sw,
                   whole.status, bw.len, whole.nh, step, (int)sp, parts.status, bp.len, parts.nh);
    for (size_t i = 0; heads && i < whole.nh; i++) {
        const char *n1, *v1, *n2, *v2;
        ex_h1_resp_header_at(&whole, i, &n1, &v1);
        ex_h1_resp_header_at(&parts, i, &n2, &v2);
        if (strcmp(n1, n2) || strcmp(v1, v2)) fuzz__fail("h1", "header %zu: %s: %s at once, %s: %s in pieces", i, n1, v1, n2, v2);
    }
    /* A body past the limit is refused as libcurl's write error, and only then. */
    if (bp.len > H1_BODY_LIMIT && (sc != EX_H1_FAILED || cut.code != CURLE_WRITE_ERROR))
        fuzz__fail("h1", "a %zu-byte body was not refused at %d bytes", bp.len, H1_BODY_LIMIT);
    if (bc.len > H1_BODY_LIMIT) fuzz__fail("h1", "%zu body bytes taken past the limit", bc.len);
    ex_h1_resp_free(&whole);
    ex_h1_resp_free(&parts);
    ex_h1_resp_free(&cut);
    h1_check_pipe(data, size, step);
    return 0;
}
