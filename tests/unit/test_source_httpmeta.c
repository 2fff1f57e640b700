/* Unit tests of source/httpmeta: Link rel="next", the conditional-request
 * cache, every rate-limit header form and the pause rule, HTTP dates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "core/clock.h"
#include "core/mem.h"
#include "source/httpmeta.h"

#define S EX_NS_PER_SEC
static const int64_t NOW = INT64_C(1700000000) * S;

static int next_of(const char *v, char *out, size_t outlen) { return sr_link_next(v, strlen(v), out, outlen); }

static void test_link_next(void **state)
{
    char out[256];
    /* GitHub's form. */
    assert_int_equal(next_of("<https://api.github.com/repositories/1/actions/runs/2/jobs?page=2>; rel=\"next\", "
                             "<https://api.github.com/repositories/1/actions/runs/2/jobs?page=5>; rel=\"last\"",
                             out, sizeof out), 1);
    assert_string_equal(out, "https://api.github.com/repositories/1/actions/runs/2/jobs?page=2");
    /* next after other links, several relation types, upper case, a token value, extra params. */
    assert_int_equal(next_of("<a?x=1,2>; rel=prev, </p3>; title=\"a;b,c\"; REL=\"last NEXT\"", out, sizeof out), 1);
    assert_string_equal(out, "/p3");
    assert_int_equal(next_of("</p>;rel=next", out, sizeof out), 1);
    assert_string_equal(out, "/p");
    /* Only the first rel parameter counts (RFC 8288 §3.3). */
    assert_int_equal(next_of("</p>; rel=prev; rel=next", out, sizeof out), 0);
    assert_int_equal(next_of("</p>; rel=\"first\", </q>; rel=\"last\"", out, sizeof out), 0);
    assert_int_equal(next_of("", out, sizeof out), 0);
    assert_int_equal(next_of("</p>; rel=\"nextpage\"", out, sizeof out), 0);
    /* Malformed. */
    assert_int_equal(next_of("https://x; rel=next", out, sizeof out), -1);
    assert_int_equal(next_of("<https://x; rel=next", out, sizeof out), -1);
    assert_int_equal(next_of("</p>; rel=\"next", out, sizeof out), -1);
    assert_int_equal(next_of("</p> rel=next", out, sizeof out), -1);
    /* A target too long for out. */
    assert_int_equal(next_of("</0123456789>; rel=next", out, 8), -1);
    assert_string_equal(out, "");
}

static void test_cond_cache(void **state)
{
    sr_cond c = {0};
    char lines[2][SR_ETAG_MAX + 32];
    assert_int_equal(sr_cond_headers(&c, lines, 2), 0);
    assert_int_equal(sr_cond_store(&c, "W/\"abc\"", "Wed, 21 Oct 2015 07:28:00 GMT", "{\"a\":1}", 7), 0);
    assert_int_equal(sr_cond_headers(&c, lines, 2), 2);
    assert_string_equal(lines[0], "If-None-Match: W/\"abc\"");
    assert_string_equal(lines[1], "If-Modified-Since: Wed, 21 Oct 2015 07:28:00 GMT");
    assert_string_equal(c.body, "{\"a\":1}");
    assert_int_equal(c.len, 7);
    /* A later answer without validators forgets everything. */
    assert_int_equal(sr_cond_store(&c, NULL, NULL, "{}", 2), 0);
    assert_null(c.body);
    assert_int_equal(sr_cond_headers(&c, lines, 2), 0);
    /* A validator with a control character is dropped, the other kept. */
    assert_int_equal(sr_cond_store(&c, "\"a\r\nX: y\"", "Wed, 21 Oct 2015 07:28:00 GMT", "{}", 2), 0);
    assert_int_equal(sr_cond_headers(&c, lines, 2), 1);
    assert_string_equal(lines[0], "If-Modified-Since: Wed, 21 Oct 2015 07:28:00 GMT");
    sr_cond_clear(&c);
    assert_int_equal(sr_cond_store(&c, "\"e\"", NULL, "x", 1), 0);
    ex_mem_fail_after(0);
    assert_int_equal(sr_cond_store(&c, "\"f\"", NULL, "y", 1), -1);
    ex_mem_fail_after(-1);
    assert_null(c.body);
    assert_string_equal(c.etag, "");
    sr_cond_clear(&c);
}

