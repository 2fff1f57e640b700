#include "worker/clockskew.h"

#include "core/clock.h"

void wk_skew_init(wk_skew *s)
{
    s->lo_ns = s->hi_ns = 0;
    s->samples = s->restarts = 0;
    s->warned_ns = INT64_MIN;
}

void wk_skew_add(wk_skew *s, int64_t sent_ns, int64_t received_ns, int64_t date_ns)
{
    if (date_ns < 0 || received_ns < sent_ns) return;
    /* A Date that lags the server's clock understates the offset: widen upwards. */
    int64_t lo = date_ns - received_ns, hi = date_ns + EX_NS_PER_SEC + WK_SKEW_COARSE_NS - sent_ns;
    if (s->samples > 0 && lo <= s->hi_ns && hi >= s->lo_ns) {
        if (lo > s->lo_ns) s->lo_ns = lo;
        if (hi < s->hi_ns) s->hi_ns = hi;
        s->samples++;
        return;
    }
    if (s->samples > 0) s->restarts++;
    s->lo_ns = lo;
    s->hi_ns = hi;
    s->samples = 1;
}

int64_t wk_skew_offset(const wk_skew *s) { return s->samples ? s->lo_ns + (s->hi_ns - s->lo_ns) / 2 : 0; }

int64_t wk_skew_uncertainty(const wk_skew *s) { return s->samples ? (s->hi_ns - s->lo_ns + 1) / 2 : -1; }

int wk_skew_should_warn(wk_skew *s, int64_t now_ns, int64_t limit_ns, int64_t every_ns)
{
    if (!s->samples || (s->lo_ns <= limit_ns && s->hi_ns >= -limit_ns)) return 0;
    if (s->warned_ns != INT64_MIN && now_ns - s->warned_ns < every_ns) return 0;
    s->warned_ns = now_ns;
    return 1;
}

void wk_skew_render(const wk_skew *s, const char *host, wk_text *t)
{
    if (!s->samples) return;
    wk_prom_family(t, "extrace_api_clock_offset_seconds", "gauge",
                   "The API host's clock minus this worker's, estimated from the Date headers of its answers.");
    wk_prom_sample(t, "extrace_api_clock_offset_seconds", "host", host, (double)wk_skew_offset(s) / 1e9);
    wk_prom_family(t, "extrace_api_clock_offset_uncertainty_seconds", "gauge",
                   "Half the width of the interval the API clock offset is known to lie in.");
    wk_prom_sample(t, "extrace_api_clock_offset_uncertainty_seconds", "host", host,
                   (double)wk_skew_uncertainty(s) / 1e9);
}
