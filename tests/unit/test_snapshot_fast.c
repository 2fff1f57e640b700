/* The seed's answer read without a DOM (src/worker/snapshot_fast.c) is
 * the answer the jansson parser reads: the same snapshot field by field,
 * the same code and message through wm_snapshot_parse_flags, over the
 * fuzz corpora of the snapshot targets and over generated answers (valid
 * ones, and the same with one field wrong, a duplicate key, an escape or
 * a byte changed). The comparison is the fuzz target snapshot_diff's.
 * SNAPSHOT_FAST_N (default 10000) and SNAPSHOT_FAST_SEED run more. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../fuzz/target_snapdiff.c"
#include "core/iso8601.h"
#include "support.h"

void fuzz__fail(const char *target, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "fuzz %s: ", target);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    abort();
}

static const char *source_dir(void)
{
    const char *env = getenv("EXTRACE_SOURCE_DIR");
    return env && *env ? env : ".";
}

/* Compare both paths on body with both flag sets; 1 when the fast path accepted it. */
static int compare(const char *body, size_t len, const char *what)
{
    char diff[512];
    int fast = 0;
    for (unsigned flags = 0; flags <= WM_PARSE_PROCESSING_TIME; flags += WM_PARSE_PROCESSING_TIME) {
        int rc = fuzz__snapshot_compare(body, len, "wf-1", flags, diff, sizeof diff);
        if (rc < 0) fail_msg("%s (flags %u): %s\n%.*s", what, flags, diff, (int)(len > 2000 ? 2000 : len), body);
        fast |= rc;
    }
    return fast;
}

/* Every file of tests/fuzz/<kind>/<target>/; the number compared. */
static int replay_dir(const char *kind, const char *target, int *accepted)
{
    char dir[4096], path[8192];
    snprintf(dir, sizeof dir, "%s/tests/fuzz/%s/%s", source_dir(), kind, target);
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t len;
        char *body = ts_read_file(path, &len);
        assert_non_null(body);
        *accepted += compare(body, len, path);
        free(body);
        n++;
    }
    closedir(d);
    return n;
}

static void corpora_agree(void **state)
{
    int accepted = 0, n = 0;
    const char *targets[] = {"snapshot", "snapshot_diff"};
    for (size_t t = 0; t < 2; t++)
        n += replay_dir("corpus", targets[t], &accepted) + replay_dir("regressions", targets[t], &accepted);
    assert_true(n >= 20);
    assert_true(accepted >= 5); /* the fast path is taken, not only declined */
}

/* The seed's typical answer takes the fast path with every field set. */
static void typical_answer_is_fast(void **state)
{
    static wm_snapshot s;
    char path[4096];
    size_t len;
    snprintf(path, sizeof path, "%s/tests/fuzz/corpus/snapshot/completed.json", source_dir());
    char *body = ts_read_file(path, &len);
    assert_non_null(body);
    assert_int_equal(wm_snapshot__parse_fast(body, len, "wf-1", 0, &s), 0);
    assert_int_equal(s.status, WM_COMPLETED);
    assert_int_equal(s.nstages, 3);
    assert_string_equal(s.stages[2].type, "OutputGenerator");
    assert_string_equal(s.stages[1].id, "e2");
    assert_true(s.stages[0].end_ns > s.stages[0].start_ns);
    assert_int_equal(wm_snapshot__parse_fast(body, len, "wf-2", 0, &s), -1);
    free(body);
}

