/* webhook.c — POST /hooks/{source}: check, de-duplicate, map, watch, observe (webhook.h). */
#include "worker/webhook.h"
#include "worker/webhook_int.h"

#include <microhttpd.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "core/mem.h"
#include "net/httpd_uv.h"
#include "source/webhook_map.h"
#include "source/webhook_sig.h"
#include "worker/worker_int.h"

#define DELIVERY_MAX 128
#define PREFIX "/hooks/"

static const char *const result_names[WH_NRESULTS] = {
    "accepted", "duplicate", "ignored", "finished", "unsigned", "bad_signature", "bad_payload", "not_found",
    "bad_method", "capacity", "unavailable",
};

const char *wh_header(const ex_http_req *req, const char *name)
{
    return name ? MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name) : NULL;
}

void wh_answer(wk_webhook *h, ex_http_resp *resp, wh_result r, int status, const char *delivery, const char *fmt, ...)
{
    char why[900], msg[1100];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    if (r < WH_NRESULTS) h->counts[r]++;
    ex_http_resp_printf(resp, status, WH_TEXT, "%s\n", why);
    if (status >= 400) {
        snprintf(msg, sizeof msg, "webhook rejected (%s)%s%.*s%s: %s", result_names[r], delivery ? ", delivery " : "",
                 delivery ? 64 : 0, delivery ? delivery : "", "", why);
        wk_event_warn(h->w, msg);
    } else {
        ex_debug("webhook", "%s%s%.*s: %s", result_names[r], delivery ? ", delivery " : "", delivery ? 64 : 0,
                 delivery ? delivery : "", why);
    }
}

/* Token characters of an event name ([a-z0-9_], 1..64). */
static int event_ok(const char *e)
{
    size_t n = strlen(e);
    if (n == 0 || n > 64) return 0;
    for (size_t i = 0; i < n; i++)
        if (!((e[i] >= 'a' && e[i] <= 'z') || (e[i] >= '0' && e[i] <= '9') || e[i] == '_')) return 0;
    return 1;
}

/* Printable ASCII, 1..DELIVERY_MAX bytes. */
static int delivery_ok(const char *d)
{
    size_t n = strlen(d);
    if (n == 0 || n > DELIVERY_MAX) return 0;
    for (size_t i = 0; i < n; i++)
        if (d[i] <= 0x20 || d[i] >= 0x7f) return 0;
    return 1;
}

static int event_wanted(const sr_webhook *c, const char *event)
{
    if (!c->nevents) return 1;
    for (size_t i = 0; event && i < c->nevents; i++)
        if (strcmp(c->events[i], event) == 0) return 1;
    return 0;
}

void wh_observe(wk_webhook *h, wk_entry *e, const sr_hook *hk, int64_t now)
{
    wk_worker *w = h->w;
    if (!hk->has_snapshot) return;
    int changed = 0;
    wk_feed_before(&w->feed, e->mon); /* the live API's change feed, as for a poll */
    int rc = mdl_monitor_apply_exact(e->mon, &hk->snap, hk->at_ns, now, &changed);
    wk_feed_after(&w->feed, &w->live, e->mon);
    h->observations++;
    if (changed) {
        wk_admin_changed(w->admin);
        if (w->stream) wd_changed(w, e->mon); /* its ended spans go out once the checkpoint is in Redis */
        else wk_export_ready(w, e->mon);      /* spans of the nodes that ended go out now, as after a poll */
    }
    if (rc == MDL_CONFIRM) { /* the run ended: a poll now takes the final tree */
        wk_registry_due_by(&w->reg, e, now);
        wk_arm(w, now);
    }
}

/* The mapped delivery: watch the workflow and apply what it shows. */
static void deliver(wk_webhook *h, const ex_http_req *req, ex_http_resp *resp, sr_hook *hk, const char *delivery)
{
    wk_worker *w = h->w;
    int64_t now = wk_now_ns();
    if (sr_dedup_seen(&h->finished, hk->key, strlen(hk->key))) {
        wh_answer(h, resp, WH_FINISHED, 202, delivery, "workflow %s is finished already: ignored", hk->key);
        return;
    }
    if (w->stream) { /* durable: through Redis (webhook_stream.c) */
        wh_deliver_durable(h, req, resp, hk, delivery);
        return;
    }
    wk_entry *e = wk_registry_find(&w->reg, hk->key);
    if (!e) {
        wk_event ev;
        memset(&ev, 0, sizeof ev);
        snprintf(ev.workflow_id, sizeof ev.workflow_id, "%s", hk->key);
        snprintf(ev.source, sizeof ev.source, "%s", w->source->name);
        ev.from_key = 1;
        ev.submitted_ns = hk->at_ns != MDL_NO_TIME && hk->at_ns < now ? hk->at_ns : now;
        const char *tp = wh_header(req, "traceparent"); /* the submitter's span: checked and linked by the watch */
        wk_event_set_traceparent(&ev, tp, tp ? strlen(tp) : 0);
        if (wk_watch_event(w, &ev, now, &e) < 0 || !e) {
            wh_answer(h, resp, WH_CAPACITY, 503, delivery, "workflow %s cannot be watched now (--max-workflows or memory)",
                   hk->key);
            return;
        }
    }
    wh_observe(h, e, hk, now);
    if (delivery) sr_dedup_add(&h->deliveries, delivery, strlen(delivery));
    wh_answer(h, resp, WH_ACCEPTED, 202, delivery, "accepted: workflow %s", hk->key);
}

