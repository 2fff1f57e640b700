#include "core/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/duration.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/rng.h"
#include "core/secret.h"
#include "core/wrap.h"

/* Options every command has; values land in this struct, then the logger. */
typedef struct common_cfg {
    char *log_level;
    char *log_format;
} common_cfg;

static int check_level(const char *t, char *why, size_t n)
{
    ex_log_level l;
    if (ex_log_level_parse(t, &l) == 0) return 0;
    snprintf(why, n, "not a log level (trace, debug, info, warn, error, off)");
    return -1;
}

static int check_format(const char *t, char *why, size_t n)
{
    ex_log_format f;
    if (ex_log_format_parse(t, &f) == 0) return 0;
    snprintf(why, n, "not a log format (text, json)");
    return -1;
}

static const ex_opt common_opts[] = {
    {"log-level", EX_OPT_STRING, offsetof(common_cfg, log_level), "info", EX_NO_BOUNDS, "LEVEL",
     "Lowest level logged: trace, debug, info, warn, error or off.", NULL, check_level, NULL},
    {"log-format", EX_OPT_STRING, offsetof(common_cfg, log_format), "text", EX_NO_BOUNDS, "FORMAT",
     "Log line format on stderr: text or json (one object per line).", NULL, check_format, NULL},
};
#define NCOMMON (sizeof common_opts / sizeof common_opts[0])

const ex_opt *ex_cfg_common_opts(size_t *n)
{
    *n = NCOMMON;
    return common_opts;
}

const char *ex_cfg_env_name(const ex_opt *opt, char *buf, size_t len)
{
    if (opt->env) return opt->env;
    size_t o = (size_t)snprintf(buf, len, "EXTRACE_");
    for (const char *p = opt->name; *p && o + 1 < len; p++)
        buf[o++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
    buf[o] = '\0';
    return buf;
}

static int parse_bool(const char *s, int *out)
{
    static const char *const yes[] = {"true", "1", "yes", "on"}, *const no[] = {"false", "0", "no", "off"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) { *out = 1; return 0; }
        if (strcasecmp(s, no[i]) == 0) { *out = 0; return 0; }
    }
    return -1;
}

static int out_of_bounds(const ex_opt *opt, double v, char *why, size_t n)
{
    if (opt->min > opt->max) return 0;
    char a[EX_DURATION_STR_MAX], b[EX_DURATION_STR_MAX];
    int dur = opt->type == EX_OPT_DURATION;
    if (v < opt->min) {
        if (dur) snprintf(why, n, "must be at least %s", ex_duration_format((int64_t)opt->min, a));
        else snprintf(why, n, "must be at least %g", opt->min);
        return 1;
    }
    if (v > opt->max) {
        if (dur) snprintf(why, n, "must be at most %s", ex_duration_format((int64_t)opt->max, b));
        else snprintf(why, n, "must be at most %g", opt->max);
        return 1;
    }
    return 0;
}

/* Parse `text` into the option's slot. `unit` makes a bare number a
 * duration in that unit (seed aliases). When given is not NULL, *given
 * becomes a copy of the text (with that unit). 0, or -1 with why set. */
