/* Unit tests of source/template: key splitting, URL and body expansion,
 * reference resolution for Link targets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "core/mem.h"
#include "source/template.h"

static sr_profile *prof(void)
{
    static const char text[] = "name: gh\nkey: [owner, repo, run_id]\nbase_url: https://ghe.example/api/v3/\n"
                               "requests:\n  run:\n    url: /repos/{owner}/{repo}/actions/runs/{run_id}\nmap: .\n";
    sr_profile *p;
    char err[SR_ERR_LEN];
    if (sr_profile_load_string("t", text, strlen(text), &p, err, sizeof err) != 0) fail_msg("%s", err);
    return p;
}

static void key_bad(const sr_profile *p, const char *text, const char *want)
{
    sr_key k;
    char err[SR_ERR_LEN];
    if (sr_key_parse(p, text, strlen(text), &k, err, sizeof err) == 0) fail_msg("\"%s\" accepted", text);
    if (strcmp(err, want) != 0) fail_msg("got  \"%s\"\nwant \"%s\"", err, want);
}

static void test_key_parse(void **state)
{
    sr_profile *p = prof();
    sr_key k;
    char err[SR_ERR_LEN];
    assert_int_equal(sr_key_parse(p, "octo-org/hello/30433642", 23, &k, err, sizeof err), 0);
    assert_int_equal(k.n, 3);
    assert_string_equal(k.parts[0], "octo-org");
    assert_string_equal(k.parts[2], "30433642");
    sr_key_free(&k);
    /* The last part takes the rest, slashes included. */
    assert_int_equal(sr_key_parse(p, "a/b/c/d", 7, &k, err, sizeof err), 0);
    assert_string_equal(k.parts[2], "c/d");
    sr_key_free(&k);
    key_bad(p, "octo/hello", "key \"octo/hello\": 2 parts, gh needs 3 (owner/repo/run_id)");
    key_bad(p, "octo//1", "key \"octo//1\": part 2 (repo) is empty");
    key_bad(p, "octo/r/", "key \"octo/r/\": part 3 (run_id) is empty");
    key_bad(p, "o\x01/r/1", "key \"o\\x01/r/1\": part 1 (owner) holds a control character");
    char longk[600];
    memset(longk, 'x', sizeof longk);
    memcpy(longk, "o/r/", 4);
    longk[4 + 257] = '\0';
    sr_key kk;
    assert_int_equal(sr_key_parse(p, longk, strlen(longk), &kk, err, sizeof err), -1);
    assert_non_null(strstr(err, "part 3 (run_id) is longer than 256 bytes"));
    sr_profile_free(p);
}

static void test_url_build(void **state)
{
    sr_profile *p = prof();
    sr_key k;
    char err[SR_ERR_LEN];
    const char *key = "my org/ré+po/scheduled__2024-01-01T00:00:00+00:00";
    assert_int_equal(sr_key_parse(p, key, strlen(key), &k, err, sizeof err), 0);
    char *u = sr_url_build(p, p->requests[0].url, p->base_url, &k, err, sizeof err);
    assert_string_equal(u, "https://ghe.example/api/v3/repos/my%20org/r%C3%A9%2Bpo/actions/runs/"
                           "scheduled__2024-01-01T00%3A00%3A00%2B00%3A00");
    ex_free(u);
    /* The override base, without a trailing slash; a template without a leading one. */
    u = sr_url_build(p, "x/{owner}?q={repo}", "http://127.0.0.1:5000", &k, err, sizeof err);
    assert_string_equal(u, "http://127.0.0.1:5000/x/my%20org?q=r%C3%A9%2Bpo");
    ex_free(u);
    /* Absolute templates ignore the base; unknown braces stay literal. */
    u = sr_url_build(p, "https://h/{nope}/{owner}", "http://b", &k, err, sizeof err);
    assert_string_equal(u, "https://h/{nope}/my%20org");
    ex_free(u);
    assert_null(sr_url_build(p, "/w", NULL, &k, err, sizeof err));
    assert_string_equal(err, "t: no base URL for /w (set base_url or --api-url)");
    sr_key_free(&k);
    sr_profile_free(p);
}

