#include "worker/hwm.h"

#include <string.h>
#include <uthash.h>

#include "core/mem.h"

struct wk_hwm_seen {
    UT_hash_handle hh;
    int64_t time_ns;
    char key[];
};

void wk_hwm_init(wk_hwm *h, int64_t mark_ns, int64_t overlap_ns)
{
    memset(h, 0, sizeof *h);
    h->mark_ns = mark_ns;
    h->overlap_ns = overlap_ns;
    h->pending_ns = mark_ns;
}

void wk_hwm_clear(wk_hwm *h)
{
    wk_hwm_seen *s, *tmp;
    HASH_ITER(hh, h->seen, s, tmp) {
        HASH_DELETE(hh, h->seen, s);
        ex_free(s);
    }
    h->nseen = 0;
}

int64_t wk_hwm_since(const wk_hwm *h) { return h->mark_ns - h->overlap_ns; }

int wk_hwm_offer(wk_hwm *h, const char *key, int64_t time_ns)
{
    wk_hwm_seen *s;
    if (time_ns < wk_hwm_since(h)) return 0;
    HASH_FIND_STR(h->seen, key, s);
    if (s) return 0;
    size_t len = strlen(key);
    if (!(s = ex_malloc(sizeof *s + len + 1))) return -1;
    s->time_ns = time_ns;
    memcpy(s->key, key, len + 1);
    HASH_ADD_KEYPTR(hh, h->seen, s->key, len, s);
    if (!s->hh.tbl) {
        ex_free(s);
        return -1;
    }
    h->nseen++;
    if (time_ns > h->pending_ns) h->pending_ns = time_ns;
    return 1;
}

void wk_hwm_forget(wk_hwm *h, const char *key)
{
    wk_hwm_seen *s;
    HASH_FIND_STR(h->seen, key, s);
    if (!s) return;
    HASH_DELETE(hh, h->seen, s);
    ex_free(s);
    h->nseen--;
}

int64_t wk_hwm_commit(wk_hwm *h)
{
    if (h->pending_ns > h->mark_ns) h->mark_ns = h->pending_ns;
    int64_t since = wk_hwm_since(h);
    wk_hwm_seen *s, *tmp;
    HASH_ITER(hh, h->seen, s, tmp) {
        if (s->time_ns >= since) continue;
        HASH_DELETE(hh, h->seen, s);
        ex_free(s);
        h->nseen--;
    }
    return h->mark_ns;
}
