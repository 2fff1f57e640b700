/* live_model.c — the pure part of the live view (live.h): URLs, a
 * worker's answers, the merged document. No I/O; times come in. */
#include "store/live.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/clock.h"

int slv_urls_parse(const char *csv, char urls[][SLV_URL_MAX], size_t max, size_t *n, char *why, size_t whylen)
{
    *n = 0;
    const char *p = csv ? csv : "";
    while (1) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        while (len && (p[0] == ' ')) p++, len--;
        while (len && p[len - 1] == ' ') len--;
        int scheme = (len > 7 && strncasecmp(p, "http://", 7) == 0) || (len > 8 && strncasecmp(p, "https://", 8) == 0);
        if (!scheme || len >= SLV_URL_MAX || memchr(p, '?', len) || memchr(p, '#', len)) {
            snprintf(why, whylen, "\"%.*s\" is not a worker's admin base URL (http://HOST:PORT, at most %d bytes, "
                     "no query)", (int)(len > 200 ? 200 : len), p, SLV_URL_MAX - 1);
            return -1;
        }
        if (*n == max) {
            snprintf(why, whylen, "more than %zu worker URLs", max);
            return -1;
        }
        while (len && p[len - 1] == '/') len--;
        memcpy(urls[*n], p, len);
        urls[(*n)++][len] = '\0';
        if (!comma) return 0;
        p = comma + 1;
    }
}

int slv_check_urls(const char *text, char *why, size_t whylen)
{
    char urls[SLV_MAX_WORKERS][SLV_URL_MAX]; /* 8 KiB */
    size_t n;
    return slv_urls_parse(text, urls, SLV_MAX_WORKERS, &n, why, whylen);
}

void slv_time(int64_t ns, char *out, size_t outlen)
{
    time_t s = (time_t)(ns / EX_NS_PER_SEC);
    struct tm tm;
    gmtime_r(&s, &tm);
    snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ns % EX_NS_PER_SEC / EX_NS_PER_MS));
}

void slv_worker_clear(slv_worker *w)
{
    json_decref(w->workflows);
    w->workflows = NULL;
}

/* A count field of the answer, -1 when absent or not an integer. */
static int64_t count_of(json_t *o, const char *name)
{
    json_t *v = json_object_get(o, name);
    return json_is_integer(v) && json_integer_value(v) >= 0 ? (int64_t)json_integer_value(v) : -1;
}

/* Check a list answer; its workflows (at most SLV_PAGE) with "worker" set
 * go to *out. 0, or -1 with why. */
static int parse_list(slv_worker *w, const char *body, size_t len, json_t **out, char *why, size_t whylen)
{
    json_error_t je;
    json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!doc) {
        snprintf(why, whylen, "the answer is not JSON (line %d: %s)", je.line, je.text);
        return -1;
    }
    json_t *list = json_object_get(doc, "workflows");
    json_t *worker = json_object_get(doc, "worker");
    if (!json_is_array(list) || !json_is_object(worker)) {
        snprintf(why, whylen, "the answer has no \"worker\" object and \"workflows\" array");
        json_decref(doc);
        return -1;
    }
    json_t *kept = json_array();
    json_t *url = json_string(w->url);
    size_t i;
    json_t *wf;
    json_array_foreach(list, i, wf) {
        if (json_array_size(kept) >= SLV_PAGE) break;
        if (!json_is_object(wf) || !json_is_string(json_object_get(wf, "key"))) {
            snprintf(why, whylen, "workflows[%zu] is not an object with a string \"key\"", i);
            json_decref(kept);
            kept = NULL;
            break;
        }
        json_object_set(wf, "worker", url);
        json_array_append(kept, wf);
    }
    json_decref(url);
    if (kept) {
        w->in_flight = count_of(worker, "inFlight");
        w->total = count_of(doc, "total");
        if (w->total < 0) w->total = (int64_t)json_array_size(list);
    }
    json_decref(doc);
    *out = kept;
    return kept ? 0 : -1;
}

