/* traceql_int.h — the parsed form of a TraceQL query, shared by
 * traceql_lex.c, traceql_parse.c, traceql_eval.c and traceql.c. Not part
 * of the public API (traceql.h). */
#ifndef EXTRACE_STORE_TRACEQL_INT_H
#define EXTRACE_STORE_TRACEQL_INT_H
#include <regex.h>

#include "store/traceql.h"

/* The lexer: one token at a time from q. */
typedef struct tql_lexer {
    const char *q;            /* the query (not owned) */
    size_t off;               /* byte offset of the next token */
} tql_lexer;

/* Intrinsic fields (TraceQL "intrinsics"). */
typedef enum {
    TQL_I_NONE = 0,        /* the field is an attribute */
    TQL_I_NAME,
    TQL_I_STATUS,
    TQL_I_STATUS_MESSAGE,
    TQL_I_DURATION,
    TQL_I_KIND,
    TQL_I_SPAN_ID,
    TQL_I_PARENT_ID,
    TQL_I_TRACE_ID,
    TQL_I_ROOT_NAME,
    TQL_I_ROOT_SERVICE,
    TQL_I_TRACE_DURATION,
    TQL_I_EVENT_NAME,
    TQL_I_SCOPE_NAME,
    TQL_I_SCOPE_VERSION,
} tql_intrinsic;

/* What a condition or select() refers to. */
typedef struct tql_field {
    tql_intrinsic intrinsic;  /* TQL_I_NONE for an attribute */
    tql_scope scope;          /* attributes only */
    char *name;               /* attribute name (owned); NULL for intrinsics */
} tql_field;

typedef enum { TQL_C_AND, TQL_C_OR, TQL_C_NOT, TQL_C_CMP } tql_cond_kind;

/* A condition inside a spanset filter. */
typedef struct tql_cond {
    tql_cond_kind kind;
    struct tql_cond *l, *r;   /* AND/OR: both; NOT: l (owned) */
    tql_field field;          /* CMP: the left side */
    tql_tok_type op;          /* CMP: TQL_TOK_EQ … TQL_TOK_NRE */
    tql_value lit;            /* CMP: the literal (string owned via lit_str) */
    char *lit_str;            /* owned copy of a string literal, or NULL */
    regex_t re;               /* CMP with =~ / !~: compiled "^(" lit ")$" */
    int has_re;               /* 1 when re must be regfree'd */
} tql_cond;

typedef enum { TQL_S_FILTER, TQL_S_AND, TQL_S_OR, TQL_S_REL } tql_set_kind;

/* Structural relations: "i has a <rel> in X" (traceql_tree.c). */
typedef enum {
    TQL_R_CHILD,    /* >  : i's parent is in X */
    TQL_R_PARENT,   /* <  : one of i's children is in X */
    TQL_R_DESC,     /* >> : one of i's ancestors is in X */
    TQL_R_ANCE,     /* << : one of i's descendants is in X */
    TQL_R_SIBL,     /* ~  : another child of i's parent is in X */
} tql_rel;

/* How a structural operator combines its sides. */
typedef enum {
    TQL_J_PLAIN,    /* {L} >> {R}: the R spans in the relation */
    TQL_J_NOT,      /* {L} !>> {R}: the R spans not in it */
    TQL_J_UNION,    /* {L} &>> {R}: the R and L spans of every related pair */
} tql_join;

/* A spanset expression. */
typedef struct tql_set {
    tql_set_kind kind;
    tql_cond *cond;           /* FILTER: the condition, NULL for {} (owned) */
    struct tql_set *l, *r;    /* AND/OR/REL (owned) */
    tql_rel rel;              /* REL */
    tql_join join;            /* REL */
} tql_set;

/* Pipeline stages after the first spanset expression ("| …"). */
typedef enum {
    TQL_P_SELECT,             /* select(f, …): output fields only */
    TQL_P_SET,                /* a spanset expression applied within each spanset */
    TQL_P_SCALAR,             /* aggregate op number: keeps the spansets where it holds */
    TQL_P_BY,                 /* by(f): one spanset per value of f */
    TQL_P_COALESCE,           /* coalesce(): all spansets back into one */
} tql_stage_kind;

typedef enum { TQL_A_COUNT, TQL_A_AVG, TQL_A_MIN, TQL_A_MAX, TQL_A_SUM } tql_agg;

typedef struct tql_stage {
    tql_stage_kind kind;
    tql_set *set;             /* SET (owned) */
    tql_agg agg;              /* SCALAR */
    tql_field field;          /* SCALAR (not count) and BY: the field (name owned) */
    tql_tok_type op;          /* SCALAR: TQL_TOK_EQ … TQL_TOK_LE, aggregate on the left */
    tql_value lit;            /* SCALAR: an int, float or duration */
    char *label;              /* SCALAR and BY: the spanset attribute's key, "count()", "by(span.x)" (owned) */
    size_t sel_first, nsel;   /* SELECT: its fields in tql_query.select */
} tql_stage;

struct tql_query {
    tql_set *root;            /* owned */
    tql_stage *stages;        /* the pipeline after root, in order (owned) */
    size_t nstages;
    int filters;              /* 1 when a stage other than select() can change the result */
    tql_field *select;        /* fields of every | select(...), in order (owned) */
    size_t nselect;
    tql_field *out;           /* fields returned with matched spans (tql_span_attrs; owned, names borrowed) */
    size_t nout;
};

/* ---- the parser, shared by traceql_parse.c and traceql_stage.c -------- */

