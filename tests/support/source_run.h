/* source_run.h — one end-to-end run of a source for integration tests:
 * its API (a simulator persona or a fixture server), the Node OTLP
 * receiver, `extrace worker --source …` on a real redis-server, workflows
 * announced by key on the pub/sub channel, and the API's final answers
 * fetched over HTTP. Failures fail the running test. */
#ifndef EXTRACE_TEST_SOURCE_RUN_H
#define EXTRACE_TEST_SOURCE_RUN_H
#include <jansson.h>
#include <stddef.h>
#include <sys/types.h>

#include "fixture.h"
#include "http.h"
#include "support.h"

typedef struct run {
    const char *source; /* the source name events carry */
    char dir[256], out[300], api_log[300];
    pid_t api, receiver;
    int api_port;
    int receiver_http;  /* the receiver's OTLP/HTTP port (run_start_worker) */
    int live_only;      /* run_start_worker waits for /healthz, not /readyz (no Redis) */
    tf_worker worker;
} run;

/* A fresh run of `source` in its own temp dir. */
void run_begin(run *r, const char *source);
/* `extrace api --source <source> --advance on-time --seed 11` and extra arguments. */
void run_start_api(run *r, const char *const *extra);
/* The receiver, then the worker on redis_url with --source `profile` (NULL:
 * the source's name) against the api, polling 20 ms after an event and
 * every 100 ms, exporting over OTLP http/protobuf; then extra arguments. */
void run_start_worker(run *r, const char *redis_url, const char *profile, const char *const *extra);
/* Publish {"Source","Key","SubmittedAt"} for each key on redis at port. */
void run_announce(const run *r, int redis_port, const char *const *keys, size_t n);
/* Wait up to 40 s for n root spans, stop the worker (it must exit 0) and
 * the receiver; returns the worker's last /metrics text (caller frees). */
char *run_finish(run *r, int n);
/* Kill whatever of r is still running (a failed test's teardown). */
void run_kill(run *r);
/* GET path on the api (retried while a rate limit answers 403/429); the
 * JSON (caller decrefs); the response in *keep when not NULL (free it). */
json_t *run_get_json(const run *r, const char *path, th_resp *keep);
/* Sum of a labelled counter over its label values in a /metrics text. */
double run_metric_sum(const char *text, const char *name);

#endif
