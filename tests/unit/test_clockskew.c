/* The API clock offset estimate (src/worker/clockskew.c) from Date
 * headers, with scripted send/receive instants; and the Date parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "worker/clockskew.h"
#include "worker/poller.h"

#define SEC EX_NS_PER_SEC
#define MS  EX_NS_PER_MS
#define T0  (INT64_C(1720162676) * SEC) /* 2024-07-05T06:57:56Z */

/* An API whose clock runs `offset` ahead answers a poll sent at `sent`
 * after `rtt`, reading its clock half way (through a coarse clock 4 ms
 * behind): the Date it sends. */
static void answer(wk_skew *s, int64_t offset, int64_t sent, int64_t rtt)
{
    int64_t api_now = sent + rtt / 2 + offset - 4 * MS;
    int64_t date = api_now - api_now % SEC;
    wk_skew_add(s, sent, sent + rtt, date);
}

/* Polls at every phase of the API's second narrow the interval to about
 * the round trip, and it always holds the true offset. */
static void test_converges_on_the_offset(void **state)
{
    (void)state;
    int64_t offsets[] = {0, 1234 * MS, -2500 * MS, 37 * SEC + 1};
    for (size_t k = 0; k < sizeof offsets / sizeof offsets[0]; k++) {
        wk_skew s;
        wk_skew_init(&s);
        assert_int_equal(wk_skew_uncertainty(&s), -1);
        for (int i = 0; i < 200; i++) {
            answer(&s, offsets[k], T0 + i * 1013 * MS, 2 * MS);
            assert_true(s.lo_ns <= offsets[k] && offsets[k] <= s.hi_ns);
        }
        /* 200 answers 1.013 s apart fall at phases a few ms apart; a Date
         * may lag by WK_SKEW_COARSE_NS. */
        assert_true(wk_skew_uncertainty(&s) <= 10 * MS + WK_SKEW_COARSE_NS / 2);
        int64_t err = wk_skew_offset(&s) - offsets[k];
        assert_true(err >= -15 * MS && err <= 15 * MS);
        assert_int_equal(s.restarts, 0);
    }
}

/* A clock that steps restarts the estimate from the next answer. */
static void test_step_restarts(void **state)
{
    (void)state;
    wk_skew s;
    wk_skew_init(&s);
    for (int i = 0; i < 50; i++) answer(&s, 0, T0 + i * 777 * MS, MS);
    for (int i = 50; i < 100; i++) answer(&s, 90 * SEC, T0 + i * 777 * MS, MS);
    assert_int_equal(s.restarts, 1);
    assert_true(s.lo_ns <= 90 * SEC && 90 * SEC <= s.hi_ns);
    /* Nonsense is ignored. */
    uint64_t n = s.samples;
    wk_skew_add(&s, T0, T0 + SEC, -1);
    wk_skew_add(&s, T0 + SEC, T0, T0);
    assert_int_equal(s.samples, n);
}

/* A warning only when the offset surely exceeds the limit: once, then at
 * most every `every`. */
static void test_warns_once_then_rate_limited(void **state)
{
    (void)state;
    wk_skew s;
    wk_skew_init(&s);
    int64_t limit = 10 * SEC, every = 600 * SEC;
    assert_int_equal(wk_skew_should_warn(&s, T0, limit, every), 0); /* no sample */
    answer(&s, 9 * SEC, T0, MS); /* within ±1 s of 9 s: not surely beyond 10 s */
    assert_int_equal(wk_skew_should_warn(&s, T0, limit, every), 0);
    wk_skew_init(&s);
    int warnings = 0;
    for (int i = 0; i < 2000; i++) {
        answer(&s, -25 * SEC, T0 + i * SEC, MS);
        warnings += wk_skew_should_warn(&s, T0 + i * SEC, limit, every);
    }
    assert_int_equal(warnings, 4); /* at 0, 600, 1200, 1800 s */
}

