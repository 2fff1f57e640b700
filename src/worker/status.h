/* status.h — the worker's periodic info line.
 *
 * A healthy worker used to look exactly as idle as a broken one at the
 * default log level. Every --status-interval it now logs one line:
 *   status: watching 12 workflows (oldest in flight 3m12s); last 1m: 4.2
 *   polls/s, poll errors connect 10, http_5xx 2; 30 workflows finished;
 *   in all: 540 spans exported, 0 dropped
 * built here from two snapshots of its counters. Pure. */
#ifndef EXTRACE_WORKER_STATUS_H
#define EXTRACE_WORKER_STATUS_H
#include <stddef.h>
#include <stdint.h>

#include "worker/metrics.h"

/* The counters at one moment. */
typedef struct wk_status_snap {
    int64_t mono_ns;                    /* when (monotonic) */
    uint64_t polls;                     /* polls completed */
    uint64_t poll_errors[WK_NPOLL_ERR]; /* failed polls by kind */
    uint64_t finished;                  /* workflows finished (any result) */
    uint64_t spans_exported;            /* by the export pipeline, in all */
    uint64_t spans_dropped;             /* likewise */
} wk_status_snap;

/* The line for the interval from prev to cur, with `watching` workflows
 * watched now, the oldest for oldest_ns (< 0: none). Written to buf. */
void wk_status_line(const wk_status_snap *prev, const wk_status_snap *cur, size_t watching, int64_t oldest_ns,
                    char *buf, size_t len);

#endif
