/* test_readme.c — the README's by-hand steps work when typed in order.
 *
 * Every ```sh block of README.md's "Running the parts by hand" section is
 * fed, line by line and in order, to one bash (as a user types into
 * terminals), with the ```text block after it as the expected output:
 * each of its lines must show up in what the block's commands print
 * ("…" stands for anything, e.g. a timestamp). A command marked "leave it
 * running" is started in the background and the test waits for its
 * expected lines; any other must exit 0 (within two minutes) before they are
 * checked. The commands run verbatim — default ports included — inside a
 * network namespace of their own (unshare -rn), so they cannot collide
 * with anything else on the machine, with HOME and the working directory
 * in a temp dir whose build/extrace is the binary under test.
 *
 * The Quick start's `make demo` / `make test` are not run here: the demo
 * is tests/integration/test_demo.c, and `make test` is what runs this. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "support.h"

#define SECTION "## Running the parts by hand"
#define MAX_BLOCKS 32
#define MAX_LINES 16
#define RUNNING_MARK "# leave it running"
#define BACKGROUND_WAIT_MS 60000  /* generous: CI runs this beside the chaos and siege tests */
#define FOREGROUND_WAIT_MS 120000

typedef struct block {
    char *cmd[MAX_LINES];    /* the sh block's lines (malloc'd) */
    int ncmd;
    char *want[MAX_LINES];   /* the text block's lines after it */
    int nwant;
} block;

static block blocks[MAX_BLOCKS];
static int nblocks;

/* Split the README's section into sh blocks and their expected output. */
static void parse_readme(void)
{
    char path[512];
    const char *src = getenv("EXTRACE_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/README.md", src ? src : ".");
    char *text = ts_read_file(path, NULL);
    assert_non_null(text);
    char *start = strstr(text, "\n" SECTION "\n");
    assert_non_null(start);
    char *end = strstr(start + 1, "\n## ");
    if (end) *end = '\0';
    enum { OUTSIDE, SH, TEXT } in = OUTSIDE;
    for (char *line = strtok(start, "\n"); line; line = strtok(NULL, "\n")) {
        if (in == OUTSIDE && strcmp(line, "```sh") == 0) {
            assert_true(nblocks < MAX_BLOCKS);
            in = SH;
            nblocks++;
        } else if (in == OUTSIDE && strcmp(line, "```text") == 0) {
            assert_true(nblocks > 0); /* expected output belongs to the sh block before it */
            in = TEXT;
        } else if (strcmp(line, "```") == 0) {
            in = OUTSIDE;
        } else if (in == SH && line[0]) {
            block *b = &blocks[nblocks - 1];
            assert_true(b->ncmd < MAX_LINES);
            b->cmd[b->ncmd++] = strdup(line);
        } else if (in == TEXT && line[0]) {
            block *b = &blocks[nblocks - 1];
            assert_true(b->nwant < MAX_LINES);
            b->want[b->nwant++] = strdup(line);
        }
    }
    free(text);
    assert_true(nblocks >= 5);
}

/* 1 if one line of out holds the pieces of want between its "…"s, in order. */
static int line_matches(const char *out, const char *want)
{
    for (const char *line = out; *line;) {
        size_t len = strcspn(line, "\n");
        const char *at = line, *w = want;
        int ok = 1;
        while (ok) {
            const char *ell = strstr(w, "…");
            size_t plen = ell ? (size_t)(ell - w) : strlen(w);
            while (plen && w[0] == ' ') { w++; plen--; }         /* the spaces around … are layout */
            while (plen && w[plen - 1] == ' ') plen--;
            if (plen) {
                char piece[512];
                snprintf(piece, sizeof piece, "%.*s", (int)plen, w);
                const char *hit = strstr(at, piece);
                ok = hit && hit + plen <= line + len;
                if (ok) at = hit + plen;
            }
            if (!ell) break;
            w = ell + strlen("…");
        }
        if (ok) return 1;
        line += len + (line[len] == '\n');
    }
    return 0;
}

static pid_t shell;
static FILE *to_shell;
static const char *dir;

