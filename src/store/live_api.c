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

/* The stored trace as /api/v2/traces answers it, or "null" when the store
 * has none yet, appended to b. 0, or -1 after a 400/500 answer. */
static int stored_json(sq_ctx *ctx, const sq_request *req, const char *id, sq_buf *b, ex_http_resp *resp)
{
    uint8_t tid[16];
    char why[256];
    if (sq_trace_id_parse(id, tid, why, sizeof why) < 0) return sq_reply_text(ctx, resp, 400, "%s", why), -1;
    const char *tenant = sq_header(req, "X-Scope-OrgID");
    if (tenant && !*tenant) tenant = NULL;
    if (tenant && sdb_tenant_check(tenant, strlen(tenant), why, sizeof why) < 0)
        return sq_reply_text(ctx, resp, 400, "X-Scope-OrgID: %s", why), -1;
    sdb_trace *t = NULL;
    int rc = sdb_trace_get(ctx->db, tenant, tid, &t);
    if (rc < 0) return sq_reply_text(ctx, resp, 500, "reading trace %s: %s", id, sdb_errmsg(ctx->db)), -1;
    if (rc == 0) {
        sqb_lit(b, "null");
        return 0;
    }
    char *text = NULL;
    size_t len = 0;
    rc = sq_trace_json(t->data, 2, 0, &text, &len);
    sdb_trace_free(t);
    if (rc != 0) return sq_reply_text(ctx, resp, 500, "trace %s: out of memory or too large", id), -1;
    sqb_raw(b, text, len);
    ex_free(text);
    return 0;
}

/* {"time","workers","inFlight","workflow": W with "events" or null} for trace id. */
static json_t *live_of_trace(slv *lv, const char *id)
{
    char hex[33];
    size_t n = strlen(id), k = 0;
    memset(hex, '0', 32 - (n < 32 ? n : 32));
    for (size_t i = 0; i < n && i < 32; i++) hex[32 - n + i] = (char)(id[i] >= 'A' && id[i] <= 'F' ? id[i] + 32 : id[i]);
    hex[32] = '\0';
    size_t nw = 0;
    const slv_worker *ws = lv ? slv_workers(lv, &nw) : NULL;
    json_t *doc = slv_merged(ws, nw, hex, NULL, ex_clock_now(ex_clock_real()));
    if (!doc) return NULL;
    json_t *wf = json_array_get(json_object_get(doc, "workflows"), 0);
    json_t *one = wf ? json_deep_copy(wf) : json_null();
    if (wf && slv_find(ws, nw, json_string_value(json_object_get(wf, "key")),
                       json_string_value(json_object_get(wf, "source")), &k)) {
        int64_t fetched = 0;
        json_t *events = slv_watch(lv, json_string_value(json_object_get(wf, "key")),
                                   json_string_value(json_object_get(wf, "source")), k, &fetched);
        json_object_set_new(one, "events", events ? json_incref(events) : json_array());
    }
    json_object_del(doc, "workflows");
    json_object_set_new(doc, "workflow", one);
    return doc;
}

int slv_trace_route(slv *lv, sq_ctx *ctx, const sq_request *req, ex_http_resp *resp)
{
    static const char prefix[] = "/api/ui/trace/";
    if (strncmp(req->path, prefix, sizeof prefix - 1) != 0) return 0;
    const char *id = req->path + sizeof prefix - 1;
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
        reply_error(resp, 405, "use GET");
        ex_http_resp_header(resp, "Allow", "GET, HEAD");
        return 1;
    }
    sq_buf b;
    sqb_init(&b, SQ_RESPONSE_MAX);
    sqb_lit(&b, "{\"stored\":");
    if (stored_json(ctx, req, id, &b, resp) != 0) {
        sqb_free(&b);
        return 1;
    }
    json_t *live = live_of_trace(lv, id);
    char *text = live ? json_dumps(live, JSON_COMPACT) : NULL;
    json_decref(live);
    sqb_lit(&b, ",\"live\":");
    if (text) sqb_lit(&b, text);
    else b.failed = SQB_NOMEM;
    ex_free(text);
    sqb_lit(&b, "}");
    sq_reply_buf(ctx, resp, &b, "application/json");
    ex_http_resp_header(resp, "Cache-Control", "no-store");
    return 1;
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
