/* targets.c — the table of fuzz targets and the helpers they share.
 * The run functions themselves are in target_text.c, target_otlp.c and
 * target_traceql.c, target_metrics.c, grouped by the subsystem they exercise. */
#include "targets.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/mem.h"
#include "targets_int.h"

const fuzz_target fuzz_targets[] = {
    {"event", fuzz_run_event},
    {"snapshot", fuzz_run_snapshot},
    {"snapshot_diff", fuzz_run_snapshot_diff},
    {"tree", fuzz_run_tree},
    {"otlp_proto", fuzz_run_otlp_proto},
    {"otlp_pieces", fuzz_run_otlp_pieces},
    {"otlp_json", fuzz_run_otlp_json},
    {"grpc", fuzz_run_grpc},
    {"grpc_h2", fuzz_run_grpc_h2},
    {"gunzip", fuzz_run_gunzip},
    {"otlp_response", fuzz_run_otlp_response},
    {"traceql", fuzz_run_traceql},
    {"metrics", fuzz_run_metrics},
    {"config", fuzz_run_config},
    {"otel_env", fuzz_run_otel_env},
    {"time", fuzz_run_time},
    {"redis_url", fuzz_run_redis_url},
    {"secret", fuzz_run_secret},
    {"store_live", fuzz_run_store_live},
    {"store_body", fuzz_run_store_body},
    {"profile", fuzz_run_profile},
    {"httpmeta", fuzz_run_httpmeta},
    {"sim", fuzz_run_sim},
    {"webhook", fuzz_run_webhook},
    {"live", fuzz_run_live},
    {"traceparent", fuzz_run_traceparent},
    {"discover", fuzz_run_discover},
    {"h1", fuzz_run_h1},
};
const size_t fuzz_ntargets = sizeof fuzz_targets / sizeof fuzz_targets[0];

FILE *fuzz__devnull(void)
{
    static FILE *devnull;
    if (!devnull && !(devnull = fopen("/dev/null", "w"))) {
        perror("fuzz: /dev/null");
        abort();
    }
    return devnull;
}

void fuzz__log_reset(void)
{
    ex_log_set_stream(fuzz__devnull());
    ex_log_set_level(EX_LOG_TRACE);
    ex_log_set_format(EX_LOG_TEXT);
}

void fuzz_init(void) { fuzz__log_reset(); }

void fuzz__fail(const char *target, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "fuzz %s: ", target);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

char *fuzz__cstr(const uint8_t *data, size_t size)
{
    char *s = ex_malloc(size + 1);
    if (!s) fuzz__fail("harness", "out of memory copying %zu bytes", size);
    if (size) memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

size_t fuzz__split(char *buf, size_t size, char **out, size_t max)
{
    size_t n = 0;
    char *p = buf, *end = buf + size;
    while (n < max && p <= end) {
        out[n++] = p;
        p += strlen(p) + 1;
    }
    return n;
}

void fuzz__check_terminated(const char *target, const char *what, const char *s, size_t n)
{
    if (!memchr(s, '\0', n)) fuzz__fail(target, "%s is not NUL-terminated within its %zu bytes", what, n);
}
