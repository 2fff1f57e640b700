/* live_poll.c — polling the workers' live APIs on the query thread's
 * loop (live.h): every interval each worker's list, and the events of the
 * workflows someone looked at lately. libcurl's multi interface on the
 * loop (net/curl_uv.h): a slow or dead worker never blocks a query. */
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/mem.h"
#include "net/curl_uv.h"
#include "store/live.h"

#define LOG "live"
#define CONNECT_TIMEOUT_MS 1000L

/* One reusable GET with a bounded body. */
typedef struct fetch {
    CURL *easy;
    char *body;
    size_t len, cap;
    int too_big, busy;
    char errbuf[CURL_ERROR_SIZE];
} fetch;

/* A workflow whose events are fetched. */
typedef struct watch {
    char *key, *source;   /* owned; key NULL: slot free */
    size_t worker;        /* index of the worker that lists it */
    int64_t asked_ns;     /* last asked for (wall) */
    int64_t fetched_ns;   /* events' fetch time (0: none yet) */
    json_t *events;       /* owned */
    fetch f;
    slv *lv;
} watch;

/* Which worker a list fetch is for. */
typedef struct list_ctx {
    slv *lv;
    size_t i;
} list_ctx;

struct slv {
    uv_loop_t *loop;
    ex_curl_loop *curl;
    uv_timer_t timer;
    int64_t interval_ns;
    long timeout_ms;
    slv_worker workers[SLV_MAX_WORKERS];
    fetch lists[SLV_MAX_WORKERS];
    list_ctx ctx[SLV_MAX_WORKERS];
    size_t n;
    watch watches[SLV_MAX_WATCH];
    int stopping;
};

static size_t write_cb(char *data, size_t size, size_t nmemb, void *arg)
{
    fetch *f = arg;
    return ex_curl_append(&f->body, &f->len, &f->cap, SLV_MAX_BODY, &f->too_big, data, size * nmemb);
}

/* Start GET url on f; done(easy, result, arg) when it ends. 0 or -1. */
static int fetch_get(slv *lv, fetch *f, const char *url, ex_curl_done_cb done, void *arg)
{
    if (f->busy || (!f->easy && !(f->easy = curl_easy_init()))) return -1;
    f->len = 0;
    f->too_big = 0;
    f->errbuf[0] = '\0';
    CURL *e = f->easy;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, f);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, f->errbuf);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, lv->timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    f->busy = 1;
    if (ex_curl_loop_add(lv->curl, e, done, arg) != 0) {
        f->busy = 0;
        return -1;
    }
    return 0;
}

/* libcurl's reason for a failed transfer of f, or NULL when an answer came. */
static const char *fetch_error(fetch *f, CURLcode result)
{
    if (f->too_big) snprintf(f->errbuf, sizeof f->errbuf, "the answer is larger than %u bytes", SLV_MAX_BODY);
    else if (result == CURLE_OK) return NULL;
    else if (!f->errbuf[0]) snprintf(f->errbuf, sizeof f->errbuf, "%s", curl_easy_strerror(result));
    long os = 0;
    size_t len = strlen(f->errbuf);
    /* curl 7.88 says "Couldn't connect to server": add the system's reason (Connection refused). */
    if (result == CURLE_COULDNT_CONNECT && curl_easy_getinfo(f->easy, CURLINFO_OS_ERRNO, &os) == CURLE_OK && os &&
        len + 4 < sizeof f->errbuf)
        snprintf(f->errbuf + len, sizeof f->errbuf - len, " (%s)", strerror((int)os));
    return f->errbuf;
}

static void fetch_free(fetch *f)
{
    if (f->easy) curl_easy_cleanup(f->easy);
    ex_free(f->body);
    memset(f, 0, sizeof *f);
}

/* ---- lists ----------------------------------------------------------------- */

