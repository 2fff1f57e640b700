/* trace_check.c — receiver output vs. the API's final answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "trace_check.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/iso8601.h"
#include "http.h"
#include "otel/ids.h"
#include "support.h"

#define MAX_STAGES 9 /* child spans: up to 8 stages and Queued */

long tc_http_get(const char *url, char **body)
{
    CURL *c = curl_easy_init();
    th_resp r = {0};
    CURLcode rc = c ? th_request_rc(c, "GET", url, NULL, &r) : CURLE_FAILED_INIT;
    curl_easy_cleanup(c);
    *body = r.body ? r.body : strdup("");
    return rc == CURLE_OK ? r.status : 0;
}

void tc_load(const char *path, tc_spans *out)
{
    char *text = ts_read_file(path, NULL);
    size_t cap = 1024;
    out->v = malloc(cap * sizeof *out->v);
    out->n = 0;
    for (char *line = text ? strtok(text, "\n") : NULL; line; line = strtok(NULL, "\n")) {
        json_error_t e;
        json_t *j = json_loads(line, 0, &e);
        if (!j) fail_msg("receiver line is not JSON: %s", e.text);
        if (out->n == cap) out->v = realloc(out->v, (cap *= 2) * sizeof *out->v);
        out->v[out->n++] = j;
    }
    free(text);
}

