/* live_query.c — the list's filter, cursor and paging (live.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hex.h"
#include "core/mem.h"
#include "worker/live.h"

#define SHOWN 64 /* bytes of a bad value quoted back */

void wk_live_query_init(wk_live_query *q)
{
    memset(q, 0, sizeof *q);
    q->limit = WK_LIVE_LIMIT_DEFAULT;
}

static int bad(char *why, size_t whylen, const char *name, const char *value, const char *expected)
{
    snprintf(why, whylen, "query parameter %s=\"%.*s\"%s: %s", name, SHOWN, value, strlen(value) > SHOWN ? "…" : "",
             expected);
    return -1;
}

static int parse_status(wk_live_query *q, const char *v, char *why, size_t whylen)
{
    unsigned mask = 0;
    const char *p = v;
    for (;;) {
        size_t n = strcspn(p, ",");
        char word[16];
        int st = -1;
        if (n > 0 && n < sizeof word) {
            memcpy(word, p, n);
            word[n] = '\0';
            st = mdl_status_parse(word);
        }
        if (st < 0)
            return bad(why, whylen, "status", v, "expected pending, running, ok, error, cancelled or skipped "
                                                 "(several: comma-separated)");
        mask |= 1u << st;
        if (!p[n]) break;
        p += n + 1;
    }
    q->status_mask = mask;
    return 0;
}

static int parse_limit(wk_live_query *q, const char *v, char *why, size_t whylen)
{
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (!*v || *end || errno || n < 1 || n > WK_LIVE_LIMIT_MAX || v[0] == '+' || v[0] == ' ')
        return bad(why, whylen, "limit", v, "expected a whole number from 1 to 1000");
    q->limit = (int)n;
    return 0;
}

/* Cursor: 16 hex digits of the submitted time (unix ns + 2^63), then the key in hex. */
static int parse_cursor(wk_live_query *q, const char *v, char *why, size_t whylen)
{
    size_t len = strlen(v);
    const char *expected = "not a cursor of this worker (pass the \"next\" of the previous page as it is)";
    if (len < 18 || len % 2 || len > WK_LIVE_CURSOR_MAX) return bad(why, whylen, "cursor", v, expected);
    uint64_t t = 0;
    for (size_t i = 0; i < 16; i++) {
        int d = ex_hex_digit(v[i]);
        if (d < 0) return bad(why, whylen, "cursor", v, expected);
        t = t << 4 | (uint64_t)d;
    }
    size_t k = 0;
    for (size_t i = 16; i < len; i += 2, k++) {
        int hi = ex_hex_digit(v[i]), lo = ex_hex_digit(v[i + 1]);
        if (hi < 0 || lo < 0 || (hi | lo) == 0) return bad(why, whylen, "cursor", v, expected);
        q->after_key[k] = (char)(hi << 4 | lo);
    }
    q->after_key[k] = '\0';
    q->after_submitted = (int64_t)(t ^ (1ull << 63));
    q->has_cursor = 1;
    return 0;
}

int wk_live_query_param(wk_live_query *q, const char *name, const char *value, char *why, size_t whylen)
{
    value = value ? value : "";
    if (strcmp(name, "status") == 0) return parse_status(q, value, why, whylen);
    if (strcmp(name, "limit") == 0) return parse_limit(q, value, why, whylen);
    if (strcmp(name, "cursor") == 0) return parse_cursor(q, value, why, whylen);
    if (strcmp(name, "source") == 0) {
        if (!*value || strlen(value) >= sizeof q->source)
            return bad(why, whylen, "source", value, "expected a source name (1 to 63 bytes)");
        strcpy(q->source, value);
        return 0;
    }
    snprintf(why, whylen, "unknown query parameter \"%.*s\" (the list takes status, source, limit and cursor)", SHOWN,
             name);
    return -1;
}

void wk_live_cursor(int64_t submitted_ns, const char *key, char *out)
{
    static const char digits[] = "0123456789abcdef";
    uint64_t t = (uint64_t)submitted_ns ^ (1ull << 63);
    for (int i = 15; i >= 0; i--, t >>= 4) out[i] = digits[t & 15];
    size_t o = 16;
    for (const unsigned char *k = (const unsigned char *)key; *k && o + 2 <= WK_LIVE_CURSOR_MAX; k++) {
        out[o++] = digits[*k >> 4];
        out[o++] = digits[*k & 15];
    }
    out[o] = '\0';
}