/* What jansson refuses and yajl would take: declined, jansson's message. */
static void declined_keep_the_message(void **state)
{
    static wm_snapshot s;
    struct {
        const char *body, *message;
    } cases[] = {
        {"{\"workflowId\":\"wf-1\",\"x\":99999999999999999999}", "too big integer"},
        {"{\"workflowId\":\"wf-1\",\"x\":1e400}", "real number overflow"},
        {"{\"workflowId\":\"wf-1\",\"x\":{\"k\":1,\"k\":2}}", "duplicate object key"},
        {"{\"workflowId\":\"wf-\\u0000\"}", "\\u0000 is not allowed"},
        {"{\"workflowId\":\"\xed\xa0\x80\"}", "unable to decode byte"},
        {"{\"workflowId\":\"\xc0\xaf\"}", "unable to decode byte"},
        {"{\"workflowId\":\"\\udc00\"}", "invalid Unicode"},
        {"[{\"workflowId\":\"wf-1\"}]", "not a JSON object"},
        {"{\"workflowId\":\"wf-1\"} x", "end of file expected"},
        {"{\"workflowId\":\"wf-1\",\"workflowStatus\":\"Processing\",\"workflowStartTime\":\"2024-07-05T06:57:56Z\","
         "\"isComplete\":false,\"workflowEntities\":{\"A\":{\"entityType\":\"A\",\"entityId\":\"1\",\"entityStatus\":"
         "\"Initializing\",\"entityStartTime\":\"2024-07-05T06:57:56Z\",\"isComplete\":false},\"A\":{}}}",
         "duplicate object key"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char why[400];
        size_t len = strlen(cases[i].body);
        assert_int_equal(wm_snapshot__parse_fast(cases[i].body, len, "wf-1", 0, &s), -1);
        assert_int_not_equal(wm_snapshot_parse(cases[i].body, len, "wf-1", &s, why, sizeof why), 0);
        if (!strstr(why, cases[i].message)) fail_msg("%s: \"%s\" lacks \"%s\"", cases[i].body, why, cases[i].message);
        compare(cases[i].body, len, cases[i].body);
    }
}

/* ---- generated answers ---------------------------------------------------- */

static uint64_t rng_state = 0x9E3779B97F4A7C15u;
static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 11) % n;
}
static int chance(int percent) { return (int)rnd(100) < percent; }

typedef struct gbuf {
    char s[64 * 1024];
    size_t n;
} gbuf;

