/* The store's live view (store/live.h), without sockets: worker URLs,
 * each worker's answer (valid list, refused, no answer, not a list), the
 * merged document, finding one workflow, the events of a detail answer,
 * and the routes of a store without --live. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/mem.h"
#include "store/live.h"

#define T0 (INT64_C(1764700000) * EX_NS_PER_SEC)

static const char LIST_A[] =
    "{\"worker\":{\"instance\":\"a\",\"inFlight\":2,\"time\":\"2025-12-02T18:26:40Z\"},\"total\":2,\"workflows\":["
    "{\"key\":\"k1\",\"source\":\"seed\",\"traceId\":\"0123456789abcdef0123456789abcdef\",\"status\":\"running\","
    "\"currentStage\":\"Build\",\"nodes\":[]},"
    "{\"key\":\"k2\",\"source\":\"seed\",\"traceId\":\"fedcba9876543210fedcba9876543210\",\"status\":\"pending\","
    "\"currentStage\":null,\"nodes\":[]}],\"next\":null}";
static const char LIST_B[] =
    "{\"worker\":{\"instance\":\"b\",\"inFlight\":1,\"time\":\"2025-12-02T18:26:40Z\"},\"total\":1,\"workflows\":["
    "{\"key\":\"k3\",\"source\":\"argo\",\"traceId\":\"00000000000000000000000000000003\",\"status\":\"running\","
    "\"nodes\":[]}],\"next\":null}";

static slv_worker worker(const char *url)
{
    slv_worker w;
    memset(&w, 0, sizeof w);
    snprintf(w.url, sizeof w.url, "%s", url);
    return w;
}

static void test_urls(void **state)
{
    (void)state;
    char urls[SLV_MAX_WORKERS][SLV_URL_MAX], why[300];
    size_t n;
    assert_int_equal(slv_urls_parse("http://127.0.0.1:9464/, https://w2:1", urls, SLV_MAX_WORKERS, &n, why, sizeof why), 0);
    assert_int_equal(n, 2);
    assert_string_equal(urls[0], "http://127.0.0.1:9464");
    assert_string_equal(urls[1], "https://w2:1");
    assert_int_equal(slv_urls_parse("http://a:1,127.0.0.1:9465", urls, SLV_MAX_WORKERS, &n, why, sizeof why), -1);
    assert_non_null(strstr(why, "\"127.0.0.1:9465\" is not a worker's admin base URL"));
    assert_int_equal(slv_check_urls("", why, sizeof why), -1);
    assert_int_equal(slv_check_urls("http://a:1/x?y=1", why, sizeof why), -1);
    assert_int_equal(slv_urls_parse("http://a:1,http://a:2,http://a:3", urls, 2, &n, why, sizeof why), -1);
    assert_string_equal(why, "more than 2 worker URLs");
}

static void test_update(void **state)
{
    (void)state;
    slv_worker w = worker("http://w:1");
    slv_worker_update(&w, NULL, 200, LIST_A, strlen(LIST_A), T0);
    assert_true(w.answered);
    assert_string_equal(w.error, "");
    assert_int_equal(w.in_flight, 2);
    assert_int_equal(w.total, 2);
    assert_int_equal(json_array_size(w.workflows), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(w.workflows, 0), "worker")), "http://w:1");

    /* No answer: the list goes, the error names the worker and the reason. */
    slv_worker_update(&w, "Failed to connect to w port 1 after 0 ms: Connection refused", 0, NULL, 0, T0 + 1);
    assert_false(w.answered);
    assert_null(w.workflows);
    assert_string_equal(w.error, "worker http://w:1: no answer from GET /api/workflows: Failed to connect to w port 1 "
                                 "after 0 ms: Connection refused");
    slv_worker_update(&w, NULL, 404, "not found", 9, T0 + 2);
    assert_non_null(strstr(w.error, "worker http://w:1: GET /api/workflows answered 404"));
    slv_worker_update(&w, NULL, 503, "busy", 4, T0 + 2);
    assert_string_equal(w.error, "worker http://w:1: GET /api/workflows answered HTTP 503: busy");
    slv_worker_update(&w, NULL, 200, "{\"workflows\":", 13, T0 + 3);
    assert_non_null(strstr(w.error, "the answer is not JSON"));
    slv_worker_update(&w, NULL, 200, "{\"worker\":{},\"workflows\":[1]}", 29, T0 + 3);
    assert_non_null(strstr(w.error, "workflows[0] is not an object with a string \"key\""));
    assert_false(w.answered);
    slv_worker_update(&w, NULL, 200, "[]", 2, T0 + 3);
    assert_non_null(strstr(w.error, "no \"worker\" object"));
    slv_worker_clear(&w);
}

