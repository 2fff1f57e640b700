/* target_store_live.c — fuzz run for what the store reads from the --live
 * workers (store/live.h): a list answer, a detail's events, the URLs. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/mem.h"
#include "store/live.h"
#include "targets.h"
#include "targets_int.h"

#define SLV_FUZZ_URL "http://w:1"

/* A list answer: the worker's state follows from it, the merged view
 * holds exactly its workflows, each found again by key. */
static void store_live_list(const char *body, size_t len)
{
    slv_worker w;
    memset(&w, 0, sizeof w);
    snprintf(w.url, sizeof w.url, SLV_FUZZ_URL);
    slv_worker_update(&w, NULL, 200, body, len, 1);
    fuzz__check_terminated("store_live", "the error", w.error, sizeof w.error);
    if (w.answered != (w.workflows != NULL)) fuzz__fail("store_live", "answered %d but list %p", w.answered, (void *)w.workflows);
    if (!w.answered && strncmp(w.error, "worker " SLV_FUZZ_URL ": ", strlen("worker " SLV_FUZZ_URL ": ")) != 0)
        fuzz__fail("store_live", "a refused answer's error does not name the worker: %s", w.error);
    if (w.answered && json_array_size(w.workflows) > SLV_PAGE) fuzz__fail("store_live", "kept more than %d workflows", SLV_PAGE);
    json_t *doc = slv_merged(&w, 1, NULL, NULL, 1);
    if (!doc) fuzz__fail("store_live", "no merged document");
    size_t listed = json_array_size(json_object_get(doc, "workflows"));
    if (listed != (w.answered ? json_array_size(w.workflows) : 0))
        fuzz__fail("store_live", "merged %zu workflows of %zu", listed, json_array_size(w.workflows));
    char *text = json_dumps(doc, JSON_COMPACT);
    if (!text) fuzz__fail("store_live", "the merged document does not serialise");
    ex_free(text);
    size_t i, at;
    json_t *wf;
    json_array_foreach(json_object_get(doc, "workflows"), i, wf) {
        const char *key = json_string_value(json_object_get(wf, "key"));
        if (!key) fuzz__fail("store_live", "workflows[%zu] has no string key", i);
        if (!slv_find(&w, 1, key, NULL, &at) || at != 0) fuzz__fail("store_live", "workflow \"%s\" not found again", key);
        if (strcmp(json_string_value(json_object_get(wf, "worker")), SLV_FUZZ_URL) != 0) fuzz__fail("store_live", "no worker URL");
    }
    json_decref(doc);
    slv_worker_clear(&w);
}

static void store_live_events(const char *body, size_t len)
{
    char why[8];
    json_t *ev = slv_detail_events(body, len, why, sizeof why);
    if (!ev) fuzz__check_terminated("store_live", "the reason", why, sizeof why);
    else if (!json_is_array(ev) || json_array_size(ev) > SLV_MAX_EVENTS) fuzz__fail("store_live", "events not a bounded array");
    json_decref(ev);
}

static void store_live_urls(const char *s)
{
    char urls[SLV_MAX_WORKERS][SLV_URL_MAX], why[300];
    size_t n = 0;
    if (slv_urls_parse(s, urls, SLV_MAX_WORKERS, &n, why, sizeof why) != 0) {
        fuzz__check_terminated("store_live", "the reason", why, sizeof why);
        return;
    }
    if (n == 0 || n > SLV_MAX_WORKERS) fuzz__fail("store_live", "%zu URLs accepted", n);
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(urls[i]);
        if (strncasecmp(urls[i], "http", 4) != 0 || (len && urls[i][len - 1] == '/') || strchr(urls[i], '?'))
            fuzz__fail("store_live", "accepted URL \"%s\"", urls[i]);
    }
}

int fuzz_run_store_live(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    char *s = fuzz__cstr(data + 1, size - 1);
    switch (data[0] % 3) {
    case 0: store_live_list(s, size - 1); break;
    case 1: store_live_events(s, size - 1); break;
    default: store_live_urls(s); break;
    }
    ex_free(s);
    return 0;
}
