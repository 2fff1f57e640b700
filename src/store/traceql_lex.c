/* traceql_lex.c — the TraceQL tokenizer (traceql.h). Positions are 1-based
 * byte columns, as every parse error reports them. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/duration.h"
#include "store/traceql_int.h"

static int lex_error(char *err, size_t errlen, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int lex_error(char *err, size_t errlen, size_t pos, const char *fmt, ...)
{
    int n = snprintf(err, errlen, "position %zu: ", pos);
    if (n >= 0 && (size_t)n < errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
static int is_digit(char c) { return c >= '0' && c <= '9'; }
static int is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }

int tql_is_name_char(char c)
{
    unsigned char u = (unsigned char)c;
    if (u <= 0x20 || u == 0x7f) return 0;
    return strchr("{}()=~!<>&|,\"`", c) == NULL;
}

/* Copy src[0..n) into the token text; -1 when too long. */
static int set_text(tql_token *t, const char *src, size_t n)
{
    if (n >= TQL_TOKEN_TEXT_MAX) return -1;
    memcpy(t->text, src, n);
    t->text[n] = '\0';
    return 0;
}

/* A "…" string starting at q[off] (the quote): decoded into t->text. */
static int lex_string(tql_lexer *lx, tql_token *t, char *err, size_t errlen)
{
    const char *q = lx->q;
    size_t start = lx->off, i = start + 1, o = 0;
    char quote = q[start];
    while (q[i] && q[i] != quote) {
        char c = q[i];
        if (c == '\\' && quote == '"') {
            char e = q[i + 1];
            if (e == '"' || e == '\\') c = e;
            else if (e == 'n') c = '\n';
            else if (e == 't') c = '\t';
            else if (e == 'r') c = '\r';
            else if (e == '\0') break;
            else return lex_error(err, errlen, i + 1, "unknown escape \"\\%c\" in string (use \\\", \\\\, \\n, \\t or \\r)", e);
            i++;
        }
        if (o + 1 >= TQL_TOKEN_TEXT_MAX)
            return lex_error(err, errlen, start + 1, "string longer than %d bytes", TQL_TOKEN_TEXT_MAX - 1);
        t->text[o++] = c;
        i++;
    }
    if (q[i] != quote) return lex_error(err, errlen, start + 1, "unterminated string: expected a closing %c", quote);
    t->text[o] = '\0';
    t->type = TQL_TOK_STRING;
    t->len = i + 1 - start;
    lx->off = i + 1;
    return 0;
}

/* A number or duration at q[off] (a digit, or '-' before a digit). */
static int lex_number(tql_lexer *lx, tql_token *t, char *err, size_t errlen)
{
    const char *q = lx->q;
    size_t start = lx->off, i = start;
    int neg = q[i] == '-';
    if (neg) i++;
    while (is_digit(q[i])) i++;
    int is_float = 0;
    if (q[i] == '.') {
        if (!is_digit(q[i + 1]))
            return lex_error(err, errlen, start + 1, "malformed number \"%.*s\"", (int)(i + 1 - start), q + start);
        is_float = 1;
        i++;
        while (is_digit(q[i])) i++;
    }
    if (is_alpha(q[i]) || (unsigned char)q[i] >= 0x80) {
        /* A duration: number+unit parts, as Go writes them ("1h30m"). */
        size_t body = neg ? start + 1 : start;
        while (is_alpha(q[i]) || is_digit(q[i]) || q[i] == '.' || (unsigned char)q[i] >= 0x80) i++;
        if (set_text(t, q + start, i - start) < 0)
            return lex_error(err, errlen, start + 1, "token longer than %d bytes", TQL_TOKEN_TEXT_MAX - 1);
        if (neg) return lex_error(err, errlen, start + 1, "bad duration \"%s\": negative durations are not supported", t->text);
        const char *why = NULL;
        if (ex_duration_parse(t->text + (body - start), &t->i, &why) < 0)
            return lex_error(err, errlen, start + 1, "bad duration \"%s\": %s", t->text, why);
        t->type = TQL_TOK_DURATION;
    } else {
        if (set_text(t, q + start, i - start) < 0)
            return lex_error(err, errlen, start + 1, "token longer than %d bytes", TQL_TOKEN_TEXT_MAX - 1);
        errno = 0;
        if (is_float) {
            t->type = TQL_TOK_FLOAT;
            t->f = strtod(t->text, NULL);
        } else {
            t->type = TQL_TOK_INT;
            t->i = strtoll(t->text, NULL, 10);
        }
        if (errno == ERANGE) return lex_error(err, errlen, start + 1, "number \"%s\" out of range", t->text);
    }
    t->len = i - start;
    lx->off = i;
    return 0;
}

