/* progress.c — reading the worker's metrics and summing up the demo. */
#include "demo/progress.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Which metric (and label value) fills which field. */
typedef struct wanted {
    const char *name;   /* metric name */
    const char *result; /* value of the label result="…", or NULL: no labels */
    int required;       /* an answer without it is an error */
} wanted;

enum { W_STARTED, W_IN_FLIGHT, W_OK, W_FAILED, W_TIMEOUT, W_EXPORTED, W_DROPPED, W_QUEUE, W_COUNT };

static const wanted metrics[W_COUNT] = {
    [W_STARTED] = {"extrace_workflows_started_total", NULL, 1},
    [W_IN_FLIGHT] = {"extrace_workflows_in_flight", NULL, 1},
    [W_OK] = {"extrace_workflows_finished_total", "ok", 1},
    [W_FAILED] = {"extrace_workflows_finished_total", "error", 1},
    [W_TIMEOUT] = {"extrace_workflows_finished_total", "timeout", 1},
    [W_EXPORTED] = {"extrace_spans_exported_total", NULL, 1},
    [W_DROPPED] = {"extrace_spans_dropped_total", NULL, 0},
    [W_QUEUE] = {"extrace_export_queue_spans", NULL, 1},
};

/* Does the sample line start with metric `w` (name, then its labels)? On a
 * match *rest points after the closing brace or the name. */
static int matches(const char *line, size_t len, const wanted *w, const char **rest)
{
    size_t n = strlen(w->name);
    if (len <= n || memcmp(line, w->name, n) != 0) return 0;
    const char *p = line + n, *end = line + len;
    if (!w->result) {
        if (*p != ' ' && *p != '\t') return 0;
        *rest = p;
        return 1;
    }
    char label[64];
    int ln = snprintf(label, sizeof label, "{result=\"%s\"}", w->result);
    if (ln < 0 || (size_t)ln > (size_t)(end - p) || memcmp(p, label, (size_t)ln) != 0) return 0;
    *rest = p + ln;
    return 1;
}

/* The sample value after the name: a number, optionally followed by a
 * timestamp. 0, or -1 when it is not a finite non-negative number. */
static int sample_value(const char *p, const char *end, double *out)
{
    char num[64];
    while (p < end && (*p == ' ' || *p == '\t')) p++;
    size_t n = 0;
    while (p + n < end && p[n] != ' ' && p[n] != '\t' && n < sizeof num - 1) n++;
    memcpy(num, p, n);
    num[n] = '\0';
    char *stop;
    errno = 0;
    double v = strtod(num, &stop);
    if (n == 0 || *stop || errno || !isfinite(v) || v < 0) return -1;
    *out = v;
    return 0;
}

int dm_metrics_parse(const char *text, size_t len, dm_worker_stats *out, char *why, size_t whylen)
{
    double values[W_COUNT] = {0};
    int seen[W_COUNT] = {0};
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        if (le > p && *p != '#') {
            for (int i = 0; i < W_COUNT; i++) {
                const char *rest;
                if (!matches(p, (size_t)(le - p), &metrics[i], &rest)) continue;
                if (sample_value(rest, le, &values[i]) != 0) {
                    snprintf(why, whylen, "%s: the value is not a non-negative number", metrics[i].name);
                    return -1;
                }
                seen[i] = 1;
            }
        }
        p = le + 1;
    }
    for (int i = 0; i < W_COUNT; i++) {
        if (seen[i] || !metrics[i].required) continue;
        if (metrics[i].result)
            snprintf(why, whylen, "no %s{result=\"%s\"} in the answer", metrics[i].name, metrics[i].result);
        else
            snprintf(why, whylen, "no %s in the answer", metrics[i].name);
        return -1;
    }
    out->started = (uint64_t)values[W_STARTED];
    out->in_flight = (int64_t)values[W_IN_FLIGHT];
    out->ok = (uint64_t)values[W_OK];
    out->failed = (uint64_t)values[W_FAILED];
    out->timed_out = (uint64_t)values[W_TIMEOUT];
    out->spans_exported = (uint64_t)values[W_EXPORTED];
    out->spans_dropped = (uint64_t)values[W_DROPPED];
    out->export_queue = (int64_t)values[W_QUEUE];
    return 0;
}

uint64_t dm_progress_finished(const dm_progress *p)
{
    return p->stats.ok + p->stats.failed + p->stats.timed_out;
}

int dm_progress_done(const dm_progress *p)
{
    return p->gen_done && p->have_stats && dm_progress_finished(p) >= (uint64_t)p->published &&
           p->stats.in_flight == 0 && p->stats.export_queue == 0;
}

size_t dm_progress_format(const dm_progress *p, char *buf, size_t len)
{
    if (len == 0) return 0;
    int n = snprintf(buf, len, "published %" PRId64 "/%" PRId64, p->published, p->total);
    size_t o = n < 0 ? 0 : (size_t)n;
    if (o < len && p->have_stats) {
        const dm_worker_stats *s = &p->stats;
        n = snprintf(buf + o, len - o,
                     ", in flight %" PRId64 ", ok %" PRIu64 ", failed %" PRIu64 ", timed out %" PRIu64
                     ", spans exported %" PRIu64,
                     s->in_flight, s->ok, s->failed, s->timed_out, s->spans_exported);
        o += n < 0 ? 0 : (size_t)n;
        if (o < len && s->spans_dropped) {
            n = snprintf(buf + o, len - o, ", spans dropped %" PRIu64, s->spans_dropped);
            o += n < 0 ? 0 : (size_t)n;
        }
    }
    if (o < len && p->stats_error[0]) {
        n = snprintf(buf + o, len - o, ", worker metrics: %s", p->stats_error);
        o += n < 0 ? 0 : (size_t)n;
    }
    return o < len ? o : len - 1;
}
