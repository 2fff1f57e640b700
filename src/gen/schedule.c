#include "gen/schedule.h"

#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/duration.h"

/* One bound of a range: n bytes of s, named `which` in errors (NULL: the
 * whole text is one duration). */
static int parse_bound(const char *s, size_t n, const char *which, int64_t *out, char *why, size_t whylen)
{
    char buf[64];
    const char *reason;
    if (n == 0) {
        if (which) snprintf(why, whylen, "missing %s bound (write LO-HI like 1s-19s)", which);
        else snprintf(why, whylen, "empty (write LO-HI like 1s-19s, or one duration like 500ms)");
        return -1;
    }
    if (n >= sizeof buf) {
        snprintf(why, whylen, "%s \"%.20s…\" is too long", which ? which : "duration", s);
        return -1;
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (ex_duration_parse(buf, out, &reason)) {
        if (which) snprintf(why, whylen, "%s bound \"%s\": not a duration: %s", which, buf, reason);
        else snprintf(why, whylen, "not a duration: %s (write LO-HI like 1s-19s, or one duration)", reason);
        return -1;
    }
    return 0;
}

int gen_range_parse(const char *text, gen_range *out, char *why, size_t whylen)
{
    if (!text) text = "";
    const char *dash = strchr(text, '-');
    if (!dash) {
        if (parse_bound(text, strlen(text), NULL, &out->lo, why, whylen)) return -1;
        out->hi = out->lo;
        return 0;
    }
    if (strchr(dash + 1, '-')) {
        snprintf(why, whylen, "more than one '-' (write LO-HI like 1s-19s)");
        return -1;
    }
    gen_range r;
    if (parse_bound(text, (size_t)(dash - text), "lower", &r.lo, why, whylen) ||
        parse_bound(dash + 1, strlen(dash + 1), "upper", &r.hi, why, whylen))
        return -1;
    if (r.lo > r.hi) {
        char a[EX_DURATION_STR_MAX], b[EX_DURATION_STR_MAX];
        snprintf(why, whylen, "lower bound %s is above upper bound %s", ex_duration_format(r.lo, a),
                 ex_duration_format(r.hi, b));
        return -1;
    }
    *out = r;
    return 0;
}

int gen_range_check(const char *text, char *why, size_t whylen)
{
    gen_range r;
    return gen_range_parse(text, &r, why, whylen);
}

char *gen_range_format(const gen_range *r, char *buf)
{
    char a[EX_DURATION_STR_MAX], b[EX_DURATION_STR_MAX];
    if (r->lo == r->hi) snprintf(buf, GEN_RANGE_STR_MAX, "%s", ex_duration_format(r->lo, a));
    else snprintf(buf, GEN_RANGE_STR_MAX, "%s-%s", ex_duration_format(r->lo, a), ex_duration_format(r->hi, b));
    return buf;
}

int64_t gen_range_draw(const gen_range *r, ex_rng *rng)
{
    return r->hi > r->lo ? ex_rng_range(rng, r->lo, r->hi + 1) : r->lo;
}

int64_t gen_batch_wait_draw(int64_t wait, ex_rng *rng)
{
    return wait > 0 ? ex_rng_range(rng, wait / 2, wait) : 0;
}

void gen_schedule_init(gen_schedule *s, const gen_plan *plan, ex_rng *rng, int64_t start_ns)
{
    s->plan = *plan;
    s->rng = rng;
    s->start_ns = start_ns;
    s->last_batch_ns = INT64_MIN / 2; /* the first batch waits for no tick */
}

int gen_plan_batch_start(const gen_plan *p, int64_t i) { return i % p->batch_size == 0; }

int64_t gen_plan_batches(const gen_plan *p) { return (p->count + p->batch_size - 1) / p->batch_size; }

/* Rate mode: when event i is due. */
static int64_t rate_due(const gen_schedule *s, int64_t i)
{
    return s->start_ns + (int64_t)((double)i * (double)EX_NS_PER_SEC / s->plan.rate);
}

int64_t gen_schedule_due(gen_schedule *s, int64_t next, int64_t now_ns, gen_gap_kind *kind)
{
    if (s->plan.rate > 0) {
        *kind = GEN_GAP_RATE;
        return rate_due(s, next);
    }
    if (gen_plan_batch_start(&s->plan, next)) {
        *kind = GEN_GAP_BATCH;
        return now_ns + gen_batch_wait_draw(s->plan.batch_wait, s->rng);
    }
    *kind = GEN_GAP_EVENT;
    return now_ns + gen_range_draw(&s->plan.event_wait, s->rng);
}

int64_t gen_schedule_due_by(const gen_schedule *s, int64_t now_ns)
{
    int64_t count = s->plan.count;
    if (now_ns < s->start_ns) return 0;
    double est = (double)(now_ns - s->start_ns) * s->plan.rate / (double)EX_NS_PER_SEC + 1.0;
    int64_t k = est >= (double)count ? count : (int64_t)est;
    /* The estimate rounds differently from rate_due: settle on its answer. */
    while (k < count && rate_due(s, k) <= now_ns) k++;
    while (k > 0 && rate_due(s, k - 1) > now_ns) k--;
    return k;
}

int64_t gen_schedule_batch(gen_schedule *s, int64_t sent, int64_t now_ns, int64_t max, int64_t tick_ns,
                           int64_t *wake_ns)
{
    int64_t due = gen_schedule_due_by(s, now_ns) - sent;
    int64_t tick_end = s->last_batch_ns + tick_ns;
    if (due >= max || (due > 0 && now_ns >= tick_end)) {
        s->last_batch_ns = now_ns;
        return due < max ? due : max;
    }
    int64_t next = sent < s->plan.count ? rate_due(s, sent) : now_ns;
    *wake_ns = next > tick_end ? next : tick_end;
    return 0;
}
