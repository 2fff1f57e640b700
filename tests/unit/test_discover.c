/* Discovery by listing: the high-water mark with an injected clock (ties,
 * the overlap, late listings, forgetting), the profile's discover:
 * section (loading and its errors), the page URL, the jq input and the
 * reading of the program's output — on the built-in github-actions
 * profile and recorded answers of GitHub's list of workflow runs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "source/builtin.h"
#include "source/discover.h"
#include "source/jq_run.h"
#include "worker/hwm.h"

#define SEC INT64_C(1000000000)
#define T0 (INT64_C(1714557600) * SEC) /* 2024-05-01T10:00:00Z */

static void hwm_ties_overlap_and_forgetting(void **state)
{
    (void)state;
    wk_hwm h;
    int64_t now = T0; /* the injected clock: the first mark is now − overlap */
    wk_hwm_init(&h, now - 60 * SEC, 60 * SEC);
    assert_int_equal(wk_hwm_since(&h), T0 - 120 * SEC);
    /* first listing: two runs in the same second (a tie) and one later */
    assert_int_equal(wk_hwm_offer(&h, "o/r/1", T0 + 5 * SEC), 1);
    assert_int_equal(wk_hwm_offer(&h, "o/r/2", T0 + 5 * SEC), 1);
    assert_int_equal(wk_hwm_offer(&h, "o/r/3", T0 + 9 * SEC), 1);
    assert_int_equal(wk_hwm_offer(&h, "o/r/3", T0 + 9 * SEC), 0); /* listed twice in one listing */
    assert_int_equal(wk_hwm_commit(&h), T0 + 9 * SEC);
    assert_int_equal(wk_hwm_since(&h), T0 - 51 * SEC);
    /* the next listing repeats all three (inclusive since, overlap): nothing new */
    assert_int_equal(wk_hwm_offer(&h, "o/r/3", T0 + 9 * SEC), 0);
    assert_int_equal(wk_hwm_offer(&h, "o/r/2", T0 + 5 * SEC), 0);
    assert_int_equal(wk_hwm_offer(&h, "o/r/1", T0 + 5 * SEC), 0);
    /* a run of the same second as the mark, listed late: still new (a tie is not missed) */
    assert_int_equal(wk_hwm_offer(&h, "o/r/4", T0 + 9 * SEC), 1);
    /* a run created before the mark that shows up late, within the overlap: new */
    assert_int_equal(wk_hwm_offer(&h, "o/r/5", T0 - 30 * SEC), 1);
    /* older than since (a listing that ignored its filter): never started again */
    assert_int_equal(wk_hwm_offer(&h, "o/r/0", T0 - 52 * SEC), 0);
    assert_int_equal(wk_hwm_commit(&h), T0 + 9 * SEC); /* the late ones do not move it back */
    /* time goes on: a later listing moves the mark and forgets what no listing names again */
    assert_int_equal(wk_hwm_offer(&h, "o/r/6", T0 + 100 * SEC), 1);
    assert_int_equal(wk_hwm_commit(&h), T0 + 100 * SEC);
    assert_int_equal(h.nseen, 1); /* 1–5 lie before since = T0 + 40 s */
    /* forgetting a key (its start could not be recorded) offers it again */
    wk_hwm_forget(&h, "o/r/6");
    assert_int_equal(wk_hwm_offer(&h, "o/r/6", T0 + 100 * SEC), 1);
    wk_hwm_clear(&h);
}

static sr_profile *github(void)
{
    sr_profile *p;
    char err[SR_ERR_LEN];
    const sr_builtin *b = sr_builtin_find("github-actions");
    assert_non_null(b);
    assert_int_equal(sr_profile_load_string("builtin:github-actions", b->text, b->len, &p, err, sizeof err), 0);
    assert_non_null(p->discover);
    return p;
}

static void url_and_input(void **state)
{
    (void)state;
    sr_profile *p = github();
    sr_key scope;
    char err[SR_ERR_LEN];
    assert_int_equal(sr_discover_scope(p, "octo-org/hello-world", &scope, err, sizeof err), 0);
    char *url = sr_discover_url(p, "https://api.github.com", &scope, T0 + 999999999, NULL, err, sizeof err);
    assert_string_equal(url, "https://api.github.com/repos/octo-org/hello-world/actions/runs?created=%3E%3D"
                             "2024-05-01T10%3A00%3A00Z&per_page=100&page=1");
    ex_free(url);
    char *next[SR_DISC_VARS_MAX] = {(char *)"2"};
    url = sr_discover_url(p, "https://api.github.com", &scope, T0, next, err, sizeof err);
    assert_non_null(strstr(url, "&page=2"));
    ex_free(url);
    size_t len;
    char *in = sr_discover_input(p, &scope, T0, NULL, "{\"x\":1}", 7, &len);
    assert_string_equal(in, "{\"scope\":{\"owner\":\"octo-org\",\"repo\":\"hello-world\"},\"since\":"
                            "\"2024-05-01T10:00:00Z\",\"vars\":{\"page\":\"1\"},\"page\":{\"x\":1}}");
    assert_int_equal(len, strlen(in));
    ex_free(in);
    sr_key_free(&scope);
    /* a scope as long as the key, or with a bad part, is refused */
    assert_int_equal(sr_discover_scope(p, "a/b/1", &scope, err, sizeof err), -1);
    assert_non_null(strstr(err, "the scope names fewer"));
    /* without the scope the URL's {owner} has no value */
    assert_null(sr_discover_url(p, "https://api.github.com", NULL, T0, NULL, err, sizeof err));
    sr_profile_free(p);
}

