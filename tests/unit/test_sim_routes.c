/* test_sim_routes.c — the simulator's API without sockets (src/sim/routes.c,
 * openapi.c, render.c): routes, status codes, bodies, id validation, the
 * seed's lazy creation, eviction answers, JSON escaping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/iso8601.h"
#include "core/mem.h"
#include "core/uuid.h"
#include "sim/routes.h"

#define T0 INT64_C(1720162676123456700)

static ex_clock clock_;
static ex_rng rng;
static sim_api api;

/* Query arguments for a request: "k=v" strings, NULL-terminated. */
static const char *lookup(void *ctx, const char *key)
{
    for (const char **kv = ctx; *kv; kv++) {
        size_t n = strlen(key);
        if (strncmp(*kv, key, n) == 0 && (*kv)[n] == '=') return *kv + n + 1;
    }
    return NULL;
}

static int setup_sized(size_t max_workflows, size_t max_evicted, double failure_rate)
{
    ex_clock_init_fake(&clock_, T0);
    ex_rng_seed(&rng, 99);
    sim_env env = {&clock_, &rng, failure_rate};
    sim_api_init(&api, &env, max_workflows, max_evicted);
    return 0;
}

static int setup(void **state) { return setup_sized(1000, 1000, 0.1); }

static int teardown(void **state)
{
    sim_api_destroy(&api);
    return 0;
}

static sim_reply rep;
static char body[SIM_REPLY_MAX + 1];

/* Send one request; returns the status; the body is in `body`. */
static int call(const char *method, const char *path, const char **query, const char *req_body)
{
    sim_request req = {.method = method, .path = path, .query = query ? lookup : NULL, .query_ctx = query,
                       .body = req_body, .body_len = req_body ? strlen(req_body) : 0};
    sim_api_handle(&api, &req, &rep);
    assert_non_null(rep.body);
    memcpy(body, rep.body, rep.body_len);
    body[rep.body_len] = '\0';
    return rep.status;
}

/* The "error" member of an error body. */
static const char *error_of(void)
{
    static char msg[1024];
    json_error_t err;
    json_t *doc = json_loads(body, 0, &err);
    if (!doc) fail_msg("error body is not JSON: %s: %s", err.text, body);
    const char *m = json_string_value(json_object_get(doc, "error"));
    assert_non_null(m);
    assert_int_equal(json_object_size(doc), 1);
    snprintf(msg, sizeof msg, "%s", m);
    json_decref(doc);
    return msg;
}

static void test_first_get_creates_without_advancing(void **state)
{
    assert_int_equal(call("GET", "/workflows/w1", NULL, NULL), 200);
    assert_string_equal(body, "{\"workflowId\":\"w1\",\"workflowStatus\":\"Initializing\","
                              "\"workflowStartTime\":\"2024-07-05T06:57:56.1234567Z\",\"isComplete\":false,"
                              "\"workflowEntities\":{}}");
    assert_null(rep.allow);
    assert_string_equal(rep.location, "");
    ex_clock_advance(&clock_, EX_NS_PER_SEC);
    assert_int_equal(call("GET", "/workflows/w1", NULL, NULL), 200);
    assert_non_null(strstr(body, "\"workflowStatus\":\"Processing\""));
    assert_non_null(strstr(body, "\"DataLoader\":{\"entityType\":\"DataLoader\""));
    assert_int_equal(call("HEAD", "/workflows/w1", NULL, NULL), 200); /* HEAD polls like GET */
    assert_int_equal(api.store.count, 1);
    assert_int_equal(api.stats.ok, 3);
}

static void test_poll_runs_to_completion(void **state)
{
    call("GET", "/workflows/run", NULL, NULL);
    for (int i = 0; i < 60 && !strstr(body, "\"isComplete\":true}}"); i++) {
        ex_clock_advance(&clock_, 100 * EX_NS_PER_SEC);
        assert_int_equal(call("GET", "/workflows/run", NULL, NULL), 200);
    }
    json_t *doc = json_loads(body, 0, NULL);
    assert_non_null(doc);
    assert_true(json_is_true(json_object_get(doc, "isComplete")));
    assert_non_null(json_object_get(doc, "workflowEndTime"));
    json_decref(doc);
}

