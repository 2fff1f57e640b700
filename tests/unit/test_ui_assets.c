/* The web UI's embedded assets: every file under web/ is in the binary
 * byte for byte, pages and assets are routed with the right types and
 * caching headers, everything else is left to the store's API routes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "store/ui.h"
#include "support.h"

static char web_dir[1024];
static int files_seen;

static void resp_free(ex_http_resp *r)
{
    ex_free(r->body);
    for (int i = 0; i < r->nheaders; i++) ex_free(r->header_values[i]);
    *r = (ex_http_resp){0};
}

static const char *header(const ex_http_resp *r, const char *name)
{
    for (int i = 0; i < r->nheaders; i++)
        if (strcmp(r->header_names[i], name) == 0) return r->header_values[i];
    return NULL;
}

static int find_web_dir(void **state)
{
    const char *src = getenv("EXTRACE_SOURCE_DIR");
    if (!src || !*src) {
        fprintf(stderr, "EXTRACE_SOURCE_DIR is not set (ctest sets it to the source tree)\n");
        return -1;
    }
    snprintf(web_dir, sizeof web_dir, "%s/web", src);
    return 0;
}

/* One file under web/: embedded under its relative path, same bytes.
 * A mismatch stops the walk (nonzero) with the reason in `problem`. */
static char problem[1200];

static int check_file(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    if (type != FTW_F) return 0;
    const char *rel = path + strlen(web_dir) + 1;
    if (rel[0] == '.' || strstr(rel, "/.") || rel[strlen(rel) - 1] == '~') return 0; /* not embedded by design */
    const sui_asset *a = sui_find(rel);
    if (!a) {
        snprintf(problem, sizeof problem, "web/%s is not embedded (re-run cmake?)", rel);
        return 1;
    }
    size_t len = 0;
    char *data = ts_read_file(path, &len);
    int same = data && len == a->len && memcmp(data, a->data, len) == 0 && a->data[a->len] == 0;
    free(data);
    if (!same) {
        snprintf(problem, sizeof problem, "web/%s: embedded bytes differ from the file (rebuild)", rel);
        return 1;
    }
    files_seen++;
    return 0;
}

static void test_every_file_embedded(void **state)
{
    files_seen = 0;
    problem[0] = '\0';
    int rc = nftw(web_dir, check_file, 16, FTW_PHYS);
    if (rc != 0) fail_msg("%s", problem[0] ? problem : "cannot walk the web/ directory");
    assert_true(files_seen >= 3);
    assert_int_equal((size_t)files_seen, sui_nassets); /* and nothing else */
    for (size_t i = 1; i < sui_nassets; i++) assert_true(strcmp(sui_assets[i - 1].path, sui_assets[i].path) < 0);
}

static void expect_page(const char *path)
{
    const sui_asset *index = sui_find("index.html");
    assert_non_null(index);
    ex_http_resp r = {0};
    if (sui_serve("GET", path, NULL, &r) != 1) fail_msg("%s: not handled by the UI", path);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.content_type, "text/html; charset=utf-8");
    assert_int_equal(r.body_len, index->len);
    assert_memory_equal(r.body, index->data, index->len);
    assert_non_null(strstr(r.body, "/ui/js/app.js"));
    assert_string_equal(header(&r, "ETag"), index->etag);
    assert_string_equal(header(&r, "Cache-Control"), "no-cache");
    const char *csp = header(&r, "Content-Security-Policy");
    assert_non_null(csp);
    assert_non_null(strstr(csp, "default-src 'self'"));
    resp_free(&r);
}

static void test_pages_serve_index(void **state)
{
    expect_page("/");
    expect_page("/search");
    expect_page("/search/");
    expect_page("/trace/4bf92f3577b34da6a3ce929d0e0e4736");
    expect_page("/trace/anything-the-client-rejects");
}

static void expect_type(const char *path, const char *type)
{
    ex_http_resp r = {0};
    assert_int_equal(sui_serve("HEAD", path, NULL, &r), 1);
    if (r.status != 200) fail_msg("%s: status %d", path, r.status);
    assert_string_equal(r.content_type, type);
    assert_string_equal(header(&r, "X-Content-Type-Options"), "nosniff");
    assert_null(header(&r, "Content-Security-Policy"));
    resp_free(&r);
}

