#include "worker/poller.h"
#include "worker/poller_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

#include "core/clock.h"
#include "core/duration.h"
#include "core/iso8601.h"
#include "core/log.h"
#include "core/mem.h"
#include "net/curl_uv.h"
#include "net/h1_uv.h"
#include "otel/retry.h"
#include "worker/event.h"
#include "worker/seed_tree.h"
#include "worker/source_rt.h"

#define BODY_INITIAL  4096
#define BODY_KEEP_MAX (64 * 1024) /* a slot's buffer is shrunk back after a larger answer */
#define EXCERPT_MAX   120         /* bytes of a body quoted in a message */

static size_t write_cb(char *data, size_t size, size_t n, void *userp)
{
    poll_slot *s = userp;
    size_t len = size * n;
    size_t max = s->p->cfg.max_body;
    if (s->len + len > max) {
        s->too_large = 1;
        return 0; /* makes curl stop with CURLE_WRITE_ERROR */
    }
    if (s->len + len + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : BODY_INITIAL;
        while (cap < s->len + len + 1) cap *= 2;
        char *b = ex_realloc(s->body, cap);
        if (!b) return 0;
        s->body = b;
        s->cap = cap;
    }
    memcpy(s->body + s->len, data, len);
    s->len += len;
    s->body[s->len] = '\0';
    return len;
}

/* curl is about to send the request (connection made): stamp it. A
 * retried request (a reused connection that had closed) stamps again, so
 * the stamp is the last send, still before the answer was made. */
static int prereq_cb(void *userp, char *conn_primary_ip, char *conn_local_ip, int conn_primary_port,
                     int conn_local_port)
{
    (void)conn_primary_ip;
    (void)conn_local_ip;
    (void)conn_primary_port;
    (void)conn_local_port;
    poll_slot *s = userp;
    s->sent_ns = ex_clock_now(ex_clock_real());
    return CURL_PREREQFUNC_OK;
}

static poll_slot *slot_new(wk_poller *p)
{
    poll_slot *s = ex_calloc(1, sizeof *s);
    if (!s) return NULL;
    s->p = p;
    if (p->h1) return s; /* the HTTP/1.1 client needs no easy handle */
    s->easy = curl_easy_init();
    if (!s->easy) {
        ex_free(s);
        return NULL;
    }
    long timeout_ms = (long)(p->cfg.timeout_ns / EX_NS_PER_MS);
    if (timeout_ms < 1) timeout_ms = 1;
    CURL *e = s->easy;
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, p->headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, s->err);
    curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, prereq_cb);
    curl_easy_setopt(e, CURLOPT_PREREQDATA, s);
    curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    return s;
}

static void slot_free(poll_slot *s)
{
    if (!s) return;
    wk_pp_slot_reset(s);
    if (s->easy) curl_easy_cleanup(s->easy);
    ex_h1_call_free(&s->call);
    ex_free(s->h1_req);
    ex_free(s->body);
    ex_free(s);
}

/* ---- the HTTP/1.1 client (docs/worker.md#the-request-path) ---- */

static const char *env_get(const char *name) { return getenv(name); }

static int is_profile(const wk_poller *p);

/* The seed's polls of a plain http:// API, with no proxy variable that
 * libcurl would apply, go over net/h1_uv: the request bytes are built
 * here once, around the workflow id. 1 when set up, 0 when libcurl keeps
 * the polls, -1 without memory. */