/* Run the built-in program on a page of n runs (ids from first, created 1 s apart). */
static int map_page(sr_profile *p, sr_jq *jq, int first, int n, sr_found_page *pg, char *err)
{
    char body[65536];
    size_t o = (size_t)snprintf(body, sizeof body, "{\"total_count\":%d,\"workflow_runs\":[", n);
    for (int i = 0; i < n; i++)
        o += (size_t)snprintf(body + o, sizeof body - o,
                              "%s{\"id\":%d,\"created_at\":\"2024-05-01T10:00:%02dZ\",\"repository\":{\"name\":"
                              "\"hello-world\",\"owner\":{\"login\":\"octo-org\"}}}",
                              i ? "," : "", first + i, i % 60);
    snprintf(body + o, sizeof body - o, "]}");
    size_t len;
    char *in = sr_discover_input(p, NULL, T0, NULL, body, strlen(body), &len);
    json_t *out;
    sr_jq_error je = sr_jq_run_text(jq, in, len, &out, err, SR_ERR_LEN);
    ex_free(in);
    if (je != SR_JQ_OK) return -1;
    int rc = sr_discover_read(p, out, pg, err, SR_ERR_LEN);
    json_decref(out);
    return rc;
}

static void mapping_pages(void **state)
{
    (void)state;
    sr_profile *p = github();
    sr_profile prog = *p;
    prog.map = p->discover->map;
    prog.map_line = p->discover->map_line;
    sr_jq *jq;
    char err[SR_ERR_LEN];
    assert_int_equal(sr_jq_compile(&prog, &jq, err, sizeof err), 0);
    sr_found_page pg;
    assert_int_equal(map_page(p, jq, 30433642, 3, &pg, err), 0);
    assert_int_equal(pg.n, 3);
    assert_string_equal(pg.items[0].key, "octo-org/hello-world/30433642");
    assert_int_equal(pg.items[2].time_ns, T0 + 2 * SEC);
    assert_int_equal(pg.has_next, 0); /* fewer than 100: the last page */
    sr_found_page_clear(&pg);
    assert_int_equal(map_page(p, jq, 1, 100, &pg, err), 0);
    assert_int_equal(pg.has_next, 1);
    assert_string_equal(pg.next[0], "2");
    sr_found_page_clear(&pg);
    sr_jq_free(jq);

    /* the reader names what is wrong */
    static const struct {
        const char *json, *why;
    } bad[] = {
        {"{}", "workflows: expected an array"},
        {"{\"workflows\":[{\"key\":\"a/b\",\"time\":1}]}", "workflows[0].key: key \"a/b\""},
        {"{\"workflows\":[{\"key\":\"a/b/1\",\"time\":\"yesterday\"}]}", "workflows[0].time"},
        {"{\"workflows\":[{\"key\":\"a/b/1\",\"time\":1,\"traceparent\":7}]}", "workflows[0].traceparent"},
        {"{\"workflows\":[],\"next\":{}}", "next.page: expected a string"},
        {"{\"workflows\":[],\"next\":[1]}", "next: expected an object"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *j = json_loads(bad[i].json, 0, NULL);
        err[0] = '\0';
        if (sr_discover_read(p, j, &pg, err, sizeof err) == 0) fail_msg("accepted %s", bad[i].json);
        if (!strstr(err, bad[i].why)) fail_msg("%s: \"%s\" lacks \"%s\"", bad[i].json, err, bad[i].why);
        json_decref(j);
    }
    json_t *j = json_loads("{\"workflows\":[{\"key\":\"a/b/1\",\"time\":1714557600,\"traceparent\":\"00-x\"}],"
                           "\"next\":null}", 0, NULL);
    assert_int_equal(sr_discover_read(p, j, &pg, err, sizeof err), 0);
    assert_string_equal(pg.items[0].traceparent, "00-x"); /* checked when the watch starts */
    sr_found_page_clear(&pg);
    json_decref(j);
    sr_profile_free(p);
}

static void loading_errors(void **state)
{
    (void)state;
    static const struct {
        const char *section, *why;
    } cases[] = {
        {"discover: {start: {page: \"1\"}, map: \".\"}", "discover.url: missing"},
        {"discover: {url: \"/l?p={pg}\", map: \".\"}", "placeholder {pg} at byte 5 is not a key part"},
        {"discover: {url: \"/l\", start: {since: \"1\"}, map: \".\"}", "is not a page variable name"},
        {"discover: {url: \"/l\", start: {id: \"1\"}, map: \".\"}", "is not a page variable name"},
        {"discover: {url: \"/l\", overlap: soon, map: \".\"}", "discover.overlap: \"soon\""},
        {"discover: {url: \"/l\", max_pages: 0, map: \".\"}", "discover.max_pages: \"0\" is out of range"},
        {"discover: {url: \"/l\"}", "discover.map: missing"},
        {"discover: {url: \"/l\", map: \".\", colour: red}", "unknown field \"colour\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[1024], err[SR_ERR_LEN] = "";
        snprintf(text, sizeof text, "name: x\nkey: [id]\nrequests: {w: {url: \"/w/{id}\"}}\nmap: \".\"\n%s\n",
                 cases[i].section);
        sr_profile *p = NULL;
        if (sr_profile_load_string("x.yaml", text, strlen(text), &p, err, sizeof err) == 0) {
            sr_profile_free(p);
            fail_msg("accepted %s", cases[i].section);
        }
        if (!strstr(err, cases[i].why)) fail_msg("%s: \"%s\" lacks \"%s\"", cases[i].section, err, cases[i].why);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hwm_ties_overlap_and_forgetting),
        cmocka_unit_test(url_and_input),
        cmocka_unit_test(mapping_pages),
        cmocka_unit_test(loading_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