static void type(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void type(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(to_shell, fmt, ap);
    va_end(ap);
    fflush(to_shell);
}

/* bash in its own user and network namespace, reading commands from a pipe. */
static void start_shell(void)
{
    int fds[2];
    char log[300], build[300];
    dir = ts_tmpdir();
    snprintf(build, sizeof build, "%s/build", dir);
    assert_int_equal(mkdir(build, 0755), 0);
    snprintf(build, sizeof build, "%s/build/extrace", dir);
    assert_int_equal(symlink(ts_bin(), build), 0);
    snprintf(log, sizeof log, "%s/shell.log", dir);
    assert_int_equal(pipe(fds), 0);
    int saved = dup(0);
    dup2(fds[0], 0); /* ts_spawn's child inherits stdin */
    char *argv[] = {"unshare", "-rn", "bash", NULL};
    shell = ts_spawn(argv, log);
    dup2(saved, 0);
    close(saved);
    close(fds[0]);
    assert_true(shell > 0);
    to_shell = fdopen(fds[1], "w");
    type("set -u\nip link set lo up\nexport HOME='%s'\ncd '%s'\n", dir, dir);
}

static void stop_shell(void)
{
    type("kill $(jobs -p) 2>/dev/null; wait; exit 0\n");
    fclose(to_shell);
    ts_wait(shell, 15000);
}

/* The outputs of block i's commands, concatenated (malloc'd). */
static char *outputs(int i)
{
    size_t cap = 1, len = 0;
    char *all = calloc(1, 1);
    for (int j = 0; j < blocks[i].ncmd; j++) {
        char path[320];
        snprintf(path, sizeof path, "%s/out.%d.%d", dir, i, j);
        size_t n = 0;
        char *t = ts_read_file(path, &n);
        if (!t) continue;
        all = realloc(all, cap += n + 1);
        memcpy(all + len, t, n);
        len += n;
        all[len++] = '\n';
        all[len] = '\0';
        free(t);
    }
    return all;
}

static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Wait until every expected line of block i is in its output. */
static void expect(int i, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        char *out = outputs(i);
        int missing = -1;
        for (int k = 0; k < blocks[i].nwant && missing < 0; k++)
            if (!line_matches(out, blocks[i].want[k])) missing = k;
        if (missing < 0) {
            free(out);
            return;
        }
        if (now_ms() >= deadline) {
            char log[320];
            snprintf(log, sizeof log, "%s/shell.log", dir);
            fail_msg("README step \"%s\": no line like \"%s\" in its output:\n%s\n(the shell's own output:\n%s)",
                     blocks[i].cmd[0], blocks[i].want[missing], out, ts_read_file(log, NULL));
        }
        free(out);
        usleep(100 * 1000);
    }
}

/* Run block i's commands as typed, then check its expected output. */
static void run_block(int i)
{
    int background = 0;
    for (int j = 0; j < blocks[i].ncmd; j++) {
        const char *cmd = blocks[i].cmd[j];
        if (strstr(cmd, RUNNING_MARK)) {
            background = 1;
            type("{ %s\n} > out.%d.%d 2>&1 &\n", cmd, i, j); /* the newline ends its comment */
            continue;
        }
        if (strncmp(cmd, "export ", 7) == 0) { /* it sets the shell's (the terminal's) state */
            type("%s\n", cmd);
            continue;
        }
        type("{ %s\n} > out.%d.%d 2>&1; echo $? > rc.%d.%d\n", cmd, i, j, i, j);
        char rc_path[320], *rc = NULL;
        snprintf(rc_path, sizeof rc_path, "%s/rc.%d.%d", dir, i, j);
        for (int64_t deadline = now_ms() + FOREGROUND_WAIT_MS; !rc && now_ms() < deadline; usleep(50 * 1000))
            if ((rc = ts_read_file(rc_path, NULL)) && !strchr(rc, '\n')) { free(rc); rc = NULL; }
        if (!rc) fail_msg("README command \"%s\" did not finish within %d ms", cmd, FOREGROUND_WAIT_MS);
        if (atoi(rc) != 0) {
            char *out = outputs(i);
            fail_msg("README command \"%s\" exited %d:\n%s", cmd, atoi(rc), out);
        }
        free(rc);
    }
    expect(i, background ? BACKGROUND_WAIT_MS : 1000);
}

static void test_by_hand_steps_work_in_order(void **state)
{
    (void)state;
    parse_readme();
    start_shell();
    for (int i = 0; i < nblocks; i++) {
        print_message("step %d: %s\n", i + 1, blocks[i].cmd[0]);
        run_block(i);
    }
    stop_shell();
    /* The store kept its data outside the working directory, as the README says. */
    char data[320];
    struct stat st;
    snprintf(data, sizeof data, "%s/extrace-data/traces.db", dir);
    assert_int_equal(stat(data, &st), 0);
}

static void test_expected_output_matching(void **state)
{
    (void)state;
    assert_true(line_matches("x\n2026-01-01T00:00:00Z INFO  api: listening on 1:2 (port 2)\n",
                             "… INFO  api: listening on 1:2 (port 2)"));
    assert_false(line_matches("INFO  api: listening on 1:3\n", "… INFO  api: listening on 1:2"));
    assert_true(line_matches("a b c\n", "a … c"));
    assert_false(line_matches("a b\nc\n", "a … c")); /* within one line */
    assert_false(line_matches("c b a\n", "a … c")); /* in order */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expected_output_matching),
        cmocka_unit_test(test_by_hand_steps_work_in_order),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    ts_cleanup();
    return rc;
}
