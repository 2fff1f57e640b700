#include "worker/discover.h"

#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/iso8601.h"
#include "core/log.h"
#include "core/mem.h"
#include "net/curl_uv.h"
#include "source/discover.h"
#include "worker/hwm.h"
#include "worker/webhook.h"
#include "worker/worker_int.h"

#define BODY_MAX (32u * 1024 * 1024)

/* Why a listing failed (label kind of extrace_discovery_errors_total). */
enum { DE_HTTP, DE_MAP, DE_REDIS, DE_N };
static const char *const de_names[DE_N] = {"http", "map", "redis"};

struct wk_disc {
    wk_worker *w;
    const sr_profile *p;
    sr_jq *jq;
    sr_key scope;
    char prefix[600];             /* extrace:discover:<source>:<scope> */
    wk_hwm hwm;
    int64_t interval_ns;
    uv_timer_t timer;
    ex_curl_loop *curl;
    CURL *easy;
    char *url;                    /* of the page being fetched */
    char *body;                   /* its answer so far */
    size_t len, cap;
    int too_large;
    char *vars[SR_DISC_VARS_MAX]; /* this page's variables (NULL: the start values) */
    int page;                     /* pages fetched in this listing */
    int hwm_loaded;               /* stream mode: the mark was read from Redis */
    int listing;                  /* a listing runs */
    unsigned inflight;            /* stream mode: adds awaiting Redis */
    int failed;                   /* this listing: a key could not be recorded (no commit) */
    int stopping;
    uint64_t polls, found, added_elsewhere, errors[DE_N];
    int64_t last_warn;            /* mono ns of the last warning */
};

static void schedule(wk_disc *d, int64_t after_ns);

