/* test_fuzz_regressions.c — replays tests/fuzz/corpus/<target>/ and
 * tests/fuzz/regressions/<target>/ through the fuzz targets' run functions
 * in a normal build (docs/fuzzing.md).
 *
 * Every input runs in a child process, so one crash does not hide the
 * others: the test lists every input that crashed, aborted (a broken
 * promise, see tests/fuzz/targets.h), used more than REPLAY_MAX_RSS_MB of
 * memory or, under ASan, leaked. A crash found
 * by fuzzing is kept by saving its minimised input under regressions/; it
 * fails here until the code is fixed. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

/* The run functions are compiled into this test itself: tests/CMakeLists.txt
 * builds each tests/unit/test_*.c alone against the test support library,
 * and the harness (tests/fuzz/) is not part of extrace_lib. */
#include "../fuzz/target_env.c"
#include "../fuzz/target_h1.c"
#include "../fuzz/target_live.c"
#include "../fuzz/target_model.c"
#include "../fuzz/target_metrics.c"
#include "../fuzz/target_otlp.c"
#include "../fuzz/target_source.c"
#include "../fuzz/target_link.c"
#include "../fuzz/target_sim.c"
#include "../fuzz/target_snapdiff.c"
#include "../fuzz/target_store_body.c"
#include "../fuzz/target_store_live.c"
#include "../fuzz/target_text.c"
#include "../fuzz/target_traceql.c"
#include "../fuzz/target_webhook.c"
#include "../fuzz/targets.c"

#define REPLAY_MAX_BYTES (16 * 1024 * 1024) /* larger files are not inputs we saved */
/* Peak memory of one replay: a few MB are normal (tens under ASan); an
 * input that makes a parser take more is a denial of service, like
 * libFuzzer's -rss_limit_mb in scripts/fuzz. */
#define REPLAY_MAX_RSS_MB 512

/* The source tree: $EXTRACE_SOURCE_DIR (set by ctest), else the directory
 * this file was compiled from, two levels up. */
static const char *source_dir(void)
{
    static char dir[4096];
    const char *env = getenv("EXTRACE_SOURCE_DIR");
    if (env && *env) return env;
    snprintf(dir, sizeof dir, "%s", __FILE__);
    char *cut = strstr(dir, "/tests/unit/");
    if (cut) *cut = '\0';
    return dir;
}

/* Read a whole file into a buffer of exactly its size (so a read past the
 * end is caught by ASan). NULL with errno on failure. */
static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    uint8_t *buf = NULL;
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && st.st_size <= REPLAY_MAX_BYTES) {
        *len = (size_t)st.st_size;
        buf = malloc(*len ? *len : 1);
        if (buf && fread(buf, 1, *len, f) != *len) {
            free(buf);
            buf = NULL;
        }
    }
    fclose(f);
    return buf;
}

/* Run one input in a child. 0 when it returned normally, else -1 with
 * what happened in how. */
static int replay_one(const fuzz_target *t, const uint8_t *buf, size_t len, char *how, size_t howlen)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(how, howlen, "fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        fuzz_init();
        t->run(buf, len);
        exit(0); /* exit, not _exit: LeakSanitizer checks at exit */
    }
    int status;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR) continue;
    long rss_mb = ru.ru_maxrss / 1024;
    if (WIFSIGNALED(status)) snprintf(how, howlen, "killed by signal %d", WTERMSIG(status));
    else if (WEXITSTATUS(status) != 0) snprintf(how, howlen, "exit status %d", WEXITSTATUS(status));
    else if (rss_mb > REPLAY_MAX_RSS_MB) snprintf(how, howlen, "used %ld MB of memory (limit %d)", rss_mb, REPLAY_MAX_RSS_MB);
    else return 0;
    return -1;
}

static int not_hidden(const struct dirent *d) { return d->d_name[0] != '.'; }

/* Replay every file of tests/fuzz/<kind>/<target>/. Returns how many there
 * were (0 if the directory does not exist); failures are added to *failed
 * and listed on stderr. */