static int set_value(const ex_opt *opt, void *cfg, const char *text, const char *unit, char **given, char *why,
                     size_t n)
{
    char *slot = (char *)cfg + opt->offset, *end;
    char withunit[64];
    switch (opt->type) {
    case EX_OPT_STRING:
        break;
    case EX_OPT_BOOL: {
        int b;
        if (parse_bool(text, &b)) { snprintf(why, n, "not a boolean (true or false)"); return -1; }
        *(int *)slot = b;
        break;
    }
    case EX_OPT_INT: {
        errno = 0;
        long long v = strtoll(text, &end, 10);
        if (!*text || *end || errno) { snprintf(why, n, "not an integer"); return -1; }
        if (out_of_bounds(opt, (double)v, why, n)) return -1;
        *(int64_t *)slot = v;
        break;
    }
    case EX_OPT_DOUBLE: {
        double v = strtod(text, &end);
        if (!*text || *end || !isfinite(v)) { snprintf(why, n, "not a number"); return -1; }
        if (out_of_bounds(opt, v, why, n)) return -1;
        *(double *)slot = v;
        break;
    }
    case EX_OPT_DURATION: {
        int64_t ns;
        const char *r;
        if (unit && *text && strspn(text, "0123456789.") == strlen(text)) {
            snprintf(withunit, sizeof withunit, "%s%s", text, unit);
            text = withunit;
        }
        if (ex_duration_parse(text, &ns, &r)) { snprintf(why, n, "not a duration: %s", r); return -1; }
        if (out_of_bounds(opt, (double)ns, why, n)) return -1;
        *(int64_t *)slot = ns;
        break;
    }
    }
    if (opt->check && opt->check(text, why, n)) return -1;
    if (opt->type == EX_OPT_STRING) {
        char *copy = ex_strdup(text);
        if (!copy) { snprintf(why, n, "out of memory"); return -1; }
        ex_free(*(char **)slot);
        *(char **)slot = copy;
    }
    if (given) {
        char *copy = ex_strdup(text);
        if (!copy) { snprintf(why, n, "out of memory"); return -1; }
        ex_free(*given);
        *given = copy;
    }
    return 0;
}

/* res->error, with credentials masked (the value is still named). */
static void cfg_error(ex_cfg_result *res, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void cfg_error(ex_cfg_result *res, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ex_secret_vformat(res->error, sizeof res->error, fmt, ap);
    va_end(ap);
}

static const char *env_lookup(char *const *envp, const char *name)
{
    size_t len = strlen(name);
    for (; envp && *envp; envp++)
        if (strncmp(*envp, name, len) == 0 && (*envp)[len] == '=') return *envp + len + 1;
    return NULL;
}

/* Defaults, then aliases, then EXTRACE_* for every option of a table;
 * given (NULL or one slot per option) gets the texts that won. */
static int load_defaults_env(const ex_opt *opts, size_t nopts, void *cfg, char *const *envp, char **given,
                             ex_cfg_result *res)
{
    char why[256], envname[128];
    for (size_t i = 0; i < nopts; i++) {
        const ex_opt *o = &opts[i];
        char **g = given ? &given[i] : NULL;
        if (o->def && set_value(o, cfg, o->def, NULL, g, why, sizeof why)) {
            cfg_error(res, "default of --%s \"%s\": %s", o->name, o->def, why);
            return -1;
        }
        for (const ex_env_alias *a = o->aliases; a && a->env; a++) {
            const char *v = env_lookup(envp, a->env);
            if (v && *v && set_value(o, cfg, v, a->unit, g, why, sizeof why)) {
                cfg_error(res, "%s=\"%s\" (environment): %s", a->env, v, why);
                return -1;
            }
        }
        const char *name = ex_cfg_env_name(o, envname, sizeof envname);
        const char *v = env_lookup(envp, name);
        if (v && *v && set_value(o, cfg, v, NULL, g, why, sizeof why)) {
            cfg_error(res, "%s=\"%s\" (environment): %s", name, v, why);
            return -1;
        }
    }
    return 0;
}

static const ex_opt *find_opt(const ex_opt *opts, size_t n, const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(opts[i].name) == len && strncmp(opts[i].name, name, len) == 0) return &opts[i];
    return NULL;
}

