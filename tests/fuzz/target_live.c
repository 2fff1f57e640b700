/* target_live.c — the worker's live API query (src/worker/live.h): the
 * list's parameters and cursor come from the network. */
#include <jansson.h>
#include <string.h>

#include "core/mem.h"
#include "core/rng.h"
#include "targets.h"
#include "targets_int.h"
#include "worker/live.h"

#define LIVE_T0 INT64_C(1714557600000000000)

static const wk_live_ctx live_ctx = {"ns", "seed"};

/* Every promise of an accepted query; a cursor reads back what wrote it. */
static void live_check_query(const wk_live_query *q)
{
    if (q->limit < 1 || q->limit > WK_LIVE_LIMIT_MAX) fuzz__fail("live", "limit %d accepted", q->limit);
    if (q->status_mask >> MDL_NSTATUS) fuzz__fail("live", "status mask %#x names no status", q->status_mask);
    if (!q->has_cursor) return;
    char c[WK_LIVE_CURSOR_MAX + 1], why[300];
    wk_live_cursor(q->after_submitted, q->after_key, c);
    wk_live_query back;
    wk_live_query_init(&back);
    if (wk_live_query_param(&back, "cursor", c, why, sizeof why) || back.after_submitted != q->after_submitted ||
        strcmp(back.after_key, q->after_key) != 0)
        fuzz__fail("live", "cursor %s does not read back", c);
}

/* The page of q over three workflows: JSON, total <= 3, next null or a cursor. */
static void live_check_page(const wk_live_query *q)
{
    ex_rng rng;
    ex_rng_seed(&rng, 1);
    wk_sched_config cfg = {.initial_delay_ns = 1, .interval_ns = 1000000000, .max_entries = 8};
    wk_registry r;
    wk_registry_init(&r, &cfg, &rng);
    const char *keys[] = {"a/1", "b", "c\xc3\xa9"};
    for (int i = 0; i < 3; i++) wk_registry_add(&r, mdl_monitor_new(keys[i], LIVE_T0 + (i & 1), LIVE_T0, 1, 8, 64), LIVE_T0, NULL);
    wk_live_page p;
    if (wk_live_select(&r, q, "seed", &p) == 0) {
        sim_buf b;
        sim_buf_init(&b, WK_LIVE_MAX_PAGE);
        if (wk_live_render_page(&b, &live_ctx, "{}", &p) == 0) {
            json_t *j = json_loadb(b.data, b.len, 0, NULL);
            if (!j) fuzz__fail("live", "page is not JSON: %s", b.data);
            json_t *next = json_object_get(j, "next");
            if (json_integer_value(json_object_get(j, "total")) > 3 || (!json_is_null(next) && !json_is_string(next)))
                fuzz__fail("live", "page: %s", b.data);
            json_decref(j);
        }
        sim_buf_free(&b);
        wk_live_page_free(&p);
    }
    wk_registry_clear(&r);
}

int fuzz_run_live(const uint8_t *data, size_t size)
{
    char *buf = fuzz__cstr(data, size), *lines[16];
    size_t n = fuzz__split(buf, size, lines, 16);
    wk_live_query q;
    wk_live_query_init(&q);
    int ok = 1;
    for (size_t i = 0; i < n && ok; i++) {
        char *eq = strchr(lines[i], '='), why[300], tiny[8];
        const char *value = eq ? eq + 1 : NULL;
        if (eq) *eq = '\0';
        wk_live_query copy = q;
        int rc = wk_live_query_param(&q, lines[i], value, why, sizeof why);
        if (wk_live_query_param(&copy, lines[i], value, tiny, sizeof tiny) != rc)
            fuzz__fail("live", "the verdict depends on the message buffer");
        if (rc) {
            fuzz__check_terminated("live", "message", why, sizeof why);
            fuzz__check_terminated("live", "message", tiny, sizeof tiny);
            if (!strstr(why, "query parameter")) fuzz__fail("live", "message names no parameter: %s", why);
            ok = 0;
        }
    }
    if (ok) {
        live_check_query(&q);
        live_check_page(&q);
    }
    ex_free(buf);
    return 0;
}
