/* metrics_time.c — times and durations as Tempo's metrics API takes them
 * (metrics.h). Pure. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/duration.h"
#include "core/iso8601.h"
#include "store/metrics.h"

#define S INT64_C(1000000000)

/* A non-negative decimal number of seconds ("15", "0.5") to ns; 0 / -1. */
static int seconds(const char *s, int64_t *ns)
{
    if (!*s || strspn(s, "0123456789.") != strlen(s) || strchr(s, '.') != strrchr(s, '.')) return -1;
    char *end = NULL;
    errno = 0;
    double d = strtod(s, &end);
    if (errno || *end || !(d >= 0) || d > 9.2e9) return -1;
    double whole = floor(d);
    *ns = (int64_t)whole * S + (int64_t)llround((d - whole) * 1000) * INT64_C(1000000);
    return 0;
}

int smx_time_parse(const char *s, int64_t *ns, const char **why)
{
    size_t n = strlen(s), digits = strspn(s, "0123456789");
    if (n && digits == n) {
        if (n > 19) {
            *why = "too many digits for unix seconds or nanoseconds";
            return -1;
        }
        errno = 0;
        long long v = strtoll(s, NULL, 10);
        if (errno || (n <= 10 && v > INT64_C(9200000000))) {
            *why = "out of range";
            return -1;
        }
        *ns = n <= 10 ? (int64_t)v * S : (int64_t)v;
        return 0;
    }
    if (strchr(s, '.') && seconds(s, ns) == 0) return 0;
    if (ex_iso_parse(s, n, ns, why) == 0) return 0;
    *why = "expected unix seconds, unix nanoseconds or an RFC 3339 time";
    return -1;
}

int smx_duration_parse(const char *s, int64_t *ns, const char **why)
{
    if (seconds(s, ns) < 0 && ex_duration_parse(s, ns, why) < 0) {
        *why = "expected a duration such as 15s, 1m or 1h30m, or a number of seconds";
        return -1;
    }
    if (*ns <= 0) {
        *why = "must be positive";
        return -1;
    }
    return 0;
}

int64_t smx_default_step(int64_t start_ns, int64_t end_ns)
{
    int64_t delta = end_ns - start_ns, base = delta / 240;
    if (delta < 60 * S) {
        int64_t g = 50 * INT64_C(1000000);
        return base > g ? base / g * g : g;
    }
    static const int64_t grains[] = {3600 * S, 300 * S, 60 * S, 15 * S, 5 * S, S};
    for (size_t i = 0; i < sizeof grains / sizeof grains[0]; i++)
        if (base > grains[i]) return base / grains[i] * grains[i];
    return S;
}