void slv_worker_update(slv_worker *w, const char *curl_error, long status, const char *body, size_t len,
                       int64_t now_ns)
{
    char why[400];
    json_t *list = NULL;
    w->polled = 1;
    w->polled_ns = now_ns;
    if (curl_error)
        snprintf(w->error, sizeof w->error, "worker %s: no answer from GET /api/workflows: %s", w->url, curl_error);
    else if (status == 404)
        snprintf(w->error, sizeof w->error, "worker %s: GET /api/workflows answered 404 (is it an extrace worker "
                 "with the live API, and its --admin-listen address?)", w->url);
    else if (status != 200)
        snprintf(w->error, sizeof w->error, "worker %s: GET /api/workflows answered HTTP %ld: %.200s", w->url, status,
                 body ? body : "");
    else if (parse_list(w, body, len, &list, why, sizeof why) != 0)
        snprintf(w->error, sizeof w->error, "worker %s: GET /api/workflows: %s", w->url, why);
    slv_worker_clear(w);
    w->answered = list != NULL;
    if (!list) return;
    w->workflows = list;
    w->error[0] = '\0';
    w->answered_ns = now_ns;
}

/* {"url","ok","error","inFlight","total","listed","polled","answered"} of w. */
static json_t *worker_json(const slv_worker *w)
{
    char t1[40], t2[40];
    slv_time(w->polled_ns, t1, sizeof t1);
    slv_time(w->answered_ns, t2, sizeof t2);
    json_t *o = json_object();
    json_object_set_new(o, "url", json_string(w->url));
    json_object_set_new(o, "ok", json_boolean(w->answered));
    json_object_set_new(o, "error", w->answered ? json_null()
                                     : json_string(w->polled ? w->error : "not asked yet: the first poll is running"));
    json_object_set_new(o, "inFlight", w->answered && w->in_flight >= 0 ? json_integer(w->in_flight) : json_null());
    json_object_set_new(o, "total", w->answered ? json_integer(w->total) : json_null());
    json_object_set_new(o, "listed", json_integer((json_int_t)json_array_size(w->workflows)));
    json_object_set_new(o, "polled", w->polled_ns ? json_string(t1) : json_null());
    json_object_set_new(o, "answered", w->answered_ns ? json_string(t2) : json_null());
    return o;
}

static int str_is(json_t *o, const char *name, const char *want)
{
    const char *v = json_string_value(json_object_get(o, name));
    return v && strcmp(v, want) == 0;
}

json_t *slv_merged(const slv_worker *ws, size_t n, const char *trace_id, const char *status, int64_t now_ns)
{
    char t[40];
    slv_time(now_ns, t, sizeof t);
    json_t *doc = json_object(), *workers = json_array(), *all = json_array();
    json_int_t in_flight = 0;
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(workers, worker_json(&ws[i]));
        if (!ws[i].answered) continue;
        if (ws[i].in_flight > 0) in_flight += ws[i].in_flight;
        size_t k;
        json_t *wf;
        json_array_foreach(ws[i].workflows, k, wf) {
            if (trace_id && !str_is(wf, "traceId", trace_id)) continue;
            if (status && !str_is(wf, "status", status)) continue;
            json_array_append(all, wf);
        }
    }
    json_object_set_new(doc, "time", json_string(t));
    json_object_set_new(doc, "workers", workers);
    json_object_set_new(doc, "inFlight", json_integer(in_flight));
    json_object_set_new(doc, "workflows", all);
    if (!doc || !workers || !all) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

json_t *slv_find(const slv_worker *ws, size_t n, const char *key, const char *source, size_t *worker)
{
    for (size_t i = 0; i < n; i++) {
        size_t k;
        json_t *wf;
        json_array_foreach(ws[i].workflows, k, wf) {
            if (!str_is(wf, "key", key) || (source && *source && !str_is(wf, "source", source))) continue;
            *worker = i;
            return wf;
        }
    }
    return NULL;
}

json_t *slv_detail_events(const char *body, size_t len, char *why, size_t whylen)
{
    json_error_t je;
    json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!doc) {
        snprintf(why, whylen, "the answer is not JSON (line %d: %s)", je.line, je.text);
        return NULL;
    }
    json_t *events = json_object_get(doc, "events"), *out = NULL;
    if (!json_is_array(events)) snprintf(why, whylen, "the answer has no \"events\" array");
    else if (json_array_size(events) > SLV_MAX_EVENTS)
        snprintf(why, whylen, "%zu events, more than %d", json_array_size(events), SLV_MAX_EVENTS);
    else {
        size_t i;
        json_t *e;
        json_array_foreach(events, i, e) {
            if (!json_is_object(e) || !json_is_string(json_object_get(e, "name"))) {
                snprintf(why, whylen, "events[%zu] is not an object with a string \"name\"", i);
                json_decref(doc);
                return NULL;
            }
        }
        out = json_incref(events);
    }
    json_decref(doc);
    return out;
}
