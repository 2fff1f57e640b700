/* traceql.h — a subset of Grafana Tempo's TraceQL: tokenizer, parser and
 * evaluator over an abstract trace view (no I/O, no database).
 *
 * Supported (docs/query.md has the full page and the semantics):
 *   query     := spansets ( "|" stage )*
 *   stage     := "select" "(" field ( "," field )* ")" | "by" "(" field ")"
 *              | "coalesce" "(" ")" | aggregate cmp number | number cmp aggregate
 *              | spansets                      (applied within each spanset)
 *   aggregate := "count" "(" ")" | ("avg" | "min" | "max" | "sum") "(" field ")"
 *   spansets  := spanand ( "||" spanand )*
 *   spanand   := spanrel ( "&&" spanrel )*
 *   spanrel   := spanset ( relop spanset )*    (left to right)
 *   relop     := > < >> << ~ | !> !< !>> !<< !~ | &> &< &>> &<< &~
 *   spanset   := "{" [ cond ] "}" | "(" spansets ")"
 *   cond      := and ( "||" and )*
 *   and       := unary ( "&&" unary )*
 *   unary     := "!" unary | "(" cond ")" | field op value
 *   op        := = != > >= < <= =~ !~
 * Fields: span.x, resource.x, .x (span first, then resource), event.x,
 * instrumentation.x (names may hold dots, or be quoted: span."my key");
 * intrinsics name, status, statusMessage, duration, kind, rootName,
 * rootServiceName, traceDuration and the scoped span:name, span:status,
 * span:statusMessage, span:duration, span:kind, span:id, span:parentID,
 * trace:id, trace:rootName, trace:rootService, trace:duration, event:name,
 * instrumentation:name, instrumentation:version.
 * Values: "strings" (escapes \" \\ \n \t) or `raw strings`, integers,
 * floats, durations (100ms, 1.5s, 1h30m; ns us ms s m h), true, false,
 * nil, status words (ok error unset) and kind words (internal server
 * client producer consumer unspecified).
 *
 * Semantics: a spanset filter yields the spans whose condition holds; a
 * trace matches when the whole expression yields at least one span.
 * A && B (spansets) holds when both yield spans and yields both sets;
 * A || B yields their union. {A} > {B} yields the B spans whose parent is
 * an A span (< parent, >> descendant, << ancestor, ~ sibling); the
 * negations the B spans without one; the unions (&>) the spans of both
 * sides in related pairs. Pipeline stages map the list of spansets
 * (tql_eval_spansets). Comparing values of different types is false
 * (not an error), except int with float, and durations with durations.
 * A missing attribute makes every comparison false except "= nil". Regexes
 * are POSIX extended and fully anchored. */
#ifndef EXTRACE_STORE_TRACEQL_H
#define EXTRACE_STORE_TRACEQL_H
#include <stddef.h>
#include <stdint.h>

/* ---- values ----------------------------------------------------------- */

/* Type of a TraceQL value (of a literal or of a field of a span). */
typedef enum {
    TQL_NIL = 0,    /* absent */
    TQL_STRING,
    TQL_INT,
    TQL_FLOAT,
    TQL_BOOL,
    TQL_DURATION,   /* nanoseconds in .i */
    TQL_STATUS,     /* OTLP Status.StatusCode in .i: 0 unset, 1 ok, 2 error */
    TQL_KIND,       /* OTLP Span.SpanKind in .i: 0 unspecified … 5 consumer */
} tql_type;

typedef struct tql_value {
    tql_type type;
    union {
        const char *s; /* TQL_STRING: NUL-terminated, not owned */
        int64_t i;     /* TQL_INT, TQL_DURATION, TQL_STATUS, TQL_KIND */
        double f;      /* TQL_FLOAT */
        int b;         /* TQL_BOOL: 0 or 1 */
    } v;
} tql_value;

/* One attribute of a span, resource, scope or event. */
typedef struct tql_attr {
    const char *key;    /* not owned */
    tql_value val;      /* TQL_NIL for values TraceQL cannot compare (arrays, maps, bytes) */
} tql_attr;

/* ---- the trace view evaluated against ---------------------------------- */

typedef struct tql_event {
    const char *name;       /* event name ("" if none) */
    const tql_attr *attrs;  /* not owned */
    size_t nattrs;
} tql_event;

