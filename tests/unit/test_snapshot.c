/* The API snapshot parser: valid bodies, each contract violation with its
 * message, bodies that are not JSON, and hostile input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "worker/snapshot.h"

#define WID "0f8fad5b-d9cb-469f-a165-70867728950e"
#define T_START "2024-07-05T06:57:56.1234567Z"
#define T_DL "2024-07-05T06:58:06.0000001Z"
#define T_END "2024-07-05T06:58:56.5Z"
/* 2024-07-05T06:57:56Z in unix seconds */
#define S_0656 INT64_C(1720162676)

/* Head of a workflow body up to (not including) the entities. */
#define HEAD(status, rest) \
    "{\"workflowId\":\"" WID "\",\"workflowStatus\":\"" status "\",\"workflowStartTime\":\"" T_START "\"" rest
#define ENTITY(type, status, rest) \
    "\"" type "\":{\"entityType\":\"" type "\",\"entityId\":\"id-" type "\",\"entityStatus\":\"" status "\"" rest "}"
/* Pieces of bodies: a running / ended workflow, entity times, the entities. */
#define RUNNING          ",\"isComplete\":false"
#define ENDED            ",\"workflowEndTime\":\"" T_END "\",\"isComplete\":true"
#define OPEN_AT(t)       ",\"entityStartTime\":\"" t "\",\"isComplete\":false"
#define DONE_AT(t0, t1)  ",\"entityStartTime\":\"" t0 "\",\"entityEndTime\":\"" t1 "\",\"isComplete\":true"
#define ENTS(...)        ",\"workflowEntities\":{" __VA_ARGS__ "}}"

static int parse(const char *body, wm_snapshot *s, char *why, size_t whylen)
{
    return wm_snapshot_parse(body, strlen(body), WID, s, why, whylen);
}

static void parse_ok(const char *body, wm_snapshot *s)
{
    char why[512];
    int rc = parse(body, s, why, sizeof why);
    if (rc != 0) fail_msg("rc %d: %s\nbody: %.300s", rc, why, body);
}

static void parse_bad(const char *body, int kind, const char *want_why)
{
    static wm_snapshot s;
    char why[512];
    int rc = parse(body, &s, why, sizeof why);
    if (rc != kind) fail_msg("rc %d (want %d) why '%s'\nbody: %.300s", rc, kind, why, body);
    if (want_why && strcmp(why, want_why) != 0) fail_msg("why:\n  got  '%s'\n  want '%s'", why, want_why);
}

static void test_initializing_no_entities(void **state)
{
    (void)state;
    static wm_snapshot s;
    parse_ok(HEAD("Initializing", ",\"isComplete\":false,\"workflowEntities\":{}}"), &s);
    assert_int_equal(s.status, WM_INITIALIZING);
    assert_int_equal(s.complete, 0);
    assert_int_equal(s.start_ns, S_0656 * EX_NS_PER_SEC + 123456700);
    assert_true(s.end_ns == WM_NO_TIME);
    assert_int_equal(s.has_error, 0);
    assert_int_equal(s.nstages, 0);
    /* No entities key at all, nulls for optional fields, unknown extra fields. */
    parse_ok(HEAD("Initializing", ",\"isComplete\":false,\"workflowEndTime\":null,\"workflowErrorMessage\":null,"
                                  "\"extra\":{\"nested\":[1,2,{\"x\":null}]},\"version\":3}"),
             &s);
    assert_int_equal(s.nstages, 0);
    assert_true(s.end_ns == WM_NO_TIME);
    assert_int_equal(s.has_error, 0);
}

static void test_processing_entities_in_order(void **state)
{
    (void)state;
    static wm_snapshot s;
    /* Keys in document order must come out in that order (not sorted). */
    parse_ok(HEAD("Processing", RUNNING ENTS(ENTITY("Processor", "Processing", OPEN_AT(T_DL) ",\"x\":1") ","
                                             ENTITY("DataLoader", "Completed",
                                                    DONE_AT(T_START, T_DL) ",\"entityErrorMessage\":null"))),
             &s);
    assert_int_equal(s.status, WM_PROCESSING);
    assert_int_equal(s.nstages, 2);
    assert_string_equal(s.stages[0].type, "Processor");
    assert_string_equal(s.stages[0].id, "id-Processor");
    assert_int_equal(s.stages[0].status, WM_PROCESSING);
    assert_int_equal(s.stages[0].complete, 0);
    assert_int_equal(s.stages[0].start_ns, (S_0656 + 10) * EX_NS_PER_SEC + 100);
    assert_true(s.stages[0].end_ns == WM_NO_TIME);
    assert_string_equal(s.stages[1].type, "DataLoader");
    assert_int_equal(s.stages[1].status, WM_COMPLETED);
    assert_int_equal(s.stages[1].complete, 1);
    assert_int_equal(s.stages[1].end_ns, (S_0656 + 10) * EX_NS_PER_SEC + 100);
    assert_int_equal(s.stages[1].has_error, 0);
}

