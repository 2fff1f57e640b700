/* console.h — the console exporter's text format (format-only path: the
 * exporter writes what this returns; tests check the exact bytes).
 *
 * One block per span, modelled on the .NET OpenTelemetry console exporter
 * the seed's worker uses, ending with an empty line:
 *
 *   Activity.TraceId:            28036142016d8fe90492dd49328d484f
 *   Activity.SpanId:             94ca096e5110ef7c
 *   Activity.ParentSpanId:       (root)
 *   Activity.ActivitySourceName: sample-tracing
 *   Activity.DisplayName:        Workflow
 *   Activity.Kind:               Internal
 *   Activity.StartTime:          2024-07-05T06:57:51.0737407Z
 *   Activity.Duration:           00:01:05.0139422
 *   Activity.Tags:
 *       workflowId: 704c0b60-…
 *   StatusCode: Error
 *   Activity.StatusDescription: Entity failed: DataLoader
 *   Activity.Events:
 *       Submitted [2024-07-05T06:57:51.0737407Z]
 *           key: value
 *   Resource associated with Activity:
 *       service.name: Tracing.Worker
 *
 * The Tags, Events and Resource sections are left out when empty, the
 * StatusDescription line when the status has no message. Durations are
 * .NET TimeSpan text: [-][d.]hh:mm:ss.fffffff. Control characters in keys
 * and values are escaped (\n, \t, \xHH) so each item stays on its line. */
#ifndef EXTRACE_OTEL_CONSOLE_H
#define EXTRACE_OTEL_CONSOLE_H
#include <stddef.h>
#include <stdint.h>

#include "otel/span.h"

/* Format span s. res and scope_name may be NULL. *out is NUL-terminated
 * and allocated (ex_free). 0, or -1 on allocation failure. */
int exo_console_format(const exo_resource *res, const char *scope_name, const exo_span *s, char **out);

/* Write a duration in ns as .NET TimeSpan text (truncated to 100 ns ticks)
 * into buf (at least 32 bytes); returns buf. */
char *exo_console_duration(int64_t ns, char *buf, size_t len);

#endif