static int scope_of(const char *w, size_t n, tql_scope *out)
{
    static const struct { const char *name; tql_scope scope; } scopes[] = {
        {"span", TQL_SCOPE_SPAN}, {"resource", TQL_SCOPE_RESOURCE}, {"event", TQL_SCOPE_EVENT},
        {"instrumentation", TQL_SCOPE_INSTRUMENTATION},
    };
    for (size_t k = 0; k < sizeof scopes / sizeof scopes[0]; k++)
        if (strlen(scopes[k].name) == n && memcmp(scopes[k].name, w, n) == 0) {
            *out = scopes[k].scope;
            return 0;
        }
    return -1;
}

/* The attribute name after "scope." or ".", at q[i]: quoted or bare. */
static int lex_attr_name(tql_lexer *lx, tql_token *t, size_t start, size_t i, char *err, size_t errlen)
{
    const char *q = lx->q;
    if (q[i] == '"') {
        lx->off = i;
        if (lex_string(lx, t, err, errlen) < 0) return -1;
        if (!t->text[0]) return lex_error(err, errlen, i + 1, "empty attribute name");
    } else {
        size_t j = i;
        while (tql_is_name_char(q[j])) j++;
        if (j == i) return -1; /* the caller reports */
        if (set_text(t, q + i, j - i) < 0)
            return lex_error(err, errlen, start + 1, "attribute name longer than %d bytes", TQL_TOKEN_TEXT_MAX - 1);
        lx->off = j;
    }
    t->type = TQL_TOK_ATTR;
    t->len = lx->off - start;
    return 0;
}

/* A word at q[off]: bare (intrinsic/keyword), scope.attr or scope:intrinsic. */
static int lex_word(tql_lexer *lx, tql_token *t, char *err, size_t errlen)
{
    const char *q = lx->q;
    size_t start = lx->off, i = start;
    while (is_alpha(q[i]) || is_digit(q[i])) i++;
    size_t n = i - start;
    if (q[i] == '.' && (tql_is_name_char(q[i + 1]) || q[i + 1] == '"')) {
        if (scope_of(q + start, n, &t->scope) < 0)
            return lex_error(err, errlen, start + 1,
                             "unknown attribute scope \"%.*s\" (use span., resource., event., instrumentation. or .)",
                             (int)n, q + start);
        return lex_attr_name(lx, t, start, i + 1, err, errlen);
    }
    if (q[i] == '.')
        return lex_error(err, errlen, i + 2, "expected an attribute name after \"%.*s.\"", (int)n, q + start);
    if (q[i] == ':' && is_alpha(q[i + 1])) {
        i++;
        while (is_alpha(q[i]) || is_digit(q[i])) i++;
        t->type = TQL_TOK_SCOPED;
    } else {
        t->type = TQL_TOK_WORD;
    }
    if (set_text(t, q + start, i - start) < 0)
        return lex_error(err, errlen, start + 1, "word longer than %d bytes", TQL_TOKEN_TEXT_MAX - 1);
    t->len = i - start;
    lx->off = i;
    return 0;
}

