/* Unit tests of gen/progress: the bar line and the summary. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/clock.h"
#include "gen/progress.h"

#define SEC EX_NS_PER_SEC

static void test_format_secs(void **state)
{
    char buf[32];
    assert_string_equal(gen_format_secs(0, buf), "0.0s");
    assert_string_equal(gen_format_secs(12345 * EX_NS_PER_MS, buf), "12.3s");
    assert_string_equal(gen_format_secs(245 * SEC, buf), "4m05s");
    assert_string_equal(gen_format_secs(3725 * SEC, buf), "1h02m");
}

static void test_bar_line(void **state)
{
    char line[GEN_PROGRESS_LINE_MAX];
    gen_progress_format(line, sizeof line, 0, 300, 0, NULL);
    assert_string_equal(line, "[------------------------]   0/300  0.0 ev/s  ETA --");
    gen_progress_format(line, sizeof line, 150, 300, 10 * SEC, "next batch in 1m58s");
    assert_string_equal(line, "[############------------] 150/300  15.0 ev/s  ETA 10.0s  next batch in 1m58s");
    gen_progress_format(line, sizeof line, 300, 300, 12300 * EX_NS_PER_MS, NULL);
    assert_string_equal(line, "[########################] 300/300  24.4 ev/s  ETA 0.0s");
}

static void test_summary(void **state)
{
    char line[400];
    gen_outcome o = {.done = 300, .total = 300, .elapsed_ns = 12300 * EX_NS_PER_MS,
                     .target = "channel event.workflow.started"};
    gen_summary_format(line, sizeof line, &o);
    assert_string_equal(line, "published 300 events to channel event.workflow.started in 12.3s (24.4/s)");
    o.done = 12;
    o.signal = SIGINT;
    o.unheard = 12;
    gen_summary_format(line, sizeof line, &o);
    assert_string_equal(line, "interrupted by SIGINT: published 12 of 300 events to channel "
                              "event.workflow.started in 12.3s (1.0/s); 12 reached no subscriber");
    gen_outcome f = {.done = 0, .total = 2, .elapsed_ns = 0, .target = "stream k", .failed = 1};
    gen_summary_format(line, sizeof line, &f);
    assert_string_equal(line, "stopped by an error: published 0 of 2 events to stream k in 0.0s (0.0/s)");
    gen_outcome one = {.done = 1, .total = 1, .elapsed_ns = SEC, .target = "stream wf", .signal = SIGTERM};
    gen_summary_format(line, sizeof line, &one);
    assert_string_equal(line, "interrupted by SIGTERM: published 1 event to stream wf in 1.0s (1.0/s)");
}

static void test_drawing(void **state)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    gen_progress p;
    gen_progress_init(&p, out, 1, 10, 0);
    gen_progress_update(&p, 1, 1 * SEC, NULL, 0);
    gen_progress_update(&p, 2, 1 * SEC + 50 * EX_NS_PER_MS, NULL, 0); /* too soon: skipped */
    gen_progress_update(&p, 3, 1 * SEC + 60 * EX_NS_PER_MS, NULL, 1); /* forced */
    gen_progress_clear(&p);
    gen_progress_clear(&p); /* nothing shown: no output */
    fflush(out);
    assert_non_null(strstr(text, "\r[##----------------------]  1/10"));
    assert_null(strstr(text, " 2/10"));
    assert_non_null(strstr(text, "\r[#######-----------------]  3/10"));
    assert_int_equal(strcmp(text + len - 4, "\r\033[K"), 0);
    assert_null(strstr(text, "\r\033[K\r\033[K"));
    fclose(out);
    free(text);

    text = NULL;
    out = open_memstream(&text, &len);
    gen_progress_init(&p, out, 0, 10, 0); /* not a terminal: draws nothing */
    gen_progress_update(&p, 5, SEC, NULL, 1);
    gen_progress_clear(&p);
    fclose(out);
    assert_int_equal(len, 0);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_secs),
        cmocka_unit_test(test_bar_line),
        cmocka_unit_test(test_summary),
        cmocka_unit_test(test_drawing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