static void warn(wk_disc *d, int kind, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void warn(wk_disc *d, int kind, const char *fmt, ...)
{
    char msg[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    d->errors[kind]++;
    int64_t now = ex_mono_ns();
    if (d->last_warn && now - d->last_warn < 60 * EX_NS_PER_SEC) {
        ex_debug("discover", "%s", msg);
        return;
    }
    d->last_warn = now;
    ex_warn("discover", "%s (further failures within a minute are logged at debug)", msg);
}

static void clear_vars(wk_disc *d)
{
    for (size_t i = 0; i < SR_DISC_VARS_MAX; i++) {
        ex_free(d->vars[i]);
        d->vars[i] = NULL;
    }
}

/* ---- the end of a listing ---- */

static void hwm_saved(void *tag, const redisReply *r, const char *err)
{
    wk_disc *d = tag;
    if (!r) warn(d, DE_REDIS, "saving the high-water mark %s:hwm failed: %s", d->prefix, err ? err : "?");
}

/* Every key of the listing is recorded: move the mark (in Redis too). */
static void listing_done(wk_disc *d)
{
    d->listing = 0;
    if (d->failed) {
        ex_debug("discover", "listing incomplete: the high-water mark stays at %" PRId64, d->hwm.mark_ns);
    } else {
        int64_t mark = wk_hwm_commit(&d->hwm);
        if (d->w->stream) {
            static const char script[] =
                "local m = tonumber(redis.call('GET', KEYS[1]) or '0') "
                "if tonumber(ARGV[1]) > m then redis.call('SET', KEYS[1], ARGV[1]) end "
                "redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[2]) return 1";
            char hk[640], sk[640], a1[32], a2[32];
            snprintf(hk, sizeof hk, "%s:hwm", d->prefix);
            snprintf(sk, sizeof sk, "%s:seen", d->prefix);
            snprintf(a1, sizeof a1, "%" PRId64, mark);
            snprintf(a2, sizeof a2, "%" PRId64, wk_hwm_since(&d->hwm) / EX_NS_PER_MS);
            const char *argv[] = {"EVAL", script, "2", hk, sk, a1, a2};
            size_t lens[7];
            for (int i = 0; i < 7; i++) lens[i] = strlen(argv[i]);
            wk_stream_command(d->w->stream, 7, argv, lens, hwm_saved, d);
        }
    }
    schedule(d, d->interval_ns);
}

/* ---- starting the watch of a new key ---- */

static void added(void *tag, const redisReply *r, const char *err);

typedef struct add_req {
    wk_disc *d;
    char key[];
} add_req;

/* The WorkflowStarted event of a discovered workflow. */
static char *event_json(wk_disc *d, const sr_found *f)
{
    char iso[EX_ISO_LEN + 1];
    json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "Source", d->p->name, "Key", f->key, "SubmittedAt",
                          ex_iso_format(f->time_ns, iso), "MessageType", "event.workflow.started");
    if (o && f->traceparent) json_object_set_new(o, "Traceparent", json_string(f->traceparent));
    if (o) json_object_set_new(o, "DiscoveredBy", json_string("listing"));
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    return s;
}

static void start_one(wk_disc *d, const sr_found *f)
{
    int rc = wk_hwm_offer(&d->hwm, f->key, f->time_ns);
    if (rc == 0) return;
    if (rc < 0) {
        d->failed = 1;
        return;
    }
    if (!d->w->stream) { /* memory mode: like an event, at once */
        if (wk_webhook_was_finished(d->w->webhook, f->key)) { /* a webhook started it, and it is done */
            d->added_elsewhere++;
            return;
        }
        wk_event ev = {0};
        snprintf(ev.workflow_id, sizeof ev.workflow_id, "%s", f->key);
        snprintf(ev.source, sizeof ev.source, "%s", d->p->name);
        ev.from_key = 1;
        ev.submitted_ns = f->time_ns;
        wk_event_set_traceparent(&ev, f->traceparent, f->traceparent ? strlen(f->traceparent) : 0);
        d->found++;
        ex_debug("discover", "new workflow %s (created %" PRId64 ")", f->key, f->time_ns);
        (void)wk_watch_event(d->w, &ev, wk_now_ns(), NULL);
        return;
    }
    /* seen by this scope's listings, and not started by a webhook delivery (webhook_stream.c) */
    static const char script[] =
        "if redis.call('ZADD', KEYS[1], 'NX', ARGV[1], ARGV[2]) == 1 and "
        "redis.call('SET', KEYS[3], '1', 'NX', 'PX', ARGV[4]) then "
        "redis.call('XADD', KEYS[2], '*', 'data', ARGV[3]) return 1 end return 0";
    char sk[640], score[32], started[WK_EVENT_KEY_MAX + 200], ttl[32];
    char *ev = event_json(d, f);
    size_t klen = strlen(f->key);
    add_req *q = ev ? ex_malloc(sizeof *q + klen + 1) : NULL;
    if (!q) {
        ex_free(ev);
        wk_hwm_forget(&d->hwm, f->key);
        d->failed = 1;
        return;
    }
    q->d = d;
    memcpy(q->key, f->key, klen + 1);
    snprintf(sk, sizeof sk, "%s:seen", d->prefix);
    snprintf(score, sizeof score, "%" PRId64, f->time_ns / EX_NS_PER_MS);
    wk_started_key(d->w, f->key, started, sizeof started);
    snprintf(ttl, sizeof ttl, "%" PRId64, wk_started_ttl_ms(d->w));
    const char *argv[] = {"EVAL", script, "3", sk, wk_stream_key(d->w->stream), started, score, f->key, ev, ttl};
    size_t lens[10];
    for (int i = 0; i < 10; i++) lens[i] = strlen(argv[i]);
    d->inflight++;
    wk_stream_command(d->w->stream, 10, argv, lens, added, q);
    ex_free(ev);
}

static void added(void *tag, const redisReply *r, const char *err)
{
    add_req *q = tag;
    wk_disc *d = q->d;
    d->inflight--;
    if (!r) {
        wk_hwm_forget(&d->hwm, q->key); /* offered again at the next listing */
        d->failed = 1;
        warn(d, DE_REDIS, "workflow %s: adding its start to the stream failed: %s; retried at the next listing",
             q->key, err ? err : "?");
    } else if (r->type == REDIS_REPLY_INTEGER && r->integer == 1) {
        d->found++;
        ex_debug("discover", "new workflow %s: added to the stream", q->key);
    } else {
        d->added_elsewhere++; /* another worker, or an earlier life of this one */
    }
    ex_free(q);
    if (!d->stopping && !d->listing && d->inflight == 0) listing_done(d);
}

/* ---- pages ---- */

static int fetch_page(wk_disc *d);

/* Map one page's answer; start its new workflows; 1 if another page follows. */
static int take_page(wk_disc *d)
{
    char err[SR_ERR_LEN], detail[SR_ERR_LEN];
    size_t inlen;
    char *in = sr_discover_input(d->p, &d->scope, wk_hwm_since(&d->hwm), d->vars, d->body, d->len, &inlen);
    json_t *out = NULL;
    sr_found_page pg;
    if (!in) {
        warn(d, DE_MAP, "out of memory mapping a listing page");
        return -1;
    }
    sr_jq_error je = sr_jq_run_text(d->jq, in, inlen, &out, err, sizeof err);
    ex_free(in);
    if (je != SR_JQ_OK) {
        warn(d, DE_MAP, "GET %s: discover.map failed (%s): %s", d->url, sr_jq_error_name(je), err);
        return -1;
    }
    int rc = sr_discover_read(d->p, out, &pg, detail, sizeof detail);
    json_decref(out);
    if (rc) {
        warn(d, DE_MAP, "GET %s: discover.map's output: %s", d->url, detail);
        return -1;
    }
    for (size_t i = 0; i < pg.n; i++) start_one(d, &pg.items[i]);
    int more = pg.has_next;
    if (more) {
        clear_vars(d);
        for (size_t i = 0; i < SR_DISC_VARS_MAX; i++) d->vars[i] = pg.next[i], pg.next[i] = NULL;
    }
    sr_found_page_clear(&pg);
    return more;
}

static void page_done(CURL *easy, CURLcode res, void *arg)
{
    wk_disc *d = arg;
    long status = 0;
    if (d->stopping) return;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    int more = -1;
    if (res != CURLE_OK) warn(d, DE_HTTP, "GET %s: %s", d->url, curl_easy_strerror(res));
    else if (d->too_large) warn(d, DE_HTTP, "GET %s: the answer exceeds %u bytes", d->url, BODY_MAX);
    else if (status != 200)
        warn(d, DE_HTTP, "GET %s: HTTP %ld: %.200s", d->url, status, d->len ? d->body : "");
    else more = take_page(d);
    if (more < 0) d->failed = 1;
    if (more > 0 && d->page < d->p->discover->max_pages && fetch_page(d) == 0) return;
    if (more > 0 && d->page >= d->p->discover->max_pages)
        ex_warn("discover", "listing cut at %d pages (discover.max_pages): workflows beyond them wait for the "
                "next listing, or are missed when it starts later", d->page);
    d->listing = 0;
    if (d->inflight == 0) listing_done(d);
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
    wk_disc *d = arg;
    return ex_curl_append(&d->body, &d->len, &d->cap, BODY_MAX, &d->too_large, ptr, size * nmemb);
}

static int fetch_page(wk_disc *d)
{
    char err[SR_ERR_LEN];
    ex_free(d->url);
    d->url = sr_discover_url(d->p, d->w->source->base_url, &d->scope, wk_hwm_since(&d->hwm), d->vars[0] ? d->vars : NULL,
                             err, sizeof err);
    if (!d->url) {
        warn(d, DE_HTTP, "discover.url: %s", err);
        return -1;
    }
    d->len = 0;
    d->too_large = 0;
    d->page++;
    d->polls += d->page == 1;
    curl_easy_setopt(d->easy, CURLOPT_URL, d->url);
    if (ex_curl_loop_add(d->curl, d->easy, page_done, d) != 0) {
        warn(d, DE_HTTP, "GET %s: could not start the transfer", d->url);
        return -1;
    }
    return 0;
}

/* ---- the timer ---- */

static void hwm_loaded(void *tag, const redisReply *r, const char *err)
{
    wk_disc *d = tag;
    if (d->stopping) return;
    if (!r) {
        warn(d, DE_REDIS, "reading the high-water mark %s:hwm failed: %s; retrying", d->prefix, err ? err : "?");
        schedule(d, EX_NS_PER_SEC);
        return;
    }
    if (r->type == REDIS_REPLY_STRING) {
        int64_t mark = strtoll(r->str, NULL, 10); /* kept from an earlier listing: nothing since is missed */
        if (mark > 0) wk_hwm_init(&d->hwm, mark, d->hwm.overlap_ns);
        ex_info("discover", "high-water mark %s from %s:hwm", r->str, d->prefix);
    }
    d->hwm_loaded = 1;
    schedule(d, 0);
}

static void tick(uv_timer_t *t)
{
    wk_disc *d = t->data;
    if (d->stopping || d->listing || d->inflight) return;
    if (d->w->stream && !wk_stream_ready(d->w->stream)) { /* connecting: the stream says when it fails */
        schedule(d, 200 * EX_NS_PER_MS);
        return;
    }
    if (d->w->stream && !d->hwm_loaded) {
        char hk[640];
        snprintf(hk, sizeof hk, "%s:hwm", d->prefix);
        const char *argv[] = {"GET", hk};
        size_t lens[] = {3, strlen(hk)};
        wk_stream_command(d->w->stream, 2, argv, lens, hwm_loaded, d);
        return;
    }
    d->listing = 1;
    d->failed = 0;
    d->page = 0;
    clear_vars(d);
    if (fetch_page(d) != 0) {
        d->listing = 0;
        schedule(d, d->interval_ns);
    }
}

static void schedule(wk_disc *d, int64_t after_ns)
{
    if (!d->stopping) uv_timer_start(&d->timer, tick, (uint64_t)(after_ns / EX_NS_PER_MS), 0);
}

wk_disc *wk_disc_start(wk_worker *w, int64_t interval_ns, const char *scope, char *err, size_t errlen)
{
    const sr_profile *p = w->source->profile;
    if (!p || !p->discover) {
        snprintf(err, errlen, "--discover: source %s has no discover: section (docs/sources.md#discovery)",
                 w->source->name);
        return NULL;
    }
    wk_disc *d = ex_calloc(1, sizeof *d);
    if (!d) goto nomem;
    d->w = w;
    d->p = p;
    d->interval_ns = interval_ns;
    if (sr_discover_scope(p, scope, &d->scope, err, errlen)) goto fail;
    if (sr_jq_compile_prog(p->origin, "discover.map", p->discover->map, p->discover->map_line, 0, &d->jq, err,
                           errlen))
        goto fail;
    snprintf(d->prefix, sizeof d->prefix, "extrace:discover:%s:%.500s", p->name, scope);
    wk_hwm_init(&d->hwm, wk_now_ns() - p->discover->overlap_ns, p->discover->overlap_ns);
    if (!(d->curl = ex_curl_loop_new(&w->loop)) || !(d->easy = curl_easy_init())) goto nomem;
    curl_easy_setopt(d->easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(d->easy, CURLOPT_WRITEDATA, d);
    curl_easy_setopt(d->easy, CURLOPT_HTTPHEADER, w->source->headers);
    curl_easy_setopt(d->easy, CURLOPT_TIMEOUT_MS, (long)(w->opt->poll_timeout_ns / EX_NS_PER_MS) * 4);
    curl_easy_setopt(d->easy, CURLOPT_NOSIGNAL, 1L);
    uv_timer_init(&w->loop, &d->timer);
    d->timer.data = d;
    ex_info("discover", "listing %s workflows%s%s every %.1f s (overlap %.0f s; the high-water mark kept %s)",
            p->name, scope[0] ? " of " : "", scope, (double)interval_ns / 1e9,
            (double)p->discover->overlap_ns / 1e9, w->stream ? "in Redis" : "in memory only: a restart lists from "
            "now minus the overlap");
    schedule(d, 0);
    return d;
nomem:
    snprintf(err, errlen, "--discover: out of memory");
fail:
    if (d) {
        if (d->curl) ex_curl_loop_destroy(d->curl);
        sr_jq_free(d->jq);
        sr_key_free(&d->scope);
        ex_free(d);
    }
    return NULL;
}

static void closed(uv_handle_t *h)
{
    wk_disc *d = h->data;
    ex_free(d);
}

void wk_disc_stop(wk_disc *d)
{
    if (!d) return;
    d->stopping = 1;
    ex_curl_loop_destroy(d->curl); /* page_done runs (aborted) and returns at once */
    curl_easy_cleanup(d->easy);
    sr_jq_free(d->jq);
    sr_key_free(&d->scope);
    wk_hwm_clear(&d->hwm);
    clear_vars(d);
    ex_free(d->url);
    ex_free(d->body);
    uv_timer_stop(&d->timer);
    uv_close((uv_handle_t *)&d->timer, closed);
}

void wk_disc_render(const wk_disc *d, wk_text *t)
{
    if (!d) return;
    wk_prom_counter(t, "extrace_discovery_polls_total", "Listings of the source (--discover).", d->polls);
    wk_prom_counter(t, "extrace_discovery_workflows_total",
                    "New workflows a listing found and started a watch for (stream mode: added to the stream).",
                    d->found);
    wk_prom_counter(t, "extrace_discovery_known_total",
                    "Workflows a listing found that another worker (or an earlier run) had added already.",
                    d->added_elsewhere);
    wk_prom_family(t, "extrace_discovery_errors_total", "counter",
                   "Listings that failed, by kind: http (the request), map (discover.map or its output), redis "
                   "(the high-water mark or an add).");
    for (int k = 0; k < DE_N; k++) wk_prom_sample(t, "extrace_discovery_errors_total", "kind", de_names[k],
                                                  (double)d->errors[k]);
}
