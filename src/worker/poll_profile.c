/* poll_profile.c — one poll of a profile's source: its requests in order,
 * pages followed through Link, answers kept with their validators so the
 * next poll can ask "changed since?", then the jq map and the canonical
 * snapshot. A poll whose every answer was 304 Not Modified is a
 * successful poll that changed nothing (wk_poll_result.unchanged). */
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/mem.h"
#include "worker/event.h"
#include "worker/poller_int.h"
#include "worker/source_rt.h"

#define LINK_MAX 4096

static const sr_profile *prof(const poll_slot *s) { return s->p->cfg.source->profile; }

/* ---- the conditional-request state ---- */

static const char *header(CURL *easy, const char *name)
{
    struct curl_header *h = NULL;
    return curl_easy_header(easy, name, 0, CURLH_HEADER, -1, &h) == CURLHE_OK ? h->value : NULL;
}


static void cond_entry_free(struct wk_poller *p, cond_entry *e)
{
    for (size_t i = 0; i < e->n; i++) {
        p->cond_bytes -= e->urls[i].c.len;
        ex_free(e->urls[i].url);
        ex_free(e->urls[i].link);
        sr_cond_clear(&e->urls[i].c);
    }
    ex_free(e->urls);
    ex_free(e);
}

void wk_pp_forget(struct wk_poller *p, const char *key)
{
    cond_entry *e;
    HASH_FIND_STR(p->conds, key, e);
    if (!e) return;
    HASH_DEL(p->conds, e);
    cond_entry_free(p, e);
}

void wk_pp_clear(struct wk_poller *p)
{
    cond_entry *e, *tmp;
    HASH_ITER(hh, p->conds, e, tmp) {
        HASH_DEL(p->conds, e);
        cond_entry_free(p, e);
    }
}

static cond_url *cond_find(cond_entry *e, const char *url)
{
    for (size_t i = 0; e && i < e->n; i++)
        if (strcmp(e->urls[i].url, url) == 0) return &e->urls[i];
    return NULL;
}

/* The workflow's entry, made on first use; NULL without memory. */
static cond_entry *cond_entry_get(poll_slot *s)
{
    cond_entry *e;
    HASH_FIND_STR(s->p->conds, s->id, e);
    if (e) return e;
    size_t len = strlen(s->id);
    if (!(e = ex_calloc(1, sizeof *e + len + 1))) return NULL;
    memcpy(e->key, s->id, len + 1);
    HASH_ADD_STR(s->p->conds, key, e);
    return e;
}

/* Keep a 200's validators and body for the next poll, within the budget. */
static void cond_keep(poll_slot *s, const char *etag, const char *lastmod)
{
    struct wk_poller *p = s->p;
    if ((!etag && !lastmod) || p->cond_bytes + s->len > p->cfg.cond_cache_max) return;
    cond_entry *e = s->cond ? s->cond : (s->cond = cond_entry_get(s));
    if (!e) return;
    cond_url *u = cond_find(e, s->url);
    if (!u) {
        cond_url *arr = ex_realloc(e->urls, (e->n + 1) * sizeof *arr);
        if (!arr) return;
        e->urls = arr;
        u = &arr[e->n];
        memset(u, 0, sizeof *u);
        if (!(u->url = ex_strdup(s->url))) return;
        e->n++;
    }
    p->cond_bytes -= u->c.len;
    if (sr_cond_store(&u->c, etag, lastmod, s->body ? s->body : "", s->len) == 0) p->cond_bytes += u->c.len;
    ex_free(u->link);
    const char *link = header(s->easy, "Link");
    u->link = link ? ex_strdup(link) : NULL;
}

/* ---- transfers ---- */

