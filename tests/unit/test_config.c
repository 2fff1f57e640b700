/* The declarative config table: defaults, env, seed aliases, flags,
 * precedence, bounds, error messages and --help. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/config.h"
#include "core/log.h"

typedef struct demo_cfg {
    char *listen;
    int64_t count;
    double scale;
    int64_t interval;
    int verbose;
} demo_cfg;

static const ex_env_alias interval_aliases[] = {{"Seed__IntervalSeconds", "s"}, {NULL, NULL}};

static const ex_opt opts[] = {
    {"listen", EX_OPT_STRING, offsetof(demo_cfg, listen), "127.0.0.1:5146", EX_NO_BOUNDS, "HOST:PORT",
     "Address to listen on.", NULL, ex_check_hostport, NULL},
    {"count", EX_OPT_INT, offsetof(demo_cfg, count), "10", 1, 1000, "N", "How many.", NULL, NULL},
    {"time-scale", EX_OPT_DOUBLE, offsetof(demo_cfg, scale), "1", 0.001, 1e6, "X", "Speed.", NULL, NULL},
    {"interval", EX_OPT_DURATION, offsetof(demo_cfg, interval), "10s", 1e6, 3600e9, "DURATION", "Poll interval.",
     interval_aliases, NULL},
    {"verbose", EX_OPT_BOOL, offsetof(demo_cfg, verbose), "false", EX_NO_BOUNDS, NULL, "Say more.", NULL, NULL,
     "DEMO_VERBOSE"},
};
static const ex_cmd_spec spec = {"demo", "A test command.", NULL, "[NAME]", 0, 1, opts, sizeof opts / sizeof opts[0]};

typedef struct run {
    demo_cfg cfg;
    ex_cfg_result res;
    int rc;
} run;

/* Parse a space-separated argument string with the given environment. */
static void parse(run *r, const char *args, char *const *envp)
{
    static char buf[512];
    char *argv[32] = {"demo"};
    int argc = 1;
    snprintf(buf, sizeof buf, "%s", args);
    for (char *t = strtok(buf, " "); t && argc < 31; t = strtok(NULL, " ")) argv[argc++] = t;
    memset(r, 0, sizeof *r);
    FILE *devnull = fopen("/dev/null", "w");
    r->rc = ex_cfg_parse(&spec, &r->cfg, argc, argv, envp, devnull, &r->res);
    fclose(devnull);
}

static void done(run *r)
{
    ex_cfg_result_free(&r->res);
    ex_cfg_free(&spec, &r->cfg);
}

static void test_defaults(void **state)
{
    (void)state;
    run r;
    parse(&r, "", NULL);
    assert_int_equal(r.rc, EX_CFG_OK);
    assert_string_equal(r.cfg.listen, "127.0.0.1:5146");
    assert_int_equal(r.cfg.count, 10);
    assert_true(r.cfg.scale == 1.0);
    assert_int_equal(r.cfg.interval, 10 * EX_NS_PER_SEC);
    assert_int_equal(r.cfg.verbose, 0);
    assert_int_equal(r.res.nargs, 0);
    done(&r);
}

static void test_precedence(void **state)
{
    (void)state;
    run r;
    char *env[] = {"Seed__IntervalSeconds=30", "EXTRACE_COUNT=20", "DEMO_VERBOSE=yes", NULL};
    parse(&r, "", env);
    assert_int_equal(r.rc, EX_CFG_OK);
    assert_int_equal(r.cfg.interval, 30 * EX_NS_PER_SEC); /* alias with its unit */
    assert_int_equal(r.cfg.count, 20);
    assert_int_equal(r.cfg.verbose, 1);
    done(&r);

    char *env2[] = {"Seed__IntervalSeconds=30", "EXTRACE_INTERVAL=2m", "EXTRACE_COUNT=20", NULL};
    parse(&r, "--count 30 --interval=250ms --verbose name1", env2);
    assert_int_equal(r.rc, EX_CFG_OK);
    assert_int_equal(r.cfg.count, 30);                  /* flag over env */
    assert_int_equal(r.cfg.interval, 250 * EX_NS_PER_MS);
    assert_int_equal(r.cfg.verbose, 1);
    assert_int_equal(r.res.nargs, 1);
    assert_string_equal(r.res.args[0], "name1");
    done(&r);

    parse(&r, "", env2);
    assert_int_equal(r.cfg.interval, 2 * 60 * EX_NS_PER_SEC); /* EXTRACE_* over alias */
    done(&r);

    char *empty[] = {"EXTRACE_COUNT=", NULL}; /* empty = unset */
    parse(&r, "", empty);
    assert_int_equal(r.rc, EX_CFG_OK);
    assert_int_equal(r.cfg.count, 10);
    done(&r);
}

static void expect_error(const char *args, char *const *envp, const char *message)
{
    run r;
    parse(&r, args, envp);
    assert_int_equal(r.rc, EX_CFG_ERROR);
    if (strcmp(r.res.error, message) != 0) fail_msg("got \"%s\"\nwant \"%s\"", r.res.error, message);
    done(&r);
}

