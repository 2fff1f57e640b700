/* Unit tests of core/redis_url: both spellings, every error case. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "core/redis_url.h"

static ex_redis_addr parse_ok(const char *text)
{
    ex_redis_addr a;
    char why[256] = "";
    int rc = ex_redis_url_parse(text, &a, why, sizeof why);
    if (rc != 0) fail_msg("\"%s\" was rejected: %s", text, why);
    return a;
}

/* Parse text expecting failure; the reason must contain `part`. */
static void parse_bad(const char *text, const char *part)
{
    ex_redis_addr a;
    char why[256] = "";
    if (ex_redis_url_parse(text, &a, why, sizeof why) == 0) fail_msg("\"%s\" was accepted", text);
    if (!strstr(why, part)) fail_msg("\"%s\": reason \"%s\" does not name \"%s\"", text, why, part);
}

static void test_url_full(void **state)
{
    ex_redis_addr a = parse_ok("redis://alice:s3cret@cache.local:6380/2");
    assert_string_equal(a.host, "cache.local");
    assert_int_equal(a.port, 6380);
    assert_int_equal(a.db, 2);
    assert_string_equal(a.user, "alice");
    assert_string_equal(a.password, "s3cret");
    assert_int_equal(a.connect_timeout_ms, 0);
    assert_int_equal(a.command_timeout_ms, 0);
}

static void test_url_defaults(void **state)
{
    ex_redis_addr a = parse_ok("redis://localhost");
    assert_string_equal(a.host, "localhost");
    assert_int_equal(a.port, 6379);
    assert_int_equal(a.db, 0);
    assert_string_equal(a.user, "");
    assert_string_equal(a.password, "");
    a = parse_ok("REDIS://10.0.0.1:7000/");
    assert_string_equal(a.host, "10.0.0.1");
    assert_int_equal(a.port, 7000);
    assert_int_equal(a.db, 0);
}

static void test_url_password_only_and_encoding(void **state)
{
    ex_redis_addr a = parse_ok("redis://:p%40ss%2Fw0rd@h:1");
    assert_string_equal(a.user, "");
    assert_string_equal(a.password, "p@ss/w0rd");
    /* The last '@' ends the credentials, so a raw '@' still works. */
    a = parse_ok("redis://u:a@b@h");
    assert_string_equal(a.user, "u");
    assert_string_equal(a.password, "a@b");
    assert_string_equal(a.host, "h");
}

static void test_url_ipv6(void **state)
{
    ex_redis_addr a = parse_ok("redis://[::1]:6390/3");
    assert_string_equal(a.host, "::1");
    assert_int_equal(a.port, 6390);
    assert_int_equal(a.db, 3);
    char buf[EX_REDIS_ADDR_STR_MAX];
    assert_string_equal(ex_redis_addr_format(&a, buf, sizeof buf), "[::1]:6390/3");
    a = parse_ok("redis://[fe80::2]");
    assert_string_equal(a.host, "fe80::2");
    assert_int_equal(a.port, 6379);
}

static void test_url_errors(void **state)
{
    parse_bad("rediss://h:6380", "TLS is not supported");
    parse_bad("http://h:6379", "unsupported scheme \"http://\"");
    parse_bad("redis://", "missing host");
    parse_bad("redis://:6379", "missing host");
    parse_bad("redis://h:", "port \"\"");
    parse_bad("redis://h:abc", "port \"abc\"");
    parse_bad("redis://h:0", "port \"0\"");
    parse_bad("redis://h:65536", "port \"65536\"");
    parse_bad("redis://h:6379/x", "database \"x\"");
    parse_bad("redis://h:6379/-1", "database \"-1\"");
    parse_bad("redis://h:6379/1?timeout=5", "unexpected \"?timeout=5\"");
    parse_bad("redis://secret@h", "has no ':'");
    parse_bad("redis://u:%zz@h", "password has a malformed %-escape");
    parse_bad("redis://u:%4@h", "malformed %-escape");
    parse_bad("redis://[::1", "no closing ']'");
    parse_bad("redis://[::1]x", "unexpected \"x\" after the host");
    parse_bad("redis://h h:1", "host \"h h\" contains ' '");
}

