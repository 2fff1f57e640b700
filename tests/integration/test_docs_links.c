/* test_docs_links.c — the docs stand alone: every relative link of
 * README.md, bench/README.md and every page of docs/ leads to a file of the
 * repository, every #anchor to a heading of its page (GitHub's slugs), and
 * no page points outside the repository (../ out of it, or the
 * workplace's shared/docs files). A checker run on a made-up page shows
 * it catches each kind. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "support.h"

/* GitHub's anchor of a heading: lower case; letters, digits, '-' and '_'
 * kept, spaces become '-', the rest dropped. */
static void slug(const char *heading, char *out, size_t len)
{
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)heading; *p && o + 1 < len; p++) {
        if (*p >= 'A' && *p <= 'Z') out[o++] = (char)(*p - 'A' + 'a');
        else if ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_') out[o++] = (char)*p;
        else if (*p == ' ') out[o++] = '-';
        else if (*p >= 0x80) out[o++] = (char)*p; /* non-ASCII letters stay */
    }
    out[o] = '\0';
}

/* 1 if the page at path has a heading whose anchor is `anchor` (duplicates get -1, -2, … as on GitHub). */
static int has_anchor(const char *path, const char *anchor)
{
    char *text = ts_read_file(path, NULL);
    if (!text) return 0;
    char seen[256][128];
    int nseen = 0, found = 0, fence = 0;
    for (char *line = strtok(text, "\n"); line && !found; line = strtok(NULL, "\n")) {
        if (strncmp(line, "```", 3) == 0) fence = !fence;
        if (fence || line[0] != '#') continue;
        const char *h = line + strspn(line, "#");
        char s[128], want[140];
        slug(h + strspn(h, " "), s, sizeof s);
        int dup = 0;
        for (int i = 0; i < nseen; i++) dup += strcmp(seen[i], s) == 0;
        if (nseen < 256) snprintf(seen[nseen++], sizeof seen[0], "%s", s);
        if (dup) snprintf(want, sizeof want, "%s-%d", s, dup);
        else snprintf(want, sizeof want, "%s", s);
        found = strcmp(want, anchor) == 0;
    }
    free(text);
    return found;
}

/* Check one page: its problems are appended to report; returns their count. */
static int check_page(const char *root, const char *rel, char *report, size_t len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    char *text = ts_read_file(path, NULL);
    if (!text) return 0;
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", rel);
    char *slash = strrchr(dir, '/');
    if (slash) slash[1] = '\0';
    else dir[0] = '\0';
    int problems = 0, fence = 0, lineno = 0;
    for (char *line = text, *next; line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = '\0';
        lineno++;
        if (strncmp(line, "```", 3) == 0) fence = !fence;
        if (fence) continue;
#define PROBLEM(...)                                                                   \
    do {                                                                               \
        size_t u = strlen(report);                                                     \
        snprintf(report + u, len - u, "%s:%d: ", rel, lineno);                          \
        u = strlen(report);                                                            \
        snprintf(report + u, len - u, __VA_ARGS__);                                    \
        u = strlen(report);                                                            \
        snprintf(report + u, len - u, "\n");                                           \
        problems++;                                                                    \
    } while (0)
        if (strstr(line, "shared/docs") || strstr(line, "seed-contract.md"))
            PROBLEM("names a file outside the repository");
        for (char *p = line; (p = strstr(p, "](")); p += 2) {
            char target[1024];
            size_t n = strcspn(p + 2, ") ");
            if (n >= sizeof target) continue;
            snprintf(target, sizeof target, "%.*s", (int)n, p + 2);
            if (strstr(target, "://") || strncmp(target, "mailto:", 7) == 0) continue;
            char *hash = strchr(target, '#');
            char anchor[512] = "";
            if (hash) {
                snprintf(anchor, sizeof anchor, "%s", hash + 1);
                *hash = '\0';
            }
            char file[2048], real_root[4096], real_file[4096];
            if (target[0]) snprintf(file, sizeof file, "%s/%s%s", root, dir, target);
            else snprintf(file, sizeof file, "%s", path);
            struct stat st;
            if (stat(file, &st) != 0) {
                PROBLEM("dead link %s", target);
                continue;
            }
            if (!realpath(root, real_root) || !realpath(file, real_file) ||
                strncmp(real_file, real_root, strlen(real_root)) != 0) {
                PROBLEM("link %s leaves the repository", target);
                continue;
            }
            if (anchor[0] && S_ISREG(st.st_mode) && !has_anchor(file, anchor))
                PROBLEM("no heading for #%s in %s", anchor, target[0] ? target : rel);
        }
    }
    free(text);
    return problems;
}

static void test_repository_docs(void **state)
{
    (void)state;
    const char *root = getenv("EXTRACE_SOURCE_DIR");
    if (!root) root = ".";
    char report[16384] = "", docs[1024];
    int problems = check_page(root, "README.md", report, sizeof report);
    problems += check_page(root, "bench/README.md", report, sizeof report);
    snprintf(docs, sizeof docs, "%s/docs", root);
    DIR *d = opendir(docs);
    assert_non_null(d);
    int pages = 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t n = strlen(e->d_name);
        if (n < 4 || strcmp(e->d_name + n - 3, ".md") != 0) continue;
        char rel[300];
        snprintf(rel, sizeof rel, "docs/%s", e->d_name);
        problems += check_page(root, rel, report, sizeof report);
        pages++;
    }
    closedir(d);
    assert_true(pages >= 10);
    if (problems) fail_msg("%d problems in the docs:\n%s", problems, report);
}

static void test_checker_catches_each_kind(void **state)
{
    (void)state;
    const char *root = ts_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/docs", root);
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/docs/a.md", root);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("# A page\n\n## Durable intake (`--stream`)\n\n## Same\n\n## Same\n\n"
          "[ok](#a-page) [ok](#durable-intake---stream) [ok](#same-1) [ok](b.md#b) [web](https://x.org/#y)\n"
          "```\n[in a fence](nowhere.md)\n```\n"
          "[dead](missing.md) [bad anchor](#nope) [bad anchor](b.md#nope) [outside](../../)\n"
          "see shared/docs/style.md\n",
          f);
    fclose(f);
    snprintf(path, sizeof path, "%s/docs/b.md", root);
    f = fopen(path, "w");
    fputs("# B\n", f);
    fclose(f);
    char report[4096] = "";
    int problems = check_page(root, "docs/a.md", report, sizeof report);
    const char *want[] = {"dead link missing.md", "no heading for #nope in docs/a.md", "no heading for #nope in b.md",
                          "leaves the repository", "outside the repository"};
    for (size_t i = 0; i < 5; i++)
        if (!strstr(report, want[i])) fail_msg("the checker missed \"%s\":\n%s", want[i], report);
    if (problems != 5) fail_msg("%d problems, want 5:\n%s", problems, report);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checker_catches_each_kind),
        cmocka_unit_test(test_repository_docs),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    ts_cleanup();
    return rc;
}