static int h1_setup(wk_poller *p, uv_loop_t *loop)
{
    ex_h1_target t;
    char host[EX_H1_HOST_MAX + 16];
    if (is_profile(p) || ex_h1_target_parse(p->base, &t) != 0 || ex_h1_host_header(&t, host, sizeof host) < 0)
        return 0;
    if (ex_h1_proxy_env(env_get)) {
        ex_info("poll", "GET %s/workflows/<id> over libcurl: a proxy variable is set", p->base);
        return 0;
    }
    size_t plen = strlen(t.path);
    char *target = ex_malloc(plen + sizeof "/workflows/");
    if (!target) return -1;
    memcpy(target, t.path, plen);
    memcpy(target + plen, "/workflows/", sizeof "/workflows/");
    const char *lines[] = {"Accept: application/json", "User-Agent: extrace-worker/" EXTRACE_VERSION};
    size_t cap = 0;
    long n = ex_h1_request(&p->req_head, &cap, "GET", target, host, lines, 2, NULL, 0);
    ex_free(target);
    char *tail = n > 0 ? strstr(p->req_head, " HTTP/1.1\r\n") : NULL;
    if (!tail) return -1;
    p->head_len = (size_t)(tail - p->req_head);
    p->req_tail = tail;
    p->tail_len = (size_t)n - p->head_len;
    int depth = p->cfg.pipeline_depth < 1 ? 1 : p->cfg.pipeline_depth;
    if (!(p->h1 = ex_h1_pool_new(loop, &t, p->cfg.max_concurrent, depth))) return -1;
    ex_h1_pool_pace(p->h1, (uint64_t)p->cfg.batch_window_ns);
    char piped[64] = "", paced[112] = "", win[EX_DURATION_STR_MAX];
    if (depth > 1) snprintf(piped, sizeof piped, "; up to %d requests pipelined on one", depth);
    if (p->cfg.batch_window_ns > 0)
        snprintf(paced, sizeof paced, "; with %d or more in flight, turns of the loop of at least %s", EX_H1_PACE_MIN,
                 ex_duration_format(p->cfg.batch_window_ns, win));
    ex_info("poll", "GET %s/workflows/<id> over the HTTP/1.1 client (kept-alive connections, at most %d%s%s)", p->base,
            p->cfg.max_concurrent, piped, paced);
    return 1;
}

static int h1_body(void *arg, const char *data, size_t n)
{
    return write_cb((char *)data, 1, n, arg) == n ? 0 : -1;
}

static void h1_done(ex_h1_call *c, CURLcode code, const char *err)
{
    poll_slot *s = c->arg;
    wk_poller *p = s->p;
    wk_poll_result r;
    long status = c->resp.headers_done ? c->resp.status : 0;
    wk_poll_classify_doc(code, err, status, s->body ? s->body : "", s->len, s->too_large, p->cfg.max_body, s->id,
                         p->cfg.parse_flags, s->doc_hash, &p->snap, &p->tree, &r);
    if (status > 0) r.date_ns = wk_poll_http_date(ex_h1_resp_header(&c->resp, "Date"));
    if (status == 429 || status == 503)
        r.retry_after_ns =
            wk_poll_retry_after(status, ex_h1_resp_header(&c->resp, "Retry-After"), ex_clock_now(ex_clock_real()));
    wk_poller_finish(s, &r);
}

/* Send GET …/workflows/<id> for slot s. 0 or -1. */
static int h1_start(poll_slot *s, const char *id, size_t idlen)
{
    wk_poller *p = s->p;
    size_t need = p->head_len + idlen + p->tail_len;
    if (need > s->h1_req_cap) {
        char *b = ex_realloc(s->h1_req, need);
        if (!b) return -1;
        s->h1_req = b;
        s->h1_req_cap = need;
    }
    memcpy(s->h1_req, p->req_head, p->head_len);
    memcpy(s->h1_req + p->head_len, id, idlen);
    memcpy(s->h1_req + p->head_len + idlen, p->req_tail, p->tail_len);
    ex_h1_call *c = &s->call;
    int64_t ms = p->cfg.timeout_ns / EX_NS_PER_MS;
    c->req = s->h1_req;
    c->req_len = need;
    c->timeout_ms = (uint64_t)(ms < 1 ? 1 : ms);
    c->body_cb = h1_body;
    c->arg = s;
    c->done = h1_done;
    c->sent_ns = &s->sent_ns;
    return ex_h1_start(p->h1, c);
}

wk_poller *wk_poller_new(uv_loop_t *loop, const wk_poller_config *cfg, wk_poll_cb cb, void *arg, char *err,
                         size_t errlen)
{
    wk_poller *p = ex_calloc(1, sizeof *p);
    if (!p) goto nomem;
    p->cfg = *cfg;
    mdl_snapshot_init(&p->tree);
    sr_ratelimit_init(&p->rl);
    p->cb = cb;
    p->arg = arg;
    p->base_len = strlen(cfg->api_url);
    while (p->base_len > 0 && cfg->api_url[p->base_len - 1] == '/') p->base_len--;
    p->base = ex_strndup(cfg->api_url, p->base_len);
    p->url = ex_malloc(p->base_len + sizeof "/workflows/" + WM_ID_MAX);
    p->slots = ex_calloc((size_t)cfg->max_concurrent, sizeof *p->slots);
    if (!p->base || !p->url || !p->slots) goto nomem;
    p->cfg.api_url = p->base;
    struct curl_slist *h = curl_slist_append(NULL, "Accept: application/json");
    if (h) p->headers = h;
    if (!h || !(h = curl_slist_append(p->headers, "User-Agent: extrace-worker/" EXTRACE_VERSION))) goto nomem;
    int h1 = h1_setup(p, loop);
    if (h1 < 0) goto nomem;
    if (h1) return p;
    p->curl = ex_curl_loop_new(loop);
    if (!p->curl) goto nomem;
    /* Keep one idle connection per possible poll, so keep-alive holds at full load. */
    curl_multi_setopt(ex_curl_loop_multi(p->curl), CURLMOPT_MAXCONNECTS, (long)cfg->max_concurrent);
    return p;
nomem:
    snprintf(err, errlen, "out of memory creating the poller");
    wk_poller_destroy(p);
    return NULL;
}