static void put(gbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(gbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(b->s + b->n, sizeof b->s - b->n, fmt, ap);
    va_end(ap);
    if (w > 0) b->n += (size_t)w < sizeof b->s - b->n ? (size_t)w : sizeof b->s - b->n - 1;
}

static const char *pick(const char *const *v, size_t n) { return v[rnd((uint32_t)n)]; }
#define PICK(...) pick((const char *const[]){__VA_ARGS__}, sizeof((const char *const[]){__VA_ARGS__}) / sizeof(char *))

/* A string's JSON text: plain, escaped, non-ASCII, long, or odd. */
static void put_text(gbuf *b)
{
    put(b, "\"");
    int parts = (int)rnd(4);
    for (int i = 0; i < parts; i++)
        put(b, "%s", PICK("Failed. Error code: 7", "\\\"quoted\\\"", "line\\nbreak\\t", "caf\\u00e9", "\\ud83d\\ude00",
                          "é☃", "\\\\u0000", "\\/", "", "x"));
    if (chance(3))
        for (int i = 0; i < 1100; i++) put(b, "%s", i % 7 == 6 ? "é" : "a");
    if (chance(2)) put(b, "%s", PICK("\\u0000", "\\ud800", "\\udc00x", "\xed\xa0\x80", "\xc3", "\x01", "\\x"));
    put(b, "\"");
}

static void put_time(gbuf *b, int64_t ns)
{
    char t[EX_ISO_LEN + 1];
    if (chance(2)) {
        put(b, "%s", PICK("\"2024-13-01T00:00:00Z\"", "\"yesterday\"", "\"\"", "1720162676", "null", "true"));
        return;
    }
    ex_iso_format(ns, t);
    put(b, "\"%s\"", t);
}

/* Unknown fields of any type, sometimes a duplicate key. */
static void put_extra(gbuf *b, const char *known)
{
    if (chance(15))
        put(b, "\"%s\":%s,", PICK("x", "extra", "tags"),
            PICK("1", "-2.5e3", "99999999999999999999", "1e400", "1e-400", "[]", "{}", "[1,[2,{\"a\":null}]]",
                 "{\"k\":1,\"k\":2}", "{\"k\":{\"k\":{}}}", "\"s\"", "null", "true"));
    if (chance(3)) put(b, "\"%s\":%s,", known, PICK("null", "\"x\"", "false", "0", "{}"));
}

static const char *status_word(int st, int *terminal)
{
    static const char *const names[] = {"Initializing", "Processing", "Completed", "Failed"};
    *terminal = st >= 2;
    if (chance(2)) return PICK("Running", "completed", "", "Failed ");
    return names[st];
}

/* The fields of a workflow or an entity; p is "workflow" or "entity". */
static void put_common(gbuf *b, const char *p, int64_t start, int64_t *end_out)
{
    int terminal, st = (int)rnd(4);
    const char *word = status_word(st, &terminal);
    int64_t end = start + (int64_t)rnd(3600) * 1000000000 - (chance(3) ? 7200000000000 : 0);
    *end_out = terminal ? end : WM_NO_TIME;
    put_extra(b, PICK("isComplete", "workflowStatus", "entityId"));
    if (!chance(2)) put(b, "\"%sStatus\":\"%s\",", p, word);
    if (!chance(2)) put(b, "\"%sStartTime\":", p), put_time(b, start), put(b, ",");
    if (terminal != chance(3)) put(b, "\"%sEndTime\":", p), put_time(b, end), put(b, ",");
    else if (chance(20)) put(b, "\"%sEndTime\":null,", p);
    if (chance(30)) put(b, "\"%sErrorMessage\":", p), put_text(b), put(b, ",");
    if (!chance(2)) put(b, "\"isComplete\":%s,", (terminal != chance(3)) ? "true" : chance(2) ? "null" : "false");
}

static void put_entity(gbuf *b, int64_t wstart)
{
    const char *type = PICK("DataLoader", "Processor", "OutputGenerator", "a.b-c_9", "Bad Type", "");
    put(b, "\"%s\":", type);
    if (chance(2)) {
        put(b, "%s", PICK("null", "[]", "\"s\"", "1"));
        return;
    }
    put(b, "{\"entityType\":\"%s\",", chance(3) ? "Other" : type);
    if (!chance(2)) put(b, "\"entityId\":\"%s\",", chance(3) ? "" : PICK("e1", "e-2", "id with space", "\\u00e9"));
    int64_t start = wstart + (int64_t)rnd(60) * 1000000000, end;
    if (chance(30)) put(b, "\"entityProcessingStartTime\":"), put_time(b, start + (int64_t)rnd(120) * 500000000),
        put(b, ",");
    put_common(b, "entity", start, &end);
    b->n--; /* the last comma */
    put(b, "}");
}

static void generate(gbuf *b)
{
    int64_t start = INT64_C(1720162676000000000) + (int64_t)rnd(1000000) * 1000, end;
    b->n = 0;
    put(b, "%s{", PICK("", " ", "\n\t"));
    put(b, "\"workflowId\":\"%s\",", chance(3) ? "wf-2" : "wf-1");
    put_common(b, "workflow", start, &end);
    if (chance(10)) {
        put(b, "\"workflowEntities\":null,");
    } else if (!chance(5)) {
        put(b, "\"workflowEntities\":{");
        int n = (int)rnd(chance(3) ? 12 : 5);
        for (int i = 0; i < n; i++) put(b, "%s", i ? "," : ""), put_entity(b, start);
        put(b, "},");
    }
    b->n--;
    put(b, "}%s", PICK("", " \r\n", " x", "}"));
}

/* One byte changed, dropped or repeated. */
static void mutate(gbuf *b)
{
    if (!b->n) return;
    size_t at = rnd((uint32_t)b->n);
    switch (rnd(3)) {
    case 0: b->s[at] = (char)rnd(256); break;
    case 1: memmove(b->s + at, b->s + at + 1, b->n - at - 1), b->n--; break;
    default:
        if (b->n + 1 < sizeof b->s) memmove(b->s + at + 1, b->s + at, b->n - at), b->n++;
        break;
    }
}

static void generated_answers_agree(void **state)
{
    static gbuf b;
    int n = getenv("SNAPSHOT_FAST_N") ? atoi(getenv("SNAPSHOT_FAST_N")) : 10000, fast = 0, valid = 0;
    char why[400];
    static wm_snapshot s;
    if (getenv("SNAPSHOT_FAST_SEED")) rng_state = strtoull(getenv("SNAPSHOT_FAST_SEED"), NULL, 0) | 1;
    for (int i = 0; i < n; i++) {
        generate(&b);
        if (chance(20)) mutate(&b);
        char what[32];
        snprintf(what, sizeof what, "generated answer %d", i);
        fast += compare(b.s, b.n, what);
        valid += wm_snapshot__parse_dom(b.s, b.n, "wf-1", 0, &s, why, sizeof why) == 0;
    }
    printf("%d answers: %d valid, %d of them by the fast path (either flag set)\n", n, valid, fast);
    assert_true(valid >= n / 50);
    assert_true(fast >= valid / 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(typical_answer_is_fast),
        cmocka_unit_test(declined_keep_the_message),
        cmocka_unit_test(corpora_agree),
        cmocka_unit_test(generated_answers_agree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