static void test_render(void **state)
{
    (void)state;
    wk_skew s;
    wk_skew_init(&s);
    wk_text t = {0};
    wk_skew_render(&s, "api:5146", &t);
    assert_true(t.len == 0); /* nothing before a sample */
    answer(&s, 1500 * MS, T0 + 600 * MS, 0);
    wk_skew_render(&s, "api:5146", &t);
    assert_non_null(strstr(t.data, "# TYPE extrace_api_clock_offset_seconds gauge\n"));
    assert_non_null(strstr(t.data, "extrace_api_clock_offset_seconds{host=\"api:5146\"} "));
    assert_non_null(strstr(t.data, "extrace_api_clock_offset_uncertainty_seconds{host=\"api:5146\"} 0.505\n"));
    wk_text_free(&t);
}

static void test_http_date(void **state)
{
    (void)state;
    assert_true(wk_poll_http_date("Fri, 05 Jul 2024 06:57:56 GMT") == T0);
    assert_true(wk_poll_http_date("  Friday, 05-Jul-24 06:57:56 GMT") == T0); /* RFC 850 */
    assert_true(wk_poll_http_date("Fri Jul  5 06:57:56 2024") == T0);         /* asctime */
    assert_true(wk_poll_http_date("1720162676") == -1);
    assert_true(wk_poll_http_date("tomorrow-ish") == -1);
    assert_true(wk_poll_http_date(NULL) == -1);
}

/* The IMF-fixdate fast path agrees with curl_getdate, over random times
 * from 1970 to 2200 and the edges it hands to curl (Feb 29 of a common
 * year, Feb 30, hour 24, a month or weekday that is not one); a date past
 * what int64 nanoseconds hold (2262-04-11T23:47:16Z) is no date (-1). */
static void test_http_date_like_curl(void **state)
{
    (void)state;
    static const char *const odd[] = {
        "Thu, 29 Feb 2024 23:59:59 GMT", "Wed, 29 Feb 2023 00:00:00 GMT", "Mon, 30 Feb 2024 00:00:00 GMT",
        "Mon, 31 Apr 2024 00:00:00 GMT", "Mon, 01 Jan 1970 00:00:00 GMT", "Mon, 01 Jan 1969 12:00:00 GMT",
        "Mon, 01 Jan 2024 24:00:00 GMT", "Mon, 01 Jan 2024 23:60:00 GMT", "Mon, 01 Jan 2024 23:59:60 GMT",
        "Mon, 01 Foo 2024 00:00:00 GMT", "Xyz, 01 Jan 2024 00:00:00 GMT", "Mon, 1 Jan 2024 00:00:00 GMT",
        "Mon, 01 Jan 2024 00:00:00 UTC", "Mon, 01 Jan 2024 00:00:00 GMT ", "Mon, 0a Jan 2024 00:00:00 GMT",
        "Sun, 31 Dec 2199 23:59:59 GMT", "Fri, 11 Apr 2262 23:47:16 GMT", "Fri, 11 Apr 2262 23:47:17 GMT",
        "Fri, 13 Jun 3000 12:00:00 GMT", "Fri, 31 Dec 9999 23:59:59 GMT"};
    for (size_t i = 0; i < sizeof odd / sizeof *odd; i++) {
        time_t c = curl_getdate(odd[i], NULL);
        int64_t want = c == (time_t)-1 || c < 0 || c > INT64_MAX / EX_NS_PER_SEC ? -1 : (int64_t)c * EX_NS_PER_SEC;
        if (wk_poll_http_date(odd[i]) != want) fail_msg("%s: %lld, curl says %lld", odd[i],
                                                         (long long)wk_poll_http_date(odd[i]), (long long)want);
    }
    uint64_t x = 88172645463325252ULL;
    char buf[64];
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        time_t t = (time_t)(x % UINT64_C(7258118400)); /* 1970 .. 2200 */
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        assert_true(wk_poll_http_date(buf) == (int64_t)t * EX_NS_PER_SEC);
        assert_true(curl_getdate(buf, NULL) == t);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_converges_on_the_offset),
        cmocka_unit_test(test_step_restarts),
        cmocka_unit_test(test_warns_once_then_rate_limited),
        cmocka_unit_test(test_render),
        cmocka_unit_test(test_http_date),
        cmocka_unit_test(test_http_date_like_curl),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