void tc_free(tc_spans *s)
{
    for (size_t i = 0; i < s->n; i++) json_decref(s->v[i]);
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

int tc_count_roots(const char *path)
{
    char *text = ts_read_file(path, NULL);
    int n = 0;
    for (const char *p = text; p && (p = strstr(p, "\"name\":\"Workflow\"")); p++) n++;
    free(text);
    return n;
}

int tc_distinct_roots(const char *path)
{
    tc_spans s;
    tc_load(path, &s);
    json_t *seen = json_object();
    for (size_t i = 0; i < s.n; i++) {
        const char *parent = json_string_value(json_object_get(s.v[i], "parentSpanId"));
        const char *tid = json_string_value(json_object_get(s.v[i], "traceId"));
        if (parent && !parent[0] && tid) json_object_set_new(seen, tid, json_true());
    }
    int n = (int)json_object_size(seen);
    json_decref(seen);
    tc_free(&s);
    return n;
}

static const char *str(json_t *obj, const char *key) { return json_string_value(json_object_get(obj, key)); }

static const char *attr(json_t *obj, const char *key)
{
    return json_string_value(json_object_get(json_object_get(obj, "attributes"), key));
}

static int64_t iso_ns(const char *s)
{
    int64_t ns = 0;
    const char *why = "missing";
    if (!s || ex_iso_parse(s, strlen(s), &ns, &why)) fail_msg("timestamp \"%s\": %s", s ? s : "(null)", why);
    return ns;
}

/* An int attribute ({"int":"<digits>"} in the receiver's file); fails when absent. */
static int64_t int_attr(json_t *obj, const char *key, const char *what)
{
    json_t *v = json_object_get(json_object_get(obj, "attributes"), key);
    const char *digits = json_string_value(json_object_get(v, "int"));
    if (!digits) fail_msg("%s: no int attribute %s", what, key);
    return strtoll(digits, NULL, 10);
}

/* Every status event lies inside its observation window, exactly: the
 * int bounds in unix ns (after absent on a first sighting). */
static void check_windows(json_t *span, const char *label, const char *id)
{
    size_t i;
    json_t *ev;
    json_array_foreach(json_object_get(span, "events"), i, ev) {
        if (strcmp(str(ev, "name"), "Submitted") == 0) continue;
        int64_t t = strtoll(str(ev, "timeUnixNano"), NULL, 10);
        int64_t before = int_attr(ev, "extrace.observed_before_unix_nano", str(ev, "name"));
        json_t *attrs = json_object_get(ev, "attributes");
        int has_after = json_object_get(attrs, "extrace.observed_after_unix_nano") != NULL;
        int64_t after = has_after ? int_attr(ev, "extrace.observed_after_unix_nano", str(ev, "name")) : t;
        if (t > before || t < after)
            fail_msg("%s: workflow %s: span %s event %s at %lld outside its window [%lld, %lld]", label, id,
                     str(span, "name"), str(ev, "name"), (long long)t, has_after ? (long long)after : -1LL,
                     (long long)before);
    }
}

static int64_t nano(json_t *span, const char *key)
{
    const char *s = str(span, key);
    if (!s) fail_msg("span without %s", key);
    return strtoll(s, NULL, 10);
}

/* The last status event of a span, and how many "Submitted" events it has. */
static const char *last_status_event(json_t *span, int *submitted)
{
    const char *last = NULL;
    size_t i;
    json_t *ev;
    *submitted = 0;
    json_array_foreach(json_object_get(span, "events"), i, ev) {
        const char *name = str(ev, "name");
        if (strcmp(name, "Submitted") == 0) (*submitted)++;
        else if (!strcmp(name, "Initializing") || !strcmp(name, "Processing") || !strcmp(name, "Completed") ||
                 !strcmp(name, "Failed"))
            last = name;
        else fail_msg("unexpected event \"%s\"", name);
    }
    return last;
}

/* No status event twice in one span (a resumed monitor must not repeat them). */
static void check_no_repeated_event(json_t *span, const char *label, const char *id)
{
    size_t i, j;
    json_t *a, *b;
    json_t *events = json_object_get(span, "events");
    json_array_foreach(events, i, a) {
        for (j = i + 1; j < json_array_size(events); j++) {
            b = json_array_get(events, j);
            if (strcmp(str(a, "name"), str(b, "name")) == 0)
                fail_msg("%s: workflow %s: span %s has event \"%s\" twice", label, id, str(span, "name"),
                         str(a, "name"));
        }
    }
}

static void check_status(json_t *span, const char *api_status, const char *api_message)
{
    json_t *st = json_object_get(span, "status");
    int code = (int)json_integer_value(json_object_get(st, "code"));
    if (strcmp(api_status, "Completed") == 0) {
        assert_int_equal(code, 1);
    } else {
        assert_string_equal(api_status, "Failed");
        assert_int_equal(code, 2);
        assert_string_equal(str(st, "message"), api_message);
    }
}

static void check_span_id(json_t *span, const uint8_t tid[16], const char *name, const char *stage_id)
{
    uint8_t sid[8];
    char hex[17];
    exo_span_id(tid, name, stage_id, sid);
    exo_hex(sid, 8, hex);
    assert_string_equal(str(span, "spanId"), hex);
}

static void check_stage(json_t *span, json_t *entity, const char *root_id, const uint8_t tid[16])
{
    int submitted;
    assert_string_equal(str(span, "parentSpanId"), root_id);
    assert_int_equal(json_integer_value(json_object_get(span, "kind")), 1);
    assert_string_equal(str(span, "name"), str(entity, "entityType"));
    assert_string_equal(attr(span, "type"), str(entity, "entityType"));
    assert_string_equal(attr(span, "id"), str(entity, "entityId"));
    check_span_id(span, tid, str(entity, "entityType"), str(entity, "entityId"));
    assert_true(json_is_true(json_object_get(entity, "isComplete")));
    assert_int_equal(nano(span, "startTimeUnixNano"), iso_ns(str(entity, "entityStartTime")));
    assert_int_equal(nano(span, "endTimeUnixNano"), iso_ns(str(entity, "entityEndTime")));
    check_status(span, str(entity, "entityStatus"), str(entity, "entityErrorMessage"));
    const char *last = last_status_event(span, &submitted);
    assert_int_equal(submitted, 0);
    assert_non_null(last);
    assert_string_equal(last, str(entity, "entityStatus"));
}

/* The time of the root's Submitted event. */
static int64_t submitted_time(json_t *root)
{
    size_t i;
    json_t *ev;
    json_array_foreach(json_object_get(root, "events"), i, ev) {
        if (strcmp(str(ev, "name"), "Submitted") == 0) return strtoll(str(ev, "timeUnixNano"), NULL, 10);
    }
    fail_msg("root span without a Submitted event");
    return 0;
}

/* Remove the child named Queued from children (at most one) and return it, or NULL. */
static json_t *take_queued(json_t **children, size_t *n)
{
    for (size_t i = 0; i < *n; i++) {
        if (strcmp(str(children[i], "name"), "Queued") != 0) continue;
        json_t *q = children[i];
        children[i] = children[--*n];
        return q;
    }
    return NULL;
}

/* 1 if a and b are the same span apart from the receiver's bookkeeping. */
static int same_copy(json_t *a, json_t *b)
{
    json_t *x = json_deep_copy(a), *y = json_deep_copy(b);
    static const char *const transport[] = {"request", "protocol", "encoding"};
    for (size_t i = 0; i < 3; i++) {
        json_object_del(x, transport[i]);
        json_object_del(y, transport[i]);
    }
    /* A copy sent by another worker process (a claim, a restart) names that
     * process in service.instance.id; the span itself is the same. */
    json_object_del(json_object_get(x, "resource"), "service.instance.id");
    json_object_del(json_object_get(y, "resource"), "service.instance.id");
    int same = json_equal(x, y);
    json_decref(x);
    json_decref(y);
    return same;
}

/* Collect the spans of trace `hex` into uniq (one per span id), failing on
 * differing copies; returns the most copies of one span. */
static int collect_trace(const tc_spans *s, const char *hex, json_t **uniq, size_t *nuniq, const char *label,
                         const char *id)
{
    int copies[MAX_STAGES + 1] = {0}, most = 0;
    *nuniq = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(str(s->v[i], "traceId"), hex) != 0) continue;
        size_t k = 0;
        while (k < *nuniq && strcmp(str(uniq[k], "spanId"), str(s->v[i], "spanId")) != 0) k++;
        if (k == *nuniq) {
            if (k == MAX_STAGES + 1) fail_msg("%s: workflow %s has too many spans", label, id);
            uniq[(*nuniq)++] = s->v[i];
        } else if (!same_copy(uniq[k], s->v[i])) {
            char *a = json_dumps(uniq[k], JSON_COMPACT), *b = json_dumps(s->v[i], JSON_COMPACT);
            fail_msg("%s: workflow %s: span %s arrived twice with different contents:\n%s\n%s", label, id,
                     str(uniq[k], "spanId"), a, b);
        }
        if (++copies[k] > most) most = copies[k];
    }
    return most;
}