/* Parse argv flags into cfg / common; positional arguments into res. */
static int load_flags(const ex_cmd_spec *spec, void *cfg, common_cfg *common, int argc, char **argv,
                      ex_cfg_result *res, int *help, int *version)
{
    char why[256];
    int only_args = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (only_args || a[0] != '-' || a[1] == '\0') {
            res->args[res->nargs++] = argv[i];
            continue;
        }
        if (strcmp(a, "--") == 0) { only_args = 1; continue; }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) { *help = 1; continue; }
        if (strcmp(a, "--version") == 0 || strcmp(a, "-V") == 0) { *version = 1; continue; }
        if (a[1] != '-') {
            cfg_error(res, "unknown option \"%s\" (try --help)", a);
            return -1;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        void *target = cfg;
        const ex_opt *o = find_opt(spec->opts, spec->nopts, name, len);
        if (!o && (o = find_opt(common_opts, NCOMMON, name, len))) target = common;
        if (!o) {
            cfg_error(res, "unknown option \"--%.*s\" (try extrace %s --help)",
                     (int)len, name, spec->name);
            return -1;
        }
        const char *val = eq ? eq + 1 : NULL;
        if (!val && o->type == EX_OPT_BOOL) val = "true";
        if (!val) {
            if (i + 1 >= argc) {
                cfg_error(res, "--%s: missing value (%s)", o->name,
                         o->metavar ? o->metavar : "VALUE");
                return -1;
            }
            val = argv[++i];
        }
        char **g = target == cfg ? &res->given[o - spec->opts] : NULL;
        if (set_value(o, target, val, NULL, g, why, sizeof why)) {
            cfg_error(res, "--%s=\"%s\": %s", o->name, val, why);
            return -1;
        }
    }
    return 0;
}

int ex_cfg_parse(const ex_cmd_spec *spec, void *cfg, int argc, char **argv, char *const *envp,
                 FILE *help_out, ex_cfg_result *res)
{
    common_cfg common = {0};
    int help = 0, version = 0, rc = EX_CFG_ERROR;
    memset(res, 0, sizeof *res);
    res->args = ex_calloc((size_t)(argc > 0 ? argc : 1), sizeof(char *));
    res->given = ex_calloc(spec->nopts ? spec->nopts : 1, sizeof(char *));
    res->ngiven = spec->nopts;
    if (!res->args || !res->given) {
        cfg_error(res, "out of memory");
        goto out;
    }
    if (load_defaults_env(common_opts, NCOMMON, &common, envp, NULL, res) ||
        load_defaults_env(spec->opts, spec->nopts, cfg, envp, res->given, res) ||
        load_flags(spec, cfg, &common, argc, argv, res, &help, &version))
        goto out;
    if (version && !help) {
        fprintf(help_out ? help_out : stdout, "extrace %s\n", EXTRACE_VERSION);
        rc = EX_CFG_HELP;
        goto out;
    }
    if (help) {
        ex_cfg_print_help(spec, help_out ? help_out : stdout);
        rc = EX_CFG_HELP;
        goto out;
    }
    if (res->nargs < spec->min_args || res->nargs > spec->max_args) {
        if (res->nargs > spec->max_args)
            cfg_error(res, "unexpected argument \"%s\" (try extrace %s --help)",
                     res->args[spec->max_args], spec->name);
        else
            cfg_error(res, "missing argument %s (try extrace %s --help)",
                     spec->args ? spec->args : "", spec->name);
        goto out;
    }
    ex_log_level level;
    ex_log_format format;
    ex_log_level_parse(common.log_level, &level);
    ex_log_format_parse(common.log_format, &format);
    ex_log_set_level(level);
    ex_log_set_format(format);
    rc = EX_CFG_OK;
out:
    ex_free(common.log_level);
    ex_free(common.log_format);
    return rc;
}

const char *ex_cfg_given(const ex_cmd_spec *spec, const ex_cfg_result *res, const char *name)
{
    for (size_t i = 0; i < spec->nopts && i < res->ngiven; i++)
        if (strcmp(spec->opts[i].name, name) == 0) return res->given[i];
    return NULL;
}

void ex_cfg_result_free(ex_cfg_result *res)
{
    for (size_t i = 0; res->given && i < res->ngiven; i++) ex_free(res->given[i]);
    ex_free(res->given);
    res->given = NULL;
    res->ngiven = 0;
    ex_free(res->args);
    res->args = NULL;
    res->nargs = 0;
}

