/* docs/configuration.md against the option tables: the committed page must
 * be exactly what `extrace config-doc` prints (else: run `make docs`); the
 * renderer's Markdown (escaping, bounds, aliases) is checked on a table of
 * its own; the hand-kept rows (common options, OTEL_* variables) are
 * checked against `extrace api --help` and the sources that read them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <sys/stat.h>

#include "commands.h"
#include "core/config.h"
#include "core/config_doc.h"
#include "gen/gen_config.h"
#include "support.h"

static const char *source_dir(void)
{
    const char *src = getenv("EXTRACE_SOURCE_DIR");
    if (!src || !*src) fail_msg("EXTRACE_SOURCE_DIR is not set (ctest sets it to the source tree)");
    return src;
}

static char *read_source(const char *rel)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", source_dir(), rel);
    char *text = ts_read_file(path, NULL);
    if (!text) fail_msg("cannot read %s", path);
    return text;
}

/* stdout of `extrace config-doc [extra]`, which must exit 0. */
static char *run_config_doc(void)
{
    char *argv[] = {(char *)ts_bin(), "config-doc", NULL};
    char *out = NULL, *err = NULL;
    int rc = ts_run(argv, &out, &err, 20000);
    if (rc != 0) fail_msg("extrace config-doc exited %d: %s", rc, err ? err : "");
    free(err);
    assert_non_null(out);
    return out;
}

/* Line `n` (1-based) of text into buf, without its newline. */
static const char *line_at(const char *text, int n, char *buf, size_t len)
{
    for (int i = 1; i < n && text; i++) {
        text = strchr(text, '\n');
        if (text) text++;
    }
    if (!text || !*text) return "(end of file)";
    size_t l = strcspn(text, "\n");
    snprintf(buf, len, "%.*s", (int)(l < len - 1 ? l : len - 1), text);
    return buf;
}

static void test_committed_page_is_up_to_date(void **state)
{
    char *generated = run_config_doc();
    char *committed = read_source("docs/configuration.md");
    char report[2048] = "";
    if (strcmp(generated, committed) != 0) {
        int line = 1;
        const char *a = committed, *b = generated;
        while (*a && *a == *b) line += *a++ == '\n', b++;
        char la[512], lb[512];
        snprintf(report, sizeof report,
                 "docs/configuration.md is out of date: the option tables give a different page.\n"
                 "First difference at line %d:\n  committed: %s\n  generated: %s\n"
                 "Regenerate it with `make docs` (or: extrace config-doc --output docs/configuration.md)\n"
                 "and commit the result.",
                 line, line_at(committed, line, la, sizeof la), line_at(generated, line, lb, sizeof lb));
    }
    free(generated);
    free(committed);
    if (report[0]) fail_msg("%s", report);
}

/* Every option of every table, its variable and its seed aliases are on the page. */
static void test_page_lists_every_option(void **state)
{
    char *page = run_config_doc();
    const ex_cmd_spec *specs[] = {api_cmd_spec,   gen_spec(),   worker_cmd_spec, traceid_cmd_spec,
                                  store_cmd_spec, demo_cmd_spec};
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        char heading[64], cell[160], env[128];
        snprintf(heading, sizeof heading, "\n## extrace %s\n", specs[i]->name);
        const char *section = strstr(page, heading);
        if (!section) fail_msg("no section \"## extrace %s\"", specs[i]->name);
        const char *end = strstr(section + 1, "\n## ");
        for (size_t j = 0; j < specs[i]->nopts; j++) {
            const ex_opt *o = &specs[i]->opts[j];
            snprintf(cell, sizeof cell, "| `--%s%s%s` | `%s` |", o->name, o->metavar && o->type != EX_OPT_BOOL ? " " : "",
                     o->metavar && o->type != EX_OPT_BOOL ? o->metavar : "", ex_cfg_env_name(o, env, sizeof env));
            const char *at = strstr(section, cell);
            if (!at || (end && at > end)) fail_msg("extrace %s: no row starting %s", specs[i]->name, cell);
            for (const ex_env_alias *a = o->aliases; a && a->env; a++) {
                snprintf(cell, sizeof cell, "`%s`", a->env);
                const char *al = strstr(at, cell);
                if (!al || al > strchr(at, '\n')) fail_msg("--%s: seed variable %s missing from its row", o->name, a->env);
            }
        }
    }
    free(page);
}

static void test_output_file(void **state)
{
    char path[512], tmp[600], *out = NULL, *err = NULL;
    snprintf(path, sizeof path, "%s/configuration.md", ts_tmpdir());
    char *argv[] = {(char *)ts_bin(), "config-doc", "--output", path, NULL};
    assert_int_equal(ts_run(argv, &out, &err, 20000), 0);
    assert_string_equal(out, "");
    char *file = ts_read_file(path, NULL), *printed = run_config_doc();
    assert_non_null(file);
    assert_string_equal(file, printed);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    struct stat st;
    assert_int_not_equal(stat(tmp, &st), 0);
    free(out);
    free(err);
    free(file);
    free(printed);

    /* A directory that does not exist: exit 1, the path in the message. */
    char *bad[] = {(char *)ts_bin(), "config-doc", "--output", "/nonexistent-dir/c.md", NULL};
    assert_int_equal(ts_run(bad, &out, &err, 20000), 1);
    assert_non_null(strstr(err, "--output \"/nonexistent-dir/c.md\": cannot create"));
    free(out);
    free(err);
    char *unknown[] = {(char *)ts_bin(), "config-doc", "--bogus", NULL};
    assert_int_equal(ts_run(unknown, &out, &err, 20000), 2);
    assert_non_null(strstr(err, "unknown option \"--bogus\""));
    free(out);
    free(err);
}

