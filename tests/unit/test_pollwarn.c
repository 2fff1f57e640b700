/* Failed polls told at warn (first of a kind at once, repeats summed up
 * once per window, recovery at info, at most once per window) and the
 * periodic status line — with the time passed in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/clock.h"
#include "worker/pollwarn.h"
#include "worker/status.h"

#define S EX_NS_PER_SEC
#define URL "http://api:5146/workflows/w1"

static void test_first_of_each_kind_at_once_then_summed_up(void **state)
{
    (void)state;
    wk_pollwarn pw;
    char msg[1024];
    wk_pollwarn_init(&pw, "api:5146", 60 * S);
    assert_int_equal(wk_pollwarn_failed(&pw, WK_POLL_ERR_CONNECT, URL, "Couldn't connect to server", 0, msg,
                                        sizeof msg), 1);
    assert_non_null(strstr(msg, "GET " URL ": Couldn't connect to server"));
    assert_non_null(strstr(msg, "(connect)"));
    assert_non_null(strstr(msg, "every 1m"));
    for (int i = 1; i < 30; i++) /* repeats within the window: counted, not told */
        assert_int_equal(wk_pollwarn_failed(&pw, WK_POLL_ERR_CONNECT, URL, "again", i * S, msg, sizeof msg), 0);
    /* Another kind is told at once. */
    assert_int_equal(wk_pollwarn_failed(&pw, WK_POLL_ERR_HTTP_5XX, URL, "HTTP 500", 31 * S, msg, sizeof msg), 1);
    assert_non_null(strstr(msg, "(http_5xx)"));
    /* After the window, one summary line with the count and the latest cause. */
    assert_int_equal(wk_pollwarn_failed(&pw, WK_POLL_ERR_CONNECT, "http://api:5146/workflows/w9", "latest", 60 * S,
                                        msg, sizeof msg), 1);
    assert_non_null(strstr(msg, "30 more polls of the API at api:5146 failed (connect) in the last 1m"));
    assert_non_null(strstr(msg, "latest: GET http://api:5146/workflows/w9: latest"));
    assert_int_equal(wk_pollwarn_failed(&pw, WK_POLL_ERR_CONNECT, URL, "x", 61 * S, msg, sizeof msg), 0);
}

static void test_recovery_told_at_most_once_a_window(void **state)
{
    (void)state;
    wk_pollwarn pw;
    char msg[1024];
    wk_pollwarn_init(&pw, "api", 60 * S);
    assert_int_equal(wk_pollwarn_ok(&pw, 0, msg, sizeof msg), 0); /* nothing failed */
    wk_pollwarn_failed(&pw, WK_POLL_ERR_TIMEOUT, URL, "t", 1 * S, msg, sizeof msg);
    wk_pollwarn_failed(&pw, WK_POLL_ERR_TIMEOUT, URL, "t", 2 * S, msg, sizeof msg);
    assert_int_equal(wk_pollwarn_ok(&pw, 3 * S, msg, sizeof msg), 1);
    assert_non_null(strstr(msg, "succeed again (2 failed since the last success)"));
    assert_int_equal(wk_pollwarn_ok(&pw, 4 * S, msg, sizeof msg), 0);
    /* An API that fails now and then: no line per success. */
    wk_pollwarn_failed(&pw, WK_POLL_ERR_TIMEOUT, URL, "t", 5 * S, msg, sizeof msg);
    assert_int_equal(wk_pollwarn_ok(&pw, 6 * S, msg, sizeof msg), 0);
    wk_pollwarn_failed(&pw, WK_POLL_ERR_TIMEOUT, URL, "t", 70 * S, msg, sizeof msg);
    assert_int_equal(wk_pollwarn_ok(&pw, 71 * S, msg, sizeof msg), 1);
}

static void test_status_line(void **state)
{
    (void)state;
    wk_status_snap a = {.mono_ns = 0, .polls = 100}, b = a;
    char line[1024];
    b.mono_ns = 60 * S;
    b.polls = 400;
    b.poll_errors[WK_POLL_ERR_CONNECT] = 10;
    b.poll_errors[WK_POLL_ERR_HTTP_5XX] = 2;
    b.finished = 30;
    b.spans_exported = 540;
    b.spans_dropped = 1;
    wk_status_line(&a, &b, 12, 192 * S + 400 * EX_NS_PER_MS, line, sizeof line);
    assert_string_equal(line, "status: watching 12 workflows (oldest in flight 3m12s); last 1m: 5.0 polls/s, poll "
                              "errors connect 10, http_5xx 2; 30 workflows finished; in all: 540 spans exported, "
                              "1 dropped");
    wk_status_line(&b, &b, 0, -1, line, sizeof line);
    assert_string_equal(line, "status: watching 0 workflows; last 0s: 0.0 polls/s, poll errors none; 0 workflows "
                              "finished; in all: 540 spans exported, 1 dropped");
    char small[20]; /* bounded */
    wk_status_line(&a, &b, 12, 0, small, sizeof small);
    assert_int_equal(strlen(small), sizeof small - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_of_each_kind_at_once_then_summed_up),
        cmocka_unit_test(test_recovery_told_at_most_once_a_window),
        cmocka_unit_test(test_status_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
