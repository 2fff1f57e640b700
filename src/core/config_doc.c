#include "core/config_doc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/duration.h"
#include "core/secret.h"

/* Text from a table goes into a paragraph or into a table cell. */
typedef enum { IN_PARAGRAPH, IN_CELL } text_place;

static int is_alnum(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static size_t count_char(const char *s, char c)
{
    size_t n = 0;
    for (; *s; s++) n += *s == c;
    return n;
}

/* 1 when the line at s holds only c and spaces (a rule or a heading underline). */
static int line_of(const char *s, char c)
{
    for (; *s && *s != '\n'; s++)
        if (*s != c && *s != ' ') return 0;
    return 1;
}

/* At the start of a paragraph line, what would open a list, a heading or
 * a rule is escaped: "- ", "+ ", "# ", "12. ", "12) ", a line of '-' or
 * '='. ('*', '<' and '>' are escaped wherever they are, by put_text.) */
static const char *put_line_start(const char *s, FILE *out)
{
    size_t hashes = strspn(s, "#");
    if (!*s) return s;
    int after_space = s[1] == ' ' || s[1] == '\n' || s[1] == '\0';
    if ((hashes >= 1 && hashes <= 6 && (s[hashes] == ' ' || s[hashes] == '\n' || !s[hashes])) ||
        (strchr("-+", *s) && after_space) || (strchr("-=", *s) && line_of(s, *s))) {
        fputc('\\', out);
        return s;
    }
    size_t digits = strspn(s, "0123456789");
    if (digits && digits <= 9 && (s[digits] == '.' || s[digits] == ')') &&
        (s[digits + 1] == ' ' || s[digits + 1] == '\n' || !s[digits + 1])) {
        fwrite(s, 1, digits, out);
        fputc('\\', out);
        return s + digits;
    }
    return s;
}

/* Write table text as Markdown (see config_doc.h for the rules). Paired
 * backticks delimit code spans, kept verbatim; an unpaired one is
 * escaped. In a cell a line break becomes a space. */
static void put_text(const char *s, text_place place, FILE *out)
{
    int spans = count_char(s, '`') % 2 == 0, in_code = 0, line_start = 1;
    for (const char *p = s; *p; p++) {
        if (line_start && place == IN_PARAGRAPH && !in_code) p = put_line_start(p, out);
        line_start = 0;
        char c = *p;
        if (c == '\n') {
            fputc(place == IN_CELL ? ' ' : '\n', out);
            line_start = 1;
        } else if (c == '`' && spans) {
            in_code = !in_code;
            fputc(c, out);
        } else if (c == '|' && place == IN_CELL) {
            fputs("\\|", out);
        } else if (in_code) {
            fputc(c, out);
        } else if (c == '<') {
            fputs("&lt;", out);
        } else if (c == '>') {
            fputs("&gt;", out);
        } else if (c == '&') {
            fputs("&amp;", out);
        } else if (strchr("\\*[]`", c) || (c == '_' && (p == s || !is_alnum(p[-1])))) {
            fputc('\\', out);
            fputc(c, out);
        } else {
            fputc(c, out);
        }
    }
}

/* `text` as a code span in a table cell ('|' escaped, as GFM asks). */
static void put_code(const char *text, FILE *out)
{
    fputc('`', out);
    for (const char *p = text; *p; p++) {
        if (*p == '|') fputc('\\', out);
        fputc(*p, out);
    }
    fputc('`', out);
}

static const char *type_name(ex_opt_type t)
{
    switch (t) {
    case EX_OPT_STRING: return "string";
    case EX_OPT_INT: return "integer";
    case EX_OPT_DOUBLE: return "number";
    case EX_OPT_DURATION: return "duration";
    case EX_OPT_BOOL: return "boolean";
    }
    return "?";
}

/* The shortest plain decimal that reads back as v (no exponent below
 * 1e15, so 0.000001 stays readable). */
static char *format_number(double v, char *buf, size_t len)
{
    if (fabs(v) >= 1e15) {
        snprintf(buf, len, "%.17g", v);
        return buf;
    }
    for (int prec = 0; prec <= 17; prec++) {
        snprintf(buf, len, "%.*f", prec, v);
        if (strtod(buf, NULL) == v) break;
    }
    return buf;
}

static void put_bound(const ex_opt *o, double v, FILE *out)
{
    char buf[64];
    if (o->type == EX_OPT_DURATION) fputs(ex_duration_format((int64_t)v, buf), out);
    else fputs(format_number(v, buf, sizeof buf), out);
}

static void put_bounds(const ex_opt *o, FILE *out)
{
    if (o->min > o->max) {
        fputs("—", out);
        return;
    }
    put_bound(o, o->min, out);
    fputs(" … ", out);
    put_bound(o, o->max, out);
}

static const char *unit_name(const char *unit)
{
    static const struct { const char *unit, *name; } names[] = {
        {"ns", "nanoseconds"}, {"us", "microseconds"}, {"ms", "milliseconds"},
        {"s", "seconds"},      {"m", "minutes"},       {"h", "hours"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(names[i].unit, unit) == 0) return names[i].name;
    return unit;
}

static void put_aliases(const ex_opt *o, FILE *out)
{
    if (!o->aliases || !o->aliases->env) {
        fputs("—", out);
        return;
    }
    for (const ex_env_alias *a = o->aliases; a->env; a++) {
        if (a != o->aliases) fputs(", ", out);
        put_code(a->env, out);
        if (a->unit) fprintf(out, " (a bare number is in %s)", unit_name(a->unit));
    }
}

static int any_aliases(const ex_opt *opts, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (opts[i].aliases && opts[i].aliases->env) return 1;
    return 0;
}

static void put_table_head(int aliases, FILE *out)
{
    fprintf(out, "| flag | environment |%s type | default | bounds | description |\n", aliases ? " seed variable |" : "");
    fprintf(out, "|---|---|%s---|---|---|---|\n", aliases ? "---|" : "");
}

static void put_row(const ex_opt *o, int aliases, FILE *out)
{
    char flag[160], env[128], def[256];
    snprintf(flag, sizeof flag, "--%s%s%s", o->name, o->type == EX_OPT_BOOL ? "" : " ",
             o->type == EX_OPT_BOOL ? "" : (o->metavar ? o->metavar : "VALUE"));
    fputs("| ", out);
    put_code(flag, out);
    fputs(" | ", out);
    put_code(ex_cfg_env_name(o, env, sizeof env), out);
    if (aliases) {
        fputs(" | ", out);
        put_aliases(o, out);
    }
    fprintf(out, " | %s | ", type_name(o->type));
    if (o->def) put_code((ex_secret_mask(o->def, def, sizeof def), def), out);
    else fputs("—", out);
    fputs(" | ", out);
    put_bounds(o, out);
    fputs(" | ", out);
    put_text(o->help ? o->help : "", IN_CELL, out);
    fputs(" |\n", out);
}

static int put_options(const ex_opt *opts, size_t n, FILE *out)
{
    int aliases = any_aliases(opts, n);
    put_table_head(aliases, out);
    for (size_t i = 0; i < n; i++) put_row(&opts[i], aliases, out);
    return ferror(out) ? -1 : 0;
}

int ex_cfg_doc_command(const ex_cmd_spec *spec, FILE *out)
{
    fprintf(out, "## extrace %s\n\n", spec->name);
    size_t len = strlen(spec->summary);
    put_text(spec->summary, IN_PARAGRAPH, out);
    fputs(len && spec->summary[len - 1] == '.' ? "\n\n" : ".\n\n", out);
    if (spec->description) {
        put_text(spec->description, IN_PARAGRAPH, out);
        fputs("\n\n", out);
    }
    fprintf(out, "Usage: `extrace %s [OPTIONS]%s%s`\n\n", spec->name, spec->args ? " " : "",
            spec->args ? spec->args : "");
    if (spec->nopts == 0) {
        fputs("No options of its own; see [Options of every command](#options-of-every-command).\n", out);
        return ferror(out) ? -1 : 0;
    }
    return put_options(spec->opts, spec->nopts, out);
}

int ex_cfg_doc_common(FILE *out)
{
    fputs("## Options of every command\n\n"
          "Every command also takes these, `--help` or `-h` (show the command's options, wrapped to the\n"
          "terminal or to 80 columns, and exit 0) and `--version` or `-V` (print the version and exit 0).\n\n",
          out);
    size_t n;
    const ex_opt *common = ex_cfg_common_opts(&n);
    return put_options(common, n, out);
}

/* One standard variable the worker reads. */
typedef struct otel_var {
    const char *name;   /* variable name */
    const char *def;    /* default, as Markdown; "": none */
    const char *values; /* accepted values */
    const char *notes;  /* what it does */
} otel_var;

/* What src/otel/otel_env.c and src/otel/resource.c read. Kept by hand:
 * those files read the variables in code, not from a table; the
 * integration test test_config_doc checks both directions against them. */
static const otel_var otel_vars[] = {
    {"OTEL_SDK_DISABLED", "`false`", "`true`, `false`", "`true`: export nothing and read no other OTEL_* variable."},
    {"OTEL_TRACES_EXPORTER", "`otlp`", "`otlp`, `console`, `none`",
     "Comma list of exporters (the seed uses console and otlp); `none` only alone."},
    {"OTEL_SERVICE_NAME", "`Tracing.Worker`", "text", "Resource `service.name`; wins over OTEL_RESOURCE_ATTRIBUTES."},
    {"OTEL_RESOURCE_ATTRIBUTES", "", "`k1=v1,k2=v2`",
     "Resource attributes, percent-decoded; defaults `service.version=1.0.0`, `service.namespace=dev1`, a "
     "random `service.instance.id`. One bad member drops the whole variable, with a warning. The namespace "
     "also derives the trace ids."},
    {"OTEL_EXPORTER_OTLP_PROTOCOL", "`http/protobuf`", "`grpc`, `http/protobuf`, `http/json`",
     "OTLP transport (the seed sets `grpc`)."},
    {"OTEL_EXPORTER_OTLP_ENDPOINT", "`http://localhost:4318` (HTTP), `http://localhost:4317` (gRPC)", "URL",
     "Base URL: over HTTP `v1/traces` is appended to its path; over gRPC it is used as is, and `host:port` "
     "is allowed (then OTEL_EXPORTER_OTLP_INSECURE picks http or https)."},
    {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "", "URL", "Full URL, used as is; wins over OTEL_EXPORTER_OTLP_ENDPOINT."},
    {"OTEL_EXPORTER_OTLP_HEADERS", "", "`k1=v1,k2=v2`",
     "Extra request headers, percent-decoded; names must be HTTP tokens. Values are never repeated in messages."},
    {"OTEL_EXPORTER_OTLP_TIMEOUT", "`10000`", "1 … 3600000 (ms)", "Time limit of one export request."},
    {"OTEL_EXPORTER_OTLP_COMPRESSION", "`none`", "`gzip`, `none`", "Request body compression."},
    {"OTEL_EXPORTER_OTLP_INSECURE", "`false`", "`true`, `false`", "For a gRPC `host:port` endpoint: `true` = plain http."},
    {"OTEL_EXPORTER_OTLP_CERTIFICATE", "", "file path", "CA bundle to verify the backend with."},
    {"OTEL_EXPORTER_OTLP_CLIENT_KEY", "", "file path", "Client key for mutual TLS."},
    {"OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "", "file path", "Client certificate for mutual TLS."},
    {"OTEL_BSP_SCHEDULE_DELAY", "`5000`", "1 … 3600000 (ms)", "Longest wait before a partial batch is sent."},
    {"OTEL_BSP_EXPORT_TIMEOUT", "`30000`", "1 … 3600000 (ms)",
     "Time limit of one batch, retries included; also the flush time at shutdown."},
    {"OTEL_BSP_MAX_QUEUE_SIZE", "`2048`", "1 … 10000000 (spans)",
     "Spans waiting for export at most; beyond it spans are dropped and counted (`extrace_spans_dropped_total`)."},
    {"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "`512`", "1 … 10000000 (spans)",
     "Spans per export request at most; not above the queue size (an error when both are set, else it follows "
     "the queue size down)."},
};

int ex_cfg_doc_otel(FILE *out)
{
    fputs("## OpenTelemetry variables of extrace worker\n\n"
          "The worker's export is configured by the standard OpenTelemetry variables, not by flags. An empty\n"
          "variable counts as unset; a boolean is true only for `true` (any case). Every\n"
          "`OTEL_EXPORTER_OTLP_X` below also has an `OTEL_EXPORTER_OTLP_TRACES_X` form, which wins over it.\n"
          "OTLP variables are checked only when `otlp` is among the exporters; a malformed one stops the worker\n"
          "with exit status 2 and a message naming the variable and its value.\n\n"
          "| variable | default | values | description |\n|---|---|---|---|\n",
          out);
    for (size_t i = 0; i < sizeof otel_vars / sizeof otel_vars[0]; i++) {
        const otel_var *v = &otel_vars[i];
        fputs("| ", out);
        put_code(v->name, out);
        fputs(" | ", out);
        if (*v->def) put_text(v->def, IN_CELL, out);
        else fputs("—", out);
        fputs(" | ", out);
        put_text(v->values, IN_CELL, out);
        fputs(" | ", out);
        put_text(v->notes, IN_CELL, out);
        fputs(" |\n", out);
    }
    return ferror(out) ? -1 : 0;
}

static void put_intro(const ex_cmd_spec *const *specs, size_t n, FILE *out)
{
    fputs("# Configuration\n\n"
          "<!-- Generated by `extrace config-doc` from the commands' option tables: do not edit by hand.\n"
          "     Regenerate with `make docs`. -->\n\n"
          "Every option of every command, as its option table defines it; `extrace <command> --help`\n"
          "prints the same. Each option can be set, from lowest to highest precedence, by its default, by the\n"
          "seed's variable where it has one (`TracingSample__…`, so the seed's compose files and Helm values\n"
          "work unchanged), by its `EXTRACE_<NAME>` variable, and by its flag (`--name VALUE` or\n"
          "`--name=VALUE`; a boolean flag alone means true). An empty variable counts as unset.\n\n"
          "Durations are written `250ms`, `5s`, `10m`, `1h30m` (units ns, us, ms, s, m, h); a seed variable's\n"
          "bare number is in the unit its row names. Booleans are `true`/`false`, `1`/`0`, `yes`/`no` or\n"
          "`on`/`off`. A malformed or out-of-bounds value stops the command with exit status 2 and a message\n"
          "naming the value and where it came from, e.g. `EXTRACE_TIME_SCALE=\"fast\" (environment): not a number`.\n\n",
          out);
    for (size_t i = 0; i < n; i++) {
        /* The heading's anchor: spaces become '-' ("profile check" → #extrace-profile-check). */
        fprintf(out, "- [extrace %s](#extrace-", specs[i]->name);
        for (const char *c = specs[i]->name; *c; c++) fputc(*c == ' ' ? '-' : *c, out);
        fputs(")\n", out);
    }
    fputs("- [Options of every command](#options-of-every-command)\n"
          "- [OpenTelemetry variables of extrace worker](#opentelemetry-variables-of-extrace-worker)\n\n",
          out);
}

int ex_cfg_doc_page(const ex_cmd_spec *const *specs, size_t n, FILE *out)
{
    int rc = 0;
    put_intro(specs, n, out);
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = ex_cfg_doc_command(specs[i], out);
        fputc('\n', out);
    }
    if (rc == 0) rc = ex_cfg_doc_common(out);
    fputc('\n', out);
    if (rc == 0) rc = ex_cfg_doc_otel(out);
    return rc == 0 && !ferror(out) ? 0 : -1;
}
