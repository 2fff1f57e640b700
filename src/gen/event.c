#include "gen/event.h"

#include <jansson.h>
#include <string.h>

#include "core/iso8601.h"
#include "otel/traceparent.h"

void gen_event_new(gen_event *ev, ex_rng *ids, const ex_clock *clock)
{
    ev->submitted_at = ex_clock_now(clock);
    ex_uuid4(ids, ev->workflow_id);
    ex_uuid4(ids, ev->correlation_id);
    ev->timestamp = ex_clock_now(clock);
    ev->source = NULL;
    ev->key[0] = '\0';
    ev->traceparent[0] = '\0';
}

void gen_event_random_traceparent(ex_rng *rng, char *out)
{
    exo_traceparent tp = {.flags = 1};
    do {
        for (int i = 0; i < 16; i++) tp.trace_id[i] = (uint8_t)ex_rng_next(rng);
        for (int i = 0; i < 8; i++) tp.span_id[i] = (uint8_t)ex_rng_next(rng);
    } while (!tp.trace_id[0] || !tp.span_id[0]); /* never all zero: a zero first byte draws again */
    exo_traceparent_format(&tp, out);
}

/* Add key → string to obj; 0 or -1 (out of memory). */
static int add_string(json_t *obj, const char *key, const char *value)
{
    return json_object_set_new(obj, key, json_string(value));
}

/* The slow path: jansson writes (and escapes) every member. */
static int event_json_dom(const gen_event *ev, char *buf, size_t len)
{
    char submitted[EX_ISO_LEN + 1], stamp[EX_ISO_LEN + 1];
    int rc = -1;
    json_t *obj = json_object();
    if (!obj) goto out;
    /* jansson keeps insertion order (JSON_PRESERVE_ORDER): this order is the
     * wire contract, the one .NET's serializer writes for the seed's record. */
    if (add_string(obj, "WorkflowId", ev->workflow_id) ||
        add_string(obj, "SubmittedAt", ex_iso_format(ev->submitted_at, submitted)) ||
        (ev->source && (add_string(obj, "Source", ev->source) || add_string(obj, "Key", ev->key))) ||
        add_string(obj, "MessageType", GEN_EVENT_TYPE) ||
        add_string(obj, "CorrelationId", ev->correlation_id) ||
        add_string(obj, "Timestamp", ex_iso_format(ev->timestamp, stamp)) ||
        (ev->traceparent[0] && add_string(obj, "Traceparent", ev->traceparent)))
        goto out;
    size_t n = json_dumpb(obj, buf, len, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (n == 0 || n >= len) goto out;
    buf[n] = '\0';
    rc = (int)n;
out:
    json_decref(obj);
    return rc;
}

/* 1 if JSON writes s as it is: printable ASCII without '"' or '\\' (what
 * jansson would escape, or refuse as ill-formed UTF-8, is never plain). */
static int plain(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e || *s == '"' || *s == '\\') return 0;
    return 1;
}

typedef struct out_buf {
    char *p;   /* next byte */
    char *end; /* one past the last byte usable for text (the NUL's place) */
    int full;  /* 1 once something did not fit */
} out_buf;

static void put(out_buf *o, const char *s, size_t n)
{
    if (o->full || (size_t)(o->end - o->p) < n) {
        o->full = 1;
        return;
    }
    memcpy(o->p, s, n);
    o->p += n;
}

/* ,"key":"value" (without the comma for the first member). */
static void member(out_buf *o, const char *key, const char *value, int first)
{
    if (!first) put(o, ",", 1);
    put(o, "\"", 1);
    put(o, key, strlen(key));
    put(o, "\":\"", 3);
    put(o, value, strlen(value));
    put(o, "\"", 1);
}

int gen_event_json(const gen_event *ev, char *buf, size_t len)
{
    char submitted[EX_ISO_LEN + 1], stamp[EX_ISO_LEN + 1];
    /* The fast path writes the bytes jansson would, for values that need no
     * escaping (every event this program makes); anything else goes the
     * DOM's way. test_gen_event compares the two. */
    if (!plain(ev->workflow_id) || !plain(ev->correlation_id) || !plain(ev->traceparent) ||
        (ev->source && (!plain(ev->source) || !plain(ev->key))))
        return event_json_dom(ev, buf, len);
    if (len == 0) return -1;
    out_buf o = {buf, buf + len - 1, 0};
    put(&o, "{", 1);
    member(&o, "WorkflowId", ev->workflow_id, 1);
    member(&o, "SubmittedAt", ex_iso_format(ev->submitted_at, submitted), 0);
    if (ev->source) {
        member(&o, "Source", ev->source, 0);
        member(&o, "Key", ev->key, 0);
    }
    member(&o, "MessageType", GEN_EVENT_TYPE, 0);
    member(&o, "CorrelationId", ev->correlation_id, 0);
    member(&o, "Timestamp", ex_iso_format(ev->timestamp, stamp), 0);
    if (ev->traceparent[0]) member(&o, "Traceparent", ev->traceparent, 0);
    put(&o, "}", 1);
    if (o.full) return -1;
    *o.p = '\0';
    return (int)(o.p - buf);
}
