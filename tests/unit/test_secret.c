/* Unit tests of core/secret: every kind of credential the masker hides,
 * what it leaves alone, idempotence, cutting and the logger's use of it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/log.h"
#include "core/secret.h"

/* in masks to want, with `n` credentials replaced, and masking again changes nothing. */
static void expect(const char *in, const char *want, size_t n)
{
    char out[512], again[512];
    size_t got = ex_secret_mask(in, out, sizeof out);
    if (strcmp(out, want) != 0) fail_msg("\"%s\" masked to \"%s\", expected \"%s\"", in, out, want);
    if (got != n) fail_msg("\"%s\": %zu replaced, expected %zu", in, got, n);
    ex_secret_mask(out, again, sizeof again);
    if (strcmp(out, again) != 0) fail_msg("masking \"%s\" again gave \"%s\"", out, again);
}

static void test_url_userinfo(void **state)
{
    expect("--redis=\"redis://alice:s3cretPASS@localhost:99999\": port \"99999\" is not a number",
           "--redis=\"redis://alice:***@localhost:99999\": port \"99999\" is not a number", 1);
    expect("exporter otlp/http ready for http://bob:hunter2@127.0.0.1:1/v1/traces",
           "exporter otlp/http ready for http://bob:***@127.0.0.1:1/v1/traces", 1);
    expect("redis://:onlypw@h:1", "redis://***@h:1", 1);
    expect("https://ghp_tokenonly@github.com/x", "https://***@github.com/x", 1);
    expect("redis://a%40b:p@ss:w@rd@h", "redis://a%40b:***@h", 1); /* the last '@' ends the userinfo */
    expect("http://odd=user:pw@h", "http://***@h", 1);                /* not a plain user name: all hidden */
    expect("http://host:4318/v1/traces and http://h2/", "http://host:4318/v1/traces and http://h2/", 0);
    expect("a://b@c d://e:f@g", "a://***@c d://e:***@g", 2);
}

static void test_key_values(void **state)
{
    expect("--redis=\"localhost:99999,password=hunter2\": port", "--redis=\"localhost:99999,password=***\": port", 1);
    expect("redis:6379,Password=hunter2,defaultDatabase=2", "redis:6379,Password=***,defaultDatabase=2", 1);
    expect("OTEL_EXPORTER_OTLP_HEADERS=\"Authorization=Bearer abc.def,x-api-key=k3y\"",
           "OTEL_EXPORTER_OTLP_HEADERS=\"Authorization=Bearer ***,x-api-key=***\"", 2);
    expect("Authorization=Basic%20dXNlcjpwYXNz", "Authorization=***", 1);
    expect("authorization: Bearer xyz", "authorization: Bearer ***", 1);
    expect("{\"token\":\"t0k\",\"user\":\"u\"}", "{\"token\":\"***\",\"user\":\"u\"}", 1);
    expect("access_token='a b c' next", "access_token='***' next", 1);
    expect("GET /x?sig=1&api_key=zz&client_secret=q", "GET /x?sig=1&api_key=***&client_secret=***", 2);
    expect("password= ", "password= ", 0); /* nothing to hide */
    expect("the password is wrong; AUTH: WRONGPASS", "the password is wrong; AUTH: WRONGPASS", 0);
}

static void test_schemes(void **state)
{
    expect("sent Bearer eyJhbGc.x-y_z= to it", "sent Bearer *** to it", 1);
    expect("header Basic dXNlcjpwYXNz", "header Basic ***", 1);
    expect("a basic idea, Bearer", "a basic idea, Bearer", 0);
}

static void test_cut_and_inplace(void **state)
{
    char small[12], buf[64];
    size_t n = ex_secret_mask("redis://alice:s3cret@host", small, sizeof small);
    assert_int_equal(n, 1);
    assert_string_equal(small, "redis://ali"); /* cut, but never through the secret */
    n = ex_secret_mask("password=x", small, 1);
    assert_int_equal(n, 1);
    assert_string_equal(small, "");
    snprintf(buf, sizeof buf, "%s", "p,password=a");
    assert_int_equal(ex_secret_mask_inplace(buf, sizeof buf), 1);
    assert_string_equal(buf, "p,password=***"); /* longer than before */
    snprintf(buf, 13, "%s", "p,password=a");
    ex_secret_mask_inplace(buf, 13);
    assert_string_equal(buf, "p,password=*"); /* cut to the buffer */
}

/* The logger masks every line, also one longer than its line buffer. */
static void test_logger_masks(void **state)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    ex_log_set_stream(f);
    ex_info("test", "connecting to redis://alice:s3cretPASS@host:1 and %s", "h,password=hunter2");
    char pad[2033]; /* the line buffer (2048 bytes) ends inside the password below */
    memset(pad, 'x', sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    ex_warn("test", "%s http://bob:hunter2@h/", pad);
    ex_log_set_format(EX_LOG_JSON);
    ex_error("test", "Authorization=Bearer tok3n");
    ex_log_set_format(EX_LOG_TEXT);
    ex_log_set_stream(NULL);
    fclose(f);
    assert_null(strstr(text, "s3cretPASS"));
    assert_null(strstr(text, "hunter2"));
    assert_null(strstr(text, "bob:hun"));
    assert_null(strstr(text, "tok3n"));
    assert_non_null(strstr(text, "redis://alice:***@host:1 and h,password=***"));
    assert_non_null(strstr(text, "Authorization=Bearer ***"));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_userinfo),
        cmocka_unit_test(test_key_values),
        cmocka_unit_test(test_schemes),
        cmocka_unit_test(test_cut_and_inplace),
        cmocka_unit_test(test_logger_masks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
