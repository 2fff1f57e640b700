#include "sim/routes.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "core/uuid.h"
#include "sim/faults.h"
#include "sim/persona.h"

#define ALLOW_GET "GET, HEAD"
#define ALLOW_GET_POST "GET, HEAD, POST"
#define ITEM_PREFIX "/workflows/"
#define ITEM_PREFIX_LEN (sizeof ITEM_PREFIX - 1)
#define PLAN_PREFIX "/debug/plan/"
#define PLAN_PREFIX_LEN (sizeof PLAN_PREFIX - 1)

static const char health_body[] = "{\"status\":\"ok\"}";
static const char nomem_body[] = "{\"error\":\"out of memory while answering\"}";

void sim_api_init(sim_api *api, const sim_env *env, size_t max_workflows, size_t max_evicted)
{
    memset(api, 0, sizeof *api);
    api->env = *env;
    sim_store_init(&api->store, max_workflows, max_evicted);
    sim_buf_init(&api->reply, SIM_REPLY_MAX);
}

void sim_api_destroy(sim_api *api)
{
    sim_store_destroy(&api->store);
    sim_buf_free(&api->reply);
}

static int id_byte_ok(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
}

/* A printable copy of s for messages: other bytes as \xNN, cut at ~64. */
static void printable(const char *s, size_t len, char *out, size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o + 8 < outlen; i++) {
        unsigned char c = (unsigned char)s[i];
        if (o >= 64) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        if (c > 0x20 && c < 0x7f && c != '"' && c != '\\') out[o++] = (char)c;
        else o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", c);
    }
    out[o] = '\0';
}

int sim_id_check(const char *id, size_t len, const char *source, char *why, size_t whylen)
{
    char shown[96];
    if (len == 0) {
        snprintf(why, whylen, "workflow id \"\" (%s): must not be empty", source);
        return -1;
    }
    if (len > SIM_ID_MAX) {
        printable(id, len, shown, sizeof shown);
        snprintf(why, whylen, "workflow id \"%s\" (%s): %zu bytes, longer than the limit of %d", shown, source, len,
                 SIM_ID_MAX);
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        if (id_byte_ok((unsigned char)id[i])) continue;
        printable(id, len, shown, sizeof shown);
        snprintf(why, whylen,
                 "workflow id \"%s\" (%s): byte 0x%02x at offset %zu is not allowed (only A-Z a-z 0-9 . _ -)", shown,
                 source, (unsigned char)id[i], i);
        return -1;
    }
    return 0;
}

/* Reply with the reply buffer's contents; 500 if rendering ran out. */
static void reply_buffer(sim_api *api, sim_reply *rep, int status, int render_rc)
{
    rep->status = status;
    rep->body = api->reply.data;
    rep->body_len = api->reply.len;
    if (render_rc != 0 || !rep->body) {
        rep->status = 500;
        rep->body = nomem_body;
        rep->body_len = sizeof nomem_body - 1;
    }
}

static void reply_static(sim_reply *rep, int status, const char *body, size_t len)
{
    rep->status = status;
    rep->body = body;
    rep->body_len = len;
}