/* Signature, event, delivery id: 0 to go on, else answered. */
static int check(wk_webhook *h, const ex_http_req *req, ex_http_resp *resp, const char **event, const char **delivery)
{
    const sr_webhook *c = h->cfg;
    const wk_options *o = h->w->opt;
    const char *names[] = {c->signature_header, c->event_header, c->delivery_header};
    for (int i = 0; i < 3; i++) {
        int n = names[i] ? ex_http_header_count(req, names[i]) : 0;
        if (n > 1) { /* a proxy that appends instead of replacing: which one holds? */
            wh_answer(h, resp, WH_BAD_PAYLOAD, 400, NULL, "%s came %d times; send it exactly once", names[i], n);
            return -1;
        }
    }
    const char *sig = wh_header(req, c->signature_header);
    *delivery = wh_header(req, c->delivery_header);
    if (*delivery && !delivery_ok(*delivery)) {
        char q[300];
        wh_answer(h, resp, WH_BAD_PAYLOAD, 400, NULL, "%s %s is not 1-%d printable characters", c->delivery_header,
               wk_quote(*delivery, strlen(*delivery), 64, q, sizeof q), DELIVERY_MAX);
        return -1;
    }
    sr_sig_result r = sr_sig_check(c->signature, c->signature_prefix, o->webhook_secret, o->webhook_secret_len,
                                   req->body, req->body_len, sig);
    if (r != SR_SIG_OK) {
        char q[300];
        const char *shown = !sig ? "" : c->signature == SR_SIG_TOKEN ? "(value masked)"
                                                                      : wk_quote(sig, strlen(sig), 80, q, sizeof q);
        if (r == SR_SIG_MISSING)
            wh_answer(h, resp, WH_UNSIGNED, 401, *delivery, "no %s header: the delivery is not signed", c->signature_header);
        else if (r == SR_SIG_MALFORMED)
            wh_answer(h, resp, WH_BAD_SIGNATURE, 401, *delivery, "%s %s is not \"%s\" and 64 hex digits", c->signature_header,
                   shown, c->signature_prefix);
        else
            wh_answer(h, resp, WH_BAD_SIGNATURE, 401, *delivery, "%s %s does not match the body (%zu bytes) under the secret",
                   c->signature_header, shown, req->body_len);
        return -1;
    }
    *event = wh_header(req, c->event_header);
    if (*event && !event_ok(*event)) {
        char q[300];
        wh_answer(h, resp, WH_BAD_PAYLOAD, 400, *delivery, "%s %s is not an event name ([a-z0-9_], 1-64)", c->event_header,
               wk_quote(*event, strlen(*event), 64, q, sizeof q));
        return -1;
    }
    if (!event_wanted(c, *event)) {
        wh_answer(h, resp, WH_IGNORED, 202, *delivery, "event %s is not one the profile maps: ignored", *event ? *event : "(none)");
        return -1;
    }
    if (*delivery && sr_dedup_seen(&h->deliveries, *delivery, strlen(*delivery))) {
        wh_answer(h, resp, WH_DUPLICATE, 200, *delivery, "delivery %s was taken already: ignored", *delivery);
        return -1;
    }
    return 0;
}