static void test_url_error_hides_password(void **state)
{
    ex_redis_addr a;
    char why[256];
    assert_int_equal(ex_redis_url_parse("redis://u:topsecret@h:99999", &a, why, sizeof why), -1);
    assert_null(strstr(why, "topsecret"));
}

static void test_seed_form(void **state)
{
    ex_redis_addr a = parse_ok("redis:6379,password=p4ss,user=bob,defaultDatabase=5,connectTimeout=1500,"
                               "syncTimeout=2500,abortConnect=false,ssl=false,allowAdmin=true,name=gen");
    assert_string_equal(a.host, "redis");
    assert_int_equal(a.port, 6379);
    assert_string_equal(a.password, "p4ss");
    assert_string_equal(a.user, "bob");
    assert_int_equal(a.db, 5);
    assert_int_equal(a.connect_timeout_ms, 1500);
    assert_int_equal(a.command_timeout_ms, 2500);
}

static void test_seed_form_plain(void **state)
{
    ex_redis_addr a = parse_ok("localhost:6379");
    assert_string_equal(a.host, "localhost");
    assert_int_equal(a.port, 6379);
    a = parse_ok("redis");
    assert_string_equal(a.host, "redis");
    assert_int_equal(a.port, 6379);
    /* Options first, blanks around items, keys in any case, empty items. */
    a = parse_ok(" PASSWORD=x , 127.0.0.1:7001 ,, AbortConnect=false,");
    assert_string_equal(a.host, "127.0.0.1");
    assert_int_equal(a.port, 7001);
    assert_string_equal(a.password, "x");
    a = parse_ok("[::1]:7002,abortConnect=false");
    assert_string_equal(a.host, "::1");
    assert_int_equal(a.port, 7002);
    a = parse_ok("::1");
    assert_string_equal(a.host, "::1");
    assert_int_equal(a.port, 6379);
}

static void test_seed_form_errors(void **state)
{
    parse_bad("h:6379,ssl=true", "TLS is not supported");
    parse_bad("h:6379,ssl=maybe", "ssl=\"maybe\"");
    parse_bad("h:6379,channelPrefix=x", "unknown or unsupported option \"channelPrefix\"");
    parse_bad("h:6379,defaultDatabase=two", "defaultDatabase=\"two\"");
    parse_bad("h:6379,connectTimeout=-5", "connectTimeout=\"-5\"");
    parse_bad("h:6379,syncTimeout=", "syncTimeout=\"\"");
    parse_bad("h1:6379,h2:6379", "more than one endpoint (\"h1:6379\", \"h2:6379\")");
    parse_bad("password=x", "missing host");
    parse_bad("", "missing host");
    parse_bad("h:99999", "port \"99999\"");
    parse_bad("h:", "port \"\"");
    parse_bad(":6379", "missing host");
}

static void test_check_and_format(void **state)
{
    char why[256], buf[EX_REDIS_ADDR_STR_MAX];
    assert_int_equal(ex_redis_url_check("localhost:6379", why, sizeof why), 0);
    assert_int_equal(ex_redis_url_check("h:6379,bogus=1", why, sizeof why), -1);
    assert_non_null(strstr(why, "bogus"));
    ex_redis_addr a = parse_ok("redis://:pw@example.com:6400");
    assert_string_equal(ex_redis_addr_format(&a, buf, sizeof buf), "example.com:6400");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_full),
        cmocka_unit_test(test_url_defaults),
        cmocka_unit_test(test_url_password_only_and_encoding),
        cmocka_unit_test(test_url_ipv6),
        cmocka_unit_test(test_url_errors),
        cmocka_unit_test(test_url_error_hides_password),
        cmocka_unit_test(test_seed_form),
        cmocka_unit_test(test_seed_form_plain),
        cmocka_unit_test(test_seed_form_errors),
        cmocka_unit_test(test_check_and_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
