/* trace_check.h — checking the traces an OTLP receiver wrote against the
 * external API's final answers (for integration tests of the worker).
 *
 * The receiver (tests/node/receiver.js) writes one JSON line per span. A
 * workflow's trace must have a root span "Workflow" and one child per
 * API entity, with the derived ids (otel/ids.h), the API's times,
 * statuses and error messages, and its status events. A span received
 * more than once (at-least-once delivery) is accepted only when every
 * copy is identical apart from the receiver's request number — identical
 * copies of a span are harmless to a trace backend, which keeps one. */
#ifndef EXTRACE_TEST_TRACE_CHECK_H
#define EXTRACE_TEST_TRACE_CHECK_H
#include <jansson.h>
#include <stddef.h>

/* The spans of a receiver file. */
typedef struct tc_spans {
    json_t **v; /* owned: one object per line */
    size_t n;   /* lines */
} tc_spans;

/* Load `path` (fails the test on a line that is not JSON; a missing file is empty). */
void tc_load(const char *path, tc_spans *out);
void tc_free(tc_spans *s);

/* GET url; the status (0 if no answer) and the body in *body (malloc'd). */
long tc_http_get(const char *url, char **body);

/* Check workflow `id`'s trace under service.namespace `ns` against
 * GET http://127.0.0.1:<api_port>/workflows/<id> (which must be complete).
 * Fails the test with a message naming `label` and the workflow.
 * Returns the most copies any of its spans arrived in (1 = no duplicate). */
int tc_check_workflow(const tc_spans *s, int api_port, const char *ns, const char *id, const char *label);

/* Root spans ("Workflow") in the file at `path` so far, copies included. */
int tc_count_roots(const char *path);

/* Distinct trace ids of root spans (no parent) in the file at `path` so far. */
int tc_distinct_roots(const char *path);

/* As tc_check_workflow, against `api`, the workflow's final answer as
 * already fetched (the caller keeps it): for an API injecting faults,
 * whose GET must be retried until it answers. */
int tc_check_workflow_json(const tc_spans *s, json_t *api, const char *ns, const char *id, const char *label);

#endif