static void test_completed_and_failed(void **state)
{
    (void)state;
    static wm_snapshot s;
#define DONE_ENT(type, status, msg) ENTITY(type, status, DONE_AT(T_START, T_END) msg)
    parse_ok(HEAD("Completed", ENDED ENTS(DONE_ENT("DataLoader", "Completed", "") ","
                                          DONE_ENT("Processor", "Completed", "") ","
                                          DONE_ENT("OutputGenerator", "Completed", ""))),
             &s);
    assert_int_equal(s.status, WM_COMPLETED);
    assert_int_equal(s.complete, 1);
    assert_int_equal(s.end_ns, (S_0656 + 60) * EX_NS_PER_SEC + 500000000);
    assert_int_equal(s.nstages, 3);
    assert_string_equal(s.stages[2].type, "OutputGenerator");
    assert_int_equal(s.stages[2].status, WM_COMPLETED);

    parse_ok(HEAD("Failed", ENDED ",\"workflowErrorMessage\":\"Entity failed: DataLoader\""
                            ENTS(DONE_ENT("DataLoader", "Failed",
                                          ",\"entityErrorMessage\":\"Failed. Error code: 7\""))),
             &s);
    assert_int_equal(s.status, WM_FAILED);
    assert_int_equal(s.has_error, 1);
    assert_string_equal(s.error, "Entity failed: DataLoader");
    assert_int_equal(s.stages[0].status, WM_FAILED);
    assert_int_equal(s.stages[0].has_error, 1);
    assert_string_equal(s.stages[0].error, "Failed. Error code: 7");
    /* An offset time is converted to UTC. */
    parse_ok("{\"workflowId\":\"" WID "\",\"workflowStatus\":\"Initializing\",\"workflowStartTime\":"
             "\"2024-07-05T08:57:56+02:00\",\"isComplete\":false}",
             &s);
    assert_int_equal(s.start_ns, S_0656 * EX_NS_PER_SEC);
}