static void test_id_validation(void **state)
{
    char why[512], id[SIM_ID_MAX + 2];
    memset(id, 'a', sizeof id);
    assert_int_equal(sim_id_check(id, SIM_ID_MAX, "path", why, sizeof why), 0);
    assert_int_equal(sim_id_check(id, SIM_ID_MAX + 1, "path", why, sizeof why), -1);
    assert_non_null(strstr(why, "129 bytes, longer than the limit of 128"));
    assert_non_null(strstr(why, "(path)"));
    assert_int_equal(sim_id_check("A-z_0.9", 7, "path", why, sizeof why), 0);
    assert_int_equal(sim_id_check("a/b", 3, "path", why, sizeof why), -1);
    assert_int_equal(sim_id_check("a b", 3, "request body", why, sizeof why), -1);
    assert_string_equal(why, "workflow id \"a\\x20b\" (request body): byte 0x20 at offset 1 is not allowed "
                             "(only A-Z a-z 0-9 . _ -)");
    assert_int_equal(sim_id_check("caf\xc3\xa9", 5, "path", why, sizeof why), -1);
    assert_int_equal(sim_id_check("", 0, "path", why, sizeof why), -1);
    assert_non_null(strstr(why, "must not be empty"));

    id[SIM_ID_MAX + 1] = '\0';
    char path[200];
    snprintf(path, sizeof path, "/workflows/%s", id);
    assert_int_equal(call("GET", path, NULL, NULL), 400);
    assert_non_null(strstr(error_of(), "longer than the limit of 128"));
    assert_int_equal(call("GET", "/workflows/a%00b", NULL, NULL), 400);
    assert_int_equal(call("GET", "/workflows/bad\x01id", NULL, NULL), 400);
    assert_non_null(strstr(error_of(), "byte 0x01 at offset 3"));
    assert_int_equal(api.store.count, 0);
    assert_int_equal(api.stats.bad_request, 3);
}

static void test_unknown_routes_are_404(void **state)
{
    assert_int_equal(call("GET", "/nope", NULL, NULL), 404);
    assert_string_equal(error_of(), "no route for GET /nope (see /openapi.json)");
    assert_int_equal(call("GET", "/workflows/", NULL, NULL), 404);
    assert_int_equal(call("GET", "/workflows/a/b", NULL, NULL), 404);
    assert_int_equal(call("GET", "/", NULL, NULL), 404);
    assert_int_equal(call("GET", "/workflowsx", NULL, NULL), 404);
    assert_int_equal(api.stats.not_found, 5);
    assert_int_equal(api.store.count, 0);
}

static void test_wrong_method_is_405_with_allow(void **state)
{
    assert_int_equal(call("DELETE", "/workflows/w1", NULL, NULL), 405);
    assert_string_equal(rep.allow, "GET, HEAD");
    assert_string_equal(error_of(), "method DELETE not allowed on /workflows/{workflowId} (allowed: GET, HEAD)");
    assert_int_equal(call("POST", "/workflows/w1", NULL, "{}"), 405);
    assert_int_equal(call("PUT", "/workflows", NULL, NULL), 405);
    assert_string_equal(rep.allow, "GET, HEAD, POST");
    assert_int_equal(call("POST", "/healthz", NULL, NULL), 405);
    assert_string_equal(rep.allow, "GET, HEAD");
    assert_int_equal(call("DELETE", "/openapi.json", NULL, NULL), 405);
    assert_int_equal(api.stats.bad_method, 5);
    assert_int_equal(api.store.count, 0);
}

