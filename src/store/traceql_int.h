/* traceql_int.h — the parsed form of a TraceQL query, shared by
 * traceql_lex.c, traceql_parse.c, traceql_eval.c and traceql.c. Not part
 * of the public API (traceql.h). */
#ifndef EXTRACE_STORE_TRACEQL_INT_H
#define EXTRACE_STORE_TRACEQL_INT_H
#include <regex.h>

#include "store/traceql.h"

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

typedef enum { TQL_S_FILTER, TQL_S_AND, TQL_S_OR } tql_set_kind;

/* A spanset expression. */
typedef struct tql_set {
    tql_set_kind kind;
    tql_cond *cond;           /* FILTER: the condition, NULL for {} (owned) */
    struct tql_set *l, *r;    /* AND/OR (owned) */
} tql_set;

struct tql_query {
    tql_set *root;            /* owned */
    tql_field *select;        /* fields of every | select(...), in order (owned) */
    size_t nselect;
    tql_field *out;           /* fields returned with matched spans (tql_span_attrs; owned, names borrowed) */
    size_t nout;
};

/* Bytes that may appear in an unquoted attribute name: everything but
 * spaces, controls and the characters TraceQL gives a meaning to. The
 * lexer reads names with it and the formatter quotes the others. */
int tql_is_name_char(char c);

struct tql_fieldref {
    tql_field field;          /* name owned */
};

/* The lexer: one token at a time from q. */
typedef struct tql_lexer {
    const char *q;            /* the query (not owned) */
    size_t off;               /* byte offset of the next token */
} tql_lexer;

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
