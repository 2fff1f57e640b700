/* Unit tests of source/auth: every auth form from the environment and
 * from files, and errors that name the variable or file, never the secret. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "source/auth.h"

static sr_profile *prof(const char *auth)
{
    char text[1024];
    snprintf(text, sizeof text, "name: t\nkey: [id]\nauth: %s\nrequests: {w: {url: /w}}\nmap: .\n", auth);
    sr_profile *p;
    char err[SR_ERR_LEN];
    if (sr_profile_load_string("p.yaml", text, strlen(text), &p, err, sizeof err) != 0) fail_msg("%s", err);
    return p;
}

static char *const ENV[] = {"TOK=s3cr3t-token", "USER_X=alice", "PASS=open sesame", "EMPTY=", "TOKENX=wrong", NULL};

static void auth_ok(const char *spec, const char *name, const char *value)
{
    sr_profile *p = prof(spec);
    sr_auth a;
    char err[SR_ERR_LEN];
    if (sr_auth_load(p->origin, &p->auth, ENV, &a, err, sizeof err) != 0) fail_msg("%s: %s", spec, err);
    if (!name) {
        assert_null(a.name);
        assert_null(a.value);
    } else {
        assert_string_equal(a.name, name);
        assert_string_equal(a.value, value);
    }
    sr_auth_free(&a);
    assert_null(a.value);
    sr_profile_free(p);
}

static void auth_bad(const char *spec, const char *want)
{
    sr_profile *p = prof(spec);
    sr_auth a;
    char err[SR_ERR_LEN];
    assert_int_equal(sr_auth_load(p->origin, &p->auth, ENV, &a, err, sizeof err), -1);
    if (strcmp(err, want) != 0) fail_msg("got  \"%s\"\nwant \"%s\"", err, want);
    assert_null(strstr(err, "s3cr3t"));
    sr_profile_free(p);
}

static void test_env_forms(void **state)
{
    auth_ok("{type: none}", NULL, NULL);
    auth_ok("{type: bearer, token_env: TOK}", "Authorization", "Bearer s3cr3t-token");
    auth_ok("{type: header, header: X-API-Key, token_env: TOK}", "X-API-Key", "s3cr3t-token");
    /* base64("alice:open sesame") */
    auth_ok("{type: basic, username_env: USER_X, password_env: PASS}", "Authorization", "Basic YWxpY2U6b3BlbiBzZXNhbWU=");
}

static void test_file_forms(void **state)
{
    char path[] = "/tmp/extrace-auth-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("s3cr3t-file\r\n", f); /* the trailing CR LF is not part of the secret */
    fclose(f);
    char spec[256];
    snprintf(spec, sizeof spec, "{type: bearer, token_file: %s}", path);
    auth_ok(spec, "Authorization", "Bearer s3cr3t-file");
    snprintf(spec, sizeof spec, "{type: basic, username_env: USER_X, password_file: %s}", path);
    auth_ok(spec, "Authorization", "Basic YWxpY2U6czNjcjN0LWZpbGU=");
    f = fopen(path, "w");
    fputs("two\nlines\n", f);
    fclose(f);
    char want[256];
    snprintf(spec, sizeof spec, "{type: bearer, token_file: %s}", path);
    snprintf(want, sizeof want, "p.yaml: auth.token_file: %s holds a control character", path);
    auth_bad(spec, want);
    f = fopen(path, "w");
    fclose(f);
    snprintf(want, sizeof want, "p.yaml: auth.token_file: %s is empty", path);
    auth_bad(spec, want);
    remove(path);
    snprintf(want, sizeof want, "p.yaml: auth.token_file: %s: No such file or directory", path);
    auth_bad(spec, want);
}

static void test_env_errors(void **state)
{
    auth_bad("{type: bearer, token_env: TOKEN}", "p.yaml: auth.token_env: TOKEN is not set");
    auth_bad("{type: header, header: X-K, token_env: EMPTY}", "p.yaml: auth.token_env: EMPTY is empty");
    auth_bad("{type: basic, username_env: USER_X, password_env: NOPE}", "p.yaml: auth.password_env: NOPE is not set");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_env_forms),
        cmocka_unit_test(test_file_forms),
        cmocka_unit_test(test_env_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