/* One span with everything a query may ask about. Nothing is owned. */
typedef struct tql_span {
    uint8_t span_id[8];
    uint8_t parent_id[8];
    int has_parent;               /* 0 for a root span */
    const char *name;             /* "" if none */
    int kind;                     /* OTLP SpanKind 0..5 */
    int status_code;              /* OTLP StatusCode 0..2 */
    const char *status_message;   /* "" if none */
    int64_t start_ns, end_ns;     /* unix ns */
    const tql_attr *attrs;        /* span attributes */
    size_t nattrs;
    const tql_attr *res_attrs;    /* attributes of the span's resource */
    size_t nres_attrs;
    const char *scope_name;       /* instrumentation scope ("" if none) */
    const char *scope_version;
    const tql_attr *scope_attrs;
    size_t nscope_attrs;
    const tql_event *events;
    size_t nevents;
} tql_span;

/* A trace: its spans plus trace-level values (tql_trace_derive fills them
 * from the spans; a caller that knows them may set them itself). */
typedef struct tql_trace {
    uint8_t trace_id[16];
    const tql_span *spans;        /* not owned */
    size_t nspans;
    const char *root_name;        /* name of the root span; "" if no root span */
    const char *root_service;     /* service.name of the root span's resource; "" if none */
    int64_t duration_ns;          /* latest end - earliest start */
} tql_trace;

/* Set root_name, root_service and duration_ns from t->spans. The root is
 * the first span without a parent; strings point into the spans. */
void tql_trace_derive(tql_trace *t);

/* ---- tokens (exposed for tests and error messages) --------------------- */

typedef enum {
    TQL_TOK_EOF = 0,
    TQL_TOK_LBRACE, TQL_TOK_RBRACE, TQL_TOK_LPAREN, TQL_TOK_RPAREN, TQL_TOK_COMMA, TQL_TOK_PIPE,
    TQL_TOK_AND, TQL_TOK_OR, TQL_TOK_NOT,
    TQL_TOK_EQ, TQL_TOK_NE, TQL_TOK_GT, TQL_TOK_GE, TQL_TOK_LT, TQL_TOK_LE, TQL_TOK_RE, TQL_TOK_NRE,
    TQL_TOK_STRING,   /* quoted string; text = its decoded content */
    TQL_TOK_INT,
    TQL_TOK_FLOAT,
    TQL_TOK_DURATION,
    TQL_TOK_ATTR,     /* scope.name, .name or scope."quoted name"; text = the name */
    TQL_TOK_SCOPED,   /* scope:name (a scoped intrinsic); text = the whole word */
    TQL_TOK_WORD,     /* a bare word: intrinsic, keyword, status or kind */
    /* structural operators between spansets (! negates, & unites; "!~" is TQL_TOK_NRE) */
    TQL_TOK_DESC, TQL_TOK_ANCE, TQL_TOK_TILDE,                              /* >> << ~ */
    TQL_TOK_NOT_CHILD, TQL_TOK_NOT_PARENT, TQL_TOK_NOT_DESC, TQL_TOK_NOT_ANCE, /* !> !< !>> !<< */
    TQL_TOK_UNION_CHILD, TQL_TOK_UNION_PARENT, TQL_TOK_UNION_DESC, TQL_TOK_UNION_ANCE,
    TQL_TOK_UNION_SIBL,                                                    /* &> &< &>> &<< &~ */
    TQL_TOK_OTHER,    /* a character TraceQL does not use here (reported by the parser) */
} tql_tok_type;

/* Attribute scopes (of TQL_TOK_ATTR and of fields). */
typedef enum {
    TQL_SCOPE_ANY = 0,      /* .x: span, then resource */
    TQL_SCOPE_SPAN,
    TQL_SCOPE_RESOURCE,
    TQL_SCOPE_EVENT,
    TQL_SCOPE_INSTRUMENTATION,
} tql_scope;

#define TQL_TOKEN_TEXT_MAX 1024

typedef struct tql_token {
    tql_tok_type type;
    size_t pos;                      /* 1-based column of the first byte */
    size_t len;                      /* bytes of the query it spans */
    tql_scope scope;                 /* TQL_TOK_ATTR only */
    int64_t i;                       /* TQL_TOK_INT, TQL_TOK_DURATION (ns) */
    double f;                        /* TQL_TOK_FLOAT */
    char text[TQL_TOKEN_TEXT_MAX];   /* decoded text (see the types) */
} tql_token;

