/* check.h — `extrace worker --check`: can this worker reach what it needs?
 *
 * The first thing to run on a new setup. It checks each dependency once,
 * the way the worker itself uses it, and prints one verdict line each:
 *   redis  Redis answers PING (after AUTH / SELECT when the URL has them)
 *   api    GET <api-url>/healthz answers 2xx, or with --check-workflow ID
 *          GET <api-url>/workflows/ID answers a workflow the worker can read
 *   otlp   the configured OTLP exporter (OTEL_* variables) sends an empty
 *          export and the backend accepts it; "skipped" without otlp
 * then a summary line. Blocking; each step bounded by `timeout_ns`. */
#ifndef EXTRACE_WORKER_CHECK_H
#define EXTRACE_WORKER_CHECK_H
#include <stdint.h>
#include <stdio.h>

#include "otel/otel_env.h"
#include "otel/resource.h"

typedef struct wk_check_opts {
    const char *redis_url;           /* --redis as given */
    const char *api_url;             /* --api-url */
    const char *workflow;            /* --check-workflow, or NULL: GET /healthz */
    int64_t timeout_ns;              /* per step */
    unsigned parse_flags;            /* WM_PARSE_* the worker reads the API's answers with */
    const exo_export_config *export; /* OTEL_* settings */
    const exo_resource *resource;    /* for the empty export */
} wk_check_opts;

/* Run every check, printing to out. 0 when all passed, 1 otherwise. */
int wk_check_run(const wk_check_opts *o, FILE *out);

#endif
