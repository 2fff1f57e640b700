/* config.h — one declarative table per command.
 *
 * Each command describes its options in an ex_opt array; from it come the
 * command-line flags (--name VALUE, --name=VALUE), the environment
 * variables (EXTRACE_<NAME>, '-' → '_', plus seed-compatible aliases),
 * the defaults, the bounds and the --help text. Precedence, lowest first:
 * default, alias env vars, EXTRACE_* env var, flag.
 *
 * Every command also gets --help (-h), --version (-V), --log-level and
 * --log-format, the last two applied to the logger as soon as they are
 * parsed. --help text is wrapped to the terminal (80 columns otherwise).
 *
 * A malformed value stops the program with a message that names the value
 * and where it came from:
 *     EXTRACE_TIME_SCALE="fast" (environment): not a number
 *     --count="-3": must be at least 1
 */
#ifndef EXTRACE_CORE_CONFIG_H
#define EXTRACE_CORE_CONFIG_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum {
    EX_OPT_STRING,   /* char * (owned by the config struct; ex_cfg_free frees it) */
    EX_OPT_INT,      /* int64_t */
    EX_OPT_DOUBLE,   /* double */
    EX_OPT_DURATION, /* int64_t nanoseconds; text like "250ms", "5s", "10m" */
    EX_OPT_BOOL,     /* int 0/1; "--flag" alone means true */
} ex_opt_type;

/* Another environment variable that sets the same option (the seed's
 * names). For a duration, `unit` is the unit of a bare number ("s", "m"). */
typedef struct ex_env_alias {
    const char *env;
    const char *unit;
} ex_env_alias;

/* Extra validation after parsing: return 0, or -1 with a reason in why. */
typedef int (*ex_opt_check_fn)(const char *text, char *why, size_t whylen);

typedef struct ex_opt {
    const char *name;             /* flag name without "--" */
    ex_opt_type type;
    size_t offset;                /* offsetof the value in the config struct */
    const char *def;              /* default as text; NULL: none (string NULL / 0) */
    double min, max;              /* numeric bounds (ns for durations); min > max: none */
    const char *metavar;          /* placeholder in --help: N, HOST:PORT, URL … */
    const char *help;             /* one or two sentences */
    const ex_env_alias *aliases;  /* NULL or an array ended by {NULL, NULL} */
    ex_opt_check_fn check;        /* NULL or extra validation */
    const char *env;              /* NULL: EXTRACE_<NAME> */
} ex_opt;

#define EX_NO_BOUNDS 1, 0

typedef struct ex_cmd_spec {
    const char *name;        /* "api" */
    const char *summary;     /* one line for `extrace --help` */
    const char *description; /* paragraph(s) for `extrace api --help`; may be NULL */
    const char *args;        /* positional arguments in the usage line, or NULL */
    int min_args, max_args;  /* positional argument count bounds */
    const ex_opt *opts;
    size_t nopts;
} ex_cmd_spec;

enum { EX_CFG_OK = 0, EX_CFG_HELP = 1, EX_CFG_ERROR = -1 };

typedef struct ex_cfg_result {
    char error[512];   /* set when EX_CFG_ERROR is returned */
    char **args;       /* positional arguments (point into argv) */
    int nargs;
    char **given;      /* per option of the spec: the text that set it (owned), or NULL */
    size_t ngiven;
} ex_cfg_result;

/* Fill the config struct `cfg` (zeroed by the caller) from defaults, the
 * environment `envp` (NULL-terminated "K=V" array, e.g. environ) and argv
 * (argv[0] is the command name). Returns EX_CFG_OK, EX_CFG_HELP (the help,
 * or for --version / -V the version, was printed to `help_out`: exit 0)
 * or EX_CFG_ERROR with res->error set. res->args
 * must be freed with ex_cfg_result_free. */
int ex_cfg_parse(const ex_cmd_spec *spec, void *cfg, int argc, char **argv, char *const *envp,
                 FILE *help_out, ex_cfg_result *res);
void ex_cfg_result_free(ex_cfg_result *res);
/* The text option `name` of spec was set from, as the user wrote it (flag,
 * variable or default; a seed alias with its unit: "10m"), so logs can
 * show a duration in the unit given; NULL if unset or unknown. */
const char *ex_cfg_given(const ex_cmd_spec *spec, const ex_cfg_result *res, const char *name);

/* Free the strings the config struct owns. */
void ex_cfg_free(const ex_cmd_spec *spec, void *cfg);

void ex_cfg_print_help(const ex_cmd_spec *spec, FILE *out);
/* The options every command has (--log-level, --log-format); n set to their
 * count. Their offsets point into a struct private to config.c. */
const ex_opt *ex_cfg_common_opts(size_t *n);
/* The environment variable name of an option (EXTRACE_<NAME> unless set). */
const char *ex_cfg_env_name(const ex_opt *opt, char *buf, size_t len);

/* Split "host:port", "[v6]:port" or ":port" (host "0.0.0.0"). 0 or -1. */
int ex_hostport_split(const char *s, char *host, size_t hostlen, int *port);
/* ex_opt_check_fn for --seed options (see ex_seed_parse). */
int ex_check_seed(const char *text, char *why, size_t whylen);
/* ex_opt_check_fn for HOST:PORT options. */
int ex_check_hostport(const char *text, char *why, size_t whylen);

#endif