/* Split q into tokens, up to max (the last one being TQL_TOK_EOF). On
 * success returns 0 with *n set; on a lexical error (unterminated string,
 * bad escape, bad number or duration, over-long token) returns -1 with
 * "position N: …" in err. More than max tokens is an error too. */
int tql_tokenize(const char *q, tql_token *toks, size_t max, size_t *n, char *err, size_t errlen);

/* ---- queries ------------------------------------------------------------ */

typedef struct tql_query tql_query;

/* Longest query accepted (bytes) and deepest nesting of braces/parens. */
#define TQL_QUERY_MAX 16384
#define TQL_DEPTH_MAX 64
/* Most pipeline stages ("| …") in a query: each by() copies the spanset
 * attributes of every stage before it into every group. */
#define TQL_STAGES_MAX 64

/* Parse q. On success returns 0 and *out (free with tql_free). On error
 * returns -1, *out NULL, and err holds "position N: expected …, got …"
 * (N = 1-based column). Regexes are compiled here, so a bad one is a parse
 * error naming its position. */
int tql_parse(const char *q, tql_query **out, char *err, size_t errlen);
void tql_free(tql_query *q);

/* Write the parsed query in a canonical, parenthesized form: every && and
 * || group is bracketed, a chain of one operator once
 * (e.g. "{(span.a = 1 || (resource.b =~ \"x.*\" && status = error && kind = server))}").
 * Truncates to buflen - 1; returns the length it would have had. */
size_t tql_format(const tql_query *q, char *buf, size_t buflen);

/* Whether the query is a single "{}" without a condition (matches every
 * span; callers can skip work). */
int tql_is_match_all(const tql_query *q);

/* A condition every matching trace must satisfy through one of its spans:
 * `span.<key> = "<value>"` reached from the query's root through ANDs
 * only (of conditions or of spansets), so a store can look the value up
 * in an index instead of scanning. Returns 1 and points key/value into
 * the query (valid while it lives), or 0 when there is none. */
int tql_required_span_eq(const tql_query *q, const char **key, const char **value);

/* Result of evaluating a query against one trace. */
typedef struct tql_match {
    int matched;        /* 1 if the trace matches */
    size_t *spans;      /* indices into trace->spans of the matched spans, ascending; owned */
    size_t nspans;
} tql_match;

/* Evaluate q against t: the spans of every spanset of the result
 * (tql_eval_spansets), as one set. Returns 0 with *out filled (free with
 * tql_match_free, also when nothing matched) or -1 on allocation failure. */
int tql_eval(const tql_query *q, const tql_trace *t, tql_match *out);
void tql_match_free(tql_match *m);

/* One spanset of a query's result over a trace. Without by() a query
 * yields at most one spanset per trace; by(f) splits each spanset into
 * one per value of f. */
typedef struct tql_spanset {
    size_t *spans;      /* indices into trace->spans, ascending; owned; never empty */
    size_t nspans;
    /* Tempo's spanset attributes, in the order the stages added them:
     * "by(resource.service.name)" = the group's value, "count()" = 3,
     * "avg(duration)" = "1m30s" (durations, status, kind and nil are
     * given as strings, as Tempo does). Keys point into the query; values
     * are owned by the spanset. */
    tql_attr *attrs;
    size_t nattrs;
    char **owned_;      /* private: the strings the attributes own */
} tql_spanset;

typedef struct tql_result {
    tql_spanset *sets;  /* owned; the trace matches when nsets > 0 */
    size_t nsets;
} tql_result;

/* Evaluate q, pipeline and all, against t: the spansets Tempo's search
 * would return for the trace. 0 with *out filled (free with
 * tql_result_free, also when empty), or -1 on allocation failure. */
int tql_eval_spansets(const tql_query *q, const tql_trace *t, tql_result *out);
void tql_result_free(tql_result *r);

/* Whether span i of t satisfies cond-level query q when q is a single
 * spanset filter; for other queries, whether i is in tql_eval's set.
 * Convenience for callers that test one span (e.g. tag value filters). */
