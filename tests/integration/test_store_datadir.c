/* test_store_datadir.c — `extrace store` and its data directory, as a new
 * user meets them: a second store on a directory in use is refused
 * (non-zero exit, naming the first one's pid) and may start once the
 * first has stopped; listening on port 0 prints the port actually bound
 * in the UI's address; a directory that cannot be opened is reported with
 * the OS reason, not only SQLite's "unable to open database file". */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "support.h"

/* argv of a store on data with every listener on port 0. */
#define STORE_ARGV(data) \
    {(char *)ts_bin(), "store", "--data-dir", (char *)(data), "--http-listen", "127.0.0.1:0", \
     "--otlp-http-listen", "127.0.0.1:0", "--otlp-grpc-listen", "127.0.0.1:0", NULL}

/* Start a store on data, logging to log; wait until it serves. Its pid. */
static pid_t start_store(const char *data, const char *log)
{
    char *argv[] = STORE_ARGV(data);
    pid_t pid = ts_spawn(argv, log);
    assert_true(pid > 0);
    char *text = ts_wait_file_text(log, "query API and UI listening", 10000);
    if (!text) fail_msg("the store did not start:\n%s", ts_read_file(log, NULL));
    free(text);
    return pid;
}

static void test_second_store_on_a_dir_is_refused_naming_the_first(void **state)
{
    (void)state;
    const char *dir = ts_tmpdir();
    char data[300], log[300], want[64];
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(log, sizeof log, "%s/first.log", dir);
    pid_t first = start_store(data, log);

    char *argv[] = STORE_ARGV(data);
    char *out = NULL, *err = NULL;
    int rc = ts_run(argv, &out, &err, 10000);
    assert_int_not_equal(rc, 0);
    snprintf(want, sizeof want, "(pid %ld ", (long)first);
    if (!strstr(err, want) || !strstr(err, "in use by another extrace store") || !strstr(err, data))
        fail_msg("the second store's message lacks \"%s\" or the directory:\n%s", want, err);
    free(out);
    free(err);

    /* Once the first has stopped, the directory is free again. */
    assert_int_equal(ts_stop(first, SIGTERM, 5000), 0);
    snprintf(log, sizeof log, "%s/second.log", dir);
    pid_t second = start_store(data, log);
    assert_int_equal(ts_stop(second, SIGTERM, 5000), 0);
}

static void test_port_zero_prints_the_bound_port(void **state)
{
    (void)state;
    const char *dir = ts_tmpdir();
    char data[300], log[300];
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(log, sizeof log, "%s/store.log", dir);
    pid_t pid = start_store(data, log);
    char *text = ts_read_file(log, NULL);
    const char *at = strstr(text, "http://127.0.0.1:");
    assert_non_null(at);
    int port = atoi(at + strlen("http://127.0.0.1:"));
    if (port <= 0) fail_msg("the UI address names port %d:\n%s", port, text);
    assert_int_equal(ts_wait_port(port, 2000), 0); /* and it is the port that answers */
    free(text);
    assert_int_equal(ts_stop(pid, SIGTERM, 5000), 0);
}

/* Run a store on data to its (failed) end; its stderr (malloc'd). */
static char *failed_store(const char *data)
{
    char *argv[] = STORE_ARGV(data);
    char *out = NULL, *err = NULL;
    assert_int_equal(ts_run(argv, &out, &err, 10000), 1);
    free(out);
    return err;
}

static void test_open_failures_name_the_os_reason(void **state)
{
    (void)state;
    const char *dir = ts_tmpdir();
    char path[300];
    /* The database file's name is taken by a directory: SQLite alone says "unable to open database file". */
    snprintf(path, sizeof path, "%s/isdir", dir);
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/isdir/traces.db", dir);
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/isdir", dir);
    char *err = failed_store(path);
    if (!strstr(err, "unable to open database file (Is a directory)")) fail_msg("no OS reason:\n%s", err);
    free(err);

    /* A directory this user may not write in (as root: run the store as nobody). */
    snprintf(path, sizeof path, "%s/readonly", dir);
    assert_int_equal(mkdir(path, 0555), 0);
    chmod(path, 0555);
    chmod(dir, 0755);
    char *argv[] = {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", (char *)ts_bin(), "store",
                    "--data-dir", path, "--http-listen", "127.0.0.1:0", "--otlp-http-listen", "127.0.0.1:0",
                    "--otlp-grpc-listen", "127.0.0.1:0", NULL};
    char *out = NULL;
    err = NULL;
    int rc = geteuid() == 0 ? ts_run(argv, &out, &err, 10000) : ts_run(argv + 4, &out, &err, 10000);
    assert_int_equal(rc, 1);
    if (!strstr(err, "Permission denied") || !strstr(err, path)) fail_msg("no OS reason or path:\n%s", err);
    free(out);
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_second_store_on_a_dir_is_refused_naming_the_first),
        cmocka_unit_test(test_port_zero_prints_the_bound_port),
        cmocka_unit_test(test_open_failures_name_the_os_reason),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    ts_cleanup();
    return rc;
}