typedef struct tql_parser {
    tql_lexer lx;
    tql_token tok;            /* the current token */
    char *err;
    size_t errlen;
    int depth;                /* open braces, parens and ! */
    int failed;               /* an error was written (stop at the first) */
    tql_query *q;             /* the query being built */
} tql_parser;

/* Write "position N: …" (the first error only); returns -1. */
int tql__perr(tql_parser *p, size_t pos, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* "position N: expected <what>, got <current token>"; returns -1. */
int tql__expected(tql_parser *p, const char *what);
/* Move to the next token: 0, or -1 (error written). */
int tql__advance(tql_parser *p);
/* Parse the current token as a field into *f (name owned by f): 0 or -1. */
int tql__parse_field(tql_parser *p, tql_field *f);
/* A spanset expression (spansets of the grammar), or NULL (error written). */
tql_set *tql__parse_sets(tql_parser *p);
/* Parse one pipeline stage (the token after "|") and append it to p->q: 0 or -1. */
int tql__parse_stage(tql_parser *p);
void tql__set_free(tql_set *s);
void tql__stage_free(tql_stage *st);
/* A field as the query would write it (span.x, .x, name, span."a b"),
 * into buf; returns the length it would have had. */
size_t tql__field_text(const tql_field *f, char *buf, size_t buflen);

/* ---- evaluation helpers ------------------------------------------------ */

/* The parent/child index of one trace, built once per evaluation. */
typedef struct tql_tree {
    size_t n;
    long *parent;             /* index of each span's parent in the trace, -1 when none */
    size_t *first_child;      /* children of i: kids[first_child[i] .. first_child[i + 1]) (n + 1 entries) */
    size_t *kids;
    size_t *order;            /* spans parents-first (breadth-first from the roots); spans on a parent cycle are absent */
    size_t norder;
} tql_tree;

/* Build the index of t: 0, or -1 out of memory (tr then empty). */
int tql__tree_build(tql_tree *tr, const tql_trace *t);
void tql__tree_free(tql_tree *tr);
/* has[i] = 1 when span i has a `rel` in the set x (bytes per span), else
 * 0. Linear in the spans. */
void tql__tree_has(const tql_tree *tr, tql_rel rel, const unsigned char *x, unsigned char *has);

/* Fill set[0..nspans) for s over the spans with in[i] set (NULL: every
 * span); tree is built on first need (*tree NULL before). Returns the
 * count of spans in the set, -1 out of memory. */
long tql__eval_set(const tql_set *s, const tql_trace *t, const unsigned char *in, tql_tree **tree,
                   unsigned char *set);
/* Free a tree built by tql__eval_set (NULL: nothing) and reset *tree. */
void tql__tree_release(tql_tree **tree);
/* Every span in some spanset of q's result over t: set[i] per span.
 * Returns how many, or -1 out of memory (traceql_pipe.c). */
long tql__eval_query(const tql_query *q, const tql_trace *t, unsigned char *set);
/* The aggregate of stage st (count(), avg(f) …) over the spans of t
 * listed in spans[0..n): 1 with *out set, or 0 when no span has a number
 * or duration in f (the spanset then drops out, as in Tempo). */
int tql__aggregate(const tql_stage *st, const tql_trace *t, const size_t *spans, size_t n, tql_value *out);
/* Group the spans listed in spans[0..n) by the value of f: group[k] is
 * the group of spans[k] (numbered by first appearance), values[g] the
 * value of group g (strings point at owned[g], which the caller frees),
 * *ngroups their count. 0, or -1 out of memory. Linear (hashing). */
int tql__group(const tql_field *f, const tql_trace *t, const size_t *spans, size_t n, size_t *group,
               tql_value *values, char **owned, size_t *ngroups);
/* Go's time.Duration.String(), which Tempo uses for duration values in
 * spanset attributes: "1h0m0s", "1m30s", "1.5s", "250ms", "1.5µs",
 * "7ns", "0s". Into buf (48 bytes are enough). */
void tql__duration_text(int64_t d, char *buf, size_t len);
/* Whether the filter condition c holds for span i. */
int tql__cond_holds(const tql_cond *c, const tql_trace *t, size_t i);

/* Bytes that may appear in an unquoted attribute name: everything but
 * spaces, controls and the characters TraceQL gives a meaning to. The
 * lexer reads names with it and the formatter quotes the others. */
int tql_is_name_char(char c);

struct tql_fieldref {
    tql_field field;          /* name owned */
};


/* Read the next token into *t. 0, or -1 with "position N: …" in err. */
int tql__lex_next(tql_lexer *lx, tql_token *t, char *err, size_t errlen);
/* Describe a token for "got …" in messages ("end of query", "\"foo\"",
 * "string \"x\""), into buf. Returns buf. */
const char *tql__tok_describe(const tql_token *t, const char *q, char *buf, size_t buflen);
/* The text of an operator token ("=", "!=" …), or NULL. */
const char *tql__op_text(tql_tok_type op);

/* Value of a single-valued field of span i (TQL_NIL when absent). Event
 * fields are multi-valued: they are handled by the evaluator. */
tql_value tql__field_value(const tql_field *f, const tql_trace *t, size_t i);
/* Whether two fields refer to the same thing. */
int tql__field_same(const tql_field *a, const tql_field *b);
/* Key of a field as returned with spans ("service.name", "status"). */
const char *tql__field_key(const tql_field *f);
/* Type of an intrinsic's values (TQL_NIL for attributes). */
tql_type tql__field_type(const tql_field *f);

#endif