static void test_body_build(void **state)
{
    sr_profile *p = prof();
    sr_key k;
    char err[SR_ERR_LEN];
    const char *key = "o\"x/r\\y/1\t2";
    assert_int_equal(sr_key_parse(p, key, strlen(key), &k, err, sizeof err), -1); /* tab is a control */
    key = "o\"x/r\\y/12";
    assert_int_equal(sr_key_parse(p, key, strlen(key), &k, err, sizeof err), 0);
    char *b = sr_body_build(p, "{\"owner\": \"{owner}\", \"r\": \"{repo}\", \"id\": {run_id}}", &k, err, sizeof err);
    assert_string_equal(b, "{\"owner\": \"o\\\"x\", \"r\": \"r\\\\y\", \"id\": 12}");
    ex_free(b);
    b = sr_body_build(p, "", &k, err, sizeof err);
    assert_string_equal(b, "");
    ex_free(b);
    sr_key_free(&k);
    sr_profile_free(p);
}

static void resolve_is(const char *base, const char *ref, const char *want)
{
    char *r = sr_url_resolve(base, ref);
    if (!r) fail_msg("%s + %s: NULL", base, ref);
    if (strcmp(r, want) != 0) fail_msg("%s + %s: got %s, want %s", base, ref, r, want);
    ex_free(r);
}

static void test_url_resolve(void **state)
{
    const char *b = "http://a/b/c/d;p?q";
    /* RFC 3986 §5.4.1 normal examples (http scheme only). */
    resolve_is(b, "g", "http://a/b/c/g");
    resolve_is(b, "./g", "http://a/b/c/g");
    resolve_is(b, "g/", "http://a/b/c/g/");
    resolve_is(b, "/g", "http://a/g");
    resolve_is(b, "//g", "http://g");
    resolve_is(b, "?y", "http://a/b/c/d;p?y");
    resolve_is(b, "g?y", "http://a/b/c/g?y");
    resolve_is(b, "#s", "http://a/b/c/d;p?q#s");
    resolve_is(b, "", "http://a/b/c/d;p?q");
    resolve_is(b, ".", "http://a/b/c/");
    resolve_is(b, "..", "http://a/b/");
    resolve_is(b, "../g", "http://a/b/g");
    resolve_is(b, "../..", "http://a/");
    resolve_is(b, "../../g", "http://a/g");
    resolve_is(b, "../../../g", "http://a/g");
    resolve_is(b, "/./g", "http://a/g");
    resolve_is(b, "g;x=1/../y", "http://a/b/c/y");
    /* GitHub's Link targets are absolute. */
    resolve_is("https://api.github.com/repos/o/r/actions/runs/1/jobs?per_page=100",
               "https://api.github.com/repositories/1/actions/runs/1/jobs?per_page=100&page=2",
               "https://api.github.com/repositories/1/actions/runs/1/jobs?per_page=100&page=2");
    resolve_is("http://h:8080", "p?page=2", "http://h:8080/p?page=2");
    assert_null(sr_url_resolve("/relative", "g"));
    assert_null(sr_url_resolve("ftp://h/", "g"));
}

static void test_base_url_check(void **state)
{
    const char *why;
    assert_int_equal(sr_base_url_check("https://api.github.com", &why), 0);
    assert_int_equal(sr_base_url_check("http://127.0.0.1:5000/api/", &why), 0);
    assert_int_equal(sr_base_url_check("https://", &why), -1);
    assert_string_equal(why, "no host");
    assert_int_equal(sr_base_url_check("https://t@h", &why), -1);
    assert_int_equal(sr_base_url_check("https://h/a b", &why), -1);
    assert_int_equal(sr_base_url_check("https://h/#x", &why), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_parse),   cmocka_unit_test(test_url_build),      cmocka_unit_test(test_body_build),
        cmocka_unit_test(test_url_resolve), cmocka_unit_test(test_base_url_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
