/* store_fixture.h — a fresh store database for the store's unit tests.
 * Failures fail the running test. */
#ifndef EXTRACE_TEST_STORE_FIXTURE_H
#define EXTRACE_TEST_STORE_FIXTURE_H
#include <stdint.h>

#include "store/db.h"
#include "store/query_api.h"

/* Open a new database in a fresh temp dir (removed at exit); the dir's
 * path goes to *dir_out when dir_out is not NULL. */
sdb *tf_sdb_open(const char **dir_out);

/* Store one OTLP/JSON request (no tenant) and check that `accepted`
 * spans were taken; a request that does not decode fails the test. */
void tf_sdb_ingest_json(sdb *db, const char *json, uint64_t accepted);

/* Answer one query API request through sq_handle (no sockets): args
 * "name=value" and headers "Name: value", each NULL-terminated or NULL.
 * What *resp held is freed first (start it zeroed; free it with
 * tf_resp_free). Returns the status, 0 when the path is not routed. */
int tf_sq_call(sq_ctx *ctx, const char *method, const char *path, const char *const *args,
               const char *const *headers, ex_http_resp *resp);
/* The value of the answer's header `name`, or NULL. */
const char *tf_resp_header(const ex_http_resp *resp, const char *name);
void tf_resp_free(ex_http_resp *resp);

#endif
