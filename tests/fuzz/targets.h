/* targets.h — what each fuzz target does with one input.
 *
 * Every parser of untrusted input has one "run one input" function here.
 * The libFuzzer entry points (fuzz_<name>.c) call it, and so does the
 * regression test (tests/unit/test_fuzz_regressions.c), which replays the
 * seed corpora and every saved crash in a normal build. docs/fuzzing.md
 * lists the targets.
 *
 * A run function parses the input, checks what the parser promises about
 * its result (round trips, bounds, NUL-terminated messages) and frees
 * everything, leaving no global state behind. A broken promise is
 * reported on stderr and ends the process with abort(), which libFuzzer
 * records as a crash. The functions always return 0. */
#ifndef EXTRACE_TESTS_FUZZ_TARGETS_H
#define EXTRACE_TESTS_FUZZ_TARGETS_H
#include <stddef.h>
#include <stdint.h>

/* One fuzz target: tests/fuzz/fuzz_<name>.c, corpus/<name>/, regressions/<name>/. */
typedef struct fuzz_target {
    const char *name;                                 /* "event", "otlp_json" … */
    int (*run)(const uint8_t *data, size_t size);     /* fuzz_run_<name> */
} fuzz_target;

/* Every target, in the order scripts/fuzz runs them. */
extern const fuzz_target fuzz_targets[];
extern const size_t fuzz_ntargets;

/* Once per process, before the first run: sends log lines to /dev/null at
 * level trace (so logging code runs without flooding the terminal). */
void fuzz_init(void);

/* src/worker/event.h: wk_event_parse, wk_event_check_id, wk_quote. */
int fuzz_run_event(const uint8_t *data, size_t size);
/* src/worker/snapshot.h: wm_snapshot_parse for workflow "wf-1". */
int fuzz_run_snapshot(const uint8_t *data, size_t size);
/* src/worker/snapshot_fast.c against snapshot.c: wm_snapshot__parse_fast
 * accepts only what wm_snapshot__parse_dom accepts, with the same
 * snapshot; wm_snapshot_parse_flags gives jansson's code and message. */
int fuzz_run_snapshot_diff(const uint8_t *data, size_t size);
/* src/model/: mdl_snapshot_from_json (a profile's jq output), then the
 * snapshot applied to a monitor twice, checkpointed, timed out, its spans
 * built (target_model.c). */
int fuzz_run_tree(const uint8_t *data, size_t size);
/* src/otel/otlp_proto.h: exo_otlp_proto_decode_request, then the decoded
 * request re-encoded as protobuf and as OTLP/JSON. */
int fuzz_run_otlp_proto(const uint8_t *data, size_t size);
/* A gRPC request body: exo_grpc_unframe over the whole input, each
 * message gunzipped when flagged and decoded as a request. */
int fuzz_run_grpc(const uint8_t *data, size_t size);
/* src/otel/grpc_h2.h: the server's side of the exporter's HTTP/2
 * connection (exo_h2__exchange), and what the exporter reads from the
 * answer (message framing, ExportTraceServiceResponse, grpc-message,
 * grpc-status-details-bin). */
int fuzz_run_grpc_h2(const uint8_t *data, size_t size);
/* src/otel/compress.h: exo_gunzip with several bounds, and a round trip. */
int fuzz_run_gunzip(const uint8_t *data, size_t size);
/* What a collector answers: the first byte picks exo_otlp_proto_decode_response,
 * exo_otlp_decode_status, exo_otlp_json_decode_response,
 * exo_otlp_json_decode_status or exo_grpc_decode_message for the rest. */
int fuzz_run_otlp_response(const uint8_t *data, size_t size);
/* src/otel/otlp_pieces.h: the first byte picks 1..5 spans a piece; the
 * rest is decoded whole and in pieces, which must agree (both refuse with
 * the same message, or every piece equals its part of the whole). */
int fuzz_run_otlp_pieces(const uint8_t *data, size_t size);
/* src/otel/otlp_json.h: exo_otlp_json_decode_request, then re-encoding as
 * OTLP/JSON (decoded again, same text) and as protobuf. */
