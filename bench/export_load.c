/* export_load.c — bench/export.sh's C side: workflow-shaped traces (a
 * "Workflow" root and three stages, as tests/otel-js/workflow.js makes
 * them for the peer) built as exo_spans and exported through the pipeline
 * (batch span processor + the OTEL_* exporter of the environment).
 *
 *   export_load build   WORKFLOWS    spans built and freed, no export
 *   export_load export  WORKFLOWS    built, submitted, flushed per round
 *   export_load encode  WORKFLOWS    built once per round, encoded only
 *                                    (direct encoder, then protobuf-c's)
 *
 * Rounds of 128 workflows (512 spans, one OTLP batch) are submitted and
 * flushed, so the queue never overflows. One JSON line on stdout: spans,
 * CPU seconds (user + system of this process), spans per CPU-second,
 * exported and dropped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <uv.h>

#include "core/mem.h"
#include "otel/otel_env.h"
#include "otel/otlp_proto.h"
#include "otel/pipeline.h"
#include "otel/resource.h"

#define ROUND 128 /* workflows per round */
#define MS INT64_C(1000000)

extern char **environ;

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15u;
static uint64_t next_rand(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void uuid(char out[37])
{
    static const char hex[] = "0123456789abcdef";
    uint64_t a = next_rand(), b = next_rand();
    for (int i = 0, k = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            out[i] = '-';
            continue;
        }
        out[i] = hex[(k < 16 ? a >> (4 * k) : b >> (4 * (k - 16))) & 15];
        k++;
    }
    out[36] = '\0';
}

static void iso(int64_t ns, char out[32])
{
    time_t s = (time_t)(ns / 1000000000);
    struct tm tm;
    gmtime_r(&s, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03dZ", (int)(ns / MS % 1000));
}

static void random_id(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) p[i] = (uint8_t)next_rand();
}

/* One workflow's spans into out (4, or 3 when it fails); returns how many. */
static size_t make_trace(size_t index, int64_t base, exo_span **out)
{
    int failed = index % 5 == 4;
    int64_t start = base + (int64_t)index * 10 * MS, t = start + 100 * MS, end = t;
    char id[37], when[32];
    exo_span *root = exo_span_new("Workflow", EXO_KIND_INTERNAL);
    random_id(root->trace_id, 16);
    random_id(root->span_id, 8);
    root->start_ns = start;
    uuid(id);
    exo_attrs_add_str(&root->attrs, "workflowId", id);
    exo_span_add_event(root, start - 500 * MS, "Submitted");
    exo_span_add_event(root, start, "Initializing");
    exo_span_add_event(root, start + 100 * MS, "Processing");
    iso(start, when);
    exo_attrs_add_str(&root->attrs, "startTime", when);
    static const char *const stages[] = {"DataLoader", "Processor", "OutputGenerator"};
    size_t n = 1;
    for (int i = 0; i < 3; i++) {
        exo_span *s = exo_span_new(stages[i], EXO_KIND_INTERNAL);
        memcpy(s->trace_id, root->trace_id, 16);
        random_id(s->span_id, 8);
        memcpy(s->parent_span_id, root->span_id, 8);
        s->has_parent = 1;
        s->start_ns = t;
        exo_attrs_add_str(&s->attrs, "type", stages[i]);
        uuid(id);
        exo_attrs_add_str(&s->attrs, "id", id);
        iso(t, when);
        exo_attrs_add_str(&s->attrs, "startTime", when);
        exo_span_add_event(s, t, "Initializing");
        exo_span_add_event(s, t + 10000 * MS, "Processing");
        int fails = failed && i == 1;
        end = t + 60000 * MS;
        exo_span_add_event(s, end, fails ? "Failed" : "Completed");
        iso(end, when);
        exo_attrs_add_str(&s->attrs, "endTime", when);
        if (fails) {
            char msg[64];
            snprintf(msg, sizeof msg, "Failed. Error code: %zu", index % 100);
            exo_span_set_status(s, EXO_STATUS_ERROR, msg);
        } else {
            exo_span_set_status(s, EXO_STATUS_OK, NULL);
        }
        s->end_ns = end;
        out[n++] = s;
        t = end;
        if (fails) break;
    }
    exo_span_add_event(root, end, failed ? "Failed" : "Completed");
    iso(end, when);
    exo_attrs_add_str(&root->attrs, "endTime", when);
    exo_span_set_status(root, failed ? EXO_STATUS_ERROR : EXO_STATUS_OK, failed ? "Entity failed: Processor" : NULL);
    root->end_ns = end;
    out[0] = root;
    return n;
}

