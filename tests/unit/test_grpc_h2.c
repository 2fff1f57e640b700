/* test_grpc_h2.c — the OTLP/gRPC client's answer handling without a socket
 * (exo_h2__exchange): the collector's bytes in tests/fuzz/corpus/grpc_h2/
 * (made with nghttp2's server side) read into the response the exporter
 * maps to retry verdicts: status, trailers, a trailers-only answer,
 * RetryInfo details, a partial-success body, a refused stream, GOAWAY. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otel/grpc_h2.h"
#include "otel/otlp_proto.h"
#include "support.h"

typedef struct got {
    int calls;
    exo_http_response r;
    int64_t rejected;
} got;

static void keep(void *arg, const exo_http_response *r)
{
    got *g = arg;
    g->calls++;
    g->r = *r;
    g->r.body = NULL;
    g->r.grpc_details = NULL;
    const uint8_t *msg;
    size_t len, consumed;
    int compressed;
    char text[64];
    g->rejected = -1;
    if (r->body_len && exo_grpc_unframe(r->body, r->body_len, 1024, &msg, &len, &compressed, &consumed) == 0)
        exo_otlp_proto_decode_response(msg, len, &g->rejected, text, sizeof text);
    if (r->grpc_details) snprintf(g->r.error, sizeof g->r.error, "details:%s", r->grpc_details);
}

static int exchange(const char *name, got *g)
{
    char path[4096];
    const char *src = getenv("EXTRACE_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/tests/fuzz/corpus/grpc_h2/%s.h2", src ? src : ".", name);
    size_t len = 0;
    char *bytes = ts_read_file(path, &len);
    if (!bytes) fail_msg("cannot read %s", path);
    memset(g, 0, sizeof *g);
    int ended = exo_h2__exchange((const uint8_t *)bytes, len, keep, g);
    free(bytes);
    assert_int_equal(ended, g->calls);
    return ended;
}

static void test_answers(void **state)
{
    (void)state;
    got g;
    assert_int_equal(exchange("ok", &g), 1);
    assert_int_equal(g.r.result, CURLE_OK);
    assert_int_equal(g.r.status, 200);
    assert_string_equal(g.r.grpc_status, "0");
    assert_string_equal(g.r.content_type, "application/grpc");
    assert_int_equal(g.rejected, 0);

    assert_int_equal(exchange("partial", &g), 1);
    assert_string_equal(g.r.grpc_status, "0");
    assert_int_equal(g.rejected, 3);

    assert_int_equal(exchange("trailers_only_unavailable", &g), 1);
    assert_int_equal(g.r.result, CURLE_OK);
    assert_string_equal(g.r.grpc_status, "14");
    assert_string_equal(g.r.grpc_message, "receiver%3A unavailable");

    assert_int_equal(exchange("retryinfo", &g), 1);
    assert_string_equal(g.r.grpc_status, "8");
    assert_non_null(strstr(g.r.error, "details:CAgS"));

    assert_int_equal(exchange("http503", &g), 1);
    assert_int_equal(g.r.status, 503);

    assert_int_equal(exchange("refused", &g), 1);
    assert_int_equal(g.r.result, CURLE_HTTP2_STREAM);
    assert_non_null(strstr(g.r.error, "REFUSED_STREAM"));
}

/* GOAWAY naming no stream: the call was refused, to be retried; garbage
 * instead of HTTP/2 is a connection error: no answer at all. */
static void test_no_answer(void **state)
{
    (void)state;
    got g;
    assert_int_equal(exchange("goaway", &g), 1);
    assert_int_equal(g.r.result, CURLE_HTTP2_STREAM);
    memset(&g, 0, sizeof g);
    assert_int_equal(exo_h2__exchange((const uint8_t *)"HTTP/1.1 400 Bad Request\r\n\r\n", 28, keep, &g), 0);
    assert_int_equal(g.calls, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_answers),
        cmocka_unit_test(test_no_answer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
