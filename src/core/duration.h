/* duration.h — durations with units, as users write them.
 *
 * Accepted: one or more <number><unit> parts, Go style: "250ms", "5s",
 * "1.5s", "10m", "1h30m". Units: ns, us, ms, s, m, h. "0" alone is zero.
 * A bare number is rejected (which unit would it be?). Negative durations
 * are rejected. */
#ifndef EXTRACE_CORE_DURATION_H
#define EXTRACE_CORE_DURATION_H
#include <stddef.h>
#include <stdint.h>

#define EX_DURATION_STR_MAX 32

/* Parse `s` into nanoseconds. Returns 0, or -1 with a static reason in
 * *why ("missing unit", "unknown unit", …). */
int ex_duration_parse(const char *s, int64_t *out_ns, const char **why);

/* Write the shortest exact form ("5s", "250ms", "1h30m", "0s") into buf
 * (at least EX_DURATION_STR_MAX bytes); returns buf. */
char *ex_duration_format(int64_t ns, char *buf);

#endif