static sr_ratelimit feed(const char *const *hdrs)
{
    sr_ratelimit rl;
    sr_ratelimit_init(&rl);
    for (; *hdrs; hdrs += 2) sr_ratelimit_header(&rl, hdrs[0], hdrs[1], strlen(hdrs[1]), NOW);
    return rl;
}

static void test_ratelimit_headers(void **state)
{
    const char *gh[] = {"X-RateLimit-Limit", "5000", "x-ratelimit-remaining", "4987", "X-RateLimit-Used", "13",
                        "X-RateLimit-Reset", "1700000600", "X-RateLimit-Resource", "core", NULL};
    sr_ratelimit rl = feed(gh);
    assert_int_equal(rl.limit, 5000);
    assert_int_equal(rl.remaining, 4987);
    assert_int_equal(rl.used, 13);
    assert_int_equal(rl.reset_ns, NOW + 600 * S);
    assert_int_equal(rl.retry_at_ns, 0);
    /* X-RateLimit-Reset as seconds from now (below 10^9). */
    const char *delta[] = {"X-RateLimit-Reset", "30", NULL};
    assert_int_equal(feed(delta).reset_ns, NOW + 30 * S);
    /* IETF draft 3–6 fields; a limit with a policy after it. */
    const char *ietf[] = {"RateLimit-Limit", "100, 100;w=60", "RateLimit-Remaining", " 7 ", "RateLimit-Reset", "12", NULL};
    rl = feed(ietf);
    assert_int_equal(rl.limit, 100);
    assert_int_equal(rl.remaining, 7);
    assert_int_equal(rl.reset_ns, NOW + 12 * S);
    /* Draft 7+ structured fields: the smallest remaining wins, with its reset. */
    const char *sf[] = {"RateLimit-Policy", "\"burst\";q=100;w=60, \"day\";q=1000;w=86400", "RateLimit",
                        "\"burst\";r=50;t=30, \"day\";r=9;t=3600", NULL};
    rl = feed(sf);
    assert_int_equal(rl.limit, 1000);
    assert_int_equal(rl.remaining, 9);
    assert_int_equal(rl.reset_ns, NOW + 3600 * S);
    /* The older single-header form, and a bare policy limit. */
    const char *old[] = {"RateLimit", "limit=100, remaining=0, reset=5", NULL};
    rl = feed(old);
    assert_int_equal(rl.limit, 100);
    assert_int_equal(rl.remaining, 0);
    assert_int_equal(rl.reset_ns, NOW + 5 * S);
    const char *bare[] = {"RateLimit-Policy", "10;w=1", NULL};
    assert_int_equal(feed(bare).limit, 10);
    /* Retry-After: seconds or an HTTP date. */
    const char *ra[] = {"Retry-After", "120", NULL};
    assert_int_equal(feed(ra).retry_at_ns, NOW + 120 * S);
    const char *rad[] = {"Retry-After", "Tue, 14 Nov 2023 22:15:00 GMT", NULL};
    assert_int_equal(feed(rad).retry_at_ns, INT64_C(1700000100) * S);
    /* Malformed and unrelated headers change nothing. */
    sr_ratelimit_init(&rl);
    assert_int_equal(sr_ratelimit_header(&rl, "X-RateLimit-Remaining", "many", 4, NOW), 0);
    assert_int_equal(sr_ratelimit_header(&rl, "X-RateLimit-Remaining", "-1", 2, NOW), 0);
    assert_int_equal(sr_ratelimit_header(&rl, "Retry-After", "soon", 4, NOW), 0);
    assert_int_equal(sr_ratelimit_header(&rl, "Content-Type", "1", 1, NOW), 0);
    assert_int_equal(sr_ratelimit_header(&rl, "X-Retry-After", "1", 1, NOW), 0);
    assert_int_equal(rl.remaining, -1);
    assert_int_equal(rl.retry_at_ns, 0);
    /* Absurdly long numbers are clamped (no undefined conversion). */
    assert_int_equal(sr_ratelimit_header(&rl, "X-RateLimit-Limit", "55555555555555555557", 20, NOW), 1);
    assert_int_equal(rl.limit, INT64_C(1000000000000000));
}