static void test_post_creates(void **state)
{
    assert_int_equal(call("POST", "/workflows", NULL, "{\"workflowId\":\"p-1\"}"), 201);
    assert_string_equal(rep.location, "/workflows/p-1");
    assert_non_null(strstr(body, "{\"workflowId\":\"p-1\",\"workflowStatus\":\"Initializing\""));
    assert_int_equal(call("POST", "/workflows", NULL, "{\"workflowId\":\"p-1\"}"), 409);
    assert_string_equal(error_of(), "workflow p-1 already exists");
    /* a POSTed workflow is known: its first GET advances it */
    assert_int_equal(call("GET", "/workflows/p-1", NULL, NULL), 200);
    assert_non_null(strstr(body, "\"workflowStatus\":\"Processing\""));

    assert_int_equal(call("POST", "/workflows", NULL, NULL), 201); /* no body: a new GUID */
    assert_int_equal(strlen(rep.location), strlen("/workflows/") + EX_UUID_LEN);
    assert_true(ex_uuid_valid(rep.location + strlen("/workflows/")));
    assert_int_equal(call("POST", "/workflows", NULL, " \n"), 201);
    assert_int_equal(call("POST", "/workflows", NULL, "{\"other\":1}"), 201);
    assert_true(ex_uuid_valid(rep.location + strlen("/workflows/")));
    assert_int_equal(call("POST", "/workflows", NULL, "{\"workflowId\":null}"), 201);
    assert_int_equal(api.store.count, 5);
    assert_int_equal(api.stats.conflict, 1);
}

static void test_post_rejects_bad_bodies(void **state)
{
    assert_int_equal(call("POST", "/workflows", NULL, "{bad"), 400);
    assert_non_null(strstr(error_of(), "request body: not valid JSON"));
    assert_int_equal(call("POST", "/workflows", NULL, "[1]"), 400);
    assert_non_null(strstr(error_of(), "expected a JSON object"));
    assert_int_equal(call("POST", "/workflows", NULL, "{\"workflowId\":5}"), 400);
    assert_string_equal(error_of(), "request body: workflowId must be a string");
    assert_int_equal(call("POST", "/workflows", NULL, "{\"workflowId\":\"a b\"}"), 400);
    assert_non_null(strstr(error_of(), "(request body)"));
    assert_int_equal(call("POST", "/workflows", NULL, "{\"workflowId\":\"\"}"), 400);
    assert_int_equal(call("POST", "/workflows", NULL, "{\"workflowId\":\"x\",\"workflowId\":\"y\"}"), 400);
    sim_request req = {.method = "POST", .path = "/workflows", .body = "{", .body_len = 1, .body_too_large = 1};
    sim_api_handle(&api, &req, &rep);
    assert_int_equal(rep.status, 413);
    assert_int_equal(api.store.count, 0);
    assert_int_equal(api.stats.bad_request, 6);
    assert_int_equal(api.stats.too_large, 1);
}

static void test_list_by_status(void **state)
{
    call("GET", "/workflows/a", NULL, NULL);
    call("GET", "/workflows/b", NULL, NULL);
    call("GET", "/workflows/c", NULL, NULL);
    call("GET", "/workflows/b", NULL, NULL); /* b is Processing */
    assert_int_equal(call("GET", "/workflows", NULL, NULL), 200);
    assert_string_equal(body, "{\"workflowIds\":[\"a\",\"b\",\"c\"]}");
    const char *q1[] = {"status=Processing", NULL};
    assert_int_equal(call("GET", "/workflows", q1, NULL), 200);
    assert_string_equal(body, "{\"workflowIds\":[\"b\"]}");
    const char *q2[] = {"status=initializing", "limit=1", NULL};
    assert_int_equal(call("GET", "/workflows", q2, NULL), 200);
    assert_string_equal(body, "{\"workflowIds\":[\"a\"]}");
    const char *q3[] = {"status=Failed", NULL};
    assert_int_equal(call("GET", "/workflows", q3, NULL), 200);
    assert_string_equal(body, "{\"workflowIds\":[]}");
    const char *bad[][3] = {{"status=Done", NULL}, {"status=", NULL}, {"limit=0", NULL}, {"limit=1001", NULL},
                            {"limit=ten", NULL},   {"limit=", NULL},  {"limit=5x", NULL}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(call("GET", "/workflows", bad[i], NULL), 400);
        assert_non_null(strstr(error_of(), "query "));
    }
    const char *q4[] = {"limit=1000", NULL};
    assert_int_equal(call("GET", "/workflows", q4, NULL), 200);
}

