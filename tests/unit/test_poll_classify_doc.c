/* wk_poll_classify_doc: the seed's 200 whose body hashes to the document
 * applied last is OK and unchanged without being read (a body that would
 * not even parse shows it); any other body is read as before, and an OK
 * one carries its hash for the next poll; other statuses never match. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <xxhash.h>

#include "worker/poller.h"

#define ID "wf-1"
#define BODY                                                                                                          \
    "{\"workflowId\":\"wf-1\",\"workflowStatus\":\"Processing\",\"workflowStartTime\":\"2024-07-05T06:57:56Z\","     \
    "\"isComplete\":false,\"workflowEntities\":{}}"

typedef struct fixture {
    wm_snapshot snap;
    mdl_snapshot tree;
    wk_poll_result r;
} fixture;

static fixture fx;

static void classify(long status, const char *body, uint64_t doc_hash)
{
    wk_poll_classify_doc(CURLE_OK, "", status, body, strlen(body), 0, 1 << 20, ID, 0, doc_hash, &fx.snap, &fx.tree,
                         &fx.r);
}

static uint64_t hash_of(const char *body) { return XXH3_64bits(body, strlen(body)); }

static int setup(void **state)
{
    (void)state;
    mdl_snapshot_init(&fx.tree);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    mdl_snapshot_clear(&fx.tree);
    free(fx.tree.nodes);
    return 0;
}

static void test_new_answer_is_read_and_carries_its_hash(void **state)
{
    (void)state;
    classify(200, BODY, 0);
    assert_int_equal(fx.r.outcome, WK_POLL_OK);
    assert_non_null(fx.r.snap);
    assert_false(fx.r.unchanged);
    assert_true(fx.r.doc_hash == hash_of(BODY));
    /* started with another document's hash: read, as new */
    classify(200, BODY, hash_of(BODY) + 1);
    assert_non_null(fx.r.snap);
    assert_false(fx.r.same_doc);
}

static void test_same_answer_is_not_read(void **state)
{
    (void)state;
    classify(200, BODY, hash_of(BODY));
    assert_int_equal(fx.r.outcome, WK_POLL_OK);
    assert_true(fx.r.unchanged && fx.r.same_doc);
    assert_null(fx.r.snap);
    assert_int_equal(fx.r.http_status, 200);
    assert_true(fx.r.date_ns == -1 && fx.r.retry_after_ns == -1);
    /* not parsed: a body the parser refuses passes when its hash is the one */
    const char *broken = "{\"workflowId\":";
    classify(200, broken, hash_of(broken));
    assert_int_equal(fx.r.outcome, WK_POLL_OK);
    assert_true(fx.r.same_doc);
}

static void test_failures_never_match_nor_carry_a_hash(void **state)
{
    (void)state;
    const char *broken = "{\"workflowId\":";
    classify(200, broken, 0); /* refused: no hash to note, read again next time */
    assert_int_equal(fx.r.outcome, WK_POLL_FAILED);
    assert_int_equal(fx.r.kind, WK_POLL_ERR_JSON);
    assert_true(fx.r.doc_hash == 0);
    classify(500, BODY, hash_of(BODY));
    assert_int_equal(fx.r.outcome, WK_POLL_FAILED);
    assert_false(fx.r.same_doc);
    classify(404, BODY, hash_of(BODY));
    assert_int_equal(fx.r.outcome, WK_POLL_NOT_FOUND);
    wk_poll_classify_doc(CURLE_OPERATION_TIMEDOUT, "timed out", 200, BODY, strlen(BODY), 0, 1 << 20, ID, 0,
                         hash_of(BODY), &fx.snap, &fx.tree, &fx.r);
    assert_int_equal(fx.r.outcome, WK_POLL_FAILED);
    assert_int_equal(fx.r.kind, WK_POLL_ERR_TIMEOUT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_answer_is_read_and_carries_its_hash),
        cmocka_unit_test(test_same_answer_is_not_read),
        cmocka_unit_test(test_failures_never_match_nor_carry_a_hash),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