static void reply_error(sim_api *api, const sim_request *req, sim_reply *rep, int status, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* An error reply {"error":"…"}; the message is also logged at debug. */
static void reply_error(sim_api *api, const sim_request *req, sim_reply *rep, int status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char path[96];
    printable(req->path, strlen(req->path), path, sizeof path);
    ex_debug("api", "%s %s -> %d: %s", req->method, path, status, msg);
    sim_buf_reset(&api->reply);
    reply_buffer(api, rep, status, sim_render_error(&api->reply, msg));
}

static void reply_workflow(sim_api *api, sim_reply *rep, int status, const sim_record *r)
{
    sim_buf_reset(&api->reply);
    reply_buffer(api, rep, status,
                 sim_render_workflow(&api->reply, r->id, &r->wf, api->env.advance == SIM_ADVANCE_ON_TIME));
}

static void reply_store_refusal(sim_api *api, const sim_request *req, sim_reply *rep, int rc, const char *id)
{
    if (rc == SIM_STORE_FULL)
        reply_error(api, req, rep, 503,
                    "cannot add workflow %s: the simulator holds --max-workflows=%zu workflows and none has "
                    "completed, so none can be evicted",
                    id, api->store.max_workflows);
    else
        reply_error(api, req, rep, 503, "cannot add workflow %s: out of memory", id);
}

/* GET /workflows/{id}: the seed's GetWorkflow. */
static void get_workflow(sim_api *api, const sim_request *req, sim_reply *rep, const char *id)
{
    sim_record *r = sim_store_find(&api->store, id);
    if (r) {
        if (sim_workflow_poll(&r->wf, r->id, &api->env)) sim_store_completed(&api->store, r);
        reply_workflow(api, rep, 200, r);
        return;
    }
    if (sim_store_was_evicted(&api->store, id)) {
        reply_error(api, req, rep, 404, "workflow %s was evicted", id);
        return;
    }
    int rc = sim_store_add(&api->store, id, &api->env, &r);
    if (rc != SIM_STORE_OK) {
        reply_store_refusal(api, req, rep, rc, id);
        return;
    }
    ex_debug("sim", "Workflow: %s created on first poll", id);
    /* The first poll does not advance; on time, the first stage starts with the workflow. */
    if (api->env.advance == SIM_ADVANCE_ON_TIME && sim_workflow_catch_up(&r->wf, r->id, &api->env))
        sim_store_completed(&api->store, r);
    reply_workflow(api, rep, 200, r);
}

/* The workflowId of a POST body into id: a new GUID when the body is
 * empty or has no workflowId. 0, or -1 after an error reply. */
static int post_body_id(sim_api *api, const sim_request *req, sim_reply *rep, char *id, size_t idlen)
{
    size_t i = 0;
    while (i < req->body_len && strchr(" \t\r\n", req->body[i])) i++;
    if (i == req->body_len) {
        ex_uuid4(api->env.rng, id);
        return 0;
    }
    json_error_t err;
    json_t *doc = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &err);
    if (!doc) {
        reply_error(api, req, rep, 400, "request body: not valid JSON: %s (line %d, column %d)", err.text, err.line,
                    err.column);
        return -1;
    }
    int rc = -1;
    json_t *v = json_is_object(doc) ? json_object_get(doc, "workflowId") : NULL;
    char why[384];
    if (!json_is_object(doc)) {
        reply_error(api, req, rep, 400, "request body: expected a JSON object like {\"workflowId\":\"...\"}");
    } else if (!v || json_is_null(v)) {
        ex_uuid4(api->env.rng, id);
        rc = 0;
    } else if (!json_is_string(v)) {
        reply_error(api, req, rep, 400, "request body: workflowId must be a string");
    } else if (sim_id_check(json_string_value(v), json_string_length(v), "request body", why, sizeof why)) {
        reply_error(api, req, rep, 400, "%s", why);
    } else {
        snprintf(id, idlen, "%s", json_string_value(v));
        rc = 0;
    }
    json_decref(doc);
    return rc;
}

/* POST /workflows: create, as the seed's lazy create but explicit. */
static void post_workflow(sim_api *api, const sim_request *req, sim_reply *rep)
{
    char id[SIM_ID_MAX + 1];
    if (post_body_id(api, req, rep, id, sizeof id)) return;
    if (sim_store_find(&api->store, id)) {
        reply_error(api, req, rep, 409, "workflow %s already exists", id);
        return;
    }
    if (sim_store_was_evicted(&api->store, id)) {
        reply_error(api, req, rep, 409, "workflow %s was evicted", id);
        return;
    }
    sim_record *r;
    int rc = sim_store_add(&api->store, id, &api->env, &r);
    if (rc != SIM_STORE_OK) {
        reply_store_refusal(api, req, rep, rc, id);
        return;
    }
    ex_debug("sim", "Workflow: %s created by POST", id);
    if (api->env.advance == SIM_ADVANCE_ON_TIME && sim_workflow_catch_up(&r->wf, r->id, &api->env))
        sim_store_completed(&api->store, r);
    snprintf(rep->location, sizeof rep->location, ITEM_PREFIX "%s", id);
    reply_workflow(api, rep, 201, r);
}

static int list_one(const sim_record *r, void *arg)
{
    sim_buf *b = arg;
    if (b->len > 0 && b->data[b->len - 1] != '[' && sim_buf_put(b, ",", 1)) return 1;
    return sim_buf_json_string(b, r->id, strlen(r->id)) != 0;
}

/* On time, every workflow moves whether polled or not: bring them all to
 * now before a listing by status. */
static void catch_up_all(sim_api *api)
{
    if (api->env.advance != SIM_ADVANCE_ON_TIME) return;
    for (sim_record *r = api->store.by_id; r; r = r->hh.next)
        if (sim_workflow_catch_up(&r->wf, r->id, &api->env)) sim_store_completed(&api->store, r);
}