int wk_poller_has_slot(const wk_poller *p) { return !p->closing && p->active < p->cfg.max_concurrent; }

int wk_poller_active(const wk_poller *p) { return p->active; }

/* A free slot, making one if the pool is not full yet; NULL if none. */
static poll_slot *take_slot(wk_poller *p)
{
    poll_slot *s = p->free_slots;
    if (s) {
        p->free_slots = s->next_free;
        return s;
    }
    if (p->nslots >= p->cfg.max_concurrent) return NULL;
    s = slot_new(p);
    if (s) p->slots[p->nslots++] = s;
    return s;
}

static void give_back(wk_poller *p, poll_slot *s)
{
    wk_pp_slot_reset(s);
    if (s->cap > BODY_KEEP_MAX) {
        ex_free(s->body);
        s->body = NULL;
        s->cap = 0;
    }
    s->next_free = p->free_slots;
    p->free_slots = s;
}

static int is_profile(const wk_poller *p) { return p->cfg.source && !wk_source_is_seed(p->cfg.source); }

void wk_poller_finish(poll_slot *s, wk_poll_result *r)
{
    wk_poller *p = s->p;
    int64_t received = ex_clock_now(ex_clock_real());
    r->seconds = (double)(ex_mono_ns() - s->started_ns) / 1e9;
    if (r->sent_ns == 0) r->sent_ns = s->sent_ns;
    if (r->sent_ns > received) r->sent_ns = received;
    r->received_ns = received;
    sr_pace_reason why = SR_PACE_NONE;
    sr_pace_policy pol = sr_pace_default();
    r->pause_ns = is_profile(p) ? sr_ratelimit_pause(&p->rl, received, &pol, &why) : 0;
    r->pause_reason = (int)why;
    void *tag = s->tag;
    p->active--;
    /* The slot is free before the callback, which may start the next poll. */
    give_back(p, s);
    p->cb(p->arg, tag, r);
}

static void done_cb(CURL *easy, CURLcode code, void *arg)
{
    poll_slot *s = arg;
    wk_poller *p = s->p;
    if (is_profile(p)) {
        wk_pp_done(s, code);
        return;
    }
    wk_poll_result r;
    long status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    wk_poll_classify_doc(code, s->err, status, s->body ? s->body : "", s->len, s->too_large, p->cfg.max_body, s->id,
                         p->cfg.parse_flags, s->doc_hash, &p->snap, &p->tree, &r);
    struct curl_header *h = NULL;
    if (status > 0 && curl_easy_header(easy, "Date", 0, CURLH_HEADER, -1, &h) == CURLHE_OK)
        r.date_ns = wk_poll_http_date(h->value);
    h = NULL;
    if ((status == 429 || status == 503) &&
        curl_easy_header(easy, "Retry-After", 0, CURLH_HEADER, -1, &h) == CURLHE_OK)
        r.retry_after_ns = wk_poll_retry_after(status, h->value, ex_clock_now(ex_clock_real()));
    wk_poller_finish(s, &r);
}

int wk_poller_transfer(poll_slot *s) { return ex_curl_loop_add(s->p->curl, s->easy, done_cb, s); }

