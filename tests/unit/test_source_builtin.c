/* Unit tests of source/builtin: every profile shipped in the binary loads,
 * is named after its file, and its jq program compiles; lookups by name
 * and by path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "source/builtin.h"
#include "source/jq_run.h"

static void test_every_builtin_loads_and_compiles(void **state)
{
    assert_true(sr_nbuiltins >= 1);
    for (size_t i = 0; i < sr_nbuiltins; i++) {
        const sr_builtin *b = &sr_builtins[i];
        sr_profile *p;
        sr_jq *jq;
        char err[SR_ERR_LEN];
        assert_int_equal(strlen(b->text), b->len);
        if (sr_profile_load_any(b->name, &p, err, sizeof err) != 0) fail_msg("%s", err);
        if (strcmp(p->name, b->name) != 0) fail_msg("profiles/%s.yaml names itself \"%s\"", b->name, p->name);
        char origin[80];
        snprintf(origin, sizeof origin, "builtin:%s", b->name);
        assert_string_equal(p->origin, origin);
        if (sr_jq_compile(p, &jq, err, sizeof err) != 0) fail_msg("%s", err);
        sr_jq_free(jq);
        sr_profile_free(p);
        if (i) assert_true(strcmp(sr_builtins[i - 1].name, b->name) < 0); /* sorted */
    }
}

static void test_lookup(void **state)
{
    assert_non_null(sr_builtin_find("seed"));
    assert_null(sr_builtin_find("Seed"));
    assert_null(sr_builtin_find(""));
    sr_profile *p;
    char err[SR_ERR_LEN];
    assert_int_equal(sr_profile_load_any("no-such-profile", &p, err, sizeof err), -1);
    assert_non_null(strstr(err, "no-such-profile: no such file, and no built-in profile of that name ("));
    assert_non_null(strstr(err, "seed"));
    /* A path is a file even when the file is missing. */
    assert_int_equal(sr_profile_load_any("./seed", &p, err, sizeof err), -1);
    assert_string_equal(err, "./seed: No such file or directory");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_builtin_loads_and_compiles),
        cmocka_unit_test(test_lookup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