static void test_content_types(void **state)
{
    expect_type("/ui/index.html", "text/html; charset=utf-8");
    expect_type("/ui/style.css", "text/css; charset=utf-8");
    expect_type("/ui/js/app.js", "text/javascript; charset=utf-8");
    expect_type("/ui/favicon.svg", "image/svg+xml");
    for (size_t i = 0; i < sui_nassets; i++) {
        const char *p = sui_assets[i].path, *dot = strrchr(p, '.');
        if (dot && strcmp(dot, ".js") == 0) assert_string_equal(sui_assets[i].content_type, "text/javascript; charset=utf-8");
        assert_string_not_equal(sui_assets[i].content_type, "application/octet-stream");
    }
}

static void test_not_ours_or_missing(void **state)
{
    ex_http_resp r = {0};
    const char *others[] = {"/api/search", "/api/traces/abc", "/ready", "/metrics", "/trace/", "/trace/a/b",
                            "/searchx", "/ui", "/v1/traces"};
    for (size_t i = 0; i < sizeof others / sizeof *others; i++) {
        if (sui_serve("GET", others[i], NULL, &r) != 0) fail_msg("%s: claimed by the UI", others[i]);
        assert_null(r.body);
        assert_int_equal(r.status, 0);
    }
    const char *missing[] = {"/ui/nope.js", "/ui/", "/ui/../CMakeLists.txt", "/ui/js", "/ui//index.html"};
    for (size_t i = 0; i < sizeof missing / sizeof *missing; i++) {
        assert_int_equal(sui_serve("GET", missing[i], NULL, &r), 1);
        if (r.status != 404) fail_msg("%s: status %d, want 404", missing[i], r.status);
        assert_non_null(strstr(r.body, missing[i]));
        resp_free(&r);
    }
}

static void test_conditional_get(void **state)
{
    const sui_asset *a = sui_find("js/app.js");
    assert_non_null(a);
    char list[128];
    snprintf(list, sizeof list, "\"0000\", W/%s", a->etag);
    const char *match[] = {a->etag, list, "*"};
    for (size_t i = 0; i < 3; i++) {
        ex_http_resp r = {0};
        assert_int_equal(sui_serve("GET", "/ui/js/app.js", match[i], &r), 1);
        if (r.status != 304) fail_msg("If-None-Match %s: status %d, want 304", match[i], r.status);
        assert_null(r.body);
        assert_string_equal(header(&r, "ETag"), a->etag);
        resp_free(&r);
    }
    ex_http_resp r = {0};
    assert_int_equal(sui_serve("GET", "/ui/js/app.js", "\"stale\"", &r), 1);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, a->len);
    resp_free(&r);
}

static void test_methods(void **state)
{
    ex_http_resp r = {0};
    assert_int_equal(sui_serve("POST", "/", NULL, &r), 1);
    assert_int_equal(r.status, 405);
    assert_string_equal(header(&r, "Allow"), "GET, HEAD");
    resp_free(&r);
    assert_int_equal(sui_serve("DELETE", "/ui/style.css", NULL, &r), 1);
    assert_int_equal(r.status, 405);
    resp_free(&r);
}

static void test_out_of_memory(void **state)
{
    for (long n = 0; n < 6; n++) {
        ex_http_resp r = {0};
        ex_mem_fail_after(n);
        int handled = sui_serve("GET", "/", NULL, &r);
        ex_mem_fail_after(-1);
        assert_int_equal(handled, 1);
        if (r.status != 200 && r.status != 500) fail_msg("allocation %ld failing: status %d", n, r.status);
        if (r.status == 500) assert_int_equal(r.nheaders, 0);
        resp_free(&r);
    }
}

static void test_route_without_connection(void **state)
{
    ex_http_req req = {"GET", "/ui/style.css", NULL, "", 0};
    ex_http_resp r = {0};
    assert_int_equal(sui_route(&req, &r), 1);
    assert_int_equal(r.status, 200);
    resp_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_file_embedded),
        cmocka_unit_test(test_pages_serve_index),
        cmocka_unit_test(test_content_types),
        cmocka_unit_test(test_not_ours_or_missing),
        cmocka_unit_test(test_conditional_get),
        cmocka_unit_test(test_methods),
        cmocka_unit_test(test_out_of_memory),
        cmocka_unit_test(test_route_without_connection),
    };
    return cmocka_run_group_tests(tests, find_web_dir, NULL);
}
