/* log.h — leveled logging to stderr, as text or one JSON object per line.
 *
 *   2026-11-24T21:05:53.123Z INFO  api: listening on 127.0.0.1:5146
 *   {"ts":"2026-11-24T21:05:53.123Z","level":"info","component":"api","msg":"…"}
 *
 * Every message goes through ex_secret_mask (core/secret.h) before it is
 * written: a password that reaches a log line anyway shows as "***".
 * Check ex_log_enabled() before building an expensive message; EX_LOG does. */
#ifndef EXTRACE_CORE_LOG_H
#define EXTRACE_CORE_LOG_H
#include <stdio.h>

typedef enum { EX_LOG_TRACE, EX_LOG_DEBUG, EX_LOG_INFO, EX_LOG_WARN, EX_LOG_ERROR, EX_LOG_OFF } ex_log_level;
typedef enum { EX_LOG_TEXT, EX_LOG_JSON } ex_log_format;

void ex_log_set_level(ex_log_level level);
void ex_log_set_format(ex_log_format format);
/* Redirect output (tests); NULL restores stderr. The caller owns `out`. */
void ex_log_set_stream(FILE *out);
int ex_log_enabled(ex_log_level level);

/* Parse "trace|debug|info|warn|error|off" / "text|json"; 0 or -1. */
int ex_log_level_parse(const char *s, ex_log_level *out);
int ex_log_format_parse(const char *s, ex_log_format *out);

void ex_log_write(ex_log_level level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define EX_LOG(level, comp, ...) \
    do { if (ex_log_enabled(level)) ex_log_write((level), (comp), __VA_ARGS__); } while (0)
#define ex_trace(comp, ...) EX_LOG(EX_LOG_TRACE, comp, __VA_ARGS__)
#define ex_debug(comp, ...) EX_LOG(EX_LOG_DEBUG, comp, __VA_ARGS__)
#define ex_info(comp, ...)  EX_LOG(EX_LOG_INFO, comp, __VA_ARGS__)
#define ex_warn(comp, ...)  EX_LOG(EX_LOG_WARN, comp, __VA_ARGS__)
#define ex_error(comp, ...) EX_LOG(EX_LOG_ERROR, comp, __VA_ARGS__)

#endif