static void test_errors_name_value_and_source(void **state)
{
    (void)state;
    char *e1[] = {"EXTRACE_COUNT=ten", NULL};
    expect_error("", e1, "EXTRACE_COUNT=\"ten\" (environment): not an integer");
    char *e2[] = {"Seed__IntervalSeconds=soon", NULL};
    expect_error("", e2, "Seed__IntervalSeconds=\"soon\" (environment): not a duration: expected a number");
    expect_error("--count=0", NULL, "--count=\"0\": must be at least 1");
    expect_error("--count 5000", NULL, "--count=\"5000\": must be at most 1000");
    expect_error("--time-scale fast", NULL, "--time-scale=\"fast\": not a number");
    expect_error("--interval 10", NULL,
                 "--interval=\"10\": not a duration: missing unit (use ns, us, ms, s, m or h)");
    expect_error("--interval 2h", NULL, "--interval=\"2h\": must be at most 1h");
    expect_error("--listen nowhere", NULL, "--listen=\"nowhere\": expected HOST:PORT with a port from 0 to 65535");
    expect_error("--verbose=maybe", NULL, "--verbose=\"maybe\": not a boolean (true or false)");
    expect_error("--colour red", NULL, "unknown option \"--colour\" (try extrace demo --help)");
    expect_error("-x", NULL, "unknown option \"-x\" (try --help)");
    expect_error("--count", NULL, "--count: missing value (N)");
    expect_error("a b", NULL, "unexpected argument \"b\" (try extrace demo --help)");
    expect_error("--log-level loud", NULL,
                 "--log-level=\"loud\": not a log level (trace, debug, info, warn, error, off)");
}

static void test_help_lists_every_option(void **state)
{
    (void)state;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ex_cfg_print_help(&spec, f);
    fclose(f);
    const char *want[] = {"Usage: extrace demo [OPTIONS] [NAME]", "--listen HOST:PORT", "EXTRACE_LISTEN",
                          "default: 127.0.0.1:5146", "--interval DURATION", "Seed__IntervalSeconds",
                          "DEMO_VERBOSE", "--log-level LEVEL", "--log-format FORMAT", "--help"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strstr(text, want[i])) fail_msg("help lacks \"%s\":\n%s", want[i], text);
    free(text);

    run r;
    parse(&r, "--help", NULL);
    assert_int_equal(r.rc, EX_CFG_HELP);
    done(&r);
}

/* Each option's text as given, so logs show "60s", not "1m" or "60000 ms". */
static void test_given_texts(void **state)
{
    (void)state;
    run r;
    parse(&r, "", NULL);
    assert_string_equal(ex_cfg_given(&spec, &r.res, "interval"), "10s"); /* the default */
    done(&r);
    char *env[] = {"Seed__IntervalSeconds=90", NULL};
    parse(&r, "", env);
    assert_string_equal(ex_cfg_given(&spec, &r.res, "interval"), "90s"); /* a seed alias, with its unit */
    done(&r);
    parse(&r, "--interval 60s --count 7", env);
    assert_int_equal(r.rc, EX_CFG_OK);
    assert_string_equal(ex_cfg_given(&spec, &r.res, "interval"), "60s"); /* the flag wins */
    assert_string_equal(ex_cfg_given(&spec, &r.res, "count"), "7");
    assert_null(ex_cfg_given(&spec, &r.res, "no-such-option"));
    assert_null(ex_cfg_given(&spec, &r.res, "log-level")); /* common options are not the spec's */
    done(&r);
}

static void test_log_options_apply(void **state)
{
    (void)state;
    run r;
    parse(&r, "--log-level debug --log-format json", NULL);
    assert_int_equal(r.rc, EX_CFG_OK);
    assert_true(ex_log_enabled(EX_LOG_DEBUG));
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ex_log_set_stream(f);
    ex_info("test", "hello \"%s\"", "world");
    ex_log_set_stream(NULL);
    fclose(f);
    assert_non_null(strstr(text, "\"level\":\"info\",\"component\":\"test\",\"msg\":\"hello \\\"world\\\"\"}"));
    free(text);
    done(&r);
    parse(&r, "--log-level warn --log-format text", NULL);
    assert_false(ex_log_enabled(EX_LOG_INFO));
    done(&r);
}

static void test_hostport(void **state)
{
    (void)state;
    char host[64];
    int port;
    assert_int_equal(ex_hostport_split("127.0.0.1:5146", host, sizeof host, &port), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 5146);
    assert_int_equal(ex_hostport_split("[::1]:80", host, sizeof host, &port), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(ex_hostport_split(":9464", host, sizeof host, &port), 0);
    assert_string_equal(host, "0.0.0.0");
    assert_int_equal(ex_hostport_split("localhost", host, sizeof host, &port), -1);
    assert_int_equal(ex_hostport_split("h:70000", host, sizeof host, &port), -1);
    assert_int_equal(ex_hostport_split("h:", host, sizeof host, &port), -1);
    assert_int_equal(ex_hostport_split("::1:80", host, sizeof host, &port), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_errors_name_value_and_source),
        cmocka_unit_test(test_help_lists_every_option),
        cmocka_unit_test(test_given_texts),
        cmocka_unit_test(test_log_options_apply),
        cmocka_unit_test(test_hostport),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