/* Operators and punctuation: one or two bytes. */
static int lex_punct(tql_lexer *lx, tql_token *t)
{
    static const struct { const char *text; tql_tok_type type; } ops[] = {
        {"!>>", TQL_TOK_NOT_DESC}, {"!<<", TQL_TOK_NOT_ANCE}, {"&>>", TQL_TOK_UNION_DESC},
        {"&<<", TQL_TOK_UNION_ANCE}, {">>", TQL_TOK_DESC}, {"<<", TQL_TOK_ANCE}, {"!>", TQL_TOK_NOT_CHILD},
        {"!<", TQL_TOK_NOT_PARENT}, {"&>", TQL_TOK_UNION_CHILD}, {"&<", TQL_TOK_UNION_PARENT},
        {"&~", TQL_TOK_UNION_SIBL}, {"~", TQL_TOK_TILDE},
        {"&&", TQL_TOK_AND}, {"||", TQL_TOK_OR}, {"!=", TQL_TOK_NE}, {"!~", TQL_TOK_NRE}, {"=~", TQL_TOK_RE},
        {">=", TQL_TOK_GE}, {"<=", TQL_TOK_LE}, {"{", TQL_TOK_LBRACE}, {"}", TQL_TOK_RBRACE},
        {"(", TQL_TOK_LPAREN}, {")", TQL_TOK_RPAREN}, {",", TQL_TOK_COMMA}, {"|", TQL_TOK_PIPE},
        {"!", TQL_TOK_NOT}, {"=", TQL_TOK_EQ}, {">", TQL_TOK_GT}, {"<", TQL_TOK_LT},
    };
    const char *p = lx->q + lx->off;
    for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) {
        size_t n = strlen(ops[k].text);
        if (strncmp(p, ops[k].text, n) == 0) {
            t->type = ops[k].type;
            t->len = n;
            set_text(t, p, n);
            lx->off += n;
            return 0;
        }
    }
    /* Anything else is one (possibly multi-byte UTF-8) character. */
    size_t n = 1;
    while ((p[n] & 0xC0) == 0x80) n++;
    t->type = TQL_TOK_OTHER;
    t->len = n;
    set_text(t, p, n);
    lx->off += n;
    return 0;
}

int tql__lex_next(tql_lexer *lx, tql_token *t, char *err, size_t errlen)
{
    const char *q = lx->q;
    while (is_space(q[lx->off])) lx->off++;
    memset(t, 0, offsetof(tql_token, text));
    t->text[0] = '\0';
    t->pos = lx->off + 1;
    char c = q[lx->off];
    if (c == '\0') {
        t->type = TQL_TOK_EOF;
        return 0;
    }
    if (c == '"' || c == '`') return lex_string(lx, t, err, errlen);
    if (is_digit(c) || (c == '-' && is_digit(q[lx->off + 1]))) return lex_number(lx, t, err, errlen);
    if (is_alpha(c)) return lex_word(lx, t, err, errlen);
    if (c == '.' && (tql_is_name_char(q[lx->off + 1]) || q[lx->off + 1] == '"')) {
        t->scope = TQL_SCOPE_ANY;
        size_t start = lx->off;
        if (lex_attr_name(lx, t, start, start + 1, err, errlen) < 0) return -1;
        return 0;
    }
    return lex_punct(lx, t);
}

int tql_tokenize(const char *q, tql_token *toks, size_t max, size_t *n, char *err, size_t errlen)
{
    tql_lexer lx = {q, 0};
    *n = 0;
    if (strlen(q) > TQL_QUERY_MAX) return lex_error(err, errlen, 1, "query longer than %d bytes", TQL_QUERY_MAX);
    for (;;) {
        while (is_space(q[lx.off])) lx.off++;
        if (*n >= max) return lex_error(err, errlen, lx.off + 1, "more than %zu tokens", max);
        tql_token *t = &toks[*n];
        if (tql__lex_next(&lx, t, err, errlen) < 0) return -1;
        (*n)++;
        if (t->type == TQL_TOK_EOF) return 0;
    }
}

const char *tql__op_text(tql_tok_type op)
{
    switch (op) {
    case TQL_TOK_EQ: return "=";
    case TQL_TOK_NE: return "!=";
    case TQL_TOK_GT: return ">";
    case TQL_TOK_GE: return ">=";
    case TQL_TOK_LT: return "<";
    case TQL_TOK_LE: return "<=";
    case TQL_TOK_RE: return "=~";
    case TQL_TOK_NRE: return "!~";
    default: return NULL;
    }
}

const char *tql__tok_describe(const tql_token *t, const char *q, char *buf, size_t buflen)
{
    if (t->type == TQL_TOK_EOF) {
        snprintf(buf, buflen, "end of query");
    } else if (t->type == TQL_TOK_STRING) {
        snprintf(buf, buflen, "string \"%.40s%s\"", t->text, strlen(t->text) > 40 ? "..." : "");
    } else {
        size_t n = t->len > 40 ? 40 : t->len;
        snprintf(buf, buflen, "\"%.*s%s\"", (int)n, q + t->pos - 1, t->len > 40 ? "..." : "");
    }
    return buf;
}