/* Fetch `url` (owned, passed on) for request s->req. 0 or -1. */
static int fetch(poll_slot *s, char *url)
{
    const sr_request *rq = &prof(s)->requests[s->req];
    ex_free(s->url);
    s->url = url;
    curl_slist_free_all(s->req_headers);
    s->req_headers = NULL;
    struct curl_slist *h = NULL;
    for (struct curl_slist *g = s->p->cfg.source->headers; g; g = g->next)
        if (!(h = curl_slist_append(s->req_headers, g->data)) || !(s->req_headers = h)) return -1;
    char line[SR_VALUE_MAX + SR_NAME_MAX + 4];
    for (size_t i = 0; i < rq->nheaders; i++) {
        snprintf(line, sizeof line, "%s: %s", rq->headers[i].name, rq->headers[i].value);
        if (!(h = curl_slist_append(s->req_headers, line))) return -1;
        s->req_headers = h;
    }
    s->cond_now = cond_find(s->cond, url);
    char cl[2][SR_ETAG_MAX + 32];
    int nc = s->cond_now ? sr_cond_headers(&s->cond_now->c, cl, 2) : 0;
    for (int i = 0; i < nc; i++) {
        if (!(h = curl_slist_append(s->req_headers, cl[i]))) return -1;
        s->req_headers = h;
    }
    CURL *e = s->easy;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, s->req_headers);
    if (rq->method == SR_METHOD_POST) {
        char err[SR_ERR_LEN];
        char *body = rq->body ? sr_body_build(prof(s), rq->body, &s->key, err, sizeof err) : ex_strdup("");
        if (!body) return -1;
        curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, body);
        ex_free(body);
    } else {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    }
    s->len = 0;
    s->too_large = 0;
    s->err[0] = '\0';
    return wk_poller_transfer(s);
}

static int fetch_request(poll_slot *s)
{
    char err[SR_ERR_LEN];
    const sr_request *rq = &prof(s)->requests[s->req];
    char *url = sr_url_build(prof(s), rq->url, s->p->cfg.source->base_url, &s->key, err, sizeof err);
    s->page = 0;
    return url ? fetch(s, url) : -1;
}

void wk_pp_slot_reset(poll_slot *s)
{
    sr_jq_input_free(s->in);
    s->in = NULL;
    sr_key_free(&s->key);
    ex_free(s->url);
    s->url = NULL;
    curl_slist_free_all(s->req_headers);
    s->req_headers = NULL;
    s->cond = NULL;
    s->cond_now = NULL;
}

int wk_pp_start(poll_slot *s)
{
    char err[SR_ERR_LEN];
    if (sr_key_parse(prof(s), s->id, strlen(s->id), &s->key, err, sizeof err)) return -1;
    s->in = sr_jq_input_new(prof(s), &s->key, 0);
    HASH_FIND_STR(s->p->conds, s->id, s->cond);
    s->req = 0;
    s->fresh = 0;
    s->first_sent_ns = ex_clock_now(ex_clock_real());
    if (!s->in || fetch_request(s)) {
        wk_pp_slot_reset(s);
        return -1;
    }
    return 0;
}

/* ---- one transfer's end ---- */

static void feed_rate_limits(poll_slot *s, int64_t now)
{
    struct curl_header *h, *prev = NULL;
    while ((h = curl_easy_nextheader(s->easy, CURLH_HEADER, -1, prev))) {
        sr_ratelimit_header(&s->p->rl, h->name, h->value, strlen(h->value), now);
        prev = h;
    }
}

static void fail(poll_slot *s, wk_poll_result *r, wk_poll_error kind, const char *fmt, const char *a, long n)
{
    r->outcome = WK_POLL_FAILED;
    r->kind = kind;
    char msg[400];
    snprintf(msg, sizeof msg, fmt, a, n);
    snprintf(r->why, sizeof r->why, "%s %s: %s", prof(s)->requests[s->req].name, s->url ? s->url : "", msg);
}

/* The answer of this transfer as a body for the jq input: a 2xx's own,
 * or for a 304 the body kept with its validators. NULL: r says why. */
static const char *answer(poll_slot *s, CURLcode code, long status, size_t *len, wk_poll_result *r)
{
    if (code == CURLE_ABORTED_BY_CALLBACK) {
        r->outcome = WK_POLL_ABORTED;
        return NULL;
    }
    if (code == CURLE_WRITE_ERROR && s->too_large) {
        fail(s, r, WK_POLL_ERR_CONTRACT, "body larger than %s%ld bytes", "", (long)s->p->cfg.max_body);
        return NULL;
    }
    if (code != CURLE_OK) {
        fail(s, r, code == CURLE_OPERATION_TIMEDOUT ? WK_POLL_ERR_TIMEOUT : WK_POLL_ERR_CONNECT, "%s%.0ld",
             s->err[0] ? s->err : curl_easy_strerror(code), 0);
        return NULL;
    }
    if (status == 304 && s->cond_now && s->cond_now->c.body) {
        s->http_304 = 1;
        *len = s->cond_now->c.len;
        return s->cond_now->c.body;
    }
    if (status >= 200 && status < 300) {
        s->fresh = 1;
        cond_keep(s, header(s->easy, "ETag"), header(s->easy, "Last-Modified"));
        *len = s->len;
        return s->body ? s->body : "";
    }
    if (status == 404 && s->req == 0 && s->page == 0) {
        r->outcome = WK_POLL_NOT_FOUND;
        snprintf(r->why, sizeof r->why, "HTTP 404 for %s", s->url);
        return NULL;
    }
    char q[200];
    fail(s, r, status >= 500 && status <= 599 ? WK_POLL_ERR_HTTP_5XX : WK_POLL_ERR_HTTP_OTHER, "HTTP %.0s%ld", "",
         status);
    if (s->len) {
        size_t n = strlen(r->why);
        snprintf(r->why + n, sizeof r->why - n, ", body %s", wk_quote(s->body, s->len, 120, q, sizeof q));
    }
    r->retry_after_ns = wk_poll_retry_after(status, header(s->easy, "Retry-After"), ex_clock_now(ex_clock_real()));
    return NULL;
}