static char *render(const ex_cmd_spec *spec)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(ex_cfg_doc_command(spec, f), 0);
    fclose(f);
    return buf;
}

static const ex_env_alias t_aliases[] = {{"Seed__WaitMinutes", "m"}, {"Seed__Other", NULL}, {NULL, NULL}};
static const ex_opt t_opts[] = {
    {"wait", EX_OPT_DURATION, 0, "4m", 1e6, 86400e9, "DURATION", "Wait in [D/2, D) per <id> | a*b & `x|y`.",
     t_aliases, NULL, NULL},
    {"verbose", EX_OPT_BOOL, 0, NULL, EX_NO_BOUNDS, NULL, "Say _more_.", NULL, NULL, "CUSTOM_ENV"},
    {"ratio", EX_OPT_DOUBLE, 0, "0.5", 0.000001, 1, "F", "A ratio.", NULL, NULL, NULL},
    {"count", EX_OPT_INT, 0, "10", 1, 1e9, "N", "Line one\nline two.", NULL, NULL, NULL},
};

static void test_markdown_of_a_table(void **state)
{
    const ex_cmd_spec spec = {"demo-x", "Do a thing.",
                              "First line\n- not a list\n1. not a list either\n# not a heading\n--flag-like\n<b>",
                              "<arg>", 1, 1, t_opts, sizeof t_opts / sizeof t_opts[0]};
    char *md = render(&spec);
    assert_string_equal(md,
                        "## extrace demo-x\n\n"
                        "Do a thing.\n\n"
                        "First line\n\\- not a list\n1\\. not a list either\n\\# not a heading\n--flag-like\n&lt;b&gt;\n\n"
                        "Usage: `extrace demo-x [OPTIONS] <arg>`\n\n"
                        "| flag | environment | seed variable | type | default | bounds | description |\n"
                        "|---|---|---|---|---|---|---|\n"
                        "| `--wait DURATION` | `EXTRACE_WAIT` | `Seed__WaitMinutes` (a bare number is in minutes), "
                        "`Seed__Other` | duration | `4m` | 1ms … 24h | Wait in \\[D/2, D) per &lt;id&gt; \\| a\\*b &amp; "
                        "`x\\|y`. |\n"
                        "| `--verbose` | `CUSTOM_ENV` | — | boolean | — | — | Say \\_more_. |\n"
                        "| `--ratio F` | `EXTRACE_RATIO` | — | number | `0.5` | 0.000001 … 1 | A ratio. |\n"
                        "| `--count N` | `EXTRACE_COUNT` | — | integer | `10` | 1 … 1000000000 | Line one line two. |\n");
    free(md);

    /* No aliases: no seed column; no options: a pointer to the common ones;
     * an unpaired backtick is escaped, not taken for a code span. */
    const ex_cmd_spec bare = {"bare", "Summary without stop", "Odd ` tick", NULL, 0, 0, NULL, 0};
    md = render(&bare);
    assert_string_equal(md, "## extrace bare\n\nSummary without stop.\n\nOdd \\` tick\n\n"
                            "Usage: `extrace bare [OPTIONS]`\n\n"
                            "No options of its own; see [Options of every command](#options-of-every-command).\n");
    free(md);
}

static void test_write_failure_is_reported(void **state)
{
    FILE *full = fopen("/dev/full", "w");
    if (!full) skip();
    const ex_cmd_spec *specs[] = {api_cmd_spec, gen_spec(), worker_cmd_spec, traceid_cmd_spec, store_cmd_spec};
    int rc = ex_cfg_doc_page(specs, 5, full);
    fclose(full);
    assert_int_equal(rc, -1);
}

/* The common rows restated in config_doc.c match what --help prints from
 * config.c's own table: flag, help text, variable, default. */