static void list_done(CURL *easy, CURLcode result, void *arg)
{
    list_ctx *c = arg;
    slv *lv = c->lv;
    fetch *f = &lv->lists[c->i];
    slv_worker *w = &lv->workers[c->i];
    f->busy = 0;
    if (lv->stopping) return;
    long status = 0;
    const char *err = fetch_error(f, result);
    if (!err) curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    int was = w->answered || !w->polled;
    slv_worker_update(w, err, status, f->body ? f->body : "", f->len, ex_clock_now(ex_clock_real()));
    if (was && !w->answered) ex_warn(LOG, "%s", w->error);
    else if (!was && w->answered) ex_info(LOG, "worker %s answers again: %lld in flight", w->url, (long long)w->in_flight);
}

static void poll_lists(slv *lv)
{
    char url[SLV_URL_MAX + 64];
    for (size_t i = 0; i < lv->n; i++) {
        if (lv->lists[i].busy) continue; /* a slow worker: its last poll still runs */
        snprintf(url, sizeof url, "%s/api/workflows?limit=%d", lv->workers[i].url, SLV_PAGE);
        if (fetch_get(lv, &lv->lists[i], url, list_done, &lv->ctx[i]) != 0)
            ex_warn(LOG, "worker %s: cannot start a poll (out of memory?)", lv->workers[i].url);
    }
}

/* ---- events of watched workflows --------------------------------------------- */

static void watch_release(watch *wa)
{
    ex_free(wa->key);
    ex_free(wa->source);
    json_decref(wa->events);
    wa->key = wa->source = NULL;
    wa->events = NULL;
    wa->fetched_ns = 0;
}

static void watch_done(CURL *easy, CURLcode result, void *arg)
{
    watch *wa = arg;
    wa->f.busy = 0;
    if (wa->lv->stopping || !wa->key) return;
    long status = 0;
    const char *err = fetch_error(&wa->f, result);
    if (!err) curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    if (err || status != 200) {
        /* Ended meanwhile (404) or the worker is away: the list says which. */
        ex_debug(LOG, "events of %s: %s (HTTP %ld)", wa->key, err ? err : "no events", status);
        return;
    }
    char why[300];
    json_t *events = slv_detail_events(wa->f.body ? wa->f.body : "", wa->f.len, why, sizeof why);
    if (!events) {
        ex_warn(LOG, "worker %s: GET /api/workflows/%s: %s", wa->lv->workers[wa->worker].url, wa->key, why);
        return;
    }
    json_decref(wa->events);
    wa->events = events;
    wa->fetched_ns = ex_clock_now(ex_clock_real());
}

/* Start the events fetch of wa. */
static void watch_fetch(slv *lv, watch *wa)
{
    if (wa->f.busy) return;
    if (!wa->f.easy && !(wa->f.easy = curl_easy_init())) return;
    char *key = curl_easy_escape(wa->f.easy, wa->key, 0);
    char *src = wa->source ? curl_easy_escape(wa->f.easy, wa->source, 0) : NULL;
    size_t len = strlen(lv->workers[wa->worker].url) + (key ? strlen(key) : 0) + (src ? strlen(src) : 0) + 40;
    char *url = ex_malloc(len);
    if (url && key) {
        snprintf(url, len, "%s/api/workflows/%s%s%s", lv->workers[wa->worker].url, key, src ? "?source=" : "",
                 src ? src : "");
        fetch_get(lv, &wa->f, url, watch_done, wa);
    }
    ex_free(url);
    curl_free(key);
    curl_free(src);
}

static void poll_watches(slv *lv, int64_t now)
{
    for (size_t i = 0; i < SLV_MAX_WATCH; i++) {
        watch *wa = &lv->watches[i];
        if (!wa->key) continue;
        if (now - wa->asked_ns > SLV_WATCH_NS) watch_release(wa);
        else watch_fetch(lv, wa);
    }
}

static int same(const char *a, const char *b) { return (!a && !b) || (a && b && strcmp(a, b) == 0); }

