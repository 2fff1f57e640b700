#include "worker/status.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include "core/clock.h"
#include "core/duration.h"

/* Append to buf at *off, bounded. */
static void put(char *buf, size_t len, size_t *off, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void put(char *buf, size_t len, size_t *off, const char *fmt, ...)
{
    if (*off >= len) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *off, len - *off, fmt, ap);
    va_end(ap);
    if (n > 0) *off += (size_t)n;
}

/* A duration rounded for people: to milliseconds under 10 s, else to seconds ("3m12s"). */
static const char *rounded(int64_t ns, char *out)
{
    int64_t unit = ns < 10 * EX_NS_PER_SEC ? EX_NS_PER_MS : EX_NS_PER_SEC;
    return ex_duration_format((ns + unit / 2) / unit * unit, out);
}

void wk_status_line(const wk_status_snap *prev, const wk_status_snap *cur, size_t watching, int64_t oldest_ns,
                    char *buf, size_t len)
{
    char d1[EX_DURATION_STR_MAX], d2[EX_DURATION_STR_MAX];
    size_t off = 0;
    int64_t span = cur->mono_ns - prev->mono_ns;
    double secs = span > 0 ? (double)span / 1e9 : 0;
    buf[0] = '\0';
    put(buf, len, &off, "status: watching %zu workflows", watching);
    if (watching && oldest_ns >= 0) put(buf, len, &off, " (oldest in flight %s)", rounded(oldest_ns, d1));
    put(buf, len, &off, "; last %s: %.1f polls/s, poll errors", rounded(span, d2),
        secs > 0 ? (double)(cur->polls - prev->polls) / secs : 0.0);
    int any = 0;
    for (int k = 0; k < WK_NPOLL_ERR; k++) {
        uint64_t n = cur->poll_errors[k] - prev->poll_errors[k];
        if (!n) continue;
        put(buf, len, &off, "%s %s %" PRIu64, any ? "," : "", wk_poll_error_name((wk_poll_error)k), n);
        any = 1;
    }
    if (!any) put(buf, len, &off, " none");
    put(buf, len, &off, "; %" PRIu64 " workflows finished; in all: %" PRIu64 " spans exported, %" PRIu64 " dropped",
        cur->finished - prev->finished, cur->spans_exported, cur->spans_dropped);
}
