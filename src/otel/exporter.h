/* exporter.h — what an exporter is to the pipeline.
 *
 * Each exporter is one file (exp_*.c) that defines one exo_exporter: a
 * name, the OTEL_TRACES_EXPORTER value (and protocol) it serves, and four
 * callbacks. Adding an exporter means adding its file and one line to
 * exo_exporters[] in pipeline.c.
 *
 * The pipeline encodes each batch once per exporter (encode), sends the
 * payload (send) and, on a retryable failure, sends the same payload
 * again after a delay; retry policy and accounting live in the pipeline,
 * the exporter only reports what happened to one attempt. */
#ifndef EXTRACE_OTEL_EXPORTER_H
#define EXTRACE_OTEL_EXPORTER_H
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "otel/otel_env.h"
#include "otel/retry.h"
#include "otel/span.h"

/* What an exporter gets at init (valid during init only: copy what you keep). */
typedef struct exo_exporter_env {
    uv_loop_t *loop;                 /* the pipeline's loop */
    const exo_export_config *cfg;    /* parsed OTEL_* settings */
    const exo_resource *resource;    /* the spans' resource (the pipeline's copy; outlives the exporter) */
    const char *scope_name;          /* instrumentation scope (pipeline's copy, outlives the exporter) */
    const char *scope_version;       /* may be NULL */
} exo_exporter_env;

/* One encoded batch, ready to be sent (and re-sent on retries). */
typedef struct exo_payload {
    uint8_t *data;  /* owned by the payload (ex_free) */
    size_t len;     /* bytes in data */
    size_t nspans;  /* spans it carries */
} exo_payload;

/* The outcome of one send attempt. */
typedef struct exo_export_result {
    exo_retry_verdict verdict; /* OK, AGAIN (retry later) or FINAL (drop) */
    int64_t retry_after_ns;    /* delay the server asked for (Retry-After, RetryInfo), or -1 */
    uint64_t rejected;         /* OK only: spans the backend refused (partial success) */
    char reason[256];          /* AGAIN/FINAL, or rejected > 0: what went wrong, for the log */
} exo_export_result;

/* Called exactly once per send, on the loop, never from inside send. */
typedef void (*exo_export_done_cb)(void *arg, const exo_export_result *r);

/* Called once an exporter has released everything after shutdown. */
typedef void (*exo_exporter_closed_cb)(void *arg);

typedef struct exo_exporter {
    const char *name;     /* for logs and stats: "otlp/grpc", "otlp/http", "console" */
    exo_exporter_kind kind; /* the OTEL_TRACES_EXPORTER value it serves */
    int protocols;        /* OTLP: bit mask of (1 << exo_otlp_protocol) it serves; 0: any */

    /* Create the exporter's state from env. 0, or -1 with err set (e.g.
     * the URL can't be used); *state is then NULL. */
    int (*init)(const exo_exporter_env *env, void **state, char *err, size_t errlen);

    /* Encode n spans into out (filled in, out->data owned by the caller
     * afterwards). 0, or -1 with err set; the spans are only read. */
    int (*encode)(void *state, exo_span *const *spans, size_t n, exo_payload *out, char *err, size_t errlen);

    /* Send p (which stays valid until done runs) within timeout_ns. 0 when
     * started (done will run), or -1 with err set when it could not start
     * (done will not run). */
    int (*send)(void *state, const exo_payload *p, int64_t timeout_ns, exo_export_done_cb done, void *arg,
                char *err, size_t errlen);

    /* Abort what is in flight (its done callbacks run with FINAL, during
     * this call or later), release everything, then call closed(arg),
     * possibly before shutdown returns. state is invalid once closed has
     * run; handles the exporter opened may still be closing on the loop. */
    void (*shutdown)(void *state, exo_exporter_closed_cb closed, void *arg);
} exo_exporter;

/* The exporters, defined in their exp_*.c files. */
extern const exo_exporter exo_exporter_otlp_grpc;
extern const exo_exporter exo_exporter_otlp_http;
extern const exo_exporter exo_exporter_console;

/* The user agent of OTLP requests: "OTel-OTLP-Exporter-C/extrace-<version>". */
#define EXO_OTLP_USER_AGENT "OTel-OTLP-Exporter-C/extrace-" EXTRACE_VERSION

#endif
