/* test_cli.c — what every command shows a new user on the command line:
 * --help fits 80 columns when stdout is not a terminal (and the terminal's
 * width when it is one, through script(1)), -V and --version print the
 * version on every command, and durations given as options are logged in
 * the unit given ("60s", never "60000 ms"); the HTTP servers start without a
 * warning a user would have to wonder about. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "support.h"

static const char *const commands[] = {"api", "generate", "worker", "traceid", "store", "demo", "config-doc", "sources", "profile"};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

/* The longest line of s, in columns (UTF-8 continuation bytes not counted). */
static int widest(const char *s, const char **line)
{
    int best = 0, col = 0;
    const char *start = s;
    for (const char *p = s;; p++) {
        if (*p == '\n' || !*p) {
            if (col > best) { best = col; *line = start; }
            if (!*p) break;
            col = 0;
            start = p + 1;
        } else if (((unsigned char)*p & 0xC0) != 0x80) {
            col++;
        }
    }
    return best;
}

static void test_help_fits_80_columns(void **state)
{
    (void)state;
    for (size_t i = 0; i <= NCOMMANDS; i++) {
        char *argv[] = {(char *)ts_bin(), i < NCOMMANDS ? (char *)commands[i] : "--help", "--help", NULL};
        if (i == NCOMMANDS) argv[2] = NULL;
        char *out = NULL, *err = NULL;
        assert_int_equal(ts_run(argv, &out, &err, 10000), 0);
        const char *line = out;
        int w = widest(out, &line);
        if (w > 80) fail_msg("extrace %s --help has a line of %d columns: %.*s", argv[1], w,
                             (int)strcspn(line, "\n"), line);
        assert_true(strlen(out) > 200);
        free(out);
        free(err);
    }
}

/* In a pseudo-terminal 60 columns wide, --help wraps at 60. */
static void test_help_follows_the_terminal_width(void **state)
{
    (void)state;
    if (access("/usr/bin/script", X_OK) != 0) skip();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "stty cols 60 rows 40; %s worker --help", ts_bin());
    char *argv[] = {"script", "-q", "-e", "-c", cmd, "/dev/null", NULL};
    char *out = NULL, *err = NULL;
    assert_int_equal(ts_run(argv, &out, &err, 10000), 0);
    for (char *p = out; *p; p++) if (*p == '\r') *p = ' '; /* the terminal's CR LF */
    const char *line = out;
    int w = widest(out, &line);
    if (w > 61 || w < 50) fail_msg("at 60 columns the widest line has %d: %.*s", w, (int)strcspn(line, "\n"), line);
    free(out);
    free(err);
}

static void test_version_on_every_command(void **state)
{
    (void)state;
    const char *flags[] = {"-V", "--version"};
    for (size_t i = 0; i <= NCOMMANDS; i++) {
        for (size_t f = 0; f < 2; f++) {
            char *argv[] = {(char *)ts_bin(), i < NCOMMANDS ? (char *)commands[i] : (char *)flags[f],
                            (char *)flags[f], NULL};
            if (i == NCOMMANDS) argv[2] = NULL;
            char *out = NULL, *err = NULL;
            int rc = ts_run(argv, &out, &err, 10000);
            if (rc != 0 || strcmp(out, "extrace " EXTRACE_VERSION "\n") != 0)
                fail_msg("extrace %s %s: status %d, \"%s\" (stderr \"%s\")", argv[1], flags[f], rc, out, err);
            free(out);
            free(err);
        }
    }
}

/* Start a worker with args against a Redis nobody listens on; wait for
 * needle in its log and return the log (malloc'd). */
static char *worker_log_with(char *const extra[], const char *needle)
{
    const char *dir = ts_tmpdir();
    char log[300], redis[64];
    snprintf(log, sizeof log, "%s/worker-%d.log", dir, rand());
    snprintf(redis, sizeof redis, "redis://127.0.0.1:%d", ts_refused_port());
    char *argv[24] = {(char *)ts_bin(), "worker", "--redis", redis, "--admin-listen", "127.0.0.1:0"};
    int n = 6;
    for (int i = 0; extra[i] && n < 23; i++) argv[n++] = extra[i];
    argv[n] = NULL;
    pid_t pid = ts_spawn(argv, log);
    assert_true(pid > 0);
    char *text = ts_wait_file_text(log, needle, 10000);
    if (!text) fail_msg("no \"%s\" in the worker's log:\n%s", needle, ts_read_file(log, NULL));
    ts_stop(pid, SIGTERM, 5000);
    return text;
}

static void test_durations_logged_in_the_unit_given(void **state)
{
    (void)state;
    char *stream[] = {"--stream", "wf", "--claim-idle", "60s", "--interval", "1500ms", NULL};
    char *text = worker_log_with(stream, "claiming entries idle for 60s)");
    if (strstr(text, "60000 ms") || !strstr(text, "then every 1500ms")) fail_msg("durations in ms:\n%s", text);
    free(text);
    char *pubsub[] = {"--initial-delay", "2m", NULL};
    text = worker_log_with(pubsub, "retrying in 100ms");
    if (!strstr(text, "first after 2m,")) fail_msg("--initial-delay 2m not logged as 2m:\n%s", text);
    free(text);
}

/* A clean start says nothing at warn: libmicrohttpd once printed one on
 * every start because of the order of our daemon options. */
static void test_servers_start_without_warnings(void **state)
{
    (void)state;
    char log[512], data[512];
    snprintf(log, sizeof log, "%s/api.log", ts_tmpdir());
    char *api[] = {(char *)ts_bin(), "api", "--listen", "127.0.0.1:0", NULL};
    pid_t pid = ts_spawn(api, log);
    assert_true(pid > 0);
    char *text = ts_wait_file_text(log, "listening on", 10000);
    if (!text) fail_msg("the api did not start:\n%s", ts_read_file(log, NULL));
    ts_stop(pid, SIGTERM, 5000);
    if (strstr(text, "WARN") || strstr(text, "ERROR")) fail_msg("the api warned at start:\n%s", text);
    free(text);

    snprintf(log, sizeof log, "%s/store.log", ts_tmpdir());
    snprintf(data, sizeof data, "%s/data", ts_tmpdir());
    char *store[] = {(char *)ts_bin(), "store", "--data-dir", data, "--otlp-grpc-listen", "127.0.0.1:0",
                     "--otlp-http-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", NULL};
    pid = ts_spawn(store, log);
    assert_true(pid > 0);
    text = ts_wait_file_text(log, "retention ", 10000);
    if (!text) fail_msg("the store did not start:\n%s", ts_read_file(log, NULL));
    ts_stop(pid, SIGTERM, 5000);
    if (strstr(text, "WARN") || strstr(text, "ERROR")) fail_msg("the store warned at start:\n%s", text);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help_fits_80_columns),
        cmocka_unit_test(test_help_follows_the_terminal_width),
        cmocka_unit_test(test_version_on_every_command),
        cmocka_unit_test(test_durations_logged_in_the_unit_given),
        cmocka_unit_test(test_servers_start_without_warnings),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    ts_cleanup();
    return rc;
}