/* {"name":<ns or null>, as the JSON of one planned or actual instant. */
static int put_ns(sim_buf *b, const char *name, int64_t ns)
{
    if (ns == SIM_NO_TIME) return sim_buf_printf(b, ",\"%s\":null", name);
    return sim_buf_printf(b, ",\"%s\":%lld", name, (long long)ns);
}

/* GET /debug/plan/{id}: what each entity planned and did, in unix ns. */
static void get_plan(sim_api *api, const sim_request *req, sim_reply *rep, const char *id)
{
    const sim_record *r = sim_store_find(&api->store, id);
    if (!r) {
        reply_error(api, req, rep, 404, "workflow %s is not held", id);
        return;
    }
    sim_buf *b = &api->reply;
    const sim_workflow *w = &r->wf;
    sim_buf_reset(b);
    int rc = sim_buf_puts(b, "{\"workflowId\":");
    if (!rc) rc = sim_buf_json_string(b, id, strlen(id));
    if (!rc) rc = sim_buf_printf(b, ",\"advance\":\"%s\"", sim_advance_name(api->env.advance));
    if (!rc) rc = put_ns(b, "startUnixNano", w->start_ns);
    if (!rc) rc = put_ns(b, "endUnixNano", w->end_ns);
    if (!rc) rc = sim_buf_puts(b, ",\"entities\":[");
    for (int i = 0; !rc && i < w->nentities; i++) {
        const sim_entity *e = &w->entities[i];
        sim_status end = e->after_s[SIM_COMPLETED] != SIM_NOT_PLANNED ? SIM_COMPLETED : SIM_FAILED;
        rc = sim_buf_printf(b, "%s{\"entityType\":\"%s\",\"plannedEndStatus\":\"%s\"", i ? "," : "",
                            sim_stage_name(e->type), sim_status_name(end));
        if (!rc) rc = put_ns(b, "startUnixNano", e->start_ns);
        if (!rc) rc = put_ns(b, "plannedProcessingUnixNano", sim_entity_planned(e, SIM_PROCESSING, &api->env));
        if (!rc) rc = put_ns(b, "processingUnixNano", e->processing_ns);
        if (!rc) rc = put_ns(b, "plannedEndUnixNano", sim_entity_planned(e, end, &api->env));
        if (!rc) rc = put_ns(b, "endUnixNano", e->end_ns);
        if (!rc) rc = sim_buf_put(b, "}", 1);
    }
    if (!rc) rc = sim_buf_puts(b, "]}");
    reply_buffer(api, rep, 200, rc);
}

/* GET /workflows?status=S&limit=N */
static void list_workflows(sim_api *api, const sim_request *req, sim_reply *rep)
{
    const char *status_arg = req->query ? req->query(req->query_ctx, "status") : NULL;
    const char *limit_arg = req->query ? req->query(req->query_ctx, "limit") : NULL;
    sim_status status = SIM_INITIALIZING;
    if (status_arg && sim_status_parse(status_arg, &status)) {
        char shown[96];
        printable(status_arg, strlen(status_arg), shown, sizeof shown);
        reply_error(api, req, rep, 400,
                    "query status=\"%s\": not a status (Initializing, Processing, Completed, Failed)", shown);
        return;
    }
    long limit = SIM_LIST_DEFAULT;
    if (limit_arg) {
        char *end;
        errno = 0;
        limit = strtol(limit_arg, &end, 10);
        if (!*limit_arg || *end || errno || limit < 1 || limit > SIM_LIST_MAX) {
            char shown[96];
            printable(limit_arg, strlen(limit_arg), shown, sizeof shown);
            reply_error(api, req, rep, 400, "query limit=\"%s\": must be an integer from 1 to %d", shown,
                        SIM_LIST_MAX);
            return;
        }
    }
    catch_up_all(api);
    sim_buf_reset(&api->reply);
    int rc = sim_buf_puts(&api->reply, "{\"workflowIds\":[");
    if (!rc) sim_store_each(&api->store, status_arg == NULL, status, (size_t)limit, list_one, &api->reply);
    if (!rc) rc = sim_buf_puts(&api->reply, "]}");
    reply_buffer(api, rep, 200, rc || api->reply.overflow);
}

static int is_get(const char *m) { return strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0; }

