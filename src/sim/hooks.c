/* hooks.c — the simulator's webhook sender (hooks.h). */
#include "sim/hooks.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <uthash.h>

#include "core/log.h"
#include "core/mem.h"
#include "net/curl_uv.h"
#include "sim/persona.h"
#include "source/webhook_sig.h"

#define TICK_MS 20
#define ATTEMPTS 12
#define RETRY_MS 250 /* a failed delivery waits this long, doubling, before its next try */
#define BODY_MAX (1024 * 1024)

typedef struct delivery {
    struct delivery *next;
    char event[32];
    char id[40];      /* X-GitHub-Delivery */
    char sig[80];     /* X-Hub-Signature-256 */
    char *body;       /* owned */
    size_t len;
    int attempts;
    int64_t not_before; /* clock ns: no try before then (after a failure) */
} delivery;

/* What was announced of one run: each node's applied phases. */
typedef struct seen {
    UT_hash_handle hh;
    uint32_t gen;               /* the scan that last found its run in the store */
    uint8_t done[SIM_RUN_NODES];
    char key[];
} seen;

struct sim_hooks {
    uv_loop_t *loop;
    sim_api *api;
    sim_hooks_config cfg;   /* url and secret not owned; self_url points at self */
    char self[300];         /* the api's own base URL (copied: the caller's may be on its stack) */
    ex_rng rng;
    uv_timer_t tick;
    ex_curl_loop *curl;
    CURL *easy;             /* the transfer in flight, or NULL */
    struct curl_slist *hdrs;
    delivery *head, *tail;  /* waiting, in order */
    delivery *sending;      /* the one in flight */
    delivery *held;         /* held back behind the next one (--webhook-reorder) */
    seen *runs;
    uint32_t gen;           /* scans so far */
    sim_buf buf;
    int64_t next_start;
    sim_hooks_stats st;
};

static void new_guid(ex_rng *rng, char out[40])
{
    uint64_t a = ex_rng_next(rng), b = ex_rng_next(rng);
    snprintf(out, 40, "%08x-%04x-%04x-%04x-%012llx", (unsigned)(a >> 32), (unsigned)(a >> 16 & 0xffff),
             (unsigned)((a & 0x0fff) | 0x4000), (unsigned)((b >> 48 & 0x3fff) | 0x8000),
             (unsigned long long)(b & 0xffffffffffffULL));
}

static void push(sim_hooks *h, delivery *d)
{
    d->next = NULL;
    if (h->tail) h->tail->next = d;
    else h->head = d;
    h->tail = d;
}

static delivery *copy_of(const delivery *d)
{
    delivery *c = ex_malloc(sizeof *c);
    if (!c || !(c->body = ex_malloc(d->len + 1))) {
        ex_free(c);
        return NULL;
    }
    char *body = c->body;
    *c = *d;
    c->body = body;
    memcpy(c->body, d->body, d->len + 1);
    c->attempts = 0;
    c->not_before = 0;
    return c;
}

static void free_delivery(delivery *d)
{
    if (!d) return;
    ex_free(d->body);
    ex_free(d);
}

/* Queue a new delivery of the rendered body, disturbed as configured. */
static void enqueue(sim_hooks *h, const char *event, const char *body, size_t len)
{
    delivery *d = ex_calloc(1, sizeof *d);
    if (!d || !(d->body = ex_malloc(len + 1))) {
        free_delivery(d);
        return;
    }
    memcpy(d->body, body, len);
    d->body[len] = '\0';
    d->len = len;
    snprintf(d->event, sizeof d->event, "%s", event);
    new_guid(&h->rng, d->id);
    const char *s = h->cfg.secret;
    if (sr_sig_sign(SR_SIG_HMAC_SHA256, "sha256=", s, strlen(s), body, len, d->sig, sizeof d->sig)) {
        free_delivery(d);
        return;
    }
    if (h->cfg.bad_signatures > 0 && ex_rng_double(&h->rng) < h->cfg.bad_signatures) {
        delivery *f = copy_of(d);
        if (f) { /* signed with another secret, under a delivery id of its own */
            new_guid(&h->rng, f->id);
            char wrong[300];
            snprintf(wrong, sizeof wrong, "%s-forged", s);
            sr_sig_sign(SR_SIG_HMAC_SHA256, "sha256=", wrong, strlen(wrong), body, len, f->sig, sizeof f->sig);
            push(h, f);
            h->st.forged++;
        }
    }
    delivery *held = h->held;
    h->held = NULL;
    if (h->cfg.reorder > 0 && !held && ex_rng_double(&h->rng) < h->cfg.reorder) {
        h->held = d; /* goes out after the next one */
        h->st.reordered++;
    } else {
        push(h, d);
    }
    if (held) push(h, held);
    if (h->cfg.duplicates > 0 && ex_rng_double(&h->rng) < h->cfg.duplicates) {
        delivery *c = copy_of(d);
        if (c) {
            push(h, c);
            h->st.duplicates++;
        }
    }
}

