/* live_api.c — GET /api/live and /api/live/workflows/<key> (live.h), on
 * the query thread: answered from the poller's last answers, never by
 * waiting for a worker. */
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/mem.h"
#include "store/live.h"
#include "store/query_int.h"

#define PREFIX "/api/live/workflows/"

/* Hand a JSON document over as the answer (stolen). */
static int reply_json(ex_http_resp *resp, int status, json_t *doc)
{
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!text) return ex_http_resp_printf(resp, 500, "application/json", "{\"error\":\"out of memory\"}\n"), 1;
    ex_http_resp_set(resp, status, "application/json", text, strlen(text));
    ex_free(text);
    ex_http_resp_header(resp, "Cache-Control", "no-store");
    return 1;
}

static int reply_error(ex_http_resp *resp, int status, const char *message)
{
    json_t *doc = json_object();
    json_object_set_new(doc, "error", json_string(message));
    return reply_json(resp, status, doc);
}

static const char *arg(const sq_request *req, const char *name)
{
    const char *v = sq_arg(req, name);
    return v && *v ? v : NULL;
}

static int list(slv *lv, const sq_request *req, ex_http_resp *resp)
{
    size_t n = 0;
    const slv_worker *ws = lv ? slv_workers(lv, &n) : NULL;
    return reply_json(resp, 200, slv_merged(ws, n, arg(req, "traceId"), arg(req, "status"), ex_clock_now(ex_clock_real())));
}

static int one(slv *lv, const sq_request *req, const char *key, ex_http_resp *resp)
{
    if (!lv) return reply_error(resp, 404, "this store has no --live workers");
    size_t n, worker = 0;
    const slv_worker *ws = slv_workers(lv, &n);
    const char *source = arg(req, "source");
    json_t *wf = slv_find(ws, n, key, source, &worker);
    if (!wf) {
        char msg[700];
        snprintf(msg, sizeof msg, "workflow \"%.300s\"%s%.100s%s is not in flight on any worker that answers", key,
                 source ? " (source " : "", source ? source : "", source ? ")" : "");
        return reply_error(resp, 404, msg);
    }
    int64_t fetched = 0;
    json_t *events = slv_watch(lv, key, json_string_value(json_object_get(wf, "source")), worker, &fetched);
    json_t *doc = json_deep_copy(wf);
    json_object_set_new(doc, "events", events ? json_incref(events) : json_array());
    char t[40];
    slv_time(fetched, t, sizeof t);
    json_object_set_new(doc, "eventsFetched", fetched ? json_string(t) : json_null());
    return reply_json(resp, 200, doc);
}

int slv_route(slv *lv, const sq_request *req, ex_http_resp *resp)
{
    int is_list = strcmp(req->path, "/api/live") == 0 || strcmp(req->path, "/api/live/") == 0;
    int is_one = strncmp(req->path, PREFIX, strlen(PREFIX)) == 0;
    if (!is_list && !is_one) return 0;
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
        reply_error(resp, 405, "use GET");
        ex_http_resp_header(resp, "Allow", "GET, HEAD");
        return 1;
    }
    if (is_list) return list(lv, req, resp);
    const char *key = req->path + strlen(PREFIX);
    if (!*key) return reply_error(resp, 400, "no workflow key after /api/live/workflows/");
    return one(lv, req, key, resp);
}
