/* webhook_stream.c — a webhook delivery in stream mode (--stream).
 *
 * One Lua script decides, atomically in Redis, what a delivery does:
 *   1. its delivery id is remembered (SET NX, WK_STARTED_TTL) — a replay
 *      seen by any worker, before or after a restart, stops here (0);
 *   2. a delivery about a workflow this worker does not watch marks the
 *      workflow started (extrace:started:<source>:<key>, SET NX — the
 *      marker discovery's listings set too, discover.c) and, if it was not
 *      started yet, adds its WorkflowStarted entry to the stream (2), so
 *      that the watch is as durable as one an event began: whichever
 *      worker reads or later claims the entry watches the workflow, with
 *      checkpoints;
 *   3. else (1) the workflow is known: watched here or by another worker,
 *      or finished.
 * The delivery's state is applied once Redis answered, when this worker
 * watches the workflow then (its checkpoint is written before ended spans
 * go out: wd_changed); another worker's workflow gets it from its polls.
 * The sender is answered once Redis has answered (ex_http_defer): 202
 * when the script ran, 503 when Redis is not connected or did not take
 * it (the sender retries; nothing was remembered) — a 202 is never given
 * for a delivery Redis does not hold. A replay that only Redis recognises
 * is answered 202 and counted in extrace_webhook_replays_total. */
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "core/iso8601.h"
#include "core/log.h"
#include "core/mem.h"
#include "worker/webhook_int.h"

/* A delivery waiting for Redis. */
typedef struct pending {
    wk_webhook *h;
    ex_http_later *later; /* the sender's answer, given once Redis answered */
    sr_hook hk;   /* owned: the mapped delivery */
    char delivery[160];
} pending;

static const char script[] =
    "if KEYS[1] ~= '' and not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then return 0 end "
    "if ARGV[2] == '1' and redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[1]) then "
    "redis.call('XADD', KEYS[3], '*', 'data', ARGV[3]) return 2 end return 1";

/* The WorkflowStarted entry of a workflow a delivery starts. */
static char *event_json(const wk_worker *w, const sr_hook *hk, int64_t now, const char *traceparent)
{
    char iso[EX_ISO_LEN + 1];
    int64_t at = hk->at_ns != MDL_NO_TIME && hk->at_ns < now ? hk->at_ns : now;
    json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "Source", w->source->name, "Key", hk->key, "SubmittedAt",
                          ex_iso_format(at, iso), "MessageType", "event.workflow.started");
    if (o && traceparent) json_object_set_new(o, "Traceparent", json_string(traceparent));
    if (o) json_object_set_new(o, "DiscoveredBy", json_string("webhook"));
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    return s;
}

/* Redis answered the script (or failed to): apply, then answer the sender. */
static void taken(void *tag, const redisReply *r, const char *err)
{
    pending *q = tag;
    wk_webhook *h = q->h;
    wk_worker *w = h->w;
    const char *d = q->delivery[0] ? q->delivery : NULL;
    ex_http_resp resp = {0};
    h->inflight--;
    if (h->stopped) { /* the server answered 503 as it stopped: only memory left to give back */
        ex_http_later_answer(q->later, &resp);
    } else if (!r || r->type != REDIS_REPLY_INTEGER) {
        h->redis_errors++;
        wh_answer(h, &resp, WH_UNAVAILABLE, 503, d, "Redis did not take delivery for workflow %s (%s): send it again later",
                  q->hk.key, err ? err : r ? "unexpected reply" : "no reply");
        ex_http_resp_header(&resp, "Retry-After", "1");
        ex_http_later_answer(q->later, &resp);
    } else {
        if (r->integer == 0) { /* replayed: another worker, or an earlier life of this one, took it */
            h->replayed++;
            ex_debug("webhook", "delivery %s was taken already (Redis): ignored", q->delivery);
        } else if (!w->stopping) {
            if (r->integer == 2) h->added++;
            else h->known++;
            wk_entry *e = wk_registry_find(&w->reg, q->hk.key);
            if (e) wh_observe(h, e, &q->hk, wk_now_ns()); /* else another worker's, or its entry is on its way */
        }
        if (d) sr_dedup_add(&h->deliveries, d, strlen(d));
        wh_answer(h, &resp, WH_ACCEPTED, 202, d, "accepted: workflow %s", q->hk.key);
        ex_http_later_answer(q->later, &resp);
    }
    sr_hook_clear(&q->hk);
    ex_free(q);
    if (h->stopped && !h->inflight) wh_free(h);
}

