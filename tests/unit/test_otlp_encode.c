/* test_otlp_encode.c — the direct encoder (otlp_encode.c) against the
 * reference, protobuf-c packing the view of exo_otlp_view_build: the same
 * bytes for random spans (seeded; EXTRACE_ENCODE_SPANS=1000000 for the
 * full run, EXTRACE_ENCODE_SEED to vary the seed) and for the requests of
 * the OTLP fuzz corpora turned into spans; the bytes decode with
 * protobuf-c back to the spans' values; the gRPC prefix is left free. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/mem.h"
#include "core/rng.h"
#include "otel/otlp_json.h"
#include "otel/otlp_proto.h"

/* ---- random spans ------------------------------------------------------ */

/* A random string: usually short ASCII, sometimes empty, long, or with
 * bytes that are not valid UTF-8 (which both encoders must repair alike). */
static char *rand_text(ex_rng *r, char *buf, size_t cap)
{
    int64_t shape = ex_rng_range(r, 0, 19);
    size_t n = shape == 0 ? 0 : shape == 1 ? (size_t)ex_rng_range(r, (int64_t)cap / 2, (int64_t)cap - 1)
                                           : (size_t)ex_rng_range(r, 1, 24);
    for (size_t i = 0; i < n; i++) {
        if (shape == 2) buf[i] = (char)ex_rng_range(r, 1, 255);            /* any byte but NUL */
        else if (shape == 3 && i % 3 == 0) memcpy(buf + i, "\xC3\xA9", 2), i++; /* é */
        else buf[i] = (char)ex_rng_range(r, 0x20, 0x7E);
        if (i >= n) break;
    }
    buf[n] = '\0';
    return buf;
}

static void rand_attrs(ex_rng *r, exo_attrs *a, int max)
{
    char k[64], v[400];
    int n = (int)ex_rng_range(r, 0, max);
    for (int i = 0; i < n; i++) {
        rand_text(r, k, sizeof k);
        switch (ex_rng_range(r, 0, 3)) {
        case 0: exo_attrs_add_str(a, k, rand_text(r, v, sizeof v)); break;
        case 1: exo_attrs_add_bool(a, k, (int)ex_rng_range(r, 0, 1)); break;
        case 2: exo_attrs_add_int(a, k, (int64_t)ex_rng_next(r) >> ex_rng_range(r, 0, 63)); break;
        default: {
            uint64_t bits = ex_rng_next(r);
            double d;
            if (ex_rng_range(r, 0, 1)) d = (ex_rng_double(r) - 0.5) * 1e6;
            else memcpy(&d, &bits, sizeof d); /* any bit pattern, NaNs included */
            exo_attrs_add_double(a, k, d);
        }
        }
    }
}

static int64_t rand_time(ex_rng *r)
{
    int64_t shape = ex_rng_range(r, 0, 9);
    if (shape == 0) return 0;
    if (shape == 1) return -(int64_t)ex_rng_range(r, 1, 1000);
    return INT64_C(1700000000000000000) + ex_rng_range(r, 0, INT64_C(100000000000000000));
}

static exo_span *rand_span(ex_rng *r)
{
    char name[400];
    static const int kinds[] = {0, 1, 2, 3, 4, 5, 7, -1};
    exo_span *s = exo_span_new(rand_text(r, name, sizeof name), kinds[ex_rng_range(r, 0, 7)]);
    for (int i = 0; i < 16; i++) s->trace_id[i] = (uint8_t)ex_rng_next(r);
    for (int i = 0; i < 8; i++) s->span_id[i] = (uint8_t)ex_rng_next(r);
    s->has_parent = (int)ex_rng_range(r, 0, 1);
    s->parent_remote = (int)ex_rng_range(r, 0, 1);
    for (int i = 0; i < 8; i++) s->parent_span_id[i] = (uint8_t)ex_rng_next(r);
    s->start_ns = rand_time(r);
    s->end_ns = rand_time(r);
    rand_attrs(r, &s->attrs, 12);
    for (int64_t i = ex_rng_range(r, -4, 3); i > 0; i--) {
        exo_event *e = exo_span_add_event(s, rand_time(r), rand_text(r, name, sizeof name));
        rand_attrs(r, &e->attrs, 3);
    }
    for (int64_t i = ex_rng_range(r, -6, 2); i > 0; i--) {
        uint8_t t[16], sp[8];
        for (int j = 0; j < 16; j++) t[j] = (uint8_t)ex_rng_next(r);
        for (int j = 0; j < 8; j++) sp[j] = (uint8_t)ex_rng_next(r);
        exo_link *l = exo_span_add_link(s, t, sp, (uint32_t)ex_rng_range(r, 0, 3) * 0x101u);
        rand_attrs(r, &l->attrs, 2);
    }
    static const int codes[] = {0, 1, 2, 5};
    int with_msg = (int)ex_rng_range(r, 0, 2);
    exo_span_set_status(s, codes[ex_rng_range(r, 0, 3)], with_msg ? rand_text(r, name, sizeof name) : NULL);
    return s;
}