int fuzz_run_otlp_json(const uint8_t *data, size_t size);
/* src/store/traceql.h: tql_tokenize, tql_parse + tql_format (re-parsed,
 * same text), tql_eval and friends over a fixed trace, tql_fieldref_*. */
int fuzz_run_traceql(const uint8_t *data, size_t size);
/* src/store/metrics.h: smx_parse, then the query run over a fixed trace
 * (target_metrics.c). */
int fuzz_run_metrics(const uint8_t *data, size_t size);
/* src/core/config.h: ex_cfg_parse; the input is NUL-separated entries,
 * argv up to the first empty entry, environment after it. */
int fuzz_run_config(const uint8_t *data, size_t size);
/* src/otel/otel_env.h + resource.h: exo_export_config_from_env,
 * exo_resource_from_env and exo_kv_list_parse; the input is NUL-separated
 * environment entries. */
int fuzz_run_otel_env(const uint8_t *data, size_t size);
/* src/core/duration.h + iso8601.h: ex_duration_parse and ex_iso_parse on
 * the same text, each with a format/parse round trip. */
int fuzz_run_time(const uint8_t *data, size_t size);
/* src/store/live.h: the first byte picks a worker's list answer
 * (slv_worker_update, slv_merged, slv_find), a detail's events
 * (slv_detail_events) or --live URLs (slv_urls_parse) for the rest
 * (target_store_live.c). */
int fuzz_run_store_live(const uint8_t *data, size_t size);
/* src/store/body.h: sdb_body_decode of the input as a stored span body
 * (a dictionary of id 1 known); the input encoded with and without the
 * dictionary decodes back to itself (target_store_body.c). */
int fuzz_run_store_body(const uint8_t *data, size_t size);
/* src/core/redis_url.h + ex_hostport_split of config.h. */
int fuzz_run_redis_url(const uint8_t *data, size_t size);
/* src/core/secret.h: ex_secret_mask at several buffer sizes, in place,
 * idempotence, and a password planted around the input never shows. */
int fuzz_run_secret(const uint8_t *data, size_t size);

/* src/source/profile.h: sr_profile_load_string; an accepted profile obeys
 * the name rules and bounds, its URL templates build. */
int fuzz_run_profile(const uint8_t *data, size_t size);
/* src/worker/live.h: NUL-separated "name=value" query parameters of the
 * live list (wk_live_query_param); an accepted query's cursor reads back,
 * and its page over three workflows is JSON (target_live.c). */
int fuzz_run_live(const uint8_t *data, size_t size);
/* src/source/httpmeta.h: lines of "<byte picking a header><value>" fed to
 * sr_ratelimit_header / sr_link_next / sr_http_date_parse, then
 * sr_ratelimit_pause, the whole input as a Link value and a validator. */
int fuzz_run_httpmeta(const uint8_t *data, size_t size);
/* traceparent: exo_traceparent_parse (valid values read back); discover: sr_discover_read of a mapped page and the next page's URL. */
int fuzz_run_traceparent(const uint8_t *data, size_t size);
int fuzz_run_discover(const uint8_t *data, size_t size);
/* src/sim/routes.c and persona_*.c: the first byte picks the source
 * (seed, github-actions, argo-workflows, airflow), the advance mode, a
 * rate limit and HEAD; then lines: the path, query arguments k=v, and
 * inm=<If-None-Match>. Asked twice, an hour apart: every reply has a
 * valid status, stays within SIM_REPLY_MAX and is JSON (but a 304). */
int fuzz_run_sim(const uint8_t *data, size_t size);

/* src/source/webhook_sig.h and webhook_map.h: a delivery (signature header
 * line, event line, body) checked, de-duplicated and mapped by the
 * github-actions profile; a mapped snapshot applied twice as an exact
 * observation (target_webhook.c). */
int fuzz_run_webhook(const uint8_t *data, size_t size);

/* src/net/h1.h: the first byte picks a piece size (0–15) and whether the
 * connection closes after the rest, an HTTP answer: read at once, in
 * pieces, and with a 64-byte body limit (target_h1.c). */
int fuzz_run_h1(const uint8_t *data, size_t size);

#endif
