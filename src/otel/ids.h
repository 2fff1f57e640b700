/* ids.h — derived trace and span ids.
 *
 * Ids are hashes, not random numbers, so that a second worker, or the same
 * worker after a restart, produces the same ids for the same workflow, and
 * a user can compute a workflow's trace id (`extrace traceid`):
 *   trace id = XXH3-128 of  namespace '\0' workflow id
 *   span id  = XXH3-64  of  trace id (16 bytes) span name '\0' stage id
 *   trace id of another source's workflow
 *            = XXH3-128 of  namespace '\0' source '\0' key
 * The root span uses an empty stage id. The 128-bit hash is written
 * big-endian (high 64 bits first). An all-zero id is invalid in OTLP, so
 * a zero result is replaced by 1 in its last byte. */
#ifndef EXTRACE_OTEL_IDS_H
#define EXTRACE_OTEL_IDS_H
#include <stddef.h>
#include <stdint.h>

void exo_trace_id(const char *ns, const char *workflow_id, uint8_t out[16]);
/* The trace id of workflow `key` of `source`; NULL source: exo_trace_id. */
void exo_trace_id_source(const char *ns, const char *source, const char *key, uint8_t out[16]);
void exo_span_id(const uint8_t trace_id[16], const char *span_name, const char *stage_id, uint8_t out[8]);
/* Lower-case hex of n bytes into out (2n + 1 bytes); returns out. */
char *exo_hex(const uint8_t *bytes, size_t n, char *out);

#endif
