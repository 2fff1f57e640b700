/* span.h — finished spans, as handed to exporters.
 *
 * A span here is complete: the monitor builds it when the work it stands
 * for has ended (or timed out) and passes it to the batch queue. Every
 * string is owned by the span (copied in), freed by exo_span_free. Spans
 * of one export share a resource and an instrumentation scope. */
#ifndef EXTRACE_OTEL_SPAN_H
#define EXTRACE_OTEL_SPAN_H
#include <stddef.h>
#include <stdint.h>

typedef enum { EXO_VAL_STRING, EXO_VAL_BOOL, EXO_VAL_INT, EXO_VAL_DOUBLE } exo_value_type;

typedef struct exo_attr {
    char *key;            /* owned */
    exo_value_type type;
    union {
        char *s;          /* owned */
        int64_t i;
        double d;
        int b;
    } v;
} exo_attr;

typedef struct exo_attrs {
    exo_attr *items;      /* owned array */
    size_t len, cap;
} exo_attrs;

typedef struct exo_event {
    int64_t time_ns;      /* unix ns */
    char *name;           /* owned */
    exo_attrs attrs;
} exo_event;

/* A link to a span of this or another trace (OTLP Span.Link). */
typedef struct exo_link {
    uint8_t trace_id[16];
    uint8_t span_id[8];
    uint32_t flags;       /* OTLP Link.flags: W3C trace flags in the low byte, EXO_FLAG_* bits above */
    exo_attrs attrs;
} exo_link;

/* OTLP SpanFlags bits above the W3C trace flags: whether the parent (of a
 * span) or the linked span (of a link) is known to be remote, and is. */
enum { EXO_FLAG_HAS_IS_REMOTE = 0x100, EXO_FLAG_IS_REMOTE = 0x200 };

/* OTLP Span.SpanKind and Status.StatusCode values. */
enum { EXO_KIND_UNSPECIFIED = 0, EXO_KIND_INTERNAL = 1, EXO_KIND_SERVER = 2, EXO_KIND_CLIENT = 3,
       EXO_KIND_PRODUCER = 4, EXO_KIND_CONSUMER = 5 };
enum { EXO_STATUS_UNSET = 0, EXO_STATUS_OK = 1, EXO_STATUS_ERROR = 2 };

typedef struct exo_span {
    uint8_t trace_id[16];
    uint8_t span_id[8];
    uint8_t parent_span_id[8];
    int has_parent;       /* 0: root span (parent_span_id ignored) */
    int parent_remote;    /* 1: the parent is another process's span (a submitter's traceparent) */
    char *name;           /* owned */
    int kind;             /* EXO_KIND_* */
    int64_t start_ns, end_ns;
    exo_attrs attrs;
    exo_event *events;    /* owned array */
    size_t nevents, events_cap;
    exo_link *links;      /* owned array */
    size_t nlinks;
    int status_code;      /* EXO_STATUS_* */
    char *status_message; /* owned; NULL when none */
} exo_span;

/* Attributes and identity of the process that produced the spans. */
typedef struct exo_resource {
    exo_attrs attrs;
} exo_resource;

/* Create an empty span named `name`; NULL on allocation failure. */
exo_span *exo_span_new(const char *name, int kind);
void exo_span_free(exo_span *s);

/* Append an attribute (no de-duplication). 0, or -1 on allocation failure. */
int exo_attrs_add_str(exo_attrs *a, const char *key, const char *val);
int exo_attrs_add_int(exo_attrs *a, const char *key, int64_t val);
int exo_attrs_add_double(exo_attrs *a, const char *key, double val);
int exo_attrs_add_bool(exo_attrs *a, const char *key, int val);
/* The attribute named key, or NULL. */
const exo_attr *exo_attrs_find(const exo_attrs *a, const char *key);
void exo_attrs_clear(exo_attrs *a);

/* Append an event; returns it (owned by the span) or NULL. */
exo_event *exo_span_add_event(exo_span *s, int64_t time_ns, const char *name);
/* Append a link to span span_id of trace trace_id with OTLP flags;
 * returns it (owned by the span, attributes may be added) or NULL. */
exo_link *exo_span_add_link(exo_span *s, const uint8_t trace_id[16], const uint8_t span_id[8], uint32_t flags);
/* Set status; message may be NULL. 0 or -1. */
int exo_span_set_status(exo_span *s, int code, const char *message);

#endif