static void handle(void *arg, const ex_http_req *req, ex_http_resp *resp)
{
    wk_webhook *h = arg;
    wk_worker *w = h->w;
    const char *src = strncmp(req->path, PREFIX, strlen(PREFIX)) == 0 ? req->path + strlen(PREFIX) : NULL;
    char q[300];
    if (!src || strcmp(src, w->source->name) != 0) {
        wh_answer(h, resp, WH_NOT_FOUND, 404, NULL, "no such path %s: this worker takes POST /hooks/%s",
               wk_quote(req->path, strlen(req->path), 80, q, sizeof q), w->source->name);
        return;
    }
    if (strcmp(req->method, "POST") != 0) {
        wh_answer(h, resp, WH_BAD_METHOD, 405, NULL, "method %s not allowed: use POST", req->method);
        ex_http_resp_header(resp, "Allow", "POST");
        return;
    }
    if (w->stopping) {
        ex_http_resp_printf(resp, 503, WH_TEXT, "shutting down\n");
        return;
    }
    const char *event = NULL, *delivery = NULL;
    if (check(h, req, resp, &event, &delivery)) return;
    sr_hook hk;
    sr_jq_error kind;
    char err[SR_ERR_LEN];
    int rc = sr_hook_map(w->source->profile, h->jq, w->source->jq, event, delivery, req->body, req->body_len, &hk, &kind,
                         err, sizeof err);
    if (rc == SR_HOOK_BAD) {
        wh_answer(h, resp, WH_BAD_PAYLOAD, 400, delivery, "%s", err);
        return;
    }
    if (rc == SR_HOOK_NOTHING) {
        if (delivery) sr_dedup_add(&h->deliveries, delivery, strlen(delivery));
        wh_answer(h, resp, WH_IGNORED, 202, delivery, "event %s: nothing to do (webhook.map gave null)", event ? event : "(none)");
        return;
    }
    deliver(h, req, resp, &hk, delivery);
    sr_hook_clear(&hk);
}

wk_webhook *wk_webhook_start(wk_worker *w, char *err, size_t errlen)
{
    const wk_options *o = w->opt;
    const sr_profile *p = w->source->profile;
    if (!p || !p->webhook) {
        snprintf(err, errlen, "--webhook-listen: source %s has no webhook: section in its profile", w->source->name);
        return NULL;
    }
    wk_webhook *h = ex_calloc(1, sizeof *h);
    if (!h) goto nomem;
    h->w = w;
    h->cfg = p->webhook;
    if (sr_dedup_init(&h->deliveries, o->webhook_dedup) || sr_dedup_init(&h->finished, o->webhook_dedup)) goto nomem;
    if (sr_jq_compile_prog(p->origin, "webhook.map", p->webhook->map, p->webhook->map_line, 1, &h->jq, err, errlen))
        goto fail;
    ex_httpd_cfg cfg = {.name = "webhook", .flag_prefix = "webhook-", .limits = o->webhook_limits,
                        .max_body = o->webhook_max_body, .handler = handle, .arg = h,
                        .mhd_flags = MHD_ALLOW_SUSPEND_RESUME}; /* stream mode answers once Redis has */
    if (!(h->httpd = ex_httpd_start_with(&w->loop, o->webhook_listen, &cfg, err, errlen))) goto fail;
    return h;
nomem:
    snprintf(err, errlen, "out of memory");
fail:
    if (h) {
        sr_jq_free(h->jq);
        sr_dedup_free(&h->deliveries);
        sr_dedup_free(&h->finished);
        ex_free(h);
    }
    return NULL;
}

int wk_webhook_port(const wk_webhook *h) { return ex_httpd_port(h->httpd); }

void wk_webhook_finished(wk_webhook *h, const char *key)
{
    if (h) sr_dedup_add(&h->finished, key, strlen(key));
}

int wk_webhook_was_finished(const wk_webhook *h, const char *key)
{
    return h && sr_dedup_seen(&h->finished, key, strlen(key));
}

void wk_webhook_render_metrics(const wk_webhook *h, wk_text *t)
{
    if (!h) return;
    const char *src = h->w->source->name;
    wk_prom_family(t, "extrace_webhooks_total", "counter",
                   "Webhook deliveries answered, by source and result (accepted, duplicate, ignored, finished, "
                   "unsigned, bad_signature, bad_payload, not_found, bad_method, capacity, unavailable).");
    for (int r = 0; r < WH_NRESULTS; r++)
        wk_text_printf(t, "extrace_webhooks_total{source=\"%s\",result=\"%s\"} %llu\n", src, result_names[r],
                       (unsigned long long)h->counts[r]);
    wk_prom_counter(t, "extrace_webhook_observations_total",
                    "Exact observations applied from webhook deliveries (state and time taken at once).", h->observations);
    wh_render_durable(h, t);
    char conns[2048];
    size_t n = ex_listener_metrics(ex_httpd_listener(h->httpd), "extrace_webhook", conns, sizeof conns);
    wk_text_printf(t, "%.*s", (int)n, conns);
}

void wh_free(wk_webhook *h)
{
    sr_jq_free(h->jq);
    sr_dedup_free(&h->deliveries);
    sr_dedup_free(&h->finished);
    ex_free(h);
}

void wk_webhook_stop(wk_webhook *h)
{
    if (!h) return;
    ex_httpd_stop(h->httpd);
    h->httpd = NULL;
    h->stopped = 1;
    if (!h->inflight) wh_free(h); /* else the last answer from Redis does (webhook_stream.c) */
}
