/* webhook.h — the worker's webhook endpoint (`--webhook-listen`).
 *
 *   POST /hooks/{source}   a delivery of the worker's source, mapped by its
 *                          profile's webhook: section (docs/sources.md#webhooks)
 *
 * A delivery is checked (signature in constant time; then the event
 * header against the profile's events; then the delivery id against the
 * ids seen last), mapped by jq to key, time and partial snapshot, and then
 * starts a watch like an event would, and applies its state at once as an
 * exact observation (mdl_monitor_apply_exact); polling stays the safety
 * net and confirms a run's end. Answers: 202 accepted, 200 a replayed
 * delivery id (ignored), 202 an event or action the profile does not map
 * (ignored), 401 no or a bad signature, 400 a bad payload (or a header
 * given twice), 404 another source or path, 405 not POST, 413 a body over --webhook-max-body, 503
 * --max-workflows reached. Every answer is counted in
 * extrace_webhooks_total{source,result}; refusals are logged with the
 * reason and the value (a token is never shown). Served by libmicrohttpd
 * on the worker's loop behind its own listener (connection limits). */
#ifndef EXTRACE_WORKER_WEBHOOK_H
#define EXTRACE_WORKER_WEBHOOK_H
#include <stddef.h>

#include "worker/metrics.h"

struct wk_worker;
typedef struct wk_webhook wk_webhook;

/* Start listening on w->opt->webhook_listen. NULL with err set (the
 * source has no webhook: section, the program does not compile, the
 * address is taken, no memory). */
wk_webhook *wk_webhook_start(struct wk_worker *w, char *err, size_t errlen);
int wk_webhook_port(const wk_webhook *h);
/* The workflow `key` was finished and exported: later deliveries about it
 * are ignored (result "finished") instead of starting it again. */
void wk_webhook_finished(wk_webhook *h, const char *key);
/* 1 if workflow `key` finished here lately (h NULL: 0): a listing that
 * names it again must not start it again either. */
int wk_webhook_was_finished(const wk_webhook *h, const char *key);
/* extrace_webhooks_total{source,result}, extrace_webhook_observations_total
 * and the listener's extrace_webhook_connections_* counters. */
void wk_webhook_render_metrics(const wk_webhook *h, wk_text *out);
/* Stop serving; memory is freed once libuv has closed the handles. NULL is ignored. */
void wk_webhook_stop(wk_webhook *h);

#endif
