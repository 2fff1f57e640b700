/* metrics_load.c — bench/metrics.sh's loader: writes N workflow traces
 * spread evenly over the 24 hours before now straight into a store data
 * directory (sdb_ingest, the store's own writer; no HTTP). Each workflow:
 * a root "Workflow" (service Tracing.Worker, attribute workflowId, 5% with
 * status error) and three stage spans DataLoader, Processor, Publisher
 * (attribute type; 3% with status error) with durations drawn from a
 * fixed-seed generator.
 *   metrics_load DATA_DIR N */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/mem.h"
#include "otel/otlp_proto.h"
#include "store/db.h"

#define SEC 1000000000LL
#define BATCH 1000

static unsigned long long rng = 0x9e3779b97f4a7c15ull;
static unsigned long long next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: metrics_load DATA_DIR N\n");
        return 2;
    }
    long n = atol(argv[2]);
    char err[512];
    sdb *db = sdb_open(argv[1], err, sizeof err);
    if (!db) {
        fprintf(stderr, "metrics_load: %s\n", err);
        return 1;
    }
    long long now = (long long)time(NULL) * SEC, first = now - 24 * 3600 * SEC;
    exo_resource res = {{0}};
    exo_attrs_add_str(&res.attrs, "service.name", "Tracing.Worker");
    exo_attrs_add_str(&res.attrs, "service.namespace", "bench");
    static const char *stages[3] = {"DataLoader", "Processor", "Publisher"};
    exo_span **spans = calloc(BATCH * 4, sizeof *spans);
    for (long w = 0; w < n; w += BATCH) {
        size_t ns = 0;
        for (long i = w; i < w + BATCH && i < n; i++) {
            long long start = first + (long long)((double)i / (double)n * 24 * 3600 * SEC);
            long long t = start;
            char id[32];
            snprintf(id, sizeof id, "wf-%ld", i);
            exo_span *root = exo_span_new("Workflow", 1);
            memcpy(root->trace_id, &i, sizeof i);
            root->trace_id[15] = 0x7f;
            memcpy(root->span_id, &i, sizeof i);
            root->span_id[7] = 0x01;
            exo_attrs_add_str(&root->attrs, "workflowId", id);
            int failed = 0;
            for (int k = 0; k < 3; k++) {
                exo_span *s = exo_span_new(stages[k], 1);
                memcpy(s->trace_id, root->trace_id, 16);
                memcpy(s->span_id, root->span_id, 8);
                s->span_id[7] = (unsigned char)(0x10 + k);
                memcpy(s->parent_span_id, root->span_id, 8);
                s->has_parent = 1;
                exo_attrs_add_str(&s->attrs, "type", stages[k]);
                s->start_ns = t;
                t += (long long)(1 + next() % 60000) * 1000000LL;
                s->end_ns = t;
                int err_stage = next() % 100 < 3;
                failed |= err_stage;
                exo_span_set_status(s, err_stage ? EXO_STATUS_ERROR : EXO_STATUS_OK, err_stage ? "stage failed" : NULL);
                spans[ns++] = s;
            }
            root->start_ns = start;
            root->end_ns = t;
            failed |= next() % 100 < 2;
            exo_span_set_status(root, failed ? EXO_STATUS_ERROR : EXO_STATUS_OK, failed ? "failed" : NULL);
            spans[ns++] = root;
        }
        uint8_t *body = NULL;
        size_t len = 0;
        exo_pb_request *req = NULL;
        sdb_ingest_result r;
        if (exo_otlp_proto_encode(&res, "bench", "1", spans, ns, &body, &len) != 0 ||
            exo_otlp_proto_decode_request(body, len, &req, err, sizeof err) != 0 || sdb_ingest(db, NULL, req, &r) != 0) {
            fprintf(stderr, "metrics_load: batch at %ld failed: %s\n", w, sdb_errmsg(db));
            return 1;
        }
        exo_otlp_request_free(req);
        ex_free(body);
        for (size_t k = 0; k < ns; k++) exo_span_free(spans[k]);
    }
    free(spans);
    exo_attrs_clear(&res.attrs);
    sdb_close(db);
    return 0;
}