/* ---- comparison ------------------------------------------------------------ */

static exo_otlp_scratch scratch; /* shared by every check, as an exporter's */

/* Encode both ways and require the same bytes; returns the length. */
static size_t check_same(const exo_resource *res, const char *scope, const char *version, exo_span *const *spans,
                         size_t n)
{
    uint8_t *a = NULL, *b = NULL;
    size_t alen = 0, blen = 0;
    assert_int_equal(exo_otlp_proto_encode(res, scope, version, spans, n, &a, &alen), 0);
    assert_int_equal(exo_otlp_proto_encode_pbc(res, scope, version, spans, n, &b, &blen), 0);
    if (alen != blen || memcmp(a, b, alen) != 0) {
        size_t at = 0;
        while (at < alen && at < blen && a[at] == b[at]) at++;
        fail_msg("direct encoding (%zu bytes) differs from protobuf-c's (%zu bytes) at byte %zu", alen, blen, at);
    }
    /* again in the buffer kept between calls, behind a 5-byte prefix */
    uint8_t *c = NULL;
    size_t clen = 0;
    assert_int_equal(exo_otlp_proto_encode_scratch(&scratch, res, scope, version, spans, n, 5, &c, &clen), 0);
    assert_int_equal(clen, alen + 5);
    assert_memory_equal(c + 5, a, alen);
    ex_free(a);
    ex_free(b);
    ex_free(c);
    return alen;
}

static void test_random_spans(void **state)
{
    (void)state;
    const char *env = getenv("EXTRACE_ENCODE_SPANS");
    const char *seed_env = getenv("EXTRACE_ENCODE_SEED");
    size_t total = env ? strtoull(env, NULL, 10) : 20000;
    uint64_t seed = seed_env ? strtoull(seed_env, NULL, 10) : 17;
    ex_rng r;
    ex_rng_seed(&r, seed);
    exo_resource res = {0};
    rand_attrs(&r, &res.attrs, 8);
    exo_span *batch[512];
    size_t done = 0, bytes = 0, batches = 0;
    while (done < total) {
        size_t n = (size_t)ex_rng_range(&r, 0, 512);
        if (n > total - done) n = total - done;
        for (size_t i = 0; i < n; i++) batch[i] = rand_span(&r);
        char scope[64];
        const char *version = ex_rng_range(&r, 0, 1) ? rand_text(&r, scope, sizeof scope) : NULL;
        bytes += check_same(batches % 7 == 3 ? NULL : &res, "extrace", version, batch, n);
        for (size_t i = 0; i < n; i++) exo_span_free(batch[i]);
        done += n;
        batches++;
    }
    exo_attrs_clear(&res.attrs);
    printf("# %zu random spans (seed %llu) in %zu requests, %zu bytes: byte-equal\n", done,
           (unsigned long long)seed, batches, bytes);
}

/* ---- the fuzz corpora's requests as spans ------------------------------ */

static void copy_attrs(exo_attrs *a, exo_pb_kv **kvs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const exo_pb_any *v = kvs[i]->value;
        const char *k = kvs[i]->key;
        if (!v) continue;
        switch (v->value_case) {
        case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE:
            exo_attrs_add_str(a, k, v->string_value);
            break;
        case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE:
            exo_attrs_add_bool(a, k, v->bool_value);
            break;
        case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE:
            exo_attrs_add_int(a, k, v->int_value);
            break;
        case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE:
            exo_attrs_add_double(a, k, v->double_value);
            break;
        default: /* arrays, maps and bytes have no place in the span model */
            break;
        }
    }
}

