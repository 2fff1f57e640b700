/* query_ui.c — GET /api/ui/workflows: the web UI's workflow list, counted,
 * filtered, sorted and paged by the store (db_roots.c) so that the page
 * stays fast at any number of workflows. Not part of Tempo's API; the
 * format is in docs/query.md. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "store/query_int.h"

/* What the dashboard lists: the worker's workflow root spans. */
#define UI_SERVICE "Tracing.Worker"
#define UI_ROOT_NAME "Workflow"
#define UI_LIMIT_DEFAULT 50
#define UI_LIMIT_MAX 1000
#define UI_OFFSET_MAX 1000000000
#define UI_PREFIX_MAX 200

static const struct {
    const char *name;
    sdb_roots_sort sort;
} sorts[] = {
    {"start", SDB_ROOTS_START},     {"end", SDB_ROOTS_END}, {"duration", SDB_ROOTS_DURATION},
    {"status", SDB_ROOTS_OUTCOME},  {"id", SDB_ROOTS_ID},   {"message", SDB_ROOTS_MESSAGE},
    {"namespace", SDB_ROOTS_NAMESPACE},
};

static const char *const outcomes[] = {"ok", "error", "timeout", "unset"};

/* Read the parameters into q; -1 after a 400 answer. */
static int ui_params(sq_ctx *ctx, const sq_request *req, ex_http_resp *resp, sdb_roots_query *q)
{
    if (sq_time_arg(ctx, req, resp, "start", 0, &q->start_ns) < 0 ||
        sq_time_arg(ctx, req, resp, "end", 1, &q->end_ns) < 0 ||
        sq_count_arg(ctx, req, resp, "limit", UI_LIMIT_DEFAULT, UI_LIMIT_MAX, &q->limit) < 0 ||
        sq_count_arg(ctx, req, resp, "offset", 0, UI_OFFSET_MAX, &q->offset) < 0)
        return -1;
    if (q->start_ns && q->end_ns && q->end_ns < q->start_ns) {
        sq_reply_text(ctx, resp, 400, "end=%s is before start=%s", sq_arg(req, "end"), sq_arg(req, "start"));
        return -1;
    }
    const char *v = sq_arg(req, "sort");
    if (v && *v) {
        size_t i = 0;
        while (i < sizeof sorts / sizeof sorts[0] && strcmp(sorts[i].name, v) != 0) i++;
        if (i == sizeof sorts / sizeof sorts[0]) {
            sq_reply_text(ctx, resp, 400,
                          "sort=\"%.100s\": expected start, end, duration, status, id, message or namespace", v);
            return -1;
        }
        q->sort = sorts[i].sort;
    }
    v = sq_arg(req, "order");
    q->descending = !v || !*v || strcmp(v, "desc") == 0;
    if (v && *v && strcmp(v, "desc") != 0 && strcmp(v, "asc") != 0) {
        sq_reply_text(ctx, resp, 400, "order=\"%.100s\": expected asc or desc", v);
        return -1;
    }
    v = sq_arg(req, "status");
    if (v && *v) {
        size_t i = 0;
        while (i < 4 && strcmp(outcomes[i], v) != 0) i++;
        if (i == 4) {
            sq_reply_text(ctx, resp, 400, "status=\"%.100s\": expected ok, error, timeout or unset", v);
            return -1;
        }
        q->outcome = outcomes[i];
    }
    q->id_prefix = sq_arg(req, "id");
    if (q->id_prefix && strlen(q->id_prefix) > UI_PREFIX_MAX) {
        sq_reply_text(ctx, resp, 400, "id=\"%.40s…\": longer than %d bytes", q->id_prefix, UI_PREFIX_MAX);
        return -1;
    }
    q->ns = sq_arg(req, "namespace");
    q->name = UI_ROOT_NAME;
    q->service = UI_SERVICE;
    return 0;
}

static int row_json(void *arg, const sdb_root_row *r)
{
    sq_buf *b = arg;
    if (b->len && b->p[b->len - 1] == '}') sqb_raw(b, ",", 1);
    sqb_lit(b, "{\"traceID\":");
    sqb_hex(b, r->trace_id, 16);
    sqb_lit(b, ",\"workflowId\":");
    sqb_jstr(b, r->workflow_id);
    sqb_lit(b, ",\"namespace\":");
    sqb_jstr(b, r->ns);
    sqb_lit(b, ",\"result\":");
    sqb_jstr(b, r->outcome);
    sqb_printf(b, ",\"statusCode\":%d,\"statusMessage\":", r->status);
    sqb_jstr(b, r->message);
    int64_t dur = r->end_ns > r->start_ns ? r->end_ns - r->start_ns : 0;
    sqb_printf(b,
               ",\"startTimeUnixNano\":\"%" PRId64 "\",\"endTimeUnixNano\":\"%" PRId64 "\",\"durationNanos\":\"%" PRId64
               "\"}",
               r->start_ns, r->end_ns, dur);
    return b->failed ? -1 : 0;
}

int sq_ui_workflows(sq_ctx *ctx, const sq_request *req, const char *tenant, ex_http_resp *resp)
{
    sdb_roots_query q = {0};
    if (ui_params(ctx, req, resp, &q) < 0) return 1;
    sq_buf rows, b;
    sqb_init(&rows, SQ_RESPONSE_MAX);
    sdb_roots_counts c;
    long n = sdb_roots_list(ctx->db, tenant, &q, &c, row_json, &rows);
    if (n < 0) {
        int failed = rows.failed;
        sqb_free(&rows);
        if (failed) return sq_reply_text(ctx, resp, 500, "out of memory building the response");
        return sq_reply_text(ctx, resp, 500, "listing workflows: %s", sdb_errmsg(ctx->db));
    }
    sqb_init(&b, SQ_RESPONSE_MAX);
    sqb_printf(&b,
               "{\"total\":%" PRId64 ",\"offset\":%zu,\"limit\":%zu,\"counts\":{\"total\":%" PRId64 ",\"ok\":%" PRId64
               ",\"error\":%" PRId64 ",\"timeout\":%" PRId64 ",\"unset\":%" PRId64 "},\"workflows\":[",
               c.matched, q.offset, q.limit, c.total, c.ok, c.error, c.timeout, c.unset);
    if (rows.len) sqb_raw(&b, rows.p, rows.len);
    if (rows.failed) b.failed = rows.failed;
    sqb_lit(&b, "]}");
    sqb_free(&rows);
    return sq_reply_buf(ctx, resp, &b, "application/json");
}
