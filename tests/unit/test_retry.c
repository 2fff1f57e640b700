/* The OTLP retry policy: which HTTP statuses, gRPC codes and transport
 * errors are retried, Retry-After in both forms (and garbage), the
 * grpc-status-details-bin RetryInfo, and the backoff's growth, jitter
 * bounds and cap with a fixed random source. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/clock.h"
#include "otel/retry.h"

static void test_http_verdicts(void **state)
{
    (void)state;
    assert_int_equal(exo_retry_http_verdict(200), EXO_RETRY_OK);
    assert_int_equal(exo_retry_http_verdict(202), EXO_RETRY_OK);
    const long again[] = {429, 502, 503, 504};
    for (size_t i = 0; i < sizeof again / sizeof again[0]; i++)
        assert_int_equal(exo_retry_http_verdict(again[i]), EXO_RETRY_AGAIN);
    const long final[] = {0, 100, 301, 400, 401, 403, 404, 408, 413, 415, 500, 501, 505, 599};
    for (size_t i = 0; i < sizeof final / sizeof final[0]; i++)
        assert_int_equal(exo_retry_http_verdict(final[i]), EXO_RETRY_FINAL);
}

static void test_grpc_verdicts(void **state)
{
    (void)state;
    assert_int_equal(exo_retry_grpc_verdict(0, 0), EXO_RETRY_OK);
    const int again[] = {1, 4, 10, 11, 14, 15};
    for (size_t i = 0; i < sizeof again / sizeof again[0]; i++) {
        assert_int_equal(exo_retry_grpc_verdict(again[i], 0), EXO_RETRY_AGAIN);
        assert_int_equal(exo_retry_grpc_verdict(again[i], 1), EXO_RETRY_AGAIN);
    }
    assert_int_equal(exo_retry_grpc_verdict(8, 0), EXO_RETRY_FINAL);
    assert_int_equal(exo_retry_grpc_verdict(8, 1), EXO_RETRY_AGAIN);
    const int final[] = {2, 3, 5, 6, 7, 9, 12, 13, 16, 17, -1};
    for (size_t i = 0; i < sizeof final / sizeof final[0]; i++)
        assert_int_equal(exo_retry_grpc_verdict(final[i], 1), EXO_RETRY_FINAL);
}

static void test_grpc_from_http(void **state)
{
    (void)state;
    assert_int_equal(exo_retry_grpc_from_http(400), EXO_GRPC_INTERNAL);
    assert_int_equal(exo_retry_grpc_from_http(401), EXO_GRPC_UNAUTHENTICATED);
    assert_int_equal(exo_retry_grpc_from_http(403), EXO_GRPC_PERMISSION_DENIED);
    assert_int_equal(exo_retry_grpc_from_http(404), EXO_GRPC_UNIMPLEMENTED);
    assert_int_equal(exo_retry_grpc_from_http(429), EXO_GRPC_UNAVAILABLE);
    assert_int_equal(exo_retry_grpc_from_http(502), EXO_GRPC_UNAVAILABLE);
    assert_int_equal(exo_retry_grpc_from_http(503), EXO_GRPC_UNAVAILABLE);
    assert_int_equal(exo_retry_grpc_from_http(504), EXO_GRPC_UNAVAILABLE);
    assert_int_equal(exo_retry_grpc_from_http(500), EXO_GRPC_UNKNOWN);
    assert_int_equal(exo_retry_grpc_from_http(302), EXO_GRPC_UNKNOWN);
}

static void test_transport_verdicts(void **state)
{
    (void)state;
    assert_int_equal(exo_retry_transport_verdict(CURLE_OK), EXO_RETRY_OK);
    const CURLcode again[] = {CURLE_COULDNT_CONNECT, CURLE_OPERATION_TIMEDOUT, CURLE_GOT_NOTHING,
                              CURLE_RECV_ERROR, CURLE_SEND_ERROR, CURLE_HTTP2_STREAM, CURLE_PARTIAL_FILE};
    for (size_t i = 0; i < sizeof again / sizeof again[0]; i++)
        assert_int_equal(exo_retry_transport_verdict(again[i]), EXO_RETRY_AGAIN);
    const CURLcode final[] = {CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL, CURLE_PEER_FAILED_VERIFICATION,
                              CURLE_ABORTED_BY_CALLBACK, CURLE_OUT_OF_MEMORY};
    for (size_t i = 0; i < sizeof final / sizeof final[0]; i++)
        assert_int_equal(exo_retry_transport_verdict(final[i]), EXO_RETRY_FINAL);
}

/* 2024-07-05T06:57:56Z */
#define NOW_S INT64_C(1720162676)