static void copy_id(uint8_t *dst, size_t n, ProtobufCBinaryData src)
{
    memset(dst, 0, n);
    if (src.len) memcpy(dst, src.data, src.len < n ? src.len : n);
}

static exo_span *from_pb(const exo_pb_span *p)
{
    exo_span *s = exo_span_new(p->name ? p->name : "", (int)p->kind);
    copy_id(s->trace_id, 16, p->trace_id);
    copy_id(s->span_id, 8, p->span_id);
    s->has_parent = p->parent_span_id.len > 0;
    copy_id(s->parent_span_id, 8, p->parent_span_id);
    s->parent_remote = (p->flags & EXO_FLAG_IS_REMOTE) != 0;
    s->start_ns = (int64_t)p->start_time_unix_nano;
    s->end_ns = (int64_t)p->end_time_unix_nano;
    copy_attrs(&s->attrs, p->attributes, p->n_attributes);
    for (size_t i = 0; i < p->n_events; i++) {
        exo_event *e = exo_span_add_event(s, (int64_t)p->events[i]->time_unix_nano, p->events[i]->name);
        copy_attrs(&e->attrs, p->events[i]->attributes, p->events[i]->n_attributes);
    }
    for (size_t i = 0; i < p->n_links; i++) {
        uint8_t t[16], sp[8];
        copy_id(t, 16, p->links[i]->trace_id);
        copy_id(sp, 8, p->links[i]->span_id);
        exo_link *l = exo_span_add_link(s, t, sp, p->links[i]->flags);
        copy_attrs(&l->attrs, p->links[i]->attributes, p->links[i]->n_attributes);
    }
    if (p->status) exo_span_set_status(s, (int)p->status->code, p->status->message);
    return s;
}

/* Encode every ScopeSpans of req both ways; returns the spans compared. */
static size_t check_request(const exo_pb_request *req)
{
    size_t total = 0;
    for (size_t i = 0; i < req->n_resource_spans; i++) {
        const exo_pb_resource_spans *rs = req->resource_spans[i];
        exo_resource res = {0};
        if (rs->resource) copy_attrs(&res.attrs, rs->resource->attributes, rs->resource->n_attributes);
        for (size_t j = 0; j < rs->n_scope_spans; j++) {
            const exo_pb_scope_spans *ss = rs->scope_spans[j];
            exo_span **spans = calloc(ss->n_spans + 1, sizeof *spans);
            for (size_t k = 0; k < ss->n_spans; k++) spans[k] = from_pb(ss->spans[k]);
            check_same(&res, ss->scope ? ss->scope->name : NULL, ss->scope ? ss->scope->version : NULL, spans,
                       ss->n_spans);
            for (size_t k = 0; k < ss->n_spans; k++) exo_span_free(spans[k]);
            free(spans);
            total += ss->n_spans;
        }
        exo_attrs_clear(&res.attrs);
    }
    return total;
}

static const char *source_dir(void)
{
    static char dir[4096];
    const char *env = getenv("EXTRACE_SOURCE_DIR");
    if (env && *env) return env;
    snprintf(dir, sizeof dir, "%s", __FILE__);
    char *cut = strstr(dir, "/tests/unit/");
    if (cut) *cut = '\0';
    return dir;
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    struct stat st;
    uint8_t *buf = NULL;
    if (fstat(fileno(f), &st) == 0 && st.st_size < 64 * 1024 * 1024) {
        *len = (size_t)st.st_size;
        buf = malloc(*len + 1);
        if (buf && fread(buf, 1, *len, f) != *len) free(buf), buf = NULL;
    }
    fclose(f);
    return buf;
}

/* Replay tests/fuzz/<kind>/<target>/: every input that decodes (as
 * protobuf, or JSON for otlp_json) is re-encoded both ways. */
static void replay(const char *kind, const char *target, int json, size_t *inputs, size_t *spans)
{
    char dir[8192], path[16384], err[256];
    snprintf(dir, sizeof dir, "%s/tests/fuzz/%s/%s", source_dir(), kind, target);
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t len = 0;
        uint8_t *buf = slurp(path, &len);
        if (!buf) continue;
        exo_pb_request *req = NULL;
        int rc = json ? exo_otlp_json_decode_request((const char *)buf, len, &req, err, sizeof err)
                      : exo_otlp_proto_decode_request(buf, len, &req, err, sizeof err);
        if (rc == 0) {
            *spans += check_request(req);
            ++*inputs;
        }
        exo_otlp_request_free(req);
        free(buf);
    }
    closedir(d);
}