void ex_cfg_free(const ex_cmd_spec *spec, void *cfg)
{
    for (size_t i = 0; i < spec->nopts; i++) {
        if (spec->opts[i].type != EX_OPT_STRING) continue;
        char **slot = (char **)((char *)cfg + spec->opts[i].offset);
        ex_free(*slot);
        *slot = NULL;
    }
}

#define HELP_COL 31 /* column where an option's help starts: 2 + 28 + 1 */

static void print_opt(const ex_opt *o, FILE *out, int width)
{
    char head[96], envname[128], env[1024];
    snprintf(head, sizeof head, "--%s%s%s", o->name, o->type == EX_OPT_BOOL ? "" : " ",
             o->type == EX_OPT_BOOL ? "" : (o->metavar ? o->metavar : "VALUE"));
    int n = fprintf(out, "  %-28s ", head);
    ex_wrap(out, o->help, n, HELP_COL, width);
    size_t len = (size_t)snprintf(env, sizeof env, "[env: %s", ex_cfg_env_name(o, envname, sizeof envname));
    for (const ex_env_alias *a = o->aliases; a && a->env && len < sizeof env; a++)
        len += (size_t)snprintf(env + len, sizeof env - len, ", %s", a->env);
    char def[256];
    if (o->def && len < sizeof env)
        len += (size_t)snprintf(env + len, sizeof env - len, "; default: %s", (ex_secret_mask(o->def, def, sizeof def), def));
    if (len < sizeof env) snprintf(env + len, sizeof env - len, "]");
    ex_wrap(out, env, 0, HELP_COL, width);
}

void ex_cfg_print_help(const ex_cmd_spec *spec, FILE *out)
{
    int width = ex_wrap_width(out);
    fprintf(out, "Usage: extrace %s [OPTIONS]%s%s\n\n", spec->name, spec->args ? " " : "",
            spec->args ? spec->args : "");
    ex_wrap(out, spec->summary, 0, 0, width);
    if (spec->description) {
        fputc('\n', out);
        ex_wrap(out, spec->description, 0, 0, width);
    }
    fprintf(out, "\nOptions:\n");
    for (size_t i = 0; i < spec->nopts; i++) print_opt(&spec->opts[i], out, width);
    for (size_t i = 0; i < NCOMMON; i++) print_opt(&common_opts[i], out, width);
    fprintf(out, "  %-28s %s\n", "--help, -h", "Show this help and exit.");
    fprintf(out, "  %-28s %s\n", "--version, -V", "Show the version and exit.");
}

int ex_hostport_split(const char *s, char *host, size_t hostlen, int *port)
{
    const char *colon = strrchr(s, ':');
    if (!colon) return -1;
    const char *h = s;
    size_t hl = (size_t)(colon - s);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') { h++; hl -= 2; }
    else if (memchr(h, ':', hl)) return -1; /* bare IPv6 needs brackets */
    if (hl == 0) { h = "0.0.0.0"; hl = 7; }
    if (hl >= hostlen) return -1;
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end || p < 0 || p > 65535) return -1;
    memcpy(host, h, hl);
    host[hl] = '\0';
    *port = (int)p;
    return 0;
}

int ex_check_hostport(const char *text, char *why, size_t whylen)
{
    char host[256];
    int port;
    if (ex_hostport_split(text, host, sizeof host, &port) == 0) return 0;
    snprintf(why, whylen, "expected HOST:PORT with a port from 0 to 65535");
    return -1;
}

int ex_check_seed(const char *text, char *why, size_t whylen)
{
    uint64_t v;
    if (ex_seed_parse(text, &v) == 0) return 0;
    snprintf(why, whylen, "not an unsigned integer from 0 to 18446744073709551615");
    return -1;
}
