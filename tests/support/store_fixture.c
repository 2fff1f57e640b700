/* store_fixture.c — see store_fixture.h. */
#include "store_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <strings.h>

#include "core/mem.h"

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

typedef struct fake_req {
    const char *const *args;
    const char *const *headers;
} fake_req;

static const char *fake_query(void *arg, const char *name)
{
    const fake_req *r = arg;
    size_t n = strlen(name);
    for (const char *const *a = r->args; a && *a; a++)
        if (strncmp(*a, name, n) == 0 && (*a)[n] == '=') return *a + n + 1;
    return NULL;
}

static const char *fake_header(void *arg, const char *name)
{
    const fake_req *r = arg;
    size_t n = strlen(name);
    for (const char *const *h = r->headers; h && *h; h++)
        if (strncasecmp(*h, name, n) == 0 && (*h)[n] == ':') return *h + n + 2;
    return NULL;
}

void tf_resp_free(ex_http_resp *resp)
{
    ex_free(resp->body);
    for (int i = 0; i < resp->nheaders; i++) ex_free(resp->header_values[i]);
    memset(resp, 0, sizeof *resp);
}

int tf_sq_call(sq_ctx *ctx, const char *method, const char *path, const char *const *args,
               const char *const *headers, ex_http_resp *resp)
{
    tf_resp_free(resp);
    fake_req fr = {args, headers};
    sq_request req = {method, path, fake_query, fake_header, &fr};
    if (!sq_handle(ctx, &req, resp)) return 0;
    return resp->status ? resp->status : 200;
}

const char *tf_resp_header(const ex_http_resp *resp, const char *name)
{
    for (int i = 0; i < resp->nheaders; i++)
        if (strcmp(resp->header_names[i], name) == 0) return resp->header_values[i];
    return NULL;
}
