/* Durations with units: parse, reject, format. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/clock.h"
#include "core/duration.h"

static int64_t parse_ok(const char *s)
{
    int64_t ns = -1;
    const char *why = NULL;
    assert_int_equal(ex_duration_parse(s, &ns, &why), 0);
    return ns;
}

static void parse_bad(const char *s, const char *reason_part)
{
    int64_t ns = 0;
    const char *why = NULL;
    assert_int_equal(ex_duration_parse(s, &ns, &why), -1);
    assert_non_null(why);
    if (!strstr(why, reason_part)) fail_msg("%s: reason \"%s\" lacks \"%s\"", s, why, reason_part);
}

static void test_units(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("250ms"), 250 * EX_NS_PER_MS);
    assert_int_equal(parse_ok("5s"), 5 * EX_NS_PER_SEC);
    assert_int_equal(parse_ok("10m"), 600 * EX_NS_PER_SEC);
    assert_int_equal(parse_ok("1h"), 3600 * EX_NS_PER_SEC);
    assert_int_equal(parse_ok("7ns"), 7);
    assert_int_equal(parse_ok("3us"), 3000);
    assert_int_equal(parse_ok("1.5s"), 1500 * EX_NS_PER_MS);
    assert_int_equal(parse_ok("1h30m"), 5400 * EX_NS_PER_SEC);
    assert_int_equal(parse_ok("0"), 0);
    assert_int_equal(parse_ok("0s"), 0);
}

static void test_rejects(void **state)
{
    (void)state;
    parse_bad("", "empty");
    parse_bad("5", "missing unit");
    parse_bad("5x", "unknown unit");
    parse_bad("-5s", "negative");
    parse_bad("s", "expected a number");
    parse_bad("1..5s", "malformed");
    parse_bad("5.s", "malformed");
    parse_bad("ten seconds", "expected a number");
    parse_bad("99999999999h", "too large");
}

static void test_format(void **state)
{
    (void)state;
    char b[EX_DURATION_STR_MAX];
    assert_string_equal(ex_duration_format(0, b), "0s");
    assert_string_equal(ex_duration_format(5 * EX_NS_PER_SEC, b), "5s");
    assert_string_equal(ex_duration_format(250 * EX_NS_PER_MS, b), "250ms");
    assert_string_equal(ex_duration_format(5400 * EX_NS_PER_SEC, b), "1h30m");
    assert_string_equal(ex_duration_format(3605 * EX_NS_PER_SEC, b), "1h5s");
    assert_string_equal(ex_duration_format(1500, b), "1500ns");
    assert_string_equal(ex_duration_format(3000, b), "3us");
    /* Every formatted value parses back to itself. */
    int64_t samples[] = {1, 999, 1000, EX_NS_PER_MS * 7, EX_NS_PER_SEC * 61, EX_NS_PER_SEC * 86400};
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++)
        assert_int_equal(parse_ok(ex_duration_format(samples[i], b)), samples[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_units),
        cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