/* The next page of a paged request, or NULL. */
static char *next_page(poll_slot *s)
{
    const sr_request *rq = &prof(s)->requests[s->req];
    if (rq->paginate != SR_PAGINATE_LINK || s->page + 1 >= rq->max_pages) return NULL;
    const char *link = header(s->easy, "Link");
    if (!link && s->cond_now && s->http_304) link = s->cond_now->link; /* a 304 may not repeat it */
    char target[LINK_MAX];
    if (!link || sr_link_next(link, strlen(link), target, sizeof target) != 1) return NULL;
    return sr_url_resolve(s->url, target);
}

/* All answers are in: the map, then the snapshot. */
static void map_answers(poll_slot *s, wk_poll_result *r)
{
    r->sent_ns = s->first_sent_ns;
    if (!s->fresh) { /* every answer was 304: nothing changed since the last poll */
        r->outcome = WK_POLL_OK;
        r->unchanged = 1;
        return;
    }
    json_t *out = NULL;
    char err[SR_ERR_LEN + 64];
    sr_jq_error k = sr_jq_run(s->p->cfg.source->jq, s->in, &out, err, sizeof err);
    s->in = NULL; /* consumed */
    if (k != SR_JQ_OK) {
        r->outcome = WK_POLL_FAILED;
        r->kind = WK_POLL_ERR_MAP;
        r->map_error = (int)k;
        snprintf(r->why, sizeof r->why, "%.500s", err);
        return;
    }
    char why[400];
    if (mdl_snapshot_from_json(&s->p->tree, out, why, sizeof why)) {
        r->outcome = WK_POLL_FAILED;
        r->kind = WK_POLL_ERR_CONTRACT;
        snprintf(r->why, sizeof r->why, "%s: map output: %s", prof(s)->origin, why);
    } else {
        r->outcome = WK_POLL_OK;
        r->snap = &s->p->tree;
    }
    json_decref(out);
}

void wk_pp_done(poll_slot *s, CURLcode code)
{
    wk_poll_result r;
    memset(&r, 0, sizeof r);
    r.retry_after_ns = r.date_ns = -1;
    long status = 0;
    int64_t now = ex_clock_now(ex_clock_real());
    curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
    r.http_status = status;
    if (status > 0) {
        feed_rate_limits(s, now);
        r.date_ns = wk_poll_http_date(header(s->easy, "Date"));
    }
    size_t len = 0;
    s->http_304 = 0;
    const char *body = answer(s, code, status, &len, &r);
    if (!body) {
        wk_poller_finish(s, &r);
        return;
    }
    char err[SR_ERR_LEN];
    sr_jq_error k = sr_jq_input_add(s->in, prof(s)->requests[s->req].name, body, len, err, sizeof err);
    if (k != SR_JQ_OK) {
        fail(s, &r, k == SR_JQ_ERR_INPUT ? WK_POLL_ERR_JSON : WK_POLL_ERR_CONTRACT, "%s%.0ld", err, 0);
        wk_poller_finish(s, &r);
        return;
    }
    char *next = next_page(s);
    if (next) {
        s->page++;
        if (fetch(s, next) == 0) return;
    } else if (++s->req < prof(s)->nrequests) {
        if (fetch_request(s) == 0) return;
    } else {
        map_answers(s, &r);
        wk_poller_finish(s, &r);
        return;
    }
    fail(s, &r, WK_POLL_ERR_CONNECT, "could not start the request%s%.0ld", "", 0);
    wk_poller_finish(s, &r);
}