int tql_span_matches(const tql_query *q, const tql_trace *t, size_t i);

/* Attributes to return with a matched span (what Tempo's search puts in
 * spanSets[].spans[].attributes): every attribute or intrinsic the query
 * compares or selects, except name, duration and the trace-level
 * intrinsics (returned as fields of their own), each once, in query order,
 * only when the span has it. Keys are bare names ("service.name",
 * "status"); status and kind come back as strings ("error", "server").
 * Fills up to max; returns how many the span has (may exceed max). String
 * values point into t or into static storage. */
size_t tql_span_attrs(const tql_query *q, const tql_trace *t, size_t i, tql_attr *out, size_t max);

/* ---- single fields (tag values) ------------------------------------------ */

/* One field on its own: "resource.service.name", ".x", "span.\"a b\"",
 * "name", "span:status" … (the field syntax of conditions). */
typedef struct tql_fieldref tql_fieldref;

/* What a field refers to. */
typedef struct tql_fieldinfo {
    int is_intrinsic;   /* 1 for an intrinsic, 0 for an attribute */
    tql_scope scope;    /* attributes: their scope */
    const char *name;   /* attribute name, or the intrinsic's canonical name ("name", "status",
                           "rootServiceName", "event:name" …); owned by the fieldref */
    tql_type type;      /* intrinsics: the type of their values; attributes: TQL_NIL (any) */
} tql_fieldinfo;

/* Parse s as exactly one field. 0 with *out (free with tql_fieldref_free),
 * or -1 with "position N: …" in err. */
int tql_fieldref_parse(const char *s, tql_fieldref **out, char *err, size_t errlen);
void tql_fieldref_free(tql_fieldref *f);
void tql_fieldref_info(const tql_fieldref *f, tql_fieldinfo *out);
/* The values of the field on span i of t: one at most, except for event
 * fields (one per event that has it). Fills up to max; returns how many
 * there are. Strings point into t or static storage (ids: valid until the
 * next call). */
size_t tql_fieldref_values(const tql_fieldref *f, const tql_trace *t, size_t i, tql_value *out, size_t max);

/* ---- span-local queries (traceql_local.c) -------------------------------- */

/* Set in *needs when a span-local query or field reads span attributes
 * (span.x, or .service.name, which looks at the span first), the
 * duration, or the resource's service.name. */
#define TQL_LOCAL_ATTRS 1u
#define TQL_LOCAL_DURATION 2u
#define TQL_LOCAL_SERVICE 4u

/* Whether q is one spanset filter without stages that change the result
 * ({cond}, select() allowed) whose conditions only use name, status,
 * kind, duration, span.* attributes and (resource.|.)service.name: then
 * whether a span matches depends on that span alone, and a view holding
 * just it and its service.name answers exactly. Returns 1 or 0; adds to
 * *needs; *name is a `name = "…"` every match has (NULL when none). */
int tql_span_local(const tql_query *q, unsigned *needs, const char **name);
/* The same for one field (of by() or a metrics function). */
int tql_fieldref_local(const tql_fieldref *f, unsigned *needs);

/* The span statuses q's matches may have: bit 1 << code for the codes 0
 * (unset), 1 (ok) and 2 (error), bit 8 for any other code. A trace
 * without a span of one of them cannot match. For one spanset filter
 * without stages that change the result (select() allowed) the
 * conditions on status decide (the others could go either way: `status
 * = error || kind = client` may hold with any status); every other query
 * gives TQL_STATUSES_ALL. 0 when no span can match. Pure. */
#define TQL_STATUSES_ALL 15u
unsigned tql_span_statuses(const tql_query *q);

/* Names of values: "ok"/"error"/"unset" for status codes 1/2/0, and
 * "unspecified", "internal", "server", "client", "producer", "consumer"
 * for kinds 0..5 (NULL outside these ranges). */
const char *tql_status_name(int code);
const char *tql_kind_name(int kind);

/* Compare two values with an operator token type (TQL_TOK_EQ …
 * TQL_TOK_LE; not the regex ones): 1 when it holds, 0 when not or when
 * the types cannot be compared. Exposed for tests and tag filters. */
int tql_compare(const tql_value *a, tql_tok_type op, const tql_value *b);

#endif