int wk_poller_start(wk_poller *p, const char *workflow_id, uint64_t doc_hash, void *tag)
{
    size_t idlen = strlen(workflow_id);
    if (p->closing || p->active >= p->cfg.max_concurrent || idlen > (is_profile(p) ? WK_KEY_MAX : WM_ID_MAX))
        return -1;
    poll_slot *s = take_slot(p);
    if (!s) return -1;
    memcpy(s->id, workflow_id, idlen + 1);
    s->tag = tag;
    s->doc_hash = doc_hash;
    s->len = 0;
    s->too_large = 0;
    s->err[0] = '\0';
    s->started_ns = ex_mono_ns();
    s->sent_ns = ex_clock_now(ex_clock_real());
    if (is_profile(p)) {
        if (wk_pp_start(s) != 0) {
            give_back(p, s);
            return -1;
        }
        p->active++;
        return 0;
    }
    if (p->h1) {
        if (h1_start(s, workflow_id, idlen) != 0) {
            give_back(p, s);
            return -1;
        }
        p->active++;
        return 0;
    }
    memcpy(p->url, p->base, p->base_len);
    memcpy(p->url + p->base_len, "/workflows/", 11);
    memcpy(p->url + p->base_len + 11, workflow_id, idlen + 1);
    if (curl_easy_setopt(s->easy, CURLOPT_URL, p->url) != CURLE_OK || wk_poller_transfer(s) != 0) {
        give_back(p, s);
        return -1;
    }
    p->active++;
    return 0;
}

void wk_poller_forget(wk_poller *p, const char *key)
{
    if (p) wk_pp_forget(p, key);
}

void wk_poller_destroy(wk_poller *p)
{
    if (!p) return;
    p->closing = 1;
    /* Aborts the running polls: done_cb reports each as ABORTED. */
    if (p->h1) {
        ex_h1_stats st;
        ex_h1_pool_stats(p->h1, &st);
        ex_debug("poll",
                 "HTTP/1.1 client: %llu connections opened, %llu requests on kept-alive ones, %llu pipelined, %llu "
                 "writes, %llu sent again, %llu turns of the loop paced",
                 (unsigned long long)st.opened, (unsigned long long)st.reused, (unsigned long long)st.pipelined,
                 (unsigned long long)st.writes, (unsigned long long)st.resent,
                 (unsigned long long)st.paced);
        ex_h1_pool_destroy(p->h1);
    }
    if (p->curl) ex_curl_loop_destroy(p->curl);
    for (int i = 0; i < p->nslots; i++) slot_free(p->slots[i]);
    wk_pp_clear(p);
    ex_free(p->slots);
    curl_slist_free_all(p->headers);
    ex_free(p->req_head);
    ex_free(p->base);
    ex_free(p->url);
    mdl_snapshot_clear(&p->tree);
    ex_free(p->tree.nodes);
    ex_free(p);
}

/* "HTTP <status>" plus a quoted excerpt of the body, if any. */
static void status_why(wk_poll_result *r, long status, const char *body, size_t len)
{
    char q[EXCERPT_MAX * 4 + 48];
    if (len) snprintf(r->why, sizeof r->why, "HTTP %ld, body %s", status, wk_quote(body, len, EXCERPT_MAX, q, sizeof q));
    else snprintf(r->why, sizeof r->why, "HTTP %ld with an empty body", status);
}

int64_t wk_poll_retry_after(long status, const char *value, int64_t now_ns)
{
    int64_t d;
    if ((status != 429 && status != 503) || !value) return -1;
    return exo_retry_after_parse(value, now_ns, &d) == 0 ? d : -1;
}

static int two_digits(const char *p) { return isdigit((unsigned char)p[0]) && isdigit((unsigned char)p[1]) ? (p[0] - '0') * 10 + (p[1] - '0') : -1; }

/* "Sun, 06 Nov 1994 08:49:37 GMT", the IMF-fixdate every current server
 * sends, read without curl_getdate's sscanf calls (one per poll). -2 when
 * v is not exactly that form, or names a day the month does not have:
 * curl_getdate decides then. */
static int64_t imf_fixdate(const char *v)
{
    static const char days[] = "MonTueWedThuFriSatSun", months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (strlen(v) != 29 || memcmp(v + 3, ", ", 2) != 0 || v[7] != ' ' || v[11] != ' ' || v[16] != ' ' ||
        v[19] != ':' || v[22] != ':' || memcmp(v + 25, " GMT", 4) != 0)
        return -2;
    int wd = 0, mo = 0;
    while (wd < 7 && memcmp(days + 3 * wd, v, 3) != 0) wd++;
    while (mo < 12 && memcmp(months + 3 * mo, v + 8, 3) != 0) mo++;
    int d = two_digits(v + 5), y1 = two_digits(v + 12), y2 = two_digits(v + 14);
    int h = two_digits(v + 17), mi = two_digits(v + 20), sec = two_digits(v + 23);
    if (wd == 7 || mo == 12 || d < 1 || d > mdays[mo] || y1 < 0 || y2 < 0 || h < 0 || h > 23 || mi < 0 ||
        mi > 59 || sec < 0 || sec > 59)
        return -2;
    int y = y1 * 100 + y2;
    if (y < 1970 || (mo == 1 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))) return -2;
    int64_t secs = ex_days_from_civil(y, mo + 1, d) * 86400 + h * 3600 + mi * 60 + sec;
    return secs > INT64_MAX / EX_NS_PER_SEC ? -1 : secs * EX_NS_PER_SEC; /* after 2262: not in ns */
}