static void test_health_and_openapi(void **state)
{
    assert_int_equal(call("GET", "/healthz", NULL, NULL), 200);
    assert_string_equal(body, "{\"status\":\"ok\"}");
    assert_int_equal(call("GET", "/openapi.json", NULL, NULL), 200);
    json_error_t err;
    json_t *doc = json_loads(body, JSON_REJECT_DUPLICATES, &err);
    if (!doc) fail_msg("openapi.json does not parse: %s (line %d, column %d)", err.text, err.line, err.column);
    assert_string_equal(json_string_value(json_object_get(doc, "openapi")), "3.0.3");
    json_t *paths = json_object_get(doc, "paths");
    assert_non_null(json_object_get(json_object_get(paths, "/workflows/{workflowId}"), "get"));
    assert_non_null(json_object_get(json_object_get(paths, "/workflows"), "get"));
    assert_non_null(json_object_get(json_object_get(paths, "/workflows"), "post"));
    assert_non_null(json_object_get(json_object_get(paths, "/healthz"), "get"));
    assert_non_null(json_object_get(json_object_get(paths, "/openapi.json"), "get"));
    assert_int_equal(json_object_size(paths), 4);
    json_t *schemas = json_object_get(json_object_get(doc, "components"), "schemas");
    json_t *ids = json_object_get(json_object_get(schemas, "WorkflowIds"), "properties");
    assert_non_null(json_object_get(ids, "workflowIds"));
    json_decref(doc);
}

static void test_eviction_answers(void **state)
{
    sim_api_destroy(&api);
    setup_sized(2, 10, 1.0); /* every entity fails: workflows end fast */
    call("GET", "/workflows/a", NULL, NULL);
    call("GET", "/workflows/b", NULL, NULL);
    assert_int_equal(call("GET", "/workflows/c", NULL, NULL), 503);
    assert_non_null(strstr(error_of(), "--max-workflows=2"));
    assert_int_equal(call("POST", "/workflows", NULL, "{\"workflowId\":\"c\"}"), 503);
    for (int i = 0; i < 4; i++) { /* a: DataLoader added, Processing, Failed */
        ex_clock_advance(&clock_, 1000 * EX_NS_PER_SEC);
        call("GET", "/workflows/a", NULL, NULL);
    }
    assert_non_null(strstr(body, "\"workflowErrorMessage\":\"Entity failed: DataLoader\""));
    assert_int_equal(call("GET", "/workflows/c", NULL, NULL), 200); /* evicts a */
    assert_int_equal(call("GET", "/workflows/a", NULL, NULL), 404);
    assert_string_equal(error_of(), "workflow a was evicted");
    assert_int_equal(call("POST", "/workflows", NULL, "{\"workflowId\":\"a\"}"), 409);
    assert_string_equal(error_of(), "workflow a was evicted");
    assert_int_equal(api.stats.unavailable, 2);
    assert_int_equal(api.store.count, 2);
}

static void check_escape(const char *in, size_t n, const char *want)
{
    sim_buf b;
    sim_buf_init(&b, 1024);
    assert_int_equal(sim_buf_json_string(&b, in, n), 0);
    assert_string_equal(b.data, want);
    json_t *v = json_loads(b.data, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL); /* always valid JSON */
    assert_non_null(v);
    json_decref(v);
    sim_buf_free(&b);
}

static void test_json_escaping(void **state)
{
    check_escape("plain-id_1.2", 12, "\"plain-id_1.2\"");
    check_escape("a\"b\\c", 5, "\"a\\u0022b\\\\c\"");
    check_escape("<>&'+`", 6, "\"\\u003C\\u003E\\u0026\\u0027\\u002B\\u0060\"");
    check_escape("\b\t\n\f\r\x01\x7f", 7, "\"\\b\\t\\n\\f\\r\\u0001\\u007F\"");
    check_escape("caf\xc3\xa9", 5, "\"caf\\u00E9\"");
    check_escape("\xf0\x9f\x98\x80", 4, "\"\\uD83D\\uDE00\"");
    check_escape("\xff" "a\xc3", 3, "\"\\uFFFDa\\uFFFD\"");
    check_escape("\xed\xa0\x80", 3, "\"\\uFFFD\\uFFFD\\uFFFD\""); /* an encoded surrogate is ill-formed */
    check_escape("a\0b", 3, "\"a\\u0000b\"");
}

