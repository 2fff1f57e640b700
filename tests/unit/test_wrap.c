/* --help text wrapping: words filled to the width, paragraphs kept, the
 * hanging indent, over-long words moved left to fit, and -V. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/wrap.h"

/* ex_wrap's output as a malloc'd string. */
static char *wrapped(const char *text, int first, int indent, int width)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    assert_non_null(f);
    if (first) fprintf(f, "%-*s", first, "H");
    ex_wrap(f, text, first, indent, width);
    fclose(f);
    return out;
}

/* Every line of s is at most width columns (bytes). */
static void assert_lines_within(const char *s, int width)
{
    for (const char *p = s; *p;) {
        size_t n = strcspn(p, "\n");
        if ((int)n > width) fail_msg("line of %zu columns (> %d): \"%.*s\"", n, width, (int)n, p);
        p += n + (p[n] == '\n');
    }
}

static void test_fills_words_to_the_width(void **state)
{
    (void)state;
    char *s = wrapped("one two three four five six seven", 0, 0, 14);
    assert_string_equal(s, "one two three\nfour five six\nseven\n");
    free(s);
}

static void test_single_newlines_join_blank_lines_separate(void **state)
{
    (void)state;
    char *s = wrapped("a b\nc d\n\nnext paragraph", 0, 0, 80);
    assert_string_equal(s, "a b c d\n\nnext paragraph\n");
    free(s);
}

static void test_hanging_indent_after_a_head(void **state)
{
    (void)state;
    char *s = wrapped("alpha beta gamma delta", 6, 6, 18);
    assert_string_equal(s, "H     alpha beta\n      gamma delta\n");
    free(s);
    s = wrapped("alpha beta", 0, 4, 80); /* first 0: the first line is indented too */
    assert_string_equal(s, "    alpha beta\n");
    free(s);
}

static void test_long_word_moves_left_to_fit(void **state)
{
    (void)state;
    char *s = wrapped("x ABCDEFGHIJKLMNOP y", 0, 8, 20);
    assert_string_equal(s, "        x\n    ABCDEFGHIJKLMNOP\n        y\n");
    assert_lines_within(s, 20);
    free(s);
}

static const ex_opt opts[] = {
    {"a-rather-long-option-name", EX_OPT_STRING, 0, "a-default-value-that-is-long", EX_NO_BOUNDS, "VALUE",
     "A help text long enough to need two or three lines at any usual width, with some words in it that go on "
     "and on so that the wrap has to break it more than once.",
     NULL, NULL, "AN_ENVIRONMENT_VARIABLE_WITH_A_VERY_LONG_NAME_INDEED_THAT_GOES_ON"},
};
static const ex_cmd_spec spec = {"t", "A summary that is quite long as well, long enough to need wrapping at 80.",
                                 "A description\nwritten in short\nlines.\n\nAnd a second paragraph.", NULL, 0, 0,
                                 opts, 1};

static void test_help_fits_80_columns_when_not_a_terminal(void **state)
{
    (void)state;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len); /* not a terminal */
    ex_cfg_print_help(&spec, f);
    fclose(f);
    assert_lines_within(text, EX_WRAP_DEFAULT);
    assert_non_null(strstr(text, "A description written in short lines.\n\nAnd a second paragraph."));
    assert_non_null(strstr(text, "AN_ENVIRONMENT_VARIABLE_WITH_A_VERY_LONG_NAME_INDEED_THAT_GOES_ON"));
    assert_non_null(strstr(text, "--version, -V"));
    free(text);
}

static void test_version_flag(void **state)
{
    (void)state;
    char *text = NULL;
    size_t len = 0;
    char *argv[] = {"t", "-V", NULL};
    char *env[] = {NULL};
    char *cfg = NULL;
    ex_cfg_result res;
    FILE *f = open_memstream(&text, &len);
    int rc = ex_cfg_parse(&spec, &cfg, 2, argv, env, f, &res);
    fclose(f);
    assert_int_equal(rc, EX_CFG_HELP);
    assert_string_equal(text, "extrace " EXTRACE_VERSION "\n");
    ex_cfg_result_free(&res);
    ex_cfg_free(&spec, &cfg);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fills_words_to_the_width),
        cmocka_unit_test(test_single_newlines_join_blank_lines_separate),
        cmocka_unit_test(test_hanging_indent_after_a_head),
        cmocka_unit_test(test_long_word_moves_left_to_fit),
        cmocka_unit_test(test_help_fits_80_columns_when_not_a_terminal),
        cmocka_unit_test(test_version_flag),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
