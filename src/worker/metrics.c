#include "worker/metrics.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/secret.h"

const double wk_poll_duration_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                          0.25,  0.5,    1,     2.5,  5,     10};
const size_t wk_poll_duration_nbounds = sizeof wk_poll_duration_bounds / sizeof wk_poll_duration_bounds[0];

static const char *const result_names[WK_NRESULT] = {"ok", "error", "timeout"};
static const char *const poll_error_names[WK_NPOLL_ERR] = {"connect", "timeout", "http_5xx",
                                                           "http_other", "json", "contract", "map"};

const char *wk_result_name(wk_result r) { return (unsigned)r < WK_NRESULT ? result_names[r] : "unknown"; }

const char *wk_poll_error_name(wk_poll_error k)
{
    return (unsigned)k < WK_NPOLL_ERR ? poll_error_names[k] : "unknown";
}

void wk_histogram_init(wk_histogram *h, const double *bounds, size_t nbounds)
{
    memset(h, 0, sizeof *h);
    h->bounds = bounds;
    h->nbounds = nbounds < WK_HIST_MAX_BOUNDS ? nbounds : WK_HIST_MAX_BOUNDS;
}

void wk_histogram_observe(wk_histogram *h, double v)
{
    size_t i = 0;
    while (i < h->nbounds && v > h->bounds[i]) i++;
    h->counts[i]++;
    h->sum += v;
    h->count++;
}

void wk_metrics_init(wk_metrics *m)
{
    memset(m, 0, sizeof *m);
    wk_histogram_init(&m->poll_duration, wk_poll_duration_bounds, wk_poll_duration_nbounds);
}

/* Make room for n more bytes plus a NUL. 0, or -1 (t->failed set). */
static int text_reserve(wk_text *t, size_t n)
{
    if (t->failed) return -1;
    if (t->len + n + 1 <= t->cap) return 0;
    size_t cap = t->cap ? t->cap : 4096;
    while (cap < t->len + n + 1) cap *= 2;
    if (cap > WK_TEXT_MAX) cap = WK_TEXT_MAX;
    char *d = t->len + n + 1 <= cap ? ex_realloc(t->data, cap) : NULL;
    if (!d) {
        t->failed = 1;
        return -1;
    }
    t->data = d;
    t->cap = cap;
    return 0;
}