static void bad_method(sim_api *api, const sim_request *req, sim_reply *rep, const char *allow)
{
    rep->allow = allow;
    reply_error(api, req, rep, 405, "method %s not allowed on %s (allowed: %s)", req->method,
                strncmp(req->path, ITEM_PREFIX, ITEM_PREFIX_LEN) == 0 ? "/workflows/{workflowId}" : req->path,
                allow);
}

static void route(sim_api *api, const sim_request *req, sim_reply *rep)
{
    const char *path = req->path;
    if (req->body_too_large) {
        reply_error(api, req, rep, 413, "request body larger than %d bytes", SIM_BODY_MAX);
    } else if (strcmp(path, "/healthz") == 0) {
        if (is_get(req->method)) reply_static(rep, 200, health_body, sizeof health_body - 1);
        else bad_method(api, req, rep, ALLOW_GET);
    } else if (strcmp(path, "/openapi.json") == 0) {
        size_t len;
        const char *doc = sim_openapi_json(&len);
        if (is_get(req->method)) reply_static(rep, 200, doc, len);
        else bad_method(api, req, rep, ALLOW_GET);
    } else if (strcmp(path, "/workflows") == 0) {
        if (is_get(req->method)) list_workflows(api, req, rep);
        else if (strcmp(req->method, "POST") == 0) post_workflow(api, req, rep);
        else bad_method(api, req, rep, ALLOW_GET_POST);
    } else if (api->expose_plan && strncmp(path, PLAN_PREFIX, PLAN_PREFIX_LEN) == 0 && path[PLAN_PREFIX_LEN] &&
               !strchr(path + PLAN_PREFIX_LEN, '/')) {
        if (is_get(req->method)) get_plan(api, req, rep, path + PLAN_PREFIX_LEN);
        else bad_method(api, req, rep, ALLOW_GET);
    } else if (strncmp(path, ITEM_PREFIX, ITEM_PREFIX_LEN) == 0 && path[ITEM_PREFIX_LEN] &&
               !strchr(path + ITEM_PREFIX_LEN, '/')) {
        const char *id = path + ITEM_PREFIX_LEN;
        char why[384];
        if (!is_get(req->method)) bad_method(api, req, rep, ALLOW_GET);
        else if (sim_id_check(id, strlen(id), "path", why, sizeof why)) reply_error(api, req, rep, 400, "%s", why);
        else get_workflow(api, req, rep, id);
    } else {
        char shown[96];
        printable(path, strlen(path), shown, sizeof shown);
        reply_error(api, req, rep, 404, "no route for %s %s (see /openapi.json)", req->method, shown);
    }
}

int sim_reply_header(sim_reply *rep, const char *name, const char *fmt, ...)
{
    if (rep->nheaders >= SIM_REPLY_HEADERS) return -1;
    size_t room = sizeof rep->hbuf - rep->hused;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(rep->hbuf + rep->hused, room, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= room) {
        rep->hbuf[rep->hused] = '\0';
        return -1;
    }
    rep->hname[rep->nheaders] = name;
    rep->hvalue[rep->nheaders++] = rep->hbuf + rep->hused;
    rep->hused += (size_t)n + 1;
    return 0;
}

const char *sim_reply_header_get(const sim_reply *rep, const char *name)
{
    for (int i = 0; i < rep->nheaders; i++)
        if (strcasecmp(rep->hname[i], name) == 0) return rep->hvalue[i];
    return NULL;
}

int sim_api_faultable(const sim_api *api, const char *method, const char *path)
{
    if (!api->persona) return sim_faults_applies(method, path);
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) return 0;
    return api->persona->faultable(path);
}

static void count(sim_api_stats *st, int status)
{
    st->requests++;
    switch (status) {
    case 400: st->bad_request++; break;
    case 404: st->not_found++; break;
    case 405: st->bad_method++; break;
    case 409: st->conflict++; break;
    case 413: st->too_large++; break;
    case 503: st->unavailable++; break;
    case 500: st->internal++; break;
    default: if (status >= 200 && status < 300) st->ok++; break;
    }
}

void sim_api_handle(sim_api *api, const sim_request *req, sim_reply *rep)
{
    memset(rep, 0, offsetof(sim_reply, hbuf));
    rep->hbuf[0] = '\0';
    if (api->persona && !(strcmp(req->path, "/healthz") == 0 && is_get(req->method)))
        api->persona->handle(api, req, rep);
    else
        route(api, req, rep);
    count(&api->stats, rep->status);
}