static void pump(sim_hooks *h);

static void sent_cb(CURL *easy, CURLcode res, void *arg)
{
    sim_hooks *h = arg;
    long code = 0;
    delivery *d = h->sending;
    h->sending = NULL;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(h->hdrs);
    h->hdrs = NULL;
    if (res == CURLE_OK && code >= 200 && code < 300) {
        h->st.answered_2xx++;
    } else if (res == CURLE_OK && code >= 400 && code < 500) {
        h->st.refused_4xx++;
        ex_debug("hooks", "delivery %s (%s) refused: HTTP %ld", d->id, d->event, code);
    } else if (++d->attempts < ATTEMPTS) { /* no server yet, or it failed: again later, first in line */
        h->st.retried++;
        int shift = d->attempts < 6 ? d->attempts - 1 : 5;
        d->not_before = ex_clock_now(h->api->env.clock) + (int64_t)RETRY_MS * 1000000 * (1 << shift);
        d->next = h->head;
        h->head = d;
        if (!h->tail) h->tail = d;
        return;
    } else {
        h->st.failed++;
        ex_warn("hooks", "delivery %s (%s) dropped after %d attempts: %s (HTTP %ld)", d->id, d->event, ATTEMPTS,
                curl_easy_strerror(res), code);
    }
    free_delivery(d);
    pump(h);
}

/* Send the next waiting delivery unless one is in flight. */
static void pump(sim_hooks *h)
{
    if (h->sending || !h->head || !h->curl || h->head->not_before > ex_clock_now(h->api->env.clock)) return;
    delivery *d = h->head;
    h->head = d->next;
    if (!h->head) h->tail = NULL;
    char line[200];
    struct curl_slist *l = curl_slist_append(NULL, "Content-Type: application/json");
    snprintf(line, sizeof line, "X-GitHub-Event: %s", d->event);
    l = curl_slist_append(l, line);
    snprintf(line, sizeof line, "X-GitHub-Delivery: %s", d->id);
    l = curl_slist_append(l, line);
    snprintf(line, sizeof line, "X-Hub-Signature-256: %s", d->sig);
    l = curl_slist_append(l, line);
    l = curl_slist_append(l, "User-Agent: GitHub-Hookshot/extrace-sim");
    l = curl_slist_append(l, "Expect:");
    CURL *e = h->easy;
    curl_easy_reset(e);
    curl_easy_setopt(e, CURLOPT_URL, h->cfg.url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, l);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, d->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)d->len);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    h->hdrs = l;
    h->sending = d;
    h->st.sent++;
    if (ex_curl_loop_add(h->curl, e, sent_cb, h) != 0) { /* retried next tick */
        h->sending = NULL;
        curl_slist_free_all(h->hdrs);
        h->hdrs = NULL;
        d->next = h->head;
        h->head = d;
        if (!h->tail) h->tail = d;
    }
}

/* Announce node i of rec when its state moved since the last look. */
static void look_at(sim_hooks *h, const sim_record *rec, seen *s, int i)
{
    const sim_node *n = &rec->run->nodes[i];
    if (n->done == s->done[i]) return;
    s->done[i] = n->done;
    const char *event = NULL;
    sim_buf_reset(&h->buf);
    if (h->api->persona->delivery(rec, i, h->cfg.self_url, &h->buf, &event) == 0 && !h->buf.overflow)
        enqueue(h, event, h->buf.data, h->buf.len);
}