static void test_common_rows_match_help(void **state)
{
    char *argv[] = {(char *)ts_bin(), "api", "--help", NULL};
    char *help = NULL, *err = NULL;
    assert_int_equal(ts_run(argv, &help, &err, 20000), 0);
    char *page = run_config_doc();
    const char *common = strstr(page, "\n## Options of every command\n");
    assert_non_null(common);
    const char *flags[] = {"--log-level ", "--log-format "};
    for (size_t i = 0; i < 2; i++) {
        const char *at = strstr(help, flags[i]);
        if (!at) fail_msg("%s not in extrace api --help", flags[i]);
        char name[64], metavar[64], text[256], env[64], def[64], flag[160];
        /* "  --log-level LEVEL      Lowest level…\n    …wrapped\n                [env: EXTRACE_LOG_LEVEL; default: info]" */
        int used = 0;
        assert_int_equal(sscanf(at, "%63[^ ] %63[^ ] %n", name, metavar, &used), 2);
        snprintf(flag, sizeof flag, "%s %s", name, metavar);
        const char *bracket = strstr(at, "[env: ");
        assert_non_null(bracket);
        size_t t = 0; /* the help text between, its wrapped lines joined by single spaces */
        for (const char *p = at + used; p < bracket && t + 1 < sizeof text; p++) {
            if (*p != ' ' && *p != '\n') text[t++] = *p;
            else if (t && text[t - 1] != ' ') text[t++] = ' ';
        }
        while (t && text[t - 1] == ' ') t--;
        text[t] = '\0';
        assert_int_equal(sscanf(bracket, "[env: %63[^;]; default: %63[^]]", env, def), 2);
        char row[600];
        snprintf(row, sizeof row, "| `%s` | `%s` | string | `%s` | — | %s |\n", flag, env, def, text);
        if (!strstr(common, row)) fail_msg("docs row differs from --help; expected:\n%s", row);
    }
    free(help);
    free(err);
    free(page);
}

/* Whether `name` appears as a C string literal ("NAME") in text. */
static int has_literal(const char *text, const char *name)
{
    char q[128];
    snprintf(q, sizeof q, "\"%s\"", name);
    return strstr(text, q) != NULL;
}

/* 1 when the OTEL_* section has a row for name (printed when it has not). */
static int documented(const char *section, const char *name)
{
    char cell[128];
    snprintf(cell, sizeof cell, "| `%s` |", name);
    if (strstr(section, cell)) return 1;
    print_error("%s is read by the code but missing from the OTEL_* table in src/core/config_doc.c\n", name);
    return 0;
}

/* The OTEL_* table (kept by hand in config_doc.c) against the code that
 * reads the variables: each documented variable is read, and each
 * variable the code names is documented. */
static void test_otel_rows_match_sources(void **state)
{
    char *env_c = read_source("src/otel/otel_env.c"), *res_c = read_source("src/otel/resource.c");
    char *page = run_config_doc();
    const char *section = strstr(page, "\n## OpenTelemetry variables of extrace worker\n");
    assert_non_null(section);
    const char *prefix = "OTEL_EXPORTER_OTLP_";
    int rows = 0;
    for (const char *p = strstr(section, "\n| `OTEL_"); p; p = strstr(p + 1, "\n| `OTEL_")) {
        char name[96];
        assert_int_equal(sscanf(p, "\n| `%95[A-Z_]`", name), 1);
        int read = has_literal(env_c, name) || has_literal(res_c, name);
        /* OTLP settings are read as "OTEL_EXPORTER_OTLP_[TRACES_]" + suffix. */
        if (!read && strncmp(name, prefix, strlen(prefix)) == 0) read = has_literal(env_c, name + strlen(prefix));
        if (!read) fail_msg("%s is documented but neither otel_env.c nor resource.c reads it", name);
        rows++;
    }
    assert_true(rows >= 15);
    const char *texts[] = {env_c, res_c};
    for (size_t t = 0; t < 2; t++) {
        for (const char *p = strstr(texts[t], "\"OTEL_"); p; p = strstr(p + 1, "\"OTEL_")) {
            char name[96];
            if (sscanf(p, "\"%95[A-Z_]", name) != 1 || p[1 + strlen(name)] != '"') continue; /* a printf pattern */
            assert_true(documented(section, name));
        }
    }
    /* Settings read through otlp_get(p, "SUFFIX", …) and the TLS file paths. */
    for (const char *p = strstr(env_c, "otlp_get(p, \""); p; p = strstr(p + 1, "otlp_get(p, \"")) {
        char suffix[64], name[96];
        assert_int_equal(sscanf(p, "otlp_get(p, \"%63[A-Z_]\"", suffix), 1);
        snprintf(name, sizeof name, "%s%s", prefix, suffix);
        assert_true(documented(section, name));
    }
    const char *paths = strstr(env_c, "paths[] = {");
    assert_non_null(paths);
    for (const char *p = strchr(paths, '"'); p && p < strchr(paths, '}'); p = strchr(p + 1, '"')) {
        char suffix[64], name[96];
        assert_int_equal(sscanf(p, "\"%63[A-Z_]\"", suffix), 1);
        snprintf(name, sizeof name, "%s%s", prefix, suffix);
        assert_true(documented(section, name));
        p = strchr(p + 1, '"'); /* past the closing quote */
    }
    free(env_c);
    free(res_c);
    free(page);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_committed_page_is_up_to_date),
        cmocka_unit_test(test_page_lists_every_option),
        cmocka_unit_test(test_output_file),
        cmocka_unit_test(test_markdown_of_a_table),
        cmocka_unit_test(test_write_failure_is_reported),
        cmocka_unit_test(test_common_rows_match_help),
        cmocka_unit_test(test_otel_rows_match_sources),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    ts_cleanup();
    return rc;
}