static void test_merged(void **state)
{
    (void)state;
    slv_worker ws[3] = {worker("http://a:1"), worker("http://b:2"), worker("http://c:3")};
    slv_worker_update(&ws[0], NULL, 200, LIST_A, strlen(LIST_A), T0);
    slv_worker_update(&ws[1], NULL, 200, LIST_B, strlen(LIST_B), T0);
    slv_worker_update(&ws[2], "Connection refused", 0, NULL, 0, T0);
    json_t *doc = slv_merged(ws, 3, NULL, NULL, T0 + 500 * EX_NS_PER_MS);
    assert_non_null(doc);
    assert_string_equal(json_string_value(json_object_get(doc, "time")), "2025-12-02T18:26:40.500Z");
    assert_int_equal(json_integer_value(json_object_get(doc, "inFlight")), 3);
    json_t *workers = json_object_get(doc, "workers"), *list = json_object_get(doc, "workflows");
    assert_int_equal(json_array_size(workers), 3);
    assert_true(json_is_true(json_object_get(json_array_get(workers, 0), "ok")));
    assert_true(json_is_null(json_object_get(json_array_get(workers, 0), "error")));
    json_t *c = json_array_get(workers, 2);
    assert_true(json_is_false(json_object_get(c, "ok")));
    assert_true(json_is_null(json_object_get(c, "inFlight")));
    assert_string_equal(json_string_value(json_object_get(c, "error")),
                        "worker http://c:3: no answer from GET /api/workflows: Connection refused");
    assert_int_equal(json_array_size(list), 3);
    const char *keys[] = {"k1", "k2", "k3"};
    for (size_t i = 0; i < 3; i++)
        assert_string_equal(json_string_value(json_object_get(json_array_get(list, i), "key")), keys[i]);
    json_decref(doc);

    doc = slv_merged(ws, 3, "00000000000000000000000000000003", NULL, T0);
    assert_int_equal(json_array_size(json_object_get(doc, "workflows")), 1);
    json_decref(doc);
    doc = slv_merged(ws, 3, NULL, "running", T0);
    assert_int_equal(json_array_size(json_object_get(doc, "workflows")), 2);
    json_decref(doc);

    size_t at = 99;
    json_t *wf = slv_find(ws, 3, "k3", NULL, &at);
    assert_non_null(wf);
    assert_int_equal(at, 1);
    assert_non_null(slv_find(ws, 3, "k3", "argo", &at));
    assert_null(slv_find(ws, 3, "k3", "seed", &at));
    assert_null(slv_find(ws, 3, "nope", NULL, &at));
    for (size_t i = 0; i < 3; i++) slv_worker_clear(&ws[i]);

    /* Not polled yet: said so, not "no workflows". */
    slv_worker fresh = worker("http://d:4");
    doc = slv_merged(&fresh, 1, NULL, NULL, T0);
    assert_non_null(strstr(json_string_value(json_object_get(json_array_get(json_object_get(doc, "workers"), 0), "error")),
                           "not asked yet"));
    json_decref(doc);
}

static void test_detail_events(void **state)
{
    (void)state;
    char why[300];
    const char *ok = "{\"key\":\"k1\",\"events\":[{\"node\":\"b\",\"name\":\"Started\",\"time\":\"2025-12-02T18:26:40Z\"}]}";
    json_t *ev = slv_detail_events(ok, strlen(ok), why, sizeof why);
    assert_non_null(ev);
    assert_int_equal(json_array_size(ev), 1);
    json_decref(ev);
    assert_null(slv_detail_events("{\"key\":1}", 9, why, sizeof why));
    assert_string_equal(why, "the answer has no \"events\" array");
    assert_null(slv_detail_events("{\"events\":[{}]}", 15, why, sizeof why));
    assert_string_equal(why, "events[0] is not an object with a string \"name\"");
    assert_null(slv_detail_events("nope", 4, why, sizeof why));
}

static const char *no_arg(void *arg, const char *name)
{
    (void)arg;
    (void)name;
    return NULL;
}

static void resp_free(ex_http_resp *r)
{
    ex_free(r->body);
    for (int i = 0; i < r->nheaders; i++) ex_free(r->header_values[i]);
    *r = (ex_http_resp){0};
}

static void test_routes_without_live(void **state)
{
    (void)state;
    ex_http_resp r = {0};
    sq_request req = {"GET", "/api/live", no_arg, no_arg, NULL};
    assert_int_equal(slv_route(NULL, &req, &r), 1);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"workers\":[]"));
    assert_non_null(strstr(r.body, "\"workflows\":[]"));
    resp_free(&r);
    req.path = "/api/live/workflows/k1";
    assert_int_equal(slv_route(NULL, &req, &r), 1);
    assert_int_equal(r.status, 404);
    assert_non_null(strstr(r.body, "no --live workers"));
    resp_free(&r);
    req.method = "POST";
    assert_int_equal(slv_route(NULL, &req, &r), 1);
    assert_int_equal(r.status, 405);
    resp_free(&r);
    req.path = "/api/lively";
    assert_int_equal(slv_route(NULL, &req, &r), 0);
    req.path = "/api/ui/trace/abc";
    assert_int_equal(slv_trace_route(NULL, NULL, &req, &r), 1);
    assert_int_equal(r.status, 405);
    resp_free(&r);
    req.path = "/api/ui/traces";
    assert_int_equal(slv_trace_route(NULL, NULL, &req, &r), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_urls),
        cmocka_unit_test(test_update),
        cmocka_unit_test(test_merged),
        cmocka_unit_test(test_detail_events),
        cmocka_unit_test(test_routes_without_live),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
