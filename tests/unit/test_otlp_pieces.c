/* Decoding an ExportTraceServiceRequest in pieces: the pieces cover the
 * request in order with their indices, bad input gets the whole decoder's
 * message, the heap stays at about one piece, and the store keeps a
 * request delivered in pieces in one transaction with rejection messages
 * naming the span's place in the whole request. */
#include <ftw.h>
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/mem.h"
#include "otel/otlp_pieces.h"
#include "store/db.h"
#include "store/ingest_http.h"

/* A packed request of nrs ResourceSpans × nss ScopeSpans × nspans spans;
 * span `bad` (counting across the request; SIZE_MAX: none) gets a 3-byte
 * trace id. */
static uint8_t *request(size_t nrs, size_t nss, size_t nspans, size_t bad, size_t *len)
{
    size_t total = nrs * nss * nspans;
    exo_pb_span *spans = ex_calloc(total, sizeof *spans), **sp = ex_calloc(total, sizeof *sp);
    uint8_t (*ids)[24] = ex_calloc(total, sizeof *ids);
    exo_pb_scope_spans *ss = ex_calloc(nrs * nss, sizeof *ss), **ssp = ex_calloc(nrs * nss, sizeof *ssp);
    exo_pb_resource_spans *rs = ex_calloc(nrs, sizeof *rs), **rsp = ex_calloc(nrs, sizeof *rsp);
    exo_pb_kv kv = OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT, *kvs[1] = {&kv};
    exo_pb_any av = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
    av.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    av.string_value = "svc";
    kv.key = "service.name";
    kv.value = &av;
    exo_pb_resource res = OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT;
    res.n_attributes = 1;
    res.attributes = kvs;
    for (size_t i = 0; i < total; i++) {
        opentelemetry__proto__trace__v1__span__init(&spans[i]);
        ids[i][0] = 0xab, ids[i][14] = (uint8_t)(i >> 8), ids[i][15] = (uint8_t)(i / 7);
        ids[i][16] = 1, ids[i][22] = (uint8_t)(i >> 8), ids[i][23] = (uint8_t)i;
        spans[i].trace_id = (ProtobufCBinaryData){i == bad ? 3 : 16, ids[i]};
        spans[i].span_id = (ProtobufCBinaryData){8, ids[i] + 16};
        spans[i].name = "op";
        spans[i].start_time_unix_nano = 1000 + i;
        spans[i].end_time_unix_nano = 2000 + i;
        sp[i] = &spans[i];
    }
    for (size_t r = 0; r < nrs; r++) {
        opentelemetry__proto__trace__v1__resource_spans__init(&rs[r]);
        rs[r].resource = &res;
        rs[r].n_scope_spans = nss;
        rs[r].scope_spans = ssp + r * nss;
        rsp[r] = &rs[r];
        for (size_t s = 0; s < nss; s++) {
            exo_pb_scope_spans *x = &ss[r * nss + s];
            opentelemetry__proto__trace__v1__scope_spans__init(x);
            x->n_spans = nspans;
            x->spans = sp + (r * nss + s) * nspans;
            ssp[r * nss + s] = x;
        }
    }
    exo_pb_request req = OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_REQUEST__INIT;
    req.n_resource_spans = nrs;
    req.resource_spans = rsp;
    *len = protobuf_c_message_get_packed_size(&req.base);
    uint8_t *buf = ex_malloc(*len);
    protobuf_c_message_pack(&req.base, buf);
    ex_free(spans), ex_free(sp), ex_free(ids), ex_free(ss), ex_free(ssp), ex_free(rs), ex_free(rsp);
    return buf;
}

typedef struct seen {
    size_t pieces, spans, next_rs, next_ss, next_span;
    size_t heap_peak; /* most heap in use during a callback (mallinfo2) */
} seen;

static int count_cb(void *arg, const exo_otlp_piece *p)
{
    seen *s = arg;
    const exo_pb_scope_spans *ss = p->req->resource_spans[0]->scope_spans[0];
    if (p->rs_index != s->next_rs || p->ss_index != s->next_ss || p->span_index != s->next_span) {
        /* A new ScopeSpans starts at span 0. */
        assert_int_equal(p->span_index, 0);
    }
    assert_string_equal(p->req->resource_spans[0]->resource->attributes[0]->key, "service.name");
    s->pieces++;
    s->spans += ss->n_spans;
    s->next_rs = p->rs_index, s->next_ss = p->ss_index, s->next_span = p->span_index + ss->n_spans;
    size_t used = mallinfo2().uordblks;
    if (used > s->heap_peak) s->heap_peak = used;
    return 0;
}

static void test_pieces_cover_the_request(void **state)
{
    size_t len;
    uint8_t *buf = request(2, 3, 10, SIZE_MAX, &len);
    seen s = {0};
    char err[256];
    assert_int_equal(exo_otlp_proto_decode_pieces(buf, len, 4, count_cb, &s, err, sizeof err), 0);
    assert_int_equal(s.spans, 60);
    assert_int_equal(s.pieces, 2 * 3 * 3); /* 10 spans in pieces of 4: 4, 4, 2 */
    assert_int_equal(s.next_rs, 1);
    assert_int_equal(s.next_ss, 2);
    assert_int_equal(s.next_span, 10);
    ex_free(buf);
}

