/* metrics_parse.c — the metrics stage of a TraceQL metrics query
 * (metrics.h): where it starts, its function, arguments and by(). The
 * span filter before it goes to tql_parse. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "store/metrics.h"

static const struct {
    const char *name;
    smx_fn fn;
} fns[] = {
    {"rate", SMX_RATE},         {"count_over_time", SMX_COUNT},         {"min_over_time", SMX_MIN},
    {"max_over_time", SMX_MAX}, {"avg_over_time", SMX_AVG},             {"sum_over_time", SMX_SUM},
    {"quantile_over_time", SMX_QUANTILE}, {"histogram_over_time", SMX_HISTOGRAM},
};
#define NFNS (sizeof fns / sizeof fns[0])
#define FN_LIST                                                                                              \
    "rate, count_over_time, min_over_time, max_over_time, avg_over_time, sum_over_time, quantile_over_time, " \
    "histogram_over_time"

/* Stages of a spanset pipeline (not metrics). */
static const char *const spanset_stages[] = {"select", "count", "avg", "min", "max", "sum", "by", "coalesce"};

static int is_ident(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (c >= '0' && c <= '9'); }
static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* Skip a quoted string starting at q[i] (a " or `); returns the index
 * after it (or the end of q when it is not closed). */
static size_t skip_string(const char *q, size_t i)
{
    char quote = q[i++];
    while (q[i] && q[i] != quote) {
        if (quote == '"' && q[i] == '\\' && q[i + 1]) i++;
        i++;
    }
    return q[i] ? i + 1 : i;
}

/* The identifier followed by "(" at q[i] (after blanks): its start and
 * length, or 0 when there is none. */
static size_t ident_call(const char *q, size_t i, size_t *start)
{
    while (is_space(q[i])) i++;
    size_t s = i;
    while (is_ident(q[i])) i++;
    size_t n = i - s;
    while (is_space(q[i])) i++;
    *start = s;
    return n && q[i] == '(' ? n : 0;
}

long smx_stage_offset(const char *q)
{
    long last = -1;
    int depth = 0;
    for (size_t i = 0; q[i];) {
        char c = q[i];
        if (c == '"' || c == '`') {
            i = skip_string(q, i);
            continue;
        }
        if (c == '(' || c == '{') depth++;
        else if ((c == ')' || c == '}') && depth > 0) depth--;
        else if (c == '|' && q[i + 1] == '|') {
            i += 2;
            continue;
        } else if (c == '|' && depth == 0) last = (long)i;
        i++;
    }
    if (last < 0) return -1;
    size_t s, n = ident_call(q, (size_t)last + 1, &s);
    if (!n) return -1;
    for (size_t k = 0; k < sizeof spanset_stages / sizeof spanset_stages[0]; k++)
        if (strlen(spanset_stages[k]) == n && strncmp(q + s, spanset_stages[k], n) == 0) return -1;
    return last;
}

/* ---- the stage ------------------------------------------------------------- */

typedef struct parser {
    const char *q;
    size_t i;
    char *err;
    size_t errlen;
} parser;

__attribute__((format(printf, 3, 4))) static int fail_at(parser *p, size_t pos, const char *fmt, ...)
{
    int n = snprintf(p->err, p->errlen, "position %zu: ", pos + 1);
    if (n >= 0 && (size_t)n < p->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static void skip_ws(parser *p)
{
    while (is_space(p->q[p->i])) p->i++;
}

/* What is at p->i, for messages: a quoted excerpt or "end of query". */
static const char *shown(parser *p, char *buf, size_t len)
{
    if (!p->q[p->i]) return "end of query";
    size_t n = 0;
    while (p->q[p->i + n] && n < 20 && !is_space(p->q[p->i + n])) n++;
    snprintf(buf, len, "\"%.*s\"", (int)(n ? n : 1), p->q + p->i);
    return buf;
}

static int expect(parser *p, char c, const char *what)
{
    char buf[40];
    skip_ws(p);
    if (p->q[p->i] != c) return fail_at(p, p->i, "expected %s, got %s", what, shown(p, buf, sizeof buf));
    p->i++;
    return 0;
}

/* One argument: the text up to a top-level "," or ")" (strings kept
 * whole), trimmed. Sets *start and *len; fails on an empty one. */
static int argument(parser *p, const char *what, size_t *start, size_t *len)
{
    char buf[40];
    skip_ws(p);
    size_t s = p->i, i = p->i;
    int depth = 0;
    while (p->q[i] && !(depth == 0 && (p->q[i] == ',' || p->q[i] == ')'))) {
        if (p->q[i] == '"' || p->q[i] == '`') {
            i = skip_string(p->q, i);
            continue;
        }
        if (p->q[i] == '(') depth++;
        else if (p->q[i] == ')') depth--;
        i++;
    }
    size_t e = i;
    while (e > s && is_space(p->q[e - 1])) e--;
    if (e == s) return fail_at(p, s, "expected %s, got %s", what, shown(p, buf, sizeof buf));
    p->i = i;
    *start = s;
    *len = e - s;
    return 0;
}

/* A field argument parsed with tql_fieldref_parse; its message's position
 * is moved to q's. */
static int field_arg(parser *p, const char *what, tql_fieldref **ref, char **text)
{
    size_t s, n;
    if (argument(p, what, &s, &n) < 0) return -1;
    *text = ex_strndup(p->q + s, n);
    if (!*text) return fail_at(p, s, "out of memory");
    char err[256];
    if (tql_fieldref_parse(*text, ref, err, sizeof err) < 0) {
        char *rest = NULL;
        unsigned long pos = strncmp(err, "position ", 9) == 0 ? strtoul(err + 9, &rest, 10) : 0;
        if (pos && rest && rest[0] == ':')
            return fail_at(p, s + pos - 1, "%s", rest + 2);
        return fail_at(p, s, "%s: %s", what, err);
    }
    return 0;
}

/* A quantile: a decimal number in [0, 1]. */
static int quantile_arg(parser *p, double *out)
{
    size_t s, n;
    if (argument(p, "a quantile (a number from 0 to 1)", &s, &n) < 0) return -1;
    char num[64];
    int ok = n < sizeof num && strspn(p->q + s, "0123456789.") >= n;
    if (ok) {
        memcpy(num, p->q + s, n);
        num[n] = '\0';
        char *end = NULL;
        *out = strtod(num, &end);
        ok = end == num + n && *out >= 0 && *out <= 1;
    }
    if (!ok) return fail_at(p, s, "quantile \"%.*s\": expected a number from 0 to 1", (int)(n > 40 ? 40 : n), p->q + s);
    return 0;
}

static int function_args(parser *p, smx_query *m)
{
    char buf[40];
    if (m->fn == SMX_RATE || m->fn == SMX_COUNT) {
        skip_ws(p);
        if (p->q[p->i] != ')')
            return fail_at(p, p->i, "%s() takes no arguments, got %s", m->fn_name, shown(p, buf, sizeof buf));
        return expect(p, ')', "\")\"");
    }
    if (field_arg(p, "a field (such as duration or span.x)", &m->attr, &m->attr_text) < 0) return -1;
    if (m->fn == SMX_QUANTILE) {
        do {
            if (expect(p, ',', m->nq ? "\",\" or \")\"" : "\",\" and a quantile") < 0) return -1;
            if (m->nq == SMX_QUANTILES_MAX) return fail_at(p, p->i, "more than %d quantiles", SMX_QUANTILES_MAX);
            if (quantile_arg(p, &m->q[m->nq++]) < 0) return -1;
            skip_ws(p);
        } while (p->q[p->i] != ')');
    }
    return expect(p, ')', "\")\"");
}

/* by(field, …) */
static int by_clause(parser *p, smx_query *m)
{
    if (expect(p, '(', "\"(\" after by") < 0) return -1;
    for (;;) {
        skip_ws(p);
        if (m->nby == SMX_BY_MAX) return fail_at(p, p->i, "more than %d fields in by()", SMX_BY_MAX);
        size_t k = m->nby++;
        if (field_arg(p, "a field to group by", &m->by[k], &m->by_text[k]) < 0) return -1;
        skip_ws(p);
        if (p->q[p->i] == ')') break;
        if (expect(p, ',', "\",\" or \")\"") < 0) return -1;
    }
    p->i++;
    return 0;
}

/* with(key=value, …): Tempo's query hints; read and ignored. */
static int with_clause(parser *p)
{
    if (expect(p, '(', "\"(\" after with") < 0) return -1;
    size_t s, n;
    for (;;) {
        if (argument(p, "a hint (key=value)", &s, &n) < 0) return -1;
        if (!memchr(p->q + s, '=', n)) return fail_at(p, s, "expected a hint key=value, got \"%.*s\"", (int)(n > 40 ? 40 : n), p->q + s);
        if (p->q[p->i] == ')') break;
        if (expect(p, ',', "\",\" or \")\"") < 0) return -1;
    }
    p->i++;
    return 0;
}

/* After the arguments: [by(…)] [with(…)] and the end. */
static int stage_tail(parser *p, smx_query *m)
{
    char buf[40];
    int seen_by = 0, seen_with = 0;
    for (;;) {
        skip_ws(p);
        if (!p->q[p->i]) return 0;
        size_t s = p->i, n = 0;
        while (is_ident(p->q[s + n])) n++;
        if (n == 2 && strncmp(p->q + s, "by", 2) == 0 && !seen_by && !seen_with) {
            p->i += 2;
            seen_by = 1;
            if (by_clause(p, m) < 0) return -1;
        } else if (n == 4 && strncmp(p->q + s, "with", 4) == 0 && !seen_with) {
            p->i += 4;
            seen_with = 1;
            if (with_clause(p) < 0) return -1;
        } else {
            return fail_at(p, p->i, "expected %send of query after %s(), got %s",
                           seen_with ? "" : seen_by ? "with(…) or " : "by(…), with(…) or ", m->fn_name,
                           shown(p, buf, sizeof buf));
        }
    }
}

static int parse_stage(parser *p, smx_query *m)
{
    size_t s, n = ident_call(p->q, p->i, &s);
    for (size_t k = 0; k < NFNS; k++)
        if (strlen(fns[k].name) == n && strncmp(p->q + s, fns[k].name, n) == 0) {
            m->fn = fns[k].fn;
            m->fn_name = fns[k].name;
        }
    if (!m->fn_name)
        return fail_at(p, s, "unknown metrics function \"%.*s\" (expected one of " FN_LIST ")", (int)(n > 60 ? 60 : n),
                       p->q + s);
    p->i = s + n;
    if (expect(p, '(', "\"(\"") < 0 || function_args(p, m) < 0) return -1;
    return stage_tail(p, m);
}

int smx_parse(const char *q, smx_query **out, char *err, size_t errlen)
{
    *out = NULL;
    long off = smx_stage_offset(q);
    if (off < 0) {
        snprintf(err, errlen,
                 "not a metrics query: expected a span filter and a last stage such as \"| rate()\" or "
                 "\"| quantile_over_time(duration, .9)\" (one of " FN_LIST ")");
        return -1;
    }
    smx_query *m = ex_calloc(1, sizeof *m);
    if (!m) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    parser p = {q, (size_t)off + 1, err, errlen};
    char *filter = ex_strndup(q, (size_t)off);
    size_t lead = 0;
    while (filter && is_space(filter[lead])) lead++;
    if (!filter) snprintf(err, errlen, "out of memory");
    else if (!filter[lead]) fail_at(&p, 0, "expected a span filter such as { } before \"|\"");
    else if (tql_parse(filter, &m->filter, err, errlen) == 0 && parse_stage(&p, m) == 0) {
        ex_free(filter);
        *out = m;
        return 0;
    }
    ex_free(filter);
    smx_query_free(m);
    return -1;
}

void smx_query_free(smx_query *m)
{
    smx_query_clear(m);
    ex_free(m);
}

void smx_query_clear(smx_query *m)
{
    if (!m) return;
    tql_free(m->filter);
    tql_fieldref_free(m->attr);
    ex_free(m->attr_text);
    for (size_t i = 0; i < m->nby; i++) {
        tql_fieldref_free(m->by[i]);
        ex_free(m->by_text[i]);
    }
    memset(m, 0, sizeof *m);
}