/* Each violation of the contract, with the message that names it. */
static void test_violations(void **state)
{
    (void)state;
    struct {
        const char *body, *why;
    } cases[] = {
        {HEAD("Running", ",\"isComplete\":false}"), "workflowStatus: unknown status \"Running\""},
        {HEAD("processing", ",\"isComplete\":false}"), "workflowStatus: unknown status \"processing\""},
        {"{\"workflowId\":\"" WID "\",\"workflowStartTime\":\"" T_START "\",\"isComplete\":false}",
         "workflowStatus: required field missing"},
        {"{\"workflowId\":\"" WID "\",\"workflowStatus\":2,\"workflowStartTime\":\"" T_START "\",\"isComplete\":false}",
         "workflowStatus: expected a string, got 2"},
        {"{\"workflowId\":\"" WID "\",\"workflowStatus\":\"Initializing\",\"isComplete\":false}",
         "workflowStartTime: required field missing"},
        {"{\"workflowId\":\"" WID "\",\"workflowStatus\":\"Initializing\",\"workflowStartTime\":\"yesterday\","
         "\"isComplete\":false}",
         "workflowStartTime: expected ISO-8601 UTC, got \"yesterday\""},
        {"{\"workflowId\":\"" WID "\",\"workflowStatus\":\"Initializing\","
         "\"workflowStartTime\":\"2024-02-30T00:00:00Z\",\"isComplete\":false}",
         "workflowStartTime: expected ISO-8601 UTC, got \"2024-02-30T00:00:00Z\""},
        {HEAD("Initializing", "}"), "isComplete: required field missing"},
        {HEAD("Initializing", ",\"isComplete\":\"yes\"}"), "isComplete: expected true or false, got \"yes\""},
        {HEAD("Initializing", ",\"isComplete\":0}"), "isComplete: expected true or false, got 0"},
        {HEAD("Processing", ",\"workflowEndTime\":\"" T_END "\",\"isComplete\":false}"),
         "workflowEndTime: present but isComplete is false"},
        {HEAD("Completed", ",\"isComplete\":true}"), "workflowEndTime: missing but isComplete is true"},
        {HEAD("Completed", ",\"isComplete\":false}"), "workflowStatus: \"Completed\" but isComplete is false"},
        {HEAD("Processing", ",\"workflowEndTime\":\"" T_END "\",\"isComplete\":true}"),
         "workflowStatus: \"Processing\" but isComplete is true"},
        {HEAD("Completed", ",\"workflowEndTime\":\"2024-07-05T06:57:55Z\",\"isComplete\":true}"),
         "workflowEndTime: 2024-07-05T06:57:55.0000000Z is before workflowStartTime 2024-07-05T06:57:56.1234567Z"},
        {HEAD("Completed", ",\"workflowEndTime\":1720162676,\"isComplete\":true}"),
         "workflowEndTime: expected a string, got 1720162676"},
        {HEAD("Failed", ENDED ",\"workflowErrorMessage\":[\"a\"]}"),
         "workflowErrorMessage: expected a string, got an array"},
        {HEAD("Initializing", ",\"isComplete\":false,\"workflowEntities\":[]}"),
         "workflowEntities: expected an object, got an array"},
        {HEAD("Processing", RUNNING ",\"workflowEntities\":{\"DataLoader\":\"x\"}}"),
         "workflowEntities.DataLoader: expected an object, got \"x\""},
        {HEAD("Processing", RUNNING ",\"workflowEntities\":{\"Processor\":{\"entityType\":\"DataLoader\"}}}"),
         "workflowEntities.Processor.entityType: \"DataLoader\" does not match its key \"Processor\""},
        {HEAD("Processing", RUNNING ",\"workflowEntities\":{\"DataLoader\":{\"entityType\":\"DataLoader\","
                            "\"entityStatus\":\"Processing\"}}}"),
         "workflowEntities.DataLoader.entityId: required field missing"},
        {HEAD("Processing", RUNNING ",\"workflowEntities\":{\"DataLoader\":{\"entityType\":\"DataLoader\","
                            "\"entityId\":\"\"}}}"),
         "workflowEntities.DataLoader.entityId: empty"},
        {HEAD("Processing", RUNNING ",\"workflowEntities\":{" ENTITY("DataLoader", "Waiting", "") "}}"),
         "workflowEntities.DataLoader.entityStatus: unknown status \"Waiting\""},
        {HEAD("Processing", RUNNING ENTS(ENTITY("Processor", "Processing", OPEN_AT("yesterday")))),
         "workflowEntities.Processor.entityStartTime: expected ISO-8601 UTC, got \"yesterday\""},
        {HEAD("Processing", RUNNING ENTS(ENTITY("Processor", "Processing", ",\"entityStartTime\":\"" T_START "\""))),
         "workflowEntities.Processor.isComplete: required field missing"},
        {HEAD("Processing", RUNNING ENTS(ENTITY("Processor", "Processing",
                                                OPEN_AT(T_START) ",\"entityEndTime\":\"" T_END "\""))),
         "workflowEntities.Processor.entityEndTime: present but isComplete is false"},
        {HEAD("Processing", RUNNING ENTS(ENTITY("Processor", "Failed",
                                                ",\"entityStartTime\":\"" T_START "\",\"isComplete\":true"))),
         "workflowEntities.Processor.entityEndTime: missing but isComplete is true"},
        {HEAD("Processing", RUNNING ENTS(ENTITY("Processor", "Initializing", DONE_AT(T_START, T_END)))),
         "workflowEntities.Processor.entityStatus: \"Initializing\" but isComplete is true"},
        {HEAD("Processing", RUNNING ENTS(ENTITY("Processor", "Failed",
                                                DONE_AT(T_START, T_END) ",\"entityErrorMessage\":false"))),
         "workflowEntities.Processor.entityErrorMessage: expected a string, got false"},
        {HEAD("Processing", RUNNING ",\"workflowEntities\":{\"Data Loader\":{}}}"),
         "workflowEntities: invalid entity type \"Data Loader\": only A-Z a-z 0-9 _ . - allowed"},
        {HEAD("Processing", RUNNING ",\"workflowEntities\":{\"\":{}}}"), "workflowEntities: empty entity type"},
        {HEAD("Processing", RUNNING ",\"workflowEntities\":{\"a\\nb\":{}}}"),
         "workflowEntities: invalid entity type \"a\\x0ab\": only A-Z a-z 0-9 _ . - allowed"},
        {"{\"workflowId\":\"someone-else\",\"workflowStatus\":\"Initializing\"}",
         "workflowId: expected \"" WID "\", got \"someone-else\""},
        {"{\"workflowId\":7}", "workflowId: expected a string, got 7"},
        {"{\"workflowStatus\":\"Initializing\"}", "workflowId: required field missing"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) parse_bad(cases[i].body, WM_ERR_CONTRACT, cases[i].why);
}

/* entityProcessingStartTime: ignored (even when malformed) unless asked
 * for; then read and checked against the entity's status and times. */
static void test_processing_time(void **state)
{
    (void)state;
    static wm_snapshot s;
    char why[512];
#define PROC(status, rest) HEAD("Processing", RUNNING ENTS(ENTITY("Processor", status, rest)))
    const char *ok = PROC("Processing", OPEN_AT(T_START) ",\"entityProcessingStartTime\":\"2024-07-05T06:58:01.5Z\"");
    parse_ok(ok, &s);
    assert_true(s.stages[0].processing_ns == WM_NO_TIME);
    assert_int_equal(wm_snapshot_parse_flags(ok, strlen(ok), WID, WM_PARSE_PROCESSING_TIME, &s, why, sizeof why), 0);
    assert_int_equal(s.stages[0].processing_ns, (S_0656 + 5) * EX_NS_PER_SEC + 500000000);
    const char *absent = PROC("Processing", OPEN_AT(T_START));
    assert_int_equal(wm_snapshot_parse_flags(absent, strlen(absent), WID, WM_PARSE_PROCESSING_TIME, &s, why, sizeof why),
                     0);
    assert_true(s.stages[0].processing_ns == WM_NO_TIME);
    struct {
        const char *body, *why;
    } cases[] = {
        {PROC("Processing", OPEN_AT(T_START) ",\"entityProcessingStartTime\":\"soon\""),
         "workflowEntities.Processor.entityProcessingStartTime: expected ISO-8601 UTC, got \"soon\""},
        {PROC("Initializing", OPEN_AT(T_START) ",\"entityProcessingStartTime\":\"" T_END "\""),
         "workflowEntities.Processor.entityProcessingStartTime: present but entityStatus is \"Initializing\""},
        {PROC("Processing", OPEN_AT(T_START) ",\"entityProcessingStartTime\":\"2024-07-05T06:57:56Z\""),
         "workflowEntities.Processor.entityProcessingStartTime: 2024-07-05T06:57:56.0000000Z is before "
         "entityStartTime 2024-07-05T06:57:56.1234567Z"},
        {PROC("Completed", DONE_AT(T_START, T_START) ",\"entityProcessingStartTime\":\"" T_END "\""),
         "workflowEntities.Processor.entityProcessingStartTime: 2024-07-05T06:58:56.5000000Z is after entityEndTime "
         "2024-07-05T06:57:56.1234567Z"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *b = cases[i].body;
        parse_ok(b, &s); /* the seed's parser ignores the field */
        int rc = wm_snapshot_parse_flags(b, strlen(b), WID, WM_PARSE_PROCESSING_TIME, &s, why, sizeof why);
        if (rc != WM_ERR_CONTRACT || strcmp(why, cases[i].why) != 0)
            fail_msg("case %zu: rc %d why:\n  got  '%s'\n  want '%s'", i, rc, why, cases[i].why);
    }
#undef PROC
}

static void test_not_json(void **state)
{
    (void)state;
    parse_bad("", WM_ERR_JSON, NULL);
    parse_bad("<html>502 Bad Gateway</html>", WM_ERR_JSON, NULL);
    parse_bad("{\"workflowId\":", WM_ERR_JSON, NULL);
    parse_bad("{} trailing", WM_ERR_JSON, NULL);
    parse_bad("[1,2]", WM_ERR_JSON, "not a JSON object: got an array");
    /* A duplicate key would make the value ambiguous. */
    parse_bad(HEAD("Initializing", ",\"isComplete\":false,\"isComplete\":true}"), WM_ERR_JSON, NULL);
    /* The message says where jansson stopped. */
    static wm_snapshot s;
    char why[256];
    assert_int_equal(parse("{\"a\":tru}", &s, why, sizeof why), WM_ERR_JSON);
    assert_non_null(strstr(why, "not JSON: "));
    assert_non_null(strstr(why, "line 1 column"));
    /* Only `len` bytes count: the rest of the buffer is not read. */
    const char *body = HEAD("Initializing", ",\"isComplete\":false}") "garbage";
    assert_int_equal(wm_snapshot_parse(body, strlen(body) - 7, WID, &s, why, sizeof why), 0);
    /* NULL / tiny why buffers are safe. */
    assert_int_equal(wm_snapshot_parse("nope", 4, WID, &s, NULL, 0), WM_ERR_JSON);
    char tiny[8];
    assert_int_equal(parse(HEAD("Running", ",\"isComplete\":false}"), &s, tiny, sizeof tiny), WM_ERR_CONTRACT);
    assert_string_equal(tiny, "workflo");
}

/* A body with n entities named S0, S1, … (all Initializing). */
static char *entities_body(int n)
{
    size_t cap = 256 + (size_t)n * 200;
    char *b = malloc(cap);
    assert_non_null(b);
    int o = snprintf(b, cap, "%s", HEAD("Processing", RUNNING ",\"workflowEntities\":{"));
    for (int i = 0; i < n; i++)
        o += snprintf(b + o, cap - (size_t)o,
                      "%s\"S%d\":{\"entityType\":\"S%d\",\"entityId\":\"e%d\",\"entityStatus\":\"Initializing\","
                      "\"entityStartTime\":\"" T_START "\",\"isComplete\":false}",
                      i ? "," : "", i, i, i);
    snprintf(b + o, cap - (size_t)o, "}}");
    return b;
}

static void test_stage_limit(void **state)
{
    (void)state;
    static wm_snapshot s;
    char *b = entities_body(WM_MAX_STAGES);
    parse_ok(b, &s);
    assert_int_equal(s.nstages, WM_MAX_STAGES);
    assert_string_equal(s.stages[WM_MAX_STAGES - 1].type, "S7");
    free(b);
    b = entities_body(WM_MAX_STAGES + 1);
    parse_bad(b, WM_ERR_CONTRACT, "workflowEntities: 9 entities, at most 8 allowed");
    free(b);
}

/* A buffer of n copies of ch, NUL-terminated. */
static char *repeat(char ch, size_t n)
{
    char *s = malloc(n + 1);
    assert_non_null(s);
    memset(s, ch, n);
    s[n] = '\0';
    return s;
}

static void test_long_strings(void **state)
{
    (void)state;
    static wm_snapshot s;
    char body[4096], why[512];
    /* Names and ids at their limits pass; one byte more fails with a bounded message. */
    char *type64 = repeat('T', WM_TYPE_MAX), *id128 = repeat('i', WM_ID_MAX);
    snprintf(body, sizeof body,
             HEAD("Processing", RUNNING ENTS("\"%s\":{\"entityType\":\"%s\",\"entityId\":\"%s\","
                                             "\"entityStatus\":\"Processing\"" OPEN_AT(T_START) "}")),
             type64, type64, id128);
    parse_ok(body, &s);
    assert_int_equal(strlen(s.stages[0].type), WM_TYPE_MAX);
    assert_int_equal(strlen(s.stages[0].id), WM_ID_MAX);
    free(type64);
    free(id128);
    char *type65 = repeat('T', WM_TYPE_MAX + 1);
    snprintf(body, sizeof body, HEAD("Processing", RUNNING ",\"workflowEntities\":{\"%s\":{}}}"), type65);
    assert_int_equal(parse(body, &s, why, sizeof why), WM_ERR_CONTRACT);
    assert_non_null(strstr(why, "is 65 bytes, at most 64 allowed"));
    free(type65);
    char *id129 = repeat('i', WM_ID_MAX + 1);
    snprintf(body, sizeof body,
             HEAD("Processing", RUNNING ",\"workflowEntities\":{\"P\":{\"entityType\":\"P\",\"entityId\":\"%s\"}}}"),
             id129);
    assert_int_equal(parse(body, &s, why, sizeof why), WM_ERR_CONTRACT);
    assert_non_null(strstr(why, "workflowEntities.P.entityId: \"iiii"));
    assert_non_null(strstr(why, "...\" is 129 bytes, at most 128 allowed"));
    assert_true(strlen(why) < 200); /* the value is shown cut short */
    free(id129);
}

/* A message longer than WM_MSG_MAX is kept cut, at a character boundary. */
static void test_message_truncated(void **state)
{
    (void)state;
    static wm_snapshot s;
    size_t n = 300000; /* "é" (2 bytes) repeated: cuts must not split one */
    char *msg = malloc(n * 2 + 1);
    assert_non_null(msg);
    for (size_t i = 0; i < n; i++) memcpy(msg + 2 * i, "\xc3\xa9", 2);
    msg[2 * n] = '\0';
    size_t cap = 2 * n + 512;
    char *body = malloc(cap);
    assert_non_null(body);
    snprintf(body, cap, HEAD("Failed", ENDED ",\"workflowErrorMessage\":\"%s\"}"),
             msg);
    parse_ok(body, &s);
    size_t len = strlen(s.error);
    assert_true(len <= WM_MSG_MAX);
    assert_true(len > WM_MSG_MAX - 16);
    assert_string_equal(s.error + len - strlen(WM_TRUNCATED), WM_TRUNCATED);
    size_t kept = len - strlen(WM_TRUNCATED);
    assert_int_equal(kept % 2, 0);
    assert_memory_equal(s.error, msg, kept);
    /* Exactly WM_MSG_MAX bytes is kept whole. */
    msg[WM_MSG_MAX] = '\0';
    snprintf(body, cap, HEAD("Failed", ENDED ",\"workflowErrorMessage\":\"%s\"}"),
             msg);
    parse_ok(body, &s);
    assert_string_equal(s.error, msg);
    free(msg);
    free(body);
}

static void test_hostile(void **state)
{
    (void)state;
    static wm_snapshot s;
    char why[512];
    /* Deep nesting in an unknown field: jansson stops at its depth limit. */
    size_t depth = 100000, cap = 2 * depth + 256;
    char *body = malloc(cap);
    assert_non_null(body);
    int o = snprintf(body, cap, "{\"x\":");
    memset(body + o, '[', depth);
    memset(body + o + depth, ']', depth);
    snprintf(body + o + 2 * depth, cap - (size_t)o - 2 * depth, "}");
    assert_int_equal(parse(body, &s, why, sizeof why), WM_ERR_JSON);
    assert_non_null(strstr(why, "depth"));
    free(body);
    /* A body over the size limit is refused before parsing. */
    body = repeat(' ', WM_BODY_MAX + 1);
    assert_int_equal(wm_snapshot_parse(body, WM_BODY_MAX + 1, WID, &s, why, sizeof why), WM_ERR_JSON);
    assert_string_equal(why, "body of 1048577 bytes exceeds the limit of 1048576 bytes");
    free(body);
    /* An escaped NUL inside a string is rejected by jansson. */
    parse_bad("{\"workflowId\":\"a\\u0000b\"}", WM_ERR_JSON, NULL);
    /* Invalid UTF-8 is rejected. */
    parse_bad("{\"workflowId\":\"\xff\xfe\"}", WM_ERR_JSON, NULL);
    /* A huge unknown status is named, cut short. */
    char *big = repeat('R', 100000);
    size_t bcap = 100000 + 512;
    body = malloc(bcap);
    assert_non_null(body);
    snprintf(body, bcap, HEAD("%s", ",\"isComplete\":false}"), big);
    assert_int_equal(parse(body, &s, why, sizeof why), WM_ERR_CONTRACT);
    assert_true(strncmp(why, "workflowStatus: unknown status \"RRRR", 35) == 0);
    assert_true(strlen(why) < 120);
    free(body);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_initializing_no_entities),
        cmocka_unit_test(test_processing_entities_in_order),
        cmocka_unit_test(test_completed_and_failed),
        cmocka_unit_test(test_violations),
        cmocka_unit_test(test_processing_time),
        cmocka_unit_test(test_not_json),
        cmocka_unit_test(test_stage_limit),
        cmocka_unit_test(test_long_strings),
        cmocka_unit_test(test_message_truncated),
        cmocka_unit_test(test_hostile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