void wk_text_printf(wk_text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || text_reserve(t, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(t->data + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
}

void wk_text_free(wk_text *t)
{
    ex_free(t->data);
    memset(t, 0, sizeof *t);
}

/* Append s with backslash and newline escaped, and the double quote too
 * when `quote` (label values; HELP text leaves quotes alone). */
static void append_escaped(wk_text *t, const char *s, int quote)
{
    for (; *s; s++) {
        if (*s == '\\') wk_text_printf(t, "\\\\");
        else if (*s == '\n') wk_text_printf(t, "\\n");
        else if (*s == '"' && quote) wk_text_printf(t, "\\\"");
        else if (text_reserve(t, 1) == 0) {
            t->data[t->len++] = *s;
            t->data[t->len] = '\0';
        }
    }
}

/* Label values are masked (core/secret.h): no credential reaches /metrics. */
void wk_prom_escape_label(wk_text *t, const char *s)
{
    char masked[512];
    ex_secret_mask(s, masked, sizeof masked);
    append_escaped(t, masked, 1);
}

char *wk_prom_number(double v, char *buf, size_t len)
{
    if (isnan(v)) snprintf(buf, len, "NaN");
    else if (isinf(v)) snprintf(buf, len, v > 0 ? "+Inf" : "-Inf");
    else if (v == floor(v) && fabs(v) < 1e15) snprintf(buf, len, "%.0f", v);
    else {
        /* The shortest of %.15g … %.17g that reads back exactly. */
        for (int prec = 15; prec <= 17; prec++) {
            snprintf(buf, len, "%.*g", prec, v);
            if (strtod(buf, NULL) == v) break;
        }
    }
    return buf;
}

void wk_prom_family(wk_text *t, const char *name, const char *type, const char *help)
{
    wk_text_printf(t, "# HELP %s ", name);
    append_escaped(t, help, 0);
    wk_text_printf(t, "\n# TYPE %s %s\n", name, type);
}

void wk_prom_sample(wk_text *t, const char *name, const char *label, const char *label_value, double v)
{
    char num[40];
    if (label) {
        wk_text_printf(t, "%s{%s=\"", name, label);
        wk_prom_escape_label(t, label_value);
        wk_text_printf(t, "\"} %s\n", wk_prom_number(v, num, sizeof num));
    } else {
        wk_text_printf(t, "%s %s\n", name, wk_prom_number(v, num, sizeof num));
    }
}

void wk_prom_histogram(wk_text *t, const char *name, const char *help, const wk_histogram *h)
{
    char metric[128], le[40];
    uint64_t cumulative = 0;
    wk_prom_family(t, name, "histogram", help);
    snprintf(metric, sizeof metric, "%s_bucket", name);
    for (size_t i = 0; i < h->nbounds; i++) {
        cumulative += h->counts[i];
        wk_prom_sample(t, metric, "le", wk_prom_number(h->bounds[i], le, sizeof le), (double)cumulative);
    }
    wk_prom_sample(t, metric, "le", "+Inf", (double)h->count);
    snprintf(metric, sizeof metric, "%s_sum", name);
    wk_prom_sample(t, metric, NULL, NULL, h->sum);
    snprintf(metric, sizeof metric, "%s_count", name);
    wk_prom_sample(t, metric, NULL, NULL, (double)h->count);
}

void wk_prom_counter(wk_text *t, const char *name, const char *help, uint64_t v)
{
    wk_prom_family(t, name, "counter", help);
    wk_prom_sample(t, name, NULL, NULL, (double)v);
}

void wk_prom_gauge(wk_text *t, const char *name, const char *help, double v)
{
    wk_prom_family(t, name, "gauge", help);
    wk_prom_sample(t, name, NULL, NULL, v);
}

/* A counter family with one label, one sample per value name. */
static void labelled(wk_text *t, const char *name, const char *help, const char *label, const char *const *names,
                     const uint64_t *values, size_t n)
{
    wk_prom_family(t, name, "counter", help);
    for (size_t i = 0; i < n; i++) wk_prom_sample(t, name, label, names[i], (double)values[i]);
}

int wk_metrics_render(const wk_metrics *m, const wk_gauges *g, wk_text *t)
{
    const char *reasons[WK_NREJECT];
    for (size_t i = 0; i < WK_NREJECT; i++) reasons[i] = wk_reject_name((wk_reject)i);
    wk_prom_family(t, "extrace_build_info", "gauge", "Always 1; the version of the running worker.");
    wk_prom_sample(t, "extrace_build_info", "version", EXTRACE_VERSION, 1);
    wk_prom_counter(t, "extrace_events_received_total", "WorkflowStarted messages read from the channel.",
                    m->events_received);
    labelled(t, "extrace_events_rejected_total", "Events not taken, by reason.", "reason", reasons,
             m->events_rejected, WK_NREJECT);
    wk_prom_counter(t, "extrace_events_duplicate_total", "Events for a workflow already watched (ignored).",
                    m->events_duplicate);
    wk_prom_counter(t, "extrace_workflows_started_total", "Workflows taken into watch.", m->workflows_started);
    labelled(t, "extrace_workflows_finished_total", "Workflows whose trace was built, by result.", "result",
             result_names, m->workflows_finished, WK_NRESULT);
    wk_prom_gauge(t, "extrace_workflows_in_flight", "Workflows watched now.", (double)g->workflows_in_flight);
    wk_prom_counter(t, "extrace_polls_total", "Polls of the external API completed, whatever their outcome.", m->polls);
    labelled(t, "extrace_poll_errors_total", "Failed polls, by kind.", "kind", poll_error_names, m->poll_errors,
             WK_NPOLL_ERR);
    static const char *const map_names[] = {"ok", "input_too_large", "input", "runtime", "no_output", "many_outputs",
                                            "not_object", "output", "nomem"};
    labelled(t, "extrace_map_errors_total", "Polls whose answers the profile's jq program failed on, by kind.", "kind",
             map_names + 1, m->map_errors + 1, sizeof map_names / sizeof *map_names - 1);
    wk_prom_counter(t, "extrace_polls_unchanged_total",
                    "Polls whose every answer was 304 Not Modified (conditional requests).", m->polls_unchanged);
    wk_prom_counter(t, "extrace_polls_same_answer_total",
                    "Polls answered 200 with the same bytes as the answer applied last: taken as unchanged, not "
                    "parsed again.", m->polls_same_doc);
    static const char *const pause_names[] = {"none", "retry_after", "exhausted", "spread"};
    labelled(t, "extrace_rate_limit_pauses_total", "Times the API's rate-limit headers paused all polling, by reason.",
             "reason", pause_names + 1, m->rate_limit_pauses + 1, 3);
    wk_prom_gauge(t, "extrace_polling_paused", "1 while the API's rate limit holds every poll back.",
                  (double)g->polling_paused);
    wk_prom_histogram(t, "extrace_poll_duration_seconds", "Time from the start of a poll to its outcome.",
                      &m->poll_duration);
    wk_prom_gauge(t, "extrace_polls_in_flight", "Polls running now.", (double)g->polls_in_flight);
    wk_prom_gauge(t, "extrace_polls_scheduled", "Watched workflows waiting for their next poll or deadline.",
                  (double)g->polls_waiting);
    wk_prom_gauge(t, "extrace_redis_subscribed", "1 while subscribed to the event channel, else 0.",
                  g->redis_subscribed ? 1 : 0);
    wk_prom_counter(t, "extrace_redis_subscriptions_total", "Successful subscriptions to the event channel.",
                    m->redis_connects);
    wk_prom_counter(t, "extrace_spans_exported_total", "Spans accepted by the trace backends.", g->spans_exported);
    wk_prom_counter(t, "extrace_spans_dropped_total", "Spans that could not be delivered.", g->spans_dropped);
    static const char *const phase_names[] = {"running", "end"};
    labelled(t, "extrace_spans_submitted_total",
             "Spans handed to the export: as they ended while their workflow ran (phase running), or when it "
             "ended (phase end).", "phase", phase_names, m->spans_submitted, 2);
    wk_prom_counter(t, "extrace_spans_resent_total",
                    "Spans sent again when their workflow ended because their earlier export was not confirmed "
                    "delivered (identical copies).", m->spans_resent);
    static const char *const outcome_names[] = {"delivered", "undelivered"};
    labelled(t, "extrace_partial_exports_total",
             "Exports of the spans that ended while their workflow ran (a partial trace), by outcome.", "outcome",
             outcome_names, m->partial_exports, 2);
    wk_prom_gauge(t, "extrace_export_queue_spans", "Spans waiting in the export queue or being sent.",
                  (double)g->export_queue_spans);
    wk_prom_counter(t, "extrace_export_requests_total", "Export requests sent, retries included.", g->export_requests);
    wk_prom_counter(t, "extrace_export_failures_total", "Export requests that failed.", g->export_failures);
    wk_prom_gauge(t, "extrace_spool_bytes", "Size of the export spool's segment files (0 without --spool-dir).",
                  (double)g->spool_bytes);
    return t->failed ? -1 : 0;
}