static void test_pause(void **state)
{
    sr_pace_policy pol = sr_pace_default();
    sr_pace_reason why;
    sr_ratelimit rl;
    sr_ratelimit_init(&rl);
    assert_int_equal(sr_ratelimit_pause(&rl, NOW, &pol, &why), 0); /* nothing known */
    assert_int_equal(why, SR_PACE_NONE);
    rl.limit = 5000, rl.remaining = 4000, rl.reset_ns = NOW + 600 * S;
    assert_int_equal(sr_ratelimit_pause(&rl, NOW, &pol, &why), 0); /* plenty left */
    /* Under the reserve (10% of 5000 = 500): 400 left for 600 s → one per 1.5 s. */
    rl.remaining = 400;
    assert_int_equal(sr_ratelimit_pause(&rl, NOW, &pol, &why), 1500 * EX_NS_PER_MS);
    assert_int_equal(why, SR_PACE_SPREAD);
    assert_string_equal(sr_pace_reason_name(why), "spread");
    /* A small limit: the reserve is at least 10 requests. */
    rl.limit = 60, rl.remaining = 9, rl.reset_ns = NOW + 90 * S;
    assert_int_equal(sr_ratelimit_pause(&rl, NOW, &pol, &why), 10 * S);
    rl.remaining = 10;
    assert_int_equal(sr_ratelimit_pause(&rl, NOW, &pol, &why), 0);
    /* Exhausted: until reset plus the margin; unknown reset: the fallback; a past reset: go. */
    rl.remaining = 0;
    assert_int_equal(sr_ratelimit_pause(&rl, NOW, &pol, &why), 91 * S);
    assert_int_equal(why, SR_PACE_EXHAUSTED);
    rl.reset_ns = 0;
    assert_int_equal(sr_ratelimit_pause(&rl, NOW, &pol, &why), 60 * S);
    rl.reset_ns = NOW - S;
    assert_int_equal(sr_ratelimit_pause(&rl, NOW, &pol, &why), 0);
    assert_int_equal(why, SR_PACE_NONE);
    /* Retry-After wins; a bogus far reset is capped. */
    rl.retry_at_ns = NOW + 5 * S;
    assert_int_equal(sr_ratelimit_pause(&rl, NOW, &pol, &why), 5 * S);
    assert_int_equal(why, SR_PACE_RETRY_AFTER);
    rl.retry_at_ns = 0, rl.reset_ns = NOW + 86400 * S;
    assert_int_equal(sr_ratelimit_pause(&rl, NOW, &pol, &why), 3600 * S);
    assert_int_equal(sr_ratelimit_pause(&rl, NOW, &pol, NULL), 3600 * S);
}

static void date_is(const char *s, int64_t secs)
{
    int64_t ns = 0;
    if (sr_http_date_parse(s, strlen(s), &ns) != 0) fail_msg("\"%s\" refused", s);
    assert_int_equal(ns, secs * S);
}

static void test_http_date(void **state)
{
    date_is("Sun, 06 Nov 1994 08:49:37 GMT", 784111777);
    date_is("Sunday, 06-Nov-94 08:49:37 GMT", 784111777);
    date_is("Sun Nov  6 08:49:37 1994", 784111777);
    date_is("Thu, 29 Feb 2024 00:00:00 GMT", 1709164800);
    int64_t ns;
    assert_int_equal(sr_http_date_parse("Sun, 06 Nov 1994 08:49:37 CET", 29, &ns), -1);
    assert_int_equal(sr_http_date_parse("Sun, 06 Xyz 1994 08:49:37 GMT", 29, &ns), -1);
    assert_int_equal(sr_http_date_parse("Sun, 06 Nov 1994 25:49:37 GMT", 29, &ns), -1);
    assert_int_equal(sr_http_date_parse("Sun, 06 Nov 1994 08:49:37 GMT junk", 34, &ns), -1);
    assert_int_equal(sr_http_date_parse("", 0, &ns), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_link_next), cmocka_unit_test(test_cond_cache), cmocka_unit_test(test_ratelimit_headers),
        cmocka_unit_test(test_pause),     cmocka_unit_test(test_http_date),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
