/* tree_check.c — receiver output vs. a workflow's expected span tree. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tree_check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/iso8601.h"
#include "model/spans.h"
#include "otel/ids.h"
#include "support.h"

void tk_init(tk_tree *t, const char *source, const char *key)
{
    memset(t, 0, sizeof *t);
    t->source = source;
    snprintf(t->key, sizeof t->key, "%s", key);
    t->root.start = t->root.end = TK_NO_TIME;
}

void tk_free(tk_tree *t)
{
    free(t->nodes);
    t->nodes = NULL;
    t->n = t->cap = 0;
}

tk_node *tk_add(tk_tree *t)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 16;
        t->nodes = realloc(t->nodes, t->cap * sizeof *t->nodes);
        assert_non_null(t->nodes);
    }
    tk_node *n = &t->nodes[t->n++];
    memset(n, 0, sizeof *n);
    n->start = n->end = TK_NO_TIME;
    return n;
}

int64_t tk_time(const char *iso)
{
    if (!iso || !iso[0]) return TK_NO_TIME;
    int64_t ns = 0;
    const char *why = "";
    if (ex_iso_parse(iso, strlen(iso), &ns, &why)) fail_msg("time \"%s\": %s", iso, why);
    return ns;
}

int tk_count_roots(const char *path)
{
    char *text = ts_read_file(path, NULL);
    int n = 0;
    for (const char *p = text; p && (p = strstr(p, "\"parentSpanId\":\"\"")); p++) n++;
    free(text);
    return n;
}

static const char *str(json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}

static int64_t nano(json_t *span, const char *key) { return strtoll(str(span, key), NULL, 10); }

static const char *span_attr(json_t *span, const char *key)
{
    return json_string_value(json_object_get(json_object_get(span, "attributes"), key));
}

static int64_t int_attr(json_t *ev, const char *key, int64_t dflt)
{
    json_t *v = json_object_get(json_object_get(ev, "attributes"), key);
    const char *digits = json_string_value(json_object_get(v, "int"));
    return digits ? strtoll(digits, NULL, 10) : dflt;
}

/* The span's status events (all but Submitted): each in its window; returns the last one's name. */
static const char *check_events(json_t *span, const char *what)
{
    const char *last = NULL;
    size_t i;
    json_t *ev;
    json_array_foreach(json_object_get(span, "events"), i, ev) {
        if (strcmp(str(ev, "name"), "Submitted") == 0) continue;
        int64_t t = nano(ev, "timeUnixNano");
        int64_t before = int_attr(ev, "extrace.observed_before_unix_nano", INT64_MIN);
        int64_t after = int_attr(ev, "extrace.observed_after_unix_nano", t);
        if (before == INT64_MIN) fail_msg("%s: event %s without extrace.observed_before", what, str(ev, "name"));
        if (t > before || t < after)
            fail_msg("%s: event %s at %lld outside its window [%lld, %lld]", what, str(ev, "name"), (long long)t,
                     (long long)after, (long long)before);
        last = str(ev, "name");
    }
    return last;
}

static void hex_span_id(const uint8_t tid[16], const char *key, const char *id, char hex[17])
{
    uint8_t sid[8];
    exo_span_id(tid, key, id, sid);
    exo_hex(sid, 8, hex);
}

/* Name, times, status, message and last status word of one span. */
static void check_span(json_t *span, const tk_node *want, int64_t start, const char *what)
{
    if (strcmp(str(span, "name"), want->name) != 0)
        fail_msg("%s: name \"%s\", the source's is \"%s\"", what, str(span, "name"), want->name);
    int64_t got_start = nano(span, "startTimeUnixNano"), got_end = nano(span, "endTimeUnixNano");
    if (start != TK_NO_TIME && got_start != start)
        fail_msg("%s: starts at %lld, the source says %lld", what, (long long)got_start, (long long)start);
    int64_t end = want->end != TK_NO_TIME && want->end > got_start ? want->end : got_start;
    if (want->end != TK_NO_TIME && got_end != end)
        fail_msg("%s: ends at %lld, the source says %lld", what, (long long)got_end, (long long)end);
    json_t *st = json_object_get(span, "status");
    int code = (int)json_integer_value(json_object_get(st, "code"));
    if (code != want->code) fail_msg("%s: status code %d, expected %d", what, code, want->code);
    if (code == 2 && strcmp(str(st, "message"), want->message) != 0)
        fail_msg("%s: status message \"%s\", expected \"%s\"", what, str(st, "message"), want->message);
    const char *last = check_events(span, what);
    if (!last || strcmp(last, want->word) != 0)
        fail_msg("%s: last status event \"%s\", the source's word is \"%s\"", what, last ? last : "(none)",
                 want->word);
}