static void test_retry_after_seconds(void **state)
{
    (void)state;
    int64_t now = NOW_S * EX_NS_PER_SEC + 123, d = -7;
    assert_int_equal(exo_retry_after_parse("1", now, &d), 0);
    assert_int_equal(d, EX_NS_PER_SEC);
    assert_int_equal(exo_retry_after_parse("  120 \r\n", now, &d), 0);
    assert_int_equal(d, 120 * EX_NS_PER_SEC);
    assert_int_equal(exo_retry_after_parse("0", now, &d), 0);
    assert_int_equal(d, 0);
    assert_int_equal(exo_retry_after_parse("99999999999999999999999", now, &d), 0);
    assert_int_equal(d, 86400 * EX_NS_PER_SEC);
}

static void test_retry_after_dates(void **state)
{
    (void)state;
    int64_t now = NOW_S * EX_NS_PER_SEC, d = -7;
    /* IMF-fixdate, RFC 850 and asctime forms of now + 30 s. */
    assert_int_equal(exo_retry_after_parse("Fri, 05 Jul 2024 06:58:26 GMT", now, &d), 0);
    assert_int_equal(d, 30 * EX_NS_PER_SEC);
    d = -7;
    assert_int_equal(exo_retry_after_parse("Friday, 05-Jul-24 06:58:26 GMT", now, &d), 0);
    assert_int_equal(d, 30 * EX_NS_PER_SEC);
    d = -7;
    assert_int_equal(exo_retry_after_parse("Fri Jul  5 06:58:26 2024", now, &d), 0);
    assert_int_equal(d, 30 * EX_NS_PER_SEC);
    /* A date in the past means "now". */
    assert_int_equal(exo_retry_after_parse("Thu, 04 Jul 2024 06:58:26 GMT", now, &d), 0);
    assert_int_equal(d, 0);
}

static void test_retry_after_garbage(void **state)
{
    (void)state;
    const char *bad[] = {"", "   ", "-5", "1.5", "soon", "5s", "Fri, 99 Foo 2024 99:99:99 GMT", "0x10",
                         "+3"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t d = -7;
        assert_int_equal(exo_retry_after_parse(bad[i], 0, &d), -1);
        assert_int_equal(d, -7);
    }
    int64_t d = -7;
    assert_int_equal(exo_retry_after_parse(NULL, 0, &d), -1);
}

static void test_grpc_details(void **state)
{
    (void)state;
    /* google.rpc.Status{code 8, "slow down", [RetryInfo{2.5 s}]} and
     * Status{code 8, "quota"}, encoded by protobufjs (tests/node). */
    const char *with = "CAgSCXNsb3cgZG93bho2Cih0eXBlLmdvb2dsZWFwaXMuY29tL2dvb2dsZS5ycGMuUmV0cnlJbmZvEgoKCAgCEIDKte4B";
    const char *without = "CAgSBXF1b3Rh";
    int64_t delay = 0;
    char msg[64];
    assert_int_equal(exo_retry_grpc_details(with, strlen(with), &delay, msg, sizeof msg), 0);
    assert_int_equal(delay, 2500 * EX_NS_PER_MS);
    assert_string_equal(msg, "slow down");
    assert_int_equal(exo_retry_grpc_details(without, strlen(without), &delay, msg, sizeof msg), 0);
    assert_int_equal(delay, -1);
    assert_string_equal(msg, "quota");
    /* Padded form of the same value, and NULL msg. */
    assert_int_equal(exo_retry_grpc_details("CAgSBXF1b3Rh", 12, &delay, NULL, 0), 0);
    /* Not base64, and base64 of something that is not a Status. */
    assert_int_equal(exo_retry_grpc_details("!!!!", 4, &delay, msg, sizeof msg), -1);
    assert_int_equal(delay, -1);
    assert_int_equal(exo_retry_grpc_details("/w", 2, &delay, msg, sizeof msg), -1);
    assert_int_equal(exo_retry_grpc_details("A", 1, &delay, msg, sizeof msg), -1);
}