static void test_buffer_limit(void **state)
{
    sim_buf b;
    sim_buf_init(&b, 8);
    assert_int_equal(sim_buf_puts(&b, "12345678"), 0);
    assert_int_equal(sim_buf_puts(&b, "9"), -1);
    assert_true(b.overflow);
    assert_string_equal(b.data, "12345678");
    assert_int_equal(sim_buf_puts(&b, ""), -1); /* stays failed until reset */
    sim_buf_reset(&b);
    assert_int_equal(sim_buf_printf(&b, "%d-%s", 42, "x"), 0);
    assert_string_equal(b.data, "42-x");
    sim_buf_free(&b);
    ex_mem_fail_after(0);
    sim_buf_init(&b, 100);
    int rc = sim_buf_puts(&b, "x");
    ex_mem_fail_after(-1);
    assert_int_equal(rc, -1);
    assert_true(b.overflow);
    sim_buf_free(&b);
}

/* On time: a workflow nobody polls still moves; one GET long after shows
 * it ended at its planned instants, with entityProcessingStartTime; the
 * plan endpoint (only when exposed) reports the same instants and never
 * advances anything. */
static void test_on_time_and_plan(void **state)
{
    (void)state;
    assert_int_equal(call("GET", "/debug/plan/w1", NULL, NULL), 404); /* not exposed: no such route */
    api.expose_plan = 1;
    api.env.advance = SIM_ADVANCE_ON_TIME;
    assert_int_equal(call("GET", "/workflows/w1", NULL, NULL), 200);
    assert_non_null(strstr(body, "\"workflowStatus\":\"Processing\"")); /* the first stage starts with it */
    assert_int_equal(call("GET", "/workflows", (const char *[]){"status=Completed", NULL}, NULL),
                     200);
    assert_non_null(strstr(body, "[]"));
    ex_clock_advance(&clock_, 3600 * EX_NS_PER_SEC);
    /* A listing catches every workflow up to now. */
    call("GET", "/workflows", (const char *[]){"status=Processing", NULL}, NULL);
    assert_non_null(strstr(body, "[]"));
    assert_int_equal(call("GET", "/debug/plan/w1", NULL, NULL), 200);
    json_t *plan = json_loads(body, 0, NULL);
    assert_non_null(plan);
    assert_string_equal(json_string_value(json_object_get(plan, "advance")), "on-time");
    assert_int_equal(call("GET", "/workflows/w1", NULL, NULL), 200);
    json_t *wf = json_loads(body, 0, NULL);
    assert_true(json_is_true(json_object_get(wf, "isComplete")));
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(plan, "entities"), i, e) {
        const char *type = json_string_value(json_object_get(e, "entityType"));
        json_t *ent = json_object_get(json_object_get(wf, "workflowEntities"), type);
        assert_non_null(ent);
        json_int_t planned_p = json_integer_value(json_object_get(e, "plannedProcessingUnixNano"));
        json_int_t planned_e = json_integer_value(json_object_get(e, "plannedEndUnixNano"));
        assert_true(json_integer_value(json_object_get(e, "processingUnixNano")) == planned_p);
        assert_true(json_integer_value(json_object_get(e, "endUnixNano")) == planned_e);
        int64_t p_ns, e_ns;
        const char *ps = json_string_value(json_object_get(ent, "entityProcessingStartTime"));
        const char *es = json_string_value(json_object_get(ent, "entityEndTime"));
        assert_int_equal(ex_iso_parse(ps, strlen(ps), &p_ns, NULL), 0);
        assert_int_equal(ex_iso_parse(es, strlen(es), &e_ns, NULL), 0);
        assert_true(p_ns == planned_p && e_ns == planned_e);
    }
    json_decref(plan);
    json_decref(wf);
    assert_int_equal(call("GET", "/debug/plan/nobody", NULL, NULL), 404);
    assert_int_equal(call("POST", "/debug/plan/w1", NULL, NULL), 405);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_first_get_creates_without_advancing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_poll_runs_to_completion, setup, teardown),
        cmocka_unit_test_setup_teardown(test_id_validation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_routes_are_404, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_method_is_405_with_allow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_post_creates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_post_rejects_bad_bodies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_by_status, setup, teardown),
        cmocka_unit_test_setup_teardown(test_health_and_openapi, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eviction_answers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_on_time_and_plan, setup, teardown),
        cmocka_unit_test(test_json_escaping),
        cmocka_unit_test(test_buffer_limit),
    };
    return cmocka_run_group_tests_name("sim_routes", tests, NULL, NULL);
}