/* Spans of trace `hex`, one per span id; fails on copies that differ. */
static json_t **collect(const tc_spans *s, const char *hex, size_t *n, int *most, const char *label)
{
    json_t **uniq = calloc(s->n + 1, sizeof *uniq);
    int *copies = calloc(s->n + 1, sizeof *copies);
    assert_true(uniq && copies);
    *n = 0;
    *most = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(str(s->v[i], "traceId"), hex) != 0) continue;
        size_t k = 0;
        while (k < *n && strcmp(str(uniq[k], "spanId"), str(s->v[i], "spanId")) != 0) k++;
        if (k == *n) uniq[(*n)++] = s->v[i];
        else {
            json_t *a = json_deep_copy(uniq[k]), *b = json_deep_copy(s->v[i]);
            json_object_del(a, "request");
            json_object_del(b, "request");
            /* the same span re-exported by another worker (a claim, a restart) */
            json_object_del(json_object_get(a, "resource"), "service.instance.id");
            json_object_del(json_object_get(b, "resource"), "service.instance.id");
            int same = json_equal(a, b);
            json_decref(a);
            json_decref(b);
            if (!same) fail_msg("%s: span %s arrived twice, different", label, str(uniq[k], "spanId"));
        }
        if (++copies[k] > *most) *most = copies[k];
    }
    free(copies);
    return uniq;
}

static json_t *find_span(json_t **spans, size_t n, const char *hex)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(str(spans[i], "spanId"), hex) == 0) return spans[i];
    return NULL;
}

static const tk_node *find_node(const tk_tree *t, const char *key)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->nodes[i].key, key) == 0) return &t->nodes[i];
    return NULL;
}

static int64_t submitted_at(json_t *root, const char *label)
{
    size_t i;
    json_t *ev;
    json_array_foreach(json_object_get(root, "events"), i, ev) {
        if (strcmp(str(ev, "name"), "Submitted") == 0) return nano(ev, "timeUnixNano");
    }
    fail_msg("%s: the root has no Submitted event", label);
    return 0;
}

static void check_nodes(json_t **spans, size_t nspans, const tk_tree *t, const uint8_t tid[16], const char *root_hex,
                        const char *label)
{
    char what[1400], hex[17], parent_hex[17];
    for (size_t i = 0; i < t->n; i++) {
        const tk_node *want = &t->nodes[i];
        snprintf(what, sizeof what, "%s: %s %s node %s (\"%s\")", label, t->source, t->key, want->key, want->name);
        hex_span_id(tid, want->key, want->id, hex);
        json_t *span = find_span(spans, nspans, hex);
        if (!span) fail_msg("%s: no span", what);
        if (want->parent[0]) {
            const tk_node *p = find_node(t, want->parent);
            if (!p) fail_msg("%s: the test's tree has no parent %s", what, want->parent);
            hex_span_id(tid, p->key, p->id, parent_hex);
        } else {
            snprintf(parent_hex, sizeof parent_hex, "%s", root_hex);
        }
        if (strcmp(str(span, "parentSpanId"), parent_hex) != 0)
            fail_msg("%s: parent span %s, expected %s (%s)", what, str(span, "parentSpanId"), parent_hex,
                     want->parent[0] ? want->parent : "the root");
        check_span(span, want, want->start, what);
        for (size_t k = 0; k < i; k++)
            if (strcmp(t->nodes[k].key, want->key) == 0) fail_msg("%s: the test's tree has it twice", what);
    }
}

int tk_check(const tc_spans *s, const tk_tree *t, const char *ns, const char *label)
{
    uint8_t tid[16];
    char hex[33], root_hex[17], queued_hex[17], what[800];
    mdl_trace_id(ns, t->source, t->key, tid);
    exo_hex(tid, 16, hex);
    size_t n;
    int most;
    json_t **spans = collect(s, hex, &n, &most, label);
    snprintf(what, sizeof what, "%s: %s %s (trace %s) root", label, t->source, t->key, hex);
    hex_span_id(tid, MDL_ROOT_SPAN_KEY, "", root_hex);
    json_t *root = find_span(spans, n, root_hex);
    if (!root) fail_msg("%s: no root span among %zu spans", what, n);
    if (str(root, "parentSpanId")[0]) fail_msg("%s: has a parent", what);
    const char *key_attr = span_attr(root, MDL_KEY_ATTR);
    if (!key_attr || strcmp(key_attr, t->key) != 0) fail_msg("%s: %s is \"%s\"", what, MDL_KEY_ATTR, key_attr);
    int64_t sub = submitted_at(root, what);
    int64_t src_start = t->root.start;
    check_span(root, &t->root, src_start != TK_NO_TIME && src_start < sub ? src_start : sub, what);
    hex_span_id(tid, MDL_QUEUED_SPAN_NAME, "", queued_hex);
    json_t *queued = find_span(spans, n, queued_hex);
    int want_queued = src_start != TK_NO_TIME && sub < src_start;
    if (!!queued != want_queued)
        fail_msg("%s: Queued span %s, announced %lld, source start %lld", what, queued ? "present" : "absent",
                 (long long)sub, (long long)src_start);
    if (queued && (nano(queued, "startTimeUnixNano") != sub || nano(queued, "endTimeUnixNano") != src_start))
        fail_msg("%s: Queued span times", what);
    check_nodes(spans, n, t, tid, root_hex, label);
    if (n != t->n + 1 + (size_t)want_queued) {
        for (size_t i = 0; i < n; i++) fprintf(stderr, "  span %s %s\n", str(spans[i], "spanId"), str(spans[i], "name"));
        fail_msg("%s: %zu spans, the source's tree has %zu nodes (+ root%s)", what, n, t->n,
                 want_queued ? " + Queued" : "");
    }
    free(spans);
    return most;
}