int wk_live_match(const wk_live_query *q, const char *source, const wk_entry *e)
{
    if (q->source[0] && strcmp(q->source, source) != 0) return 0;
    return !q->status_mask || (q->status_mask >> mdl_node_status(&e->mon->root) & 1);
}

/* Order of the list: submitted time, then key. */
static int entry_cmp(int64_t at, const char *ak, int64_t bt, const char *bk)
{
    if (at != bt) return at < bt ? -1 : 1;
    return strcmp(ak, bk);
}

static int item_cmp(const wk_entry *a, const wk_entry *b)
{
    return entry_cmp(a->mon->submitted_ns, a->mon->key, b->mon->submitted_ns, b->mon->key);
}

static int qsort_cmp(const void *a, const void *b)
{
    return item_cmp(*(const wk_entry *const *)a, *(const wk_entry *const *)b);
}

/* A max-heap of the `limit` smallest entries seen. */
static void heap_push(const wk_entry **h, size_t *n, size_t cap, const wk_entry *e)
{
    size_t i;
    if (*n < cap) {
        for (i = (*n)++; i > 0 && item_cmp(h[(i - 1) / 2], e) < 0; i = (i - 1) / 2) h[i] = h[(i - 1) / 2];
        h[i] = e;
        return;
    }
    if (item_cmp(e, h[0]) >= 0) return; /* larger than the largest kept */
    for (i = 0;;) {                     /* replace the root and sift down */
        size_t c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && item_cmp(h[c + 1], h[c]) > 0) c++;
        if (item_cmp(h[c], e) <= 0) break;
        h[i] = h[c];
        i = c;
    }
    h[i] = e;
}

int wk_live_select(const wk_registry *r, const wk_live_query *q, const char *source, wk_live_page *out)
{
    memset(out, 0, sizeof *out);
    size_t cap = (size_t)q->limit;
    if (!(out->items = ex_malloc(cap * sizeof *out->items))) return -1;
    for (const wk_entry *e = wk_registry_next(r, NULL); e; e = wk_registry_next(r, e)) {
        if (!wk_live_match(q, source, e)) continue;
        out->total++;
        if (q->has_cursor && entry_cmp(e->mon->submitted_ns, e->mon->key, q->after_submitted, q->after_key) <= 0)
            continue;
        out->after++;
        heap_push(out->items, &out->n, cap, e);
    }
    qsort(out->items, out->n, sizeof *out->items, qsort_cmp);
    return 0;
}

void wk_live_page_free(wk_live_page *p)
{
    ex_free(p->items);
    memset(p, 0, sizeof *p);
}

int wk_live_render_page(sim_buf *b, const wk_live_ctx *c, const char *worker_json, const wk_live_page *p)
{
    char cursor[WK_LIVE_CURSOR_MAX + 1];
    const size_t tail = 64 + WK_LIVE_CURSOR_MAX; /* room for the end: "],"next":"…"}" */
    size_t max = b->max;
    int rc = sim_buf_printf(b, "{\"worker\":%s,\"total\":%zu,\"workflows\":[", worker_json, p->total);
    if (rc) return -1;
    b->max = max > tail ? max - tail : max;
    size_t i = 0;
    for (; i < p->n; i++) {
        size_t saved = b->len;
        if ((i > 0 && sim_buf_put(b, ",", 1)) || wk_live_render(b, c, p->items[i], 0)) {
            sim_buf_truncate(b, saved); /* it does not fit: the page ends before it */
            if (i == 0) {
                b->max = max;
                return -1;
            }
            break;
        }
    }
    b->max = max;
    rc = sim_buf_put(b, "]", 1);
    if (!rc && i < p->after && i > 0) {
        wk_live_cursor(p->items[i - 1]->mon->submitted_ns, p->items[i - 1]->mon->key, cursor);
        rc = sim_buf_printf(b, ",\"next\":\"%s\"}", cursor);
    } else if (!rc) {
        rc = sim_buf_puts(b, ",\"next\":null}");
    }
    return rc;
}
