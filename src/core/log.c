#include "core/log.h"

#include <jansson.h>
#include <stdarg.h>
#include <string.h>

#include "core/clock.h"
#include "core/iso8601.h"
#include "core/secret.h"

static ex_log_level min_level = EX_LOG_INFO;
static ex_log_format out_format = EX_LOG_TEXT;
static FILE *out_stream; /* NULL: stderr */

static const char *const level_names[] = {"trace", "debug", "info", "warn", "error", "off"};
static const char *const level_tags[] = {"TRACE", "DEBUG", "INFO ", "WARN ", "ERROR", "OFF  "};

void ex_log_set_level(ex_log_level level) { min_level = level; }
void ex_log_set_format(ex_log_format format) { out_format = format; }
void ex_log_set_stream(FILE *out) { out_stream = out; }
int ex_log_enabled(ex_log_level level) { return level >= min_level && level < EX_LOG_OFF; }

int ex_log_level_parse(const char *s, ex_log_level *out)
{
    for (int i = 0; i <= EX_LOG_OFF; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (ex_log_level)i;
            return 0;
        }
    }
    if (strcmp(s, "warning") == 0) { *out = EX_LOG_WARN; return 0; }
    return -1;
}

int ex_log_format_parse(const char *s, ex_log_format *out)
{
    if (strcmp(s, "text") == 0) { *out = EX_LOG_TEXT; return 0; }
    if (strcmp(s, "json") == 0) { *out = EX_LOG_JSON; return 0; }
    return -1;
}

void ex_log_write(ex_log_level level, const char *component, const char *fmt, ...)
{
    char msg[2048], ts[EX_ISO_MS_LEN + 1];
    va_list ap;
    va_start(ap, fmt);
    ex_secret_vformat(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ex_iso_format_ms(ex_clock_now(ex_clock_real()), ts);

    FILE *f = out_stream ? out_stream : stderr;
    if (out_format == EX_LOG_JSON) {
        json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "ts", ts, "level", level_names[level],
                              "component", component, "msg", msg);
        if (!o) { /* not UTF-8: keep the message readable rather than lose it */
            for (char *c = msg; *c; c++)
                if ((unsigned char)*c >= 0x80) *c = '?';
            o = json_pack("{s:s, s:s, s:s, s:s}", "ts", ts, "level", level_names[level],
                          "component", component, "msg", msg);
        }
        char *line = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        if (line) fprintf(f, "%s\n", line);
        free(line);
        json_decref(o);
    } else {
        fprintf(f, "%s %s %s: %s\n", ts, level_tags[level], component, msg);
    }
    fflush(f);
}