int64_t wk_poll_http_date(const char *value)
{
    if (!value) return -1;
    while (*value == ' ' || *value == '\t') value++;
    int64_t fast = imf_fixdate(value);
    if (fast != -2) return fast;
    /* An HTTP-date starts with a weekday; curl's lenient parser would
     * otherwise read bare numbers as dates. */
    if (!isalpha((unsigned char)*value)) return -1;
    time_t t = curl_getdate(value, NULL);
    return t == (time_t)-1 || t < 0 || (int64_t)t > INT64_MAX / EX_NS_PER_SEC ? -1 : (int64_t)t * EX_NS_PER_SEC;
}

void wk_poll_classify(CURLcode code, const char *curl_err, long status, const char *body, size_t len,
                      int too_large, size_t max_body, const char *workflow_id, unsigned flags, wm_snapshot *snap,
                      mdl_snapshot *tree, wk_poll_result *r)
{
    memset(r, 0, sizeof *r);
    r->http_status = status;
    r->retry_after_ns = -1;
    r->date_ns = -1;
    r->outcome = WK_POLL_FAILED;
    if (code == CURLE_ABORTED_BY_CALLBACK) {
        r->outcome = WK_POLL_ABORTED;
        snprintf(r->why, sizeof r->why, "aborted");
    } else if (code == CURLE_WRITE_ERROR && too_large) {
        r->kind = WK_POLL_ERR_CONTRACT;
        snprintf(r->why, sizeof r->why, "HTTP %ld, body larger than %zu bytes", status, max_body);
    } else if (code == CURLE_OPERATION_TIMEDOUT) {
        r->kind = WK_POLL_ERR_TIMEOUT;
        snprintf(r->why, sizeof r->why, "%s", curl_err && *curl_err ? curl_err : curl_easy_strerror(code));
    } else if (code != CURLE_OK) {
        r->kind = WK_POLL_ERR_CONNECT;
        snprintf(r->why, sizeof r->why, "%s", curl_err && *curl_err ? curl_err : curl_easy_strerror(code));
    } else if (status == 200) {
        char why[400] = "";
        int rc = wm_snapshot_parse_flags(body, len, workflow_id, flags, snap, why, sizeof why);
        if (rc == 0 && wm_snapshot_to_tree(snap, tree) != 0) {
            r->kind = WK_POLL_ERR_CONTRACT;
            snprintf(r->why, sizeof r->why, "HTTP 200, out of memory reading the answer");
        } else if (rc == 0) {
            r->outcome = WK_POLL_OK;
            r->snap = tree;
        } else {
            r->kind = rc == WM_ERR_JSON ? WK_POLL_ERR_JSON : WK_POLL_ERR_CONTRACT;
            snprintf(r->why, sizeof r->why, "HTTP 200, %s", why);
        }
    } else if (status == 404) {
        r->outcome = WK_POLL_NOT_FOUND;
        status_why(r, status, body, len);
    } else {
        r->kind = status >= 500 && status <= 599 ? WK_POLL_ERR_HTTP_5XX : WK_POLL_ERR_HTTP_OTHER;
        status_why(r, status, body, len);
    }
}

void wk_poll_classify_doc(CURLcode code, const char *curl_err, long status, const char *body, size_t len,
                          int too_large, size_t max_body, const char *workflow_id, unsigned flags, uint64_t doc_hash,
                          wm_snapshot *snap, mdl_snapshot *tree, wk_poll_result *r)
{
    uint64_t h = code == CURLE_OK && status == 200 ? XXH3_64bits(body, len) : 0;
    if (h != 0 && h == doc_hash) {
        memset(r, 0, sizeof *r);
        r->outcome = WK_POLL_OK;
        r->http_status = status;
        r->retry_after_ns = r->date_ns = -1;
        r->unchanged = r->same_doc = 1;
        return;
    }
    wk_poll_classify(code, curl_err, status, body, len, too_large, max_body, workflow_id, flags, snap, tree, r);
    if (r->outcome == WK_POLL_OK) r->doc_hash = h;
}