static size_t replay_dir(const fuzz_target *t, const char *kind, size_t *failed)
{
    char dir[4096], path[8192], how[64];
    struct dirent **names;
    snprintf(dir, sizeof dir, "%s/tests/fuzz/%s/%s", source_dir(), kind, t->name);
    int n = scandir(dir, &names, not_hidden, alphasort);
    if (n < 0) return 0;
    for (int i = 0; i < n; i++) {
        size_t len;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
        uint8_t *buf = read_file(path, &len);
        if (!buf) {
            fprintf(stderr, "%s: cannot read (%s)\n", path, strerror(errno));
            ++*failed;
        } else if (replay_one(t, buf, len, how, sizeof how)) {
            fprintf(stderr, "FAILED %s: %s (reproduce: build-fuzz/fuzz/fuzz_%s %s)\n", path, how, t->name, path);
            ++*failed;
        }
        free(buf);
        free(names[i]);
    }
    free(names);
    return (size_t)n;
}

/* One cmocka test per target: its seeds, then its regressions. */
static void test_replay_target(void **state)
{
    const fuzz_target *t = *state;
    size_t failed = 0;
    size_t seeds = replay_dir(t, "corpus", &failed);
    size_t regressions = replay_dir(t, "regressions", &failed);
    print_message("%s: %zu seeds, %zu regressions replayed\n", t->name, seeds, regressions);
    if (seeds == 0) fail_msg("tests/fuzz/corpus/%s/ has no seed inputs", t->name);
    if (failed) fail_msg("%zu of %zu inputs of target %s failed (listed above)", failed, seeds + regressions, t->name);
}

/* Every directory under corpus/ and regressions/ belongs to a target, so a
 * misnamed one cannot be skipped silently. */
static void test_directories_name_targets(void **state)
{
    (void)state;
    static const char *const kinds[] = {"corpus", "regressions"};
    char dir[4096];
    for (size_t k = 0; k < 2; k++) {
        struct dirent **names;
        snprintf(dir, sizeof dir, "%s/tests/fuzz/%s", source_dir(), kinds[k]);
        int n = scandir(dir, &names, not_hidden, alphasort);
        if (n < 0 && k == 0) fail_msg("%s: %s", dir, strerror(errno));
        for (int i = 0; i < n; i++) {
            int known = 0;
            for (size_t j = 0; j < fuzz_ntargets; j++) known |= strcmp(names[i]->d_name, fuzz_targets[j].name) == 0;
            if (!known) fail_msg("%s/%s is not the name of a fuzz target", dir, names[i]->d_name);
            free(names[i]);
        }
        if (n >= 0) free(names);
    }
}

/* The replay itself must notice a crash, or every test above could pass
 * without running anything. */
static int run_abort(const uint8_t *data, size_t size)
{
    if (size > 0 && data[0] == 'x') abort();
    return 0;
}

static void test_replay_notices_crashes(void **state)
{
    (void)state;
    const fuzz_target t = {"selftest", run_abort};
    char how[64] = "";
    assert_int_equal(replay_one(&t, (const uint8_t *)"ok", 2, how, sizeof how), 0);
    assert_int_equal(replay_one(&t, (const uint8_t *)"x", 1, how, sizeof how), -1);
    assert_string_equal(how, "killed by signal 6");
}

int main(void)
{
    struct CMUnitTest tests[64];
    size_t n = 0;
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_replay_notices_crashes);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_directories_name_targets);
    for (size_t i = 0; i < fuzz_ntargets && n < sizeof tests / sizeof tests[0]; i++) {
        tests[n] = (struct CMUnitTest)cmocka_unit_test_prestate(test_replay_target, (void *)&fuzz_targets[i]);
        tests[n++].name = fuzz_targets[i].name;
    }
    return _cmocka_run_group_tests("fuzz_regressions", tests, n, NULL, NULL);
}
