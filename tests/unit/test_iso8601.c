/* ISO-8601 UTC timestamps as .NET writes them: format, parse, round trips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/clock.h"
#include "core/iso8601.h"
#include "core/rng.h"

static int64_t parse_ok(const char *s)
{
    int64_t ns;
    const char *why = NULL;
    if (ex_iso_parse(s, strlen(s), &ns, &why) != 0) fail_msg("%s: %s", s, why);
    return ns;
}

static void parse_bad(const char *s)
{
    int64_t ns;
    const char *why = NULL;
    assert_int_equal(ex_iso_parse(s, strlen(s), &ns, &why), -1);
    assert_non_null(why);
}

static void test_format_known(void **state)
{
    (void)state;
    char b[EX_ISO_LEN + 1];
    assert_string_equal(ex_iso_format(0, b), "1970-01-01T00:00:00.0000000Z");
    /* 2024-07-05T06:57:51.0737407Z = 1720162671 s + 73740700 ns */
    int64_t t = INT64_C(1720162671) * EX_NS_PER_SEC + 73740700;
    assert_string_equal(ex_iso_format(t, b), "2024-07-05T06:57:51.0737407Z");
    assert_int_equal(strlen(b), EX_ISO_LEN);
    /* Sub-tick nanoseconds are truncated, as .NET ticks are 100 ns. */
    assert_string_equal(ex_iso_format(t + 99, b), "2024-07-05T06:57:51.0737407Z");
    /* Leap day and end of year. */
    assert_string_equal(ex_iso_format(INT64_C(1709164800) * EX_NS_PER_SEC, b), "2024-02-29T00:00:00.0000000Z");
    assert_string_equal(ex_iso_format(INT64_C(1735689599) * EX_NS_PER_SEC + 999999900, b),
                        "2024-12-31T23:59:59.9999999Z");
    char m[EX_ISO_MS_LEN + 1];
    assert_string_equal(ex_iso_format_ms(t, m), "2024-07-05T06:57:51.073Z");
}

static void test_parse_forms(void **state)
{
    (void)state;
    int64_t t = INT64_C(1720162671) * EX_NS_PER_SEC;
    assert_int_equal(parse_ok("2024-07-05T06:57:51Z"), t);
    assert_int_equal(parse_ok("2024-07-05T06:57:51.0737407Z"), t + 73740700);
    assert_int_equal(parse_ok("2024-07-05T06:57:51.07Z"), t + 70000000);
    assert_int_equal(parse_ok("2024-07-05T06:57:51.073740712Z"), t + 73740712);
    assert_int_equal(parse_ok("2024-07-05t06:57:51z"), t);
    assert_int_equal(parse_ok("2024-07-05T08:57:51+02:00"), t);
    assert_int_equal(parse_ok("2024-07-05T01:57:51.5-05:00"), t + 500000000);
}

static void test_parse_rejects(void **state)
{
    (void)state;
    parse_bad("");
    parse_bad("yesterday");
    parse_bad("2024-07-05");
    parse_bad("2024-07-05T06:57:51");          /* no zone */
    parse_bad("2024-07-05T06:57:51.Z");        /* no digits */
    parse_bad("2024-07-05T06:57:51.0123456789Z");
    parse_bad("2024-13-05T06:57:51Z");
    parse_bad("2023-02-29T06:57:51Z");
    parse_bad("2024-07-05T24:00:00Z");
    parse_bad("2024-07-05T06:57:51Zjunk");
    parse_bad("1969-12-31T23:59:59Z");
    parse_bad("2262-01-01T00:00:00Z");      /* beyond int64 nanoseconds */
    /* A length shorter than the string: only that prefix is read. */
    int64_t ns;
    assert_int_equal(ex_iso_parse("2024-07-05T06:57:51Z", 10, &ns, NULL), -1);
}

static void test_round_trip(void **state)
{
    (void)state;
    ex_rng r;
    ex_rng_seed(&r, 7);
    char b[EX_ISO_LEN + 1];
    for (int i = 0; i < 100000; i++) {
        /* Any 100 ns tick between 1970 and the end of 2261. */
        int64_t ticks = ex_rng_range(&r, 0, INT64_C(9214646400) * 10000000);
        int64_t t = ticks * 100;
        ex_iso_format(t, b);
        assert_int_equal(parse_ok(b), t);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_known),
        cmocka_unit_test(test_parse_forms),
        cmocka_unit_test(test_parse_rejects),
        cmocka_unit_test(test_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