static void test_backoff_growth_jitter_cap(void **state)
{
    (void)state;
    exo_backoff b;
    exo_backoff_default(&b);
    assert_int_equal(b.initial_ns, EX_NS_PER_SEC);
    assert_int_equal(b.max_ns, 30 * EX_NS_PER_SEC);
    ex_rng rng;
    ex_rng_seed(&rng, 42);
    for (unsigned attempt = 0; attempt < 12; attempt++) {
        double base = (double)EX_NS_PER_SEC * (double)(1u << (attempt < 10 ? attempt : 10));
        if (base > 30e9) base = 30e9;
        int64_t lo = INT64_MAX, hi = 0;
        for (int i = 0; i < 2000; i++) {
            int64_t d = exo_backoff_delay(&b, attempt, &rng);
            if (d < lo) lo = d;
            if (d > hi) hi = d;
        }
        assert_true((double)lo >= base * 0.8 - 1);
        assert_true((double)hi <= base * 1.2 + 1);
        assert_true(hi <= 30 * EX_NS_PER_SEC);
        /* The spread is really used (jitter is not zero). */
        if (base < 30e9) assert_true((double)(hi - lo) > base * 0.3);
    }
    /* Same seed, same delays. */
    ex_rng r1, r2;
    ex_rng_seed(&r1, 7);
    ex_rng_seed(&r2, 7);
    for (unsigned a = 0; a < 5; a++) assert_int_equal(exo_backoff_delay(&b, a, &r1), exo_backoff_delay(&b, a, &r2));

    /* No jitter: exact doubling up to the cap; huge attempts do not overflow. */
    exo_backoff exact = {10 * EX_NS_PER_MS, 100 * EX_NS_PER_MS, 2.0, 0.0};
    assert_int_equal(exo_backoff_delay(&exact, 0, &rng), 10 * EX_NS_PER_MS);
    assert_int_equal(exo_backoff_delay(&exact, 1, &rng), 20 * EX_NS_PER_MS);
    assert_int_equal(exo_backoff_delay(&exact, 3, &rng), 80 * EX_NS_PER_MS);
    assert_int_equal(exo_backoff_delay(&exact, 4, &rng), 100 * EX_NS_PER_MS);
    assert_int_equal(exo_backoff_delay(&exact, 4000000000u, &rng), 100 * EX_NS_PER_MS);

    /* Nonsense settings are clamped. */
    exo_backoff odd = {0, -5, 0.1, 7.0};
    int64_t d = exo_backoff_delay(&odd, 3, &rng);
    assert_true(d >= 0 && d <= EX_NS_PER_MS);
}

static void test_delay_choice_and_deadline(void **state)
{
    (void)state;
    exo_backoff b = {EX_NS_PER_SEC, 30 * EX_NS_PER_SEC, 2.0, 0.0};
    ex_rng rng;
    ex_rng_seed(&rng, 1);
    assert_int_equal(exo_retry_delay(&b, 2, -1, &rng), 4 * EX_NS_PER_SEC);
    assert_int_equal(exo_retry_delay(&b, 2, 7 * EX_NS_PER_SEC, &rng), 7 * EX_NS_PER_SEC);
    assert_int_equal(exo_retry_delay(&b, 2, 0, &rng), 0);
    assert_true(exo_retry_fits(100, 50, 200));
    assert_false(exo_retry_fits(100, 100, 200));
    assert_false(exo_retry_fits(100, 500, 200));
    assert_false(exo_retry_fits(300, 0, 200));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_verdicts),
        cmocka_unit_test(test_grpc_verdicts),
        cmocka_unit_test(test_grpc_from_http),
        cmocka_unit_test(test_transport_verdicts),
        cmocka_unit_test(test_retry_after_seconds),
        cmocka_unit_test(test_retry_after_dates),
        cmocka_unit_test(test_retry_after_garbage),
        cmocka_unit_test(test_grpc_details),
        cmocka_unit_test(test_backoff_growth_jitter_cap),
        cmocka_unit_test(test_delay_choice_and_deadline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