int tc_check_workflow(const tc_spans *s, int api_port, const char *ns, const char *id, const char *label)
{
    char url[256], *body;
    snprintf(url, sizeof url, "http://127.0.0.1:%d/workflows/%s", api_port, id);
    assert_int_equal(tc_http_get(url, &body), 200);
    json_t *api = json_loads(body, 0, NULL);
    free(body);
    assert_non_null(api);
    int most = tc_check_workflow_json(s, api, ns, id, label);
    json_decref(api);
    return most;
}

/* tc_check_workflow against the API's answer already fetched (for an API
 * that injects faults, where the caller must retry the GET). */
int tc_check_workflow_json(const tc_spans *s, json_t *api, const char *ns, const char *id, const char *label)
{
    static const char *const order[] = {"DataLoader", "Processor", "OutputGenerator"};
    uint8_t tid[16];
    char hex[33];
    exo_trace_id(ns, id, tid);
    exo_hex(tid, 16, hex);
    assert_true(json_is_true(json_object_get(api, "isComplete")));
    json_t *uniq[MAX_STAGES + 1], *root = NULL, *children[MAX_STAGES];
    size_t nuniq, nchildren = 0;
    int most = collect_trace(s, hex, uniq, &nuniq, label, id);
    for (size_t i = 0; i < nuniq; i++) {
        if (str(uniq[i], "parentSpanId")[0] == '\0') {
            if (root) fail_msg("%s: workflow %s has two root spans", label, id);
            root = uniq[i];
        } else {
            if (nchildren == MAX_STAGES) fail_msg("%s: workflow %s has too many spans", label, id);
            children[nchildren++] = uniq[i];
        }
        check_no_repeated_event(uniq[i], label, id);
        check_windows(uniq[i], label, id);
    }
    if (!root) fail_msg("%s: no root span for workflow %s (trace %s)", label, id, hex);
    assert_string_equal(str(root, "name"), "Workflow");
    check_span_id(root, tid, "Workflow", "");
    assert_int_equal(json_integer_value(json_object_get(root, "kind")), 1);
    assert_string_equal(attr(root, "workflowId"), id);
    /* The root covers submission to end; a positive wait before the API's
     * start is the child span Queued; startTime keeps the API's start. */
    int64_t api_start = iso_ns(str(api, "workflowStartTime")), submitted_at = submitted_time(root);
    assert_int_equal(nano(root, "startTimeUnixNano"), submitted_at < api_start ? submitted_at : api_start);
    assert_int_equal(iso_ns(attr(root, "startTime")), api_start);
    json_t *queued = take_queued(children, &nchildren);
    if (submitted_at < api_start) {
        if (!queued) fail_msg("%s: workflow %s waited %lld ns but has no Queued span", label, id,
                              (long long)(api_start - submitted_at));
        assert_string_equal(str(queued, "parentSpanId"), str(root, "spanId"));
        check_span_id(queued, tid, "Queued", "");
        assert_int_equal(nano(queued, "startTimeUnixNano"), submitted_at);
        assert_int_equal(nano(queued, "endTimeUnixNano"), api_start);
    } else if (queued) {
        fail_msg("%s: workflow %s has a Queued span without a wait", label, id);
    }
    assert_int_equal(nano(root, "endTimeUnixNano"), iso_ns(str(api, "workflowEndTime")));
    check_status(root, str(api, "workflowStatus"), str(api, "workflowErrorMessage"));
    int submitted;
    const char *last = last_status_event(root, &submitted);
    assert_int_equal(submitted, 1);
    assert_non_null(last);
    assert_string_equal(last, str(api, "workflowStatus"));
    assert_string_equal(json_string_value(json_object_get(json_object_get(root, "resource"), "service.name")),
                        "Tracing.Worker");
    assert_string_equal(json_string_value(json_object_get(json_object_get(root, "resource"), "service.namespace")),
                        ns);
    assert_string_equal(str(json_object_get(root, "scope"), "name"), "sample-tracing");
    json_t *entities = json_object_get(api, "workflowEntities");
    assert_true(nchildren >= 1 && nchildren <= 3);
    assert_int_equal(nchildren, json_object_size(entities));
    for (size_t i = 1; i < nchildren; i++)
        for (size_t j = i; j > 0 && nano(children[j], "startTimeUnixNano") < nano(children[j - 1], "startTimeUnixNano");
             j--) {
            json_t *t = children[j];
            children[j] = children[j - 1];
            children[j - 1] = t;
        }
    for (size_t i = 0; i < nchildren; i++) {
        assert_string_equal(str(children[i], "name"), order[i]);
        json_t *entity = json_object_get(entities, order[i]);
        assert_non_null(entity);
        check_stage(children[i], entity, str(root, "spanId"), tid);
        for (size_t k = 0; k < i; k++) assert_string_not_equal(str(children[k], "spanId"), str(children[i], "spanId"));
    }
    return most;
}
