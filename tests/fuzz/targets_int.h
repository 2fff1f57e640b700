/* targets_int.h — helpers shared by the run functions of tests/fuzz/target_*.c. */
#ifndef EXTRACE_TESTS_FUZZ_TARGETS_INT_H
#define EXTRACE_TESTS_FUZZ_TARGETS_INT_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Report a broken promise of the code under test ("fuzz <target>: …" on
 * stderr) and abort(), which libFuzzer and the regression test record as
 * a crash. */
void fuzz__fail(const char *target, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));

/* A NUL-terminated copy of data[0..size) (ex_malloc; the caller frees it
 * with ex_free). Aborts when memory runs out: the harness has no use for a
 * half-done run. */
char *fuzz__cstr(const uint8_t *data, size_t size);

/* Split buf[0..size) (size + 1 bytes, buf[size] == '\0') at its NUL bytes
 * into at most max entries (pointers into buf). Returns their number. An
 * empty entry is kept as "". */
size_t fuzz__split(char *buf, size_t size, char **out, size_t max);

/* Abort unless s[0..n) holds a NUL (a message buffer was terminated). */
void fuzz__check_terminated(const char *target, const char *what, const char *s, size_t n);

/* A stream to /dev/null (opened once, never closed) for help texts. */
FILE *fuzz__devnull(void);

/* Put the logger back as fuzz_init() set it (ex_cfg_parse changes it). */
void fuzz__log_reset(void);

/* target_snapdiff.c: the first field where two snapshots differ, written
 * to diff (1), or 0 when they are equal. */
struct wm_snapshot;
int fuzz__snapshot_diff(const struct wm_snapshot *a, const struct wm_snapshot *b, char *diff, size_t n);
/* Both parsers of the seed's answer and wm_snapshot_parse_flags on body:
 * -1 with the difference in diff, else 1 when the fast path accepted it
 * and 0 when it declined. */
int fuzz__snapshot_compare(const char *body, size_t len, const char *id, unsigned flags, char *diff, size_t n);

#endif
