/* store_fixture.c — see store_fixture.h. */
#include "store_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "otel/otlp_json.h"
#include "support.h"

sdb *tf_sdb_open(const char **dir_out)
{
    const char *dir = ts_tmpdir();
    assert_non_null(dir);
    char err[512];
    sdb *db = sdb_open(dir, err, sizeof err);
    if (!db) fail_msg("sdb_open: %s", err);
    if (dir_out) *dir_out = dir;
    return db;
}

void tf_sdb_ingest_json(sdb *db, const char *json, uint64_t accepted)
{
    exo_pb_request *req = NULL;
    char err[256];
    if (exo_otlp_json_decode_request(json, strlen(json), &req, err, sizeof err) != 0) fail_msg("decode: %s", err);
    sdb_ingest_result res;
    if (sdb_ingest(db, NULL, req, &res) != 0) fail_msg("sdb_ingest: %s", sdb_errmsg(db));
    assert_int_equal(res.accepted, accepted);
    exo_otlp_request_free(req);
}