static void test_fuzz_corpora(void **state)
{
    (void)state;
    static const struct { const char *target; int json; } targets[] = {
        {"otlp_proto", 0}, {"otlp_pieces", 0}, {"grpc", 0}, {"otlp_json", 1}};
    size_t inputs = 0, spans = 0;
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        replay("corpus", targets[i].target, targets[i].json, &inputs, &spans);
        replay("regressions", targets[i].target, targets[i].json, &inputs, &spans);
    }
    printf("# %zu corpus requests, %zu spans: byte-equal\n", inputs, spans);
    assert_true(inputs >= 5); /* the corpora are there and decode */
    assert_true(spans > 0);
}

/* ---- decoding the output ----------------------------------------------- */

static void test_decodes_back(void **state)
{
    (void)state;
    ex_rng r;
    ex_rng_seed(&r, 99);
    exo_resource res = {0};
    exo_attrs_add_str(&res.attrs, "service.name", "w\xFFx"); /* repaired */
    exo_span *s = exo_span_new("stage", EXO_KIND_CLIENT);
    s->start_ns = 5;
    s->end_ns = 7;
    s->has_parent = 1;
    s->parent_remote = 1;
    exo_attrs_add_int(&s->attrs, "n", -3);
    exo_attrs_add_str(&s->attrs, "", "");
    exo_span *spans[2] = {s, rand_span(&r)};
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(exo_otlp_proto_encode_into(&res, "sc", "1", spans, 2, 5, &buf, &len), 0);
    exo_pb_request *req = NULL;
    char err[128];
    assert_int_equal(exo_otlp_proto_decode_request(buf + 5, len - 5, &req, err, sizeof err), 0);
    const exo_pb_resource_spans *rs = req->resource_spans[0];
    assert_string_equal(rs->resource->attributes[0]->value->string_value, "w\xEF\xBF\xBDx");
    assert_string_equal(rs->scope_spans[0]->scope->name, "sc");
    const exo_pb_span *p = rs->scope_spans[0]->spans[0];
    assert_int_equal(rs->scope_spans[0]->n_spans, 2);
    assert_string_equal(p->name, "stage");
    assert_int_equal(p->kind, EXO_KIND_CLIENT);
    assert_int_equal(p->start_time_unix_nano, 5);
    assert_int_equal(p->end_time_unix_nano, 7);
    assert_int_equal(p->flags, 0x301);
    assert_int_equal(p->n_attributes, 2);
    assert_int_equal(p->attributes[0]->value->int_value, -3);
    assert_string_equal(p->attributes[1]->key, "");
    assert_int_equal(p->attributes[1]->value->value_case,
                     OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE);
    exo_otlp_request_free(req);
    ex_free(buf);
    exo_span_free(spans[0]);
    exo_span_free(spans[1]);
    exo_attrs_clear(&res.attrs);
}

/* Every allocation failure (the first buffer, each doubling) is
 * EXO_OTLP_ENOMEM with nothing leaked; without failures it succeeds. */
static void test_alloc_failures(void **state)
{
    (void)state;
    ex_rng r;
    ex_rng_seed(&r, 5);
    exo_span *spans[40];
    for (int i = 0; i < 40; i++) spans[i] = rand_span(&r);
    size_t ok_at = 0;
    for (long n = 0; n < 64 && !ok_at; n++) {
        uint8_t *buf = NULL;
        size_t len = 0;
        ex_mem_fail_after(n);
        int rc = exo_otlp_proto_encode_into(NULL, "s", NULL, spans, 40, 5, &buf, &len);
        ex_mem_fail_after(-1);
        if (rc == 0) ok_at = (size_t)n + 1;
        else assert_int_equal(rc, EXO_OTLP_ENOMEM), assert_null(buf);
        ex_free(buf);
    }
    assert_true(ok_at > 1); /* 40 large random spans outgrow the first buffer */
    for (int i = 0; i < 40; i++) exo_span_free(spans[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_spans),
        cmocka_unit_test(test_fuzz_corpora),
        cmocka_unit_test(test_decodes_back),
        cmocka_unit_test(test_alloc_failures),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    exo_otlp_scratch_free(&scratch);
    return rc;
}
