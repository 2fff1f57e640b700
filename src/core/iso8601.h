/* iso8601.h — UTC timestamps as .NET writes them.
 *
 * .NET's round-trip format ("O") for a UTC DateTime has exactly seven
 * fractional digits (100 ns ticks) and a Z: 2024-07-05T06:57:56.1234567Z.
 * The parser also takes 0–9 fractional digits, a lower-case t/z, and a
 * numeric offset (+02:00), converting to UTC. Times are int64 ns since the
 * Unix epoch, so years 1970–2261 (int64 nanoseconds end in 2262). */
#ifndef EXTRACE_CORE_ISO8601_H
#define EXTRACE_CORE_ISO8601_H
#include <stddef.h>
#include <stdint.h>

#define EX_ISO_LEN    28 /* 2024-07-05T06:57:56.1234567Z */
#define EX_ISO_MS_LEN 24 /* 2024-07-05T06:57:56.123Z (logs) */

/* Format with 7 fractional digits (truncated to 100 ns) into buf, which
 * must hold EX_ISO_LEN + 1 bytes; returns buf. */
char *ex_iso_format(int64_t unix_ns, char *buf);
/* Format with millisecond precision (logs); buf holds EX_ISO_MS_LEN + 1. */
char *ex_iso_format_ms(int64_t unix_ns, char *buf);

/* Parse exactly `len` bytes of s. Returns 0, or -1 with a static reason. */
int ex_iso_parse(const char *s, size_t len, int64_t *out_ns, const char **why);

/* Days since 1970-01-01 of the proleptic Gregorian date y-m-d (m 1–12). */
int64_t ex_days_from_civil(int64_t y, int m, int d);

#endif