static size_t make_round(size_t first, int64_t base, exo_span **spans)
{
    size_t n = 0;
    for (size_t w = 0; w < ROUND; w++) n += make_trace(first + w, base, spans + n);
    return n;
}

static int flushed;
static void flush_done(void *arg) { (void)arg, flushed = 1; }

static int run_export(size_t workflows, int64_t base, exo_span **spans, uint64_t *exported, uint64_t *dropped)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    exo_export_config cfg;
    char err[512], warn[512];
    if (exo_export_config_from_env(environ, &cfg, err, sizeof err, warn, sizeof warn) != 0) {
        fprintf(stderr, "export_load: %s\n", err);
        return 1;
    }
    exo_resource res;
    exo_resource_from_env(environ, NULL, &res, warn, sizeof warn);
    exo_pipeline *p = exo_pipeline_new(&loop, &cfg, &res, "extrace-bench", "1.0.0", err, sizeof err);
    if (!p) {
        fprintf(stderr, "export_load: %s\n", err);
        return 1;
    }
    for (size_t w = 0; w < workflows; w += ROUND) {
        size_t n = make_round(w, base, spans);
        exo_pipeline_submit(p, spans, n, NULL, NULL);
        flushed = 0;
        exo_pipeline_flush(p, 60000 * MS, flush_done, NULL);
        while (!flushed) uv_run(&loop, UV_RUN_ONCE);
    }
    exo_pipeline_stats st;
    exo_pipeline_get_stats(p, &st);
    *exported = st.spans_exported;
    *dropped = st.spans_dropped;
    exo_pipeline_destroy(p);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    exo_resource_free(&res);
    exo_export_config_free(&cfg);
    return 0;
}

/* Encode rounds with the direct encoder, then with protobuf-c's; prints
 * both CPU times. */
static void run_encode(size_t workflows, int64_t base, exo_span **spans)
{
    exo_resource res = {0};
    exo_attrs_add_str(&res.attrs, "service.name", "Tracing.Worker");
    size_t n = make_round(0, base, spans), total = 0;
    exo_otlp_scratch scratch = {0};
    double t[2];
    for (int pbc = 0; pbc < 2; pbc++) {
        double c0 = cpu_seconds();
        for (size_t w = 0; w < workflows; w += ROUND) {
            uint8_t *buf;
            size_t len;
            if (pbc) exo_otlp_proto_encode_pbc(&res, "extrace-bench", "1.0.0", spans, n, &buf, &len);
            else exo_otlp_proto_encode_scratch(&scratch, &res, "extrace-bench", "1.0.0", spans, n, 5, &buf, &len);
            ex_free(buf);
            if (!pbc) total += n;
        }
        t[pbc] = cpu_seconds() - c0;
    }
    printf("{\"mode\":\"encode\",\"spans\":%zu,\"directCpu\":%.3f,\"protobufcCpu\":%.3f,"
           "\"directNsPerSpan\":%.0f,\"protobufcNsPerSpan\":%.0f}\n",
           total, t[0], t[1], t[0] * 1e9 / (double)total, t[1] * 1e9 / (double)total);
    for (size_t i = 0; i < n; i++) exo_span_free(spans[i]);
    exo_attrs_clear(&res.attrs);
    exo_otlp_scratch_free(&scratch);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: export_load build|export|encode WORKFLOWS\n");
        return 2;
    }
    size_t workflows = strtoull(argv[2], NULL, 10);
    exo_span *spans[ROUND * 4];
    int64_t base = INT64_C(1760000000000) * MS;
    if (strcmp(argv[1], "encode") == 0) {
        run_encode(workflows, base, spans);
        return 0;
    }
    uint64_t exported = 0, dropped = 0, built = 0;
    double c0 = cpu_seconds();
    if (strcmp(argv[1], "build") == 0) {
        for (size_t w = 0; w < workflows; w += ROUND) {
            size_t n = make_round(w, base, spans);
            for (size_t i = 0; i < n; i++) exo_span_free(spans[i]);
            built += n;
        }
    } else if (strcmp(argv[1], "export") == 0) {
        if (run_export(workflows, base, spans, &exported, &dropped) != 0) return 1;
        built = exported + dropped;
    } else {
        fprintf(stderr, "export_load: unknown mode %s\n", argv[1]);
        return 2;
    }
    double cpu = cpu_seconds() - c0;
    printf("{\"mode\":\"%s\",\"spans\":%llu,\"cpu\":%.3f,\"spansPerCpuSecond\":%.0f,\"exported\":%llu,"
           "\"dropped\":%llu}\n",
           argv[1], (unsigned long long)built, cpu, (double)built / cpu, (unsigned long long)exported,
           (unsigned long long)dropped);
    return dropped ? 1 : 0;
}