static int stop_cb(void *arg, const exo_otlp_piece *p)
{
    return 1;
}

static void test_bad_input_same_message(void **state)
{
    static const uint8_t bad[][8] = {
        {0x0a, 0x05, 0x01},             /* length past the end */
        {0x08, 0x01},                   /* resource_spans as a varint */
        {0x0a, 0x02, 0x08, 0x01},       /* ResourceSpans.resource as a varint */
        {0x0a, 0x04, 0x12, 0x02, 0x10, 0x01}, /* ScopeSpans.spans as a varint */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t n = bad[i][1] == 0x05 ? 3 : (size_t)bad[i][1] + 2;
        char e1[256], e2[256];
        exo_pb_request *req = NULL;
        seen s = {0};
        int rc1 = exo_otlp_proto_decode_request(bad[i], n, &req, e1, sizeof e1);
        int rc2 = exo_otlp_proto_decode_pieces(bad[i], n, 4, count_cb, &s, e2, sizeof e2);
        assert_int_equal(rc1, EXO_OTLP_EINVAL);
        assert_int_equal(rc2, EXO_OTLP_EINVAL);
        assert_string_equal(e1, e2);
    }
    size_t len;
    uint8_t *buf = request(1, 1, 3, SIZE_MAX, &len);
    char err[256];
    assert_int_equal(exo_otlp_proto_decode_pieces(buf, len, 1, stop_cb, NULL, err, sizeof err), EXO_OTLP_ESTOPPED);
    ex_free(buf);
}

/* 100k small spans: unpacked whole they take several times the wire size;
 * in pieces of 4096 the heap grows by a small fraction of that. */
static void test_heap_stays_at_a_piece(void **state)
{
    /* Under AddressSanitizer or valgrind malloc is not glibc's and mallinfo2
     * sees nothing: a small probe block shows whether the heap can be measured. */
    size_t before = mallinfo2().uordblks;
    void *probe = ex_malloc(16384); /* below glibc's mmap threshold */
    int measurable = mallinfo2().uordblks >= before + 16384;
    ex_free(probe);
    if (!measurable) skip();
    size_t len;
    uint8_t *buf = request(1, 1, 100000, SIZE_MAX, &len);
    char err[256];
    size_t base = mallinfo2().uordblks;
    exo_pb_request *req = NULL;
    assert_int_equal(exo_otlp_proto_decode_request(buf, len, &req, err, sizeof err), 0);
    size_t whole = mallinfo2().uordblks - base;
    exo_otlp_request_free(req);
    base = mallinfo2().uordblks;
    seen s = {0};
    assert_int_equal(exo_otlp_proto_decode_pieces(buf, len, 4096, count_cb, &s, err, sizeof err), 0);
    size_t pieces = s.heap_peak - base;
    print_message("%zu-byte request: whole decode %zu bytes of heap, in pieces at most %zu\n", len, whole, pieces);
    assert_true(whole > 2 * len);
    assert_true(pieces * 5 < whole);
    ex_free(buf);
}

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

/* Through the store: 10,000 spans in pieces, one refused far into the
 * request: named by its place in the whole request; the rest committed. */
static void test_store_in_pieces(void **state)
{
    char dir[] = "/tmp/extrace-pieces-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char err[512];
    sdb *db = sdb_open(dir, err, sizeof err);
    assert_non_null(db);
    size_t len;
    uint8_t *buf = request(2, 1, 5000, 7000, &len);
    sdb_ingest_result res;
    int rc = sih_store(db, NULL, 0, buf, len, &res, err, sizeof err);
    if (rc != 0) fail_msg("sih_store: %d %s / %s", rc, err, sdb_errmsg(db));
    assert_int_equal(res.accepted, 9999);
    assert_int_equal(res.rejected, 1);
    assert_string_equal(res.message, "resourceSpans[1].scopeSpans[0].spans[2000]: traceId is 3 bytes, not 16");
    assert_int_equal(sdb_get_stats(db)->requests, 1);
    /* A third ResourceSpans whose resource is a varint: well-formed wire
     * data that protobuf-c refuses once the first pieces went through
     * sdb_ingest_part, so nothing may stay. */
    uint8_t *bad = ex_malloc(len + 4);
    memcpy(bad, buf, len);
    memcpy(bad + len, "\x0a\x02\x08\x01", 4);
    assert_int_equal(sih_store(db, "other", 0, bad, len + 4, &res, err, sizeof err), SIH_EDECODE);
    assert_string_equal(err, "protobuf: not a valid ExportTraceServiceRequest (or out of memory)");
    ex_free(bad);
    assert_int_equal(res.accepted, 0);
    assert_int_equal(sdb_get_stats(db)->spans, 9999);
    sdb_trace_query q = {0};
    long found = sdb_traces_scan(db, "other", &q, NULL, NULL);
    if (found != 0) fail_msg("scan: %ld %s", found, sdb_errmsg(db));
    sdb_close(db);
    ex_free(buf);
    nftw(dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pieces_cover_the_request),
        cmocka_unit_test(test_bad_input_same_message),
        cmocka_unit_test(test_heap_stays_at_a_piece),
        cmocka_unit_test(test_store_in_pieces),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
