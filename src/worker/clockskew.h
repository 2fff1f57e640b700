/* clockskew.h — how far the API's clock is from the worker's.
 *
 * Each answer of the API carries a Date header (RFC 9110 §6.6.1: the
 * server's clock, whole seconds, truncated). The server read that clock
 * between the moment the request left (sent) and the moment the answer
 * arrived (received), both on the worker's clock, so
 *   offset = API clock − worker clock ∈ [Date − received, Date + 1 s − sent].
 * Intersecting these intervals over many answers narrows the offset to
 * about a round trip: answers fall at every phase of the API's second.
 * Servers often take the Date from a coarse clock (time(2) reads the
 * kernel's tick-updated time, up to a tick behind: libmicrohttpd's Date
 * was measured 4 ms behind on one host), so each interval is widened by
 * WK_SKEW_COARSE_NS upwards. An empty intersection means a clock
 * stepped (or drifted past the bound): the estimate restarts from that
 * answer.
 *
 * Pure: no clock of its own, no I/O; the worker feeds it every answer
 * and asks whether to warn (once, then at most every `every_ns`). */
#ifndef EXTRACE_WORKER_CLOCKSKEW_H
#define EXTRACE_WORKER_CLOCKSKEW_H
#include <stdint.h>

#include "worker/metrics.h"

#define WK_SKEW_COARSE_NS (10 * 1000 * 1000) /* a Date may lag the server's clock by this much */

typedef struct wk_skew {
    int64_t lo_ns, hi_ns; /* the offset lies in [lo, hi] (valid once samples > 0) */
    uint64_t samples;     /* answers taken since the last restart */
    uint64_t restarts;    /* empty intersections: a clock stepped */
    int64_t warned_ns;    /* when the last warning was due, or INT64_MIN */
} wk_skew;

/* An estimator with no sample. */
void wk_skew_init(wk_skew *s);
/* One answer: request sent at sent_ns, answer received at received_ns
 * (worker clock, unix ns, sent <= received), Date header date_ns (unix ns,
 * whole seconds). Ignored when date_ns < 0 or received < sent. */
void wk_skew_add(wk_skew *s, int64_t sent_ns, int64_t received_ns, int64_t date_ns);
/* The estimate (midpoint of the interval) and its half width, in ns;
 * 0 and -1 before any sample. */
int64_t wk_skew_offset(const wk_skew *s);
int64_t wk_skew_uncertainty(const wk_skew *s);
/* 1 when the offset surely exceeds limit_ns in size (the whole interval
 * lies beyond ±limit) and no warning was due in the last every_ns; the
 * caller then logs one. 0 otherwise. */
int wk_skew_should_warn(wk_skew *s, int64_t now_ns, int64_t limit_ns, int64_t every_ns);
/* Append the gauges extrace_api_clock_offset_seconds{host} and
 * extrace_api_clock_offset_uncertainty_seconds{host} (nothing before the
 * first sample). */
void wk_skew_render(const wk_skew *s, const char *host, wk_text *t);

#endif