json_t *slv_watch(slv *lv, const char *key, const char *source, size_t worker, int64_t *fetched_ns)
{
    int64_t now = ex_clock_now(ex_clock_real());
    watch *free_slot = NULL, *oldest = NULL;
    if (source && !*source) source = NULL;
    for (size_t i = 0; i < SLV_MAX_WATCH; i++) {
        watch *wa = &lv->watches[i];
        if (wa->key && strcmp(wa->key, key) == 0 && same(wa->source, source) && wa->worker == worker) {
            wa->asked_ns = now;
            *fetched_ns = wa->fetched_ns;
            return wa->events;
        }
        if (!wa->key && !wa->f.busy && !free_slot) free_slot = wa;
        if (wa->key && !wa->f.busy && (!oldest || wa->asked_ns < oldest->asked_ns)) oldest = wa;
    }
    watch *wa = free_slot ? free_slot : oldest;
    *fetched_ns = 0;
    if (!wa) return NULL;
    watch_release(wa);
    wa->key = ex_strdup(key);
    wa->source = source ? ex_strdup(source) : NULL;
    if (!wa->key || (source && !wa->source)) {
        watch_release(wa);
        return NULL;
    }
    wa->worker = worker;
    wa->asked_ns = now;
    watch_fetch(lv, wa); /* now, not at the next tick: the page asks again in a second */
    return NULL;
}

/* ---- lifecycle ------------------------------------------------------------------ */

static void tick(uv_timer_t *t)
{
    slv *lv = t->data;
    poll_lists(lv);
    poll_watches(lv, ex_clock_now(ex_clock_real()));
}

slv *slv_start(uv_loop_t *loop, const char *csv, int64_t interval_ns, char *err, size_t errlen)
{
    char urls[SLV_MAX_WORKERS][SLV_URL_MAX]; /* 8 KiB */
    size_t n;
    if (slv_urls_parse(csv, urls, SLV_MAX_WORKERS, &n, err, errlen) != 0) return NULL;
    slv *lv = ex_calloc(1, sizeof *lv);
    if (!lv || !(lv->curl = ex_curl_loop_new(loop))) {
        ex_free(lv);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    lv->loop = loop;
    lv->n = n;
    lv->interval_ns = interval_ns;
    /* A poll may take up to two intervals (at least 2 s) before it counts as no answer. */
    lv->timeout_ms = (long)(interval_ns / EX_NS_PER_MS) * 2;
    if (lv->timeout_ms < 2000) lv->timeout_ms = 2000;
    for (size_t i = 0; i < n; i++) {
        snprintf(lv->workers[i].url, sizeof lv->workers[i].url, "%s", urls[i]);
        lv->ctx[i] = (list_ctx){lv, i};
    }
    for (size_t i = 0; i < SLV_MAX_WATCH; i++) lv->watches[i].lv = lv;
    uv_timer_init(loop, &lv->timer);
    lv->timer.data = lv;
    uint64_t ms = (uint64_t)(interval_ns / EX_NS_PER_MS);
    uv_timer_start(&lv->timer, tick, 0, ms ? ms : 1);
    return lv;
}

const slv_worker *slv_workers(const slv *lv, size_t *n)
{
    *n = lv->n;
    return lv->workers;
}

static void closed(uv_handle_t *h)
{
    slv *lv = h->data;
    for (size_t i = 0; i < lv->n; i++) {
        fetch_free(&lv->lists[i]);
        slv_worker_clear(&lv->workers[i]);
    }
    for (size_t i = 0; i < SLV_MAX_WATCH; i++) {
        watch_release(&lv->watches[i]);
        fetch_free(&lv->watches[i].f);
    }
    ex_free(lv);
}

void slv_stop(slv *lv)
{
    if (!lv) return;
    lv->stopping = 1;
    ex_curl_loop_destroy(lv->curl); /* the transfers end: their callbacks see `stopping` */
    lv->curl = NULL;
    uv_timer_stop(&lv->timer);
    uv_close((uv_handle_t *)&lv->timer, closed);
}