static void scan(sim_hooks *h)
{
    h->gen++;
    for (sim_record *rec = h->api->store.by_id; rec; rec = rec->hh.next) {
        if (!rec->run) continue;
        seen *s;
        HASH_FIND_STR(h->runs, rec->id, s);
        if (!s) {
            size_t n = strlen(rec->id);
            if (!(s = ex_calloc(1, sizeof *s + n + 1))) continue;
            memcpy(s->key, rec->id, n + 1);
            HASH_ADD_STR(h->runs, key, s);
        }
        s->gen = h->gen;
        const sim_run *r = rec->run;
        int ended = sim_run_complete(r);
        if (!ended) look_at(h, rec, s, 0); /* the run first while it goes on, last once it ended */
        for (int i = 1; i < r->nnodes; i++) look_at(h, rec, s, i);
        if (ended) look_at(h, rec, s, 0);
    }
    seen *s, *tmp;
    HASH_ITER(hh, h->runs, s, tmp) { /* runs the store evicted: nothing more to announce */
        if (s->gen == h->gen) continue;
        HASH_DEL(h->runs, s);
        ex_free(s);
    }
}

static void start_runs(sim_hooks *h, int64_t now)
{
    if (h->st.started >= (uint64_t)h->cfg.runs || now < h->next_start) return;
    char key[256];
    sim_record *rec;
    h->api->persona->new_key(&h->rng, now, key, sizeof key);
    if (sim_persona_run(h->api, key, h->api->persona->plan, &rec) == SIM_RUN_OK) {
        h->st.started++;
        ex_info("hooks", "started run %s (%llu of %lld)", key, (unsigned long long)h->st.started, (long long)h->cfg.runs);
    }
    h->next_start = now + h->cfg.every_ns;
}

static void tick_cb(uv_timer_t *t)
{
    sim_hooks *h = t->data;
    start_runs(h, ex_clock_now(h->api->env.clock));
    sim_persona_catch_up_all(h->api);
    scan(h);
    if (h->held && !h->head && !h->sending) { /* nothing came after it: let it go */
        push(h, h->held);
        h->held = NULL;
    }
    pump(h);
}

sim_hooks *sim_hooks_start(uv_loop_t *loop, sim_api *api, const sim_hooks_config *cfg, char *err, size_t errlen)
{
    if (!api->persona || !api->persona->delivery) {
        snprintf(err, errlen, "--webhook-url: the %s API sends no webhooks here (github-actions does)",
                 api->persona ? api->persona->name : "seed");
        return NULL;
    }
    sim_hooks *h = ex_calloc(1, sizeof *h);
    if (!h) goto nomem;
    h->loop = loop;
    h->api = api;
    h->cfg = *cfg;
    snprintf(h->self, sizeof h->self, "%s", cfg->self_url);
    h->cfg.self_url = h->self;
    ex_rng_seed(&h->rng, cfg->seed);
    sim_buf_init(&h->buf, BODY_MAX);
    if (!(h->curl = ex_curl_loop_new(loop)) || !(h->easy = curl_easy_init())) goto nomem;
    uv_timer_init(loop, &h->tick);
    h->tick.data = h;
    uv_timer_start(&h->tick, tick_cb, TICK_MS, TICK_MS);
    return h;
nomem:
    snprintf(err, errlen, "out of memory starting the webhook sender");
    if (h) {
        if (h->curl) ex_curl_loop_destroy(h->curl);
        sim_buf_free(&h->buf);
        ex_free(h);
    }
    return NULL;
}

const sim_hooks_stats *sim_hooks_get_stats(const sim_hooks *h) { return &h->st; }

static void closed_cb(uv_handle_t *t)
{
    sim_hooks *h = t->data;
    ex_free(h);
}

void sim_hooks_stop(sim_hooks *h)
{
    if (!h) return;
    ex_curl_loop_destroy(h->curl); /* aborts the transfer in flight: its callback requeues it */
    h->curl = NULL;
    curl_easy_cleanup(h->easy);
    curl_slist_free_all(h->hdrs);
    free_delivery(h->sending);
    free_delivery(h->held);
    for (delivery *d = h->head, *n; d; d = n) {
        n = d->next;
        free_delivery(d);
    }
    seen *s, *tmp;
    HASH_ITER(hh, h->runs, s, tmp) {
        HASH_DEL(h->runs, s);
        ex_free(s);
    }
    sim_buf_free(&h->buf);
    uv_timer_stop(&h->tick);
    uv_close((uv_handle_t *)&h->tick, closed_cb);
}