void wh_deliver_durable(wk_webhook *h, const ex_http_req *req, ex_http_resp *resp, sr_hook *hk, const char *delivery)
{
    wk_worker *w = h->w;
    if (!wk_stream_ready(w->stream)) {
        wh_answer(h, resp, WH_UNAVAILABLE, 503, delivery, "Redis is not connected: send it again later");
        return;
    }
    int64_t now = wk_now_ns();
    int watched = wk_registry_find(&w->reg, hk->key) != NULL;
    const char *tp = wh_header(req, "traceparent"); /* rides on the entry: the watch checks and links it */
    char *ev = watched ? NULL : event_json(w, hk, now, tp);
    pending *q = ex_calloc(1, sizeof *q);
    if ((!watched && !ev) || !q) {
        ex_free(ev);
        ex_free(q);
        wh_answer(h, resp, WH_CAPACITY, 503, delivery, "out of memory taking workflow %s", hk->key);
        return;
    }
    q->h = h;
    q->hk = *hk;                     /* moved: the caller's copy is emptied below */
    mdl_snapshot_init(&hk->snap);
    hk->has_snapshot = 0;
    snprintf(q->delivery, sizeof q->delivery, "%s", delivery ? delivery : "");
    char dk[400], sk[SR_HOOK_KEY_MAX + 200], ttl[32];
    if (delivery) snprintf(dk, sizeof dk, "extrace:webhook:%s:delivery:%s", w->source->name, delivery);
    else dk[0] = '\0';
    wk_started_key(w, q->hk.key, sk, sizeof sk);
    snprintf(ttl, sizeof ttl, "%" PRId64, wk_started_ttl_ms(w));
    const char *argv[] = {"EVAL", script, "3", dk, sk, wk_stream_key(w->stream), ttl, watched ? "0" : "1",
                          ev ? ev : ""};
    size_t lens[9];
    for (int i = 0; i < 9; i++) lens[i] = strlen(argv[i]);
    if (!(q->later = ex_http_defer(req))) {
        sr_hook_clear(&q->hk);
        ex_free(ev);
        ex_free(q);
        wh_answer(h, resp, WH_CAPACITY, 503, delivery, "out of memory taking workflow %s", hk->key);
        return;
    }
    h->inflight++;
    wk_stream_command(w->stream, 9, argv, lens, taken, q); /* answers the sender, maybe at once (Redis down) */
    ex_free(ev);
}

void wh_render_durable(const wk_webhook *h, wk_text *t)
{
    if (!h->w->stream) return;
    wk_prom_counter(t, "extrace_webhook_workflows_added_total",
                    "Workflows a webhook delivery added to the stream (stream mode: not started before).", h->added);
    wk_prom_counter(t, "extrace_webhook_workflows_known_total",
                    "Deliveries about a workflow started already (by a delivery, a listing or another worker; "
                    "stream mode).", h->known);
    wk_prom_counter(t, "extrace_webhook_replays_total",
                    "Deliveries whose delivery id Redis had taken already (a replay to another worker, "
                    "or across a restart; stream mode): nothing else done.", h->replayed);
    wk_prom_counter(t, "extrace_webhook_redis_errors_total",
                    "Deliveries Redis did not take (stream mode): answered 503, the sender sends them again.", h->redis_errors);
    wk_prom_gauge(t, "extrace_webhook_deliveries_waiting",
                  "Deliveries whose senders wait for Redis to take them (stream mode).", (double)h->inflight);
}
