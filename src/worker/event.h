/* event.h — the WorkflowStarted event, parsed and validated.
 *
 * The seed's generator publishes JSON with PascalCase keys on the channel
 * event.workflow.started:
 *   {"WorkflowId":"<guid>","SubmittedAt":"2024-07-05T06:57:51.0737407Z",…}
 * Only WorkflowId and SubmittedAt are used; other keys are ignored. The
 * workflow id goes into a URL path (GET <api>/workflows/<id>), so it must
 * be 1–WK_EVENT_ID_MAX bytes of [A-Za-z0-9._-] and not "." or "..".
 * A workflow of another source (docs/sources.md) is announced with
 *   {"Source":"github-actions","Key":"octo/hello/42","SubmittedAt":"…"}
 * where Key (1–WK_EVENT_KEY_MAX bytes, no control bytes) takes the place
 * of WorkflowId and Source, optional, must then be the worker's source.
 * An event may carry its submitter's W3C trace context,
 *   "Traceparent":"00-<32 hex>-<16 hex>-01"
 * (docs/worker.md, "Linked to the submitter"). It is kept as received in
 * wk_event.traceparent and checked when the watch starts: a malformed one
 * never rejects the event, it is counted, logged and left out. Webhooks
 * put their request's `traceparent` header into the same field.
 * Pure: no I/O, no allocation beyond jansson's parse tree. */
#ifndef EXTRACE_WORKER_EVENT_H
#define EXTRACE_WORKER_EVENT_H
#include <stddef.h>
#include <stdint.h>

#include "model/monitor.h"

#define WK_EVENT_ID_MAX      128         /* bytes of a workflow id (== WM_ID_MAX) */
#define WK_EVENT_KEY_MAX     1024        /* bytes of another source's key */
#define WK_EVENT_TRACEPARENT_MAX 256 /* bytes of a traceparent kept (== EXO_TRACEPARENT_MAX) */
#define WK_EVENT_PAYLOAD_MAX (64 * 1024) /* bytes of an event; larger ones are rejected as "json" */

/* Why an event was not taken (label reason of extrace_events_rejected_total). */
typedef enum {
    WK_REJECT_JSON,          /* not JSON, not an object, or too large */
    WK_REJECT_MISSING_FIELD, /* WorkflowId or SubmittedAt absent, null or empty */
    WK_REJECT_BAD_ID,        /* WorkflowId not a string, too long, or bad characters */
    WK_REJECT_BAD_TIME,      /* SubmittedAt not a string or not an ISO 8601 time */
    WK_REJECT_CAPACITY,      /* valid, but --max-workflows are already watched, or the subscriber's queue
                                is full (set by the worker) */
    WK_REJECT_SOURCE,        /* for another source than the worker's, or a Key its profile refuses (set by the worker) */
    WK_NREJECT
} wk_reject;

/* The fields of a valid event. */
typedef struct wk_event {
    char workflow_id[WK_EVENT_KEY_MAX + 1]; /* the key: WorkflowId, or Key; NUL-terminated, validated */
    char source[65];                        /* Source, or "" */
    uint8_t from_key;                       /* the key came from Key (else from WorkflowId) */
    int64_t submitted_ns;                  /* SubmittedAt, unix ns (UTC) */
    /* The submitter's W3C traceparent as received (the event's
     * "Traceparent", a webhook's traceparent header, a field a profile's
     * mapping names), NUL-terminated, "" when none; whoever starts the
     * watch fills it (wk_event_set_traceparent marks one too long). Not
     * validated here: wk_event_link does that when the watch starts. */
    char traceparent[WK_EVENT_TRACEPARENT_MAX + 1];
    uint8_t traceparent_bad;               /* present but not a string, or longer than the max (malformed) */
} wk_event;

/* Parse `len` bytes of `payload` (need not be NUL-terminated) into *out.
 * Returns 0, or -1 with *reason set and a message in `why` (whylen bytes)
 * that names the field and the offending value, e.g.
 *   WorkflowId "a/b": character '/' at offset 1 is not allowed (A-Z a-z 0-9 . _ -)
 * Values quoted in messages are cut to 64 bytes and escaped for logs. */
int wk_event_parse(const char *payload, size_t len, wk_event *out, wk_reject *reason, char *why, size_t whylen);

/* The event that announces workflow `key` of `source` ("seed": the
 * seed's form with WorkflowId), as compact JSON into buf (len bytes).
 * Its length, or -1 when it does not fit or memory ran out. */
int wk_event_render(const char *source, const char *key, int64_t submitted_ns, char *buf, size_t len);

/* Keep `len` bytes of s as ev's traceparent: copied when it fits, else
 * marked malformed (traceparent_bad). s NULL: none. */
void wk_event_set_traceparent(wk_event *ev, const char *s, size_t len);

/* The submitter's span named by ev's traceparent: 1 with *out set, 0
 * when the event carries none, -1 when it is malformed (why names the
 * quoted value and what is wrong, after the W3C rules of
 * otel/traceparent.h). */
int wk_event_link(const wk_event *ev, mdl_link *out, char *why, size_t whylen);

/* "json", "missing_field", "bad_id", "bad_time", "capacity", "source". */
const char *wk_reject_name(wk_reject r);

/* Check a workflow id by the rules above. 0, or -1 with the reason in why
 * (without the value itself). */
int wk_event_check_id(const char *id, size_t len, char *why, size_t whylen);

/* Quote up to `max` bytes of s for a log line: "…" with control and
 * non-ASCII bytes as \xNN and a trailing "…(N bytes)" when cut. Writes at
 * most outlen bytes (always NUL-terminated); returns out. */
char *wk_quote(const char *s, size_t len, size_t max, char *out, size_t outlen);

#endif
