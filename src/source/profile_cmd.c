/* profile_cmd.c — `extrace profile check FILE|NAME [--key KEY --sample
 * REQUEST=FILE[,FILE…]…]`: load a profile (a file or a built-in name),
 * compile its jq program, and with samples run it and print the jq output
 * and the snapshot tree it validates to. Exit 0 when all is well, 1 when
 * the samples do not make a valid snapshot, 2 for a profile that does not
 * load or compile, or a usage error. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "core/config.h"
#include "core/mem.h"
#include "core/wrap.h"
#include "model/snapshot.h"
#include "source/builtin.h"
#include "source/check_print.h"
#include "source/jq_run.h"

typedef struct check_cfg {
    char *key;    /* the workflow's key, for the input's "key" member */
    char *sample; /* the last --sample (all are collected from argv) */
} check_cfg;

static const ex_opt opts[] = {
    {"key", EX_OPT_STRING, offsetof(check_cfg, key), NULL, EX_NO_BOUNDS, "KEY",
     "The workflow's key, its parts joined by '/' in the profile's order (owner/repo/run_id); the jq "
     "program sees it as .key. Needed with --sample.",
     NULL, NULL, "EXTRACE_PROFILE_KEY"},
    {"sample", EX_OPT_STRING, offsetof(check_cfg, sample), NULL, EX_NO_BOUNDS, "REQUEST=FILE[,FILE]",
     "A recorded answer of one of the profile's requests: the JSON body in FILE. A paged request takes "
     "one file per page, comma-separated, in page order. Give --sample once per request; a request "
     "without one is absent (null) in the program's input.",
     NULL, NULL, "EXTRACE_PROFILE_SAMPLE"},
};

static const ex_cmd_spec spec = {
    "profile check",
    "Load a source profile, compile its jq program, and run it on recorded answers",
    "Loads FILE (or the built-in profile NAME, see `extrace sources`) and compiles its jq program;\n"
    "an error names the file, line and column, and the value (exit 2). With --key and --sample it\n"
    "builds the program's input — {\"key\": {part: value…}, \"<request>\": body, \"<paged request>\":\n"
    "[page…]} — runs the program, prints its output and the canonical snapshot it validates to, as\n"
    "a tree (exit 1 when it does not). No request is sent and no secret is read.",
    "FILE|NAME", 1, 1, opts, sizeof opts / sizeof opts[0],
};
const ex_cmd_spec *const profile_check_cmd_spec = &spec;

/* Read a whole file (at most max bytes) into an ex_malloc'd buffer. */
static char *read_file(const char *path, size_t max, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) return snprintf(err, errlen, "%s: %s", path, strerror(errno)), NULL;
    char *buf = ex_malloc(max + 1);
    size_t n = buf ? fread(buf, 1, max + 1, f) : 0;
    int bad = !buf || ferror(f) || n > max;
    fclose(f);
    if (bad) {
        snprintf(err, errlen, "%s: %s", path, !buf ? "out of memory" : n > max ? "too large" : "read error");
        ex_free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

/* Add one --sample REQUEST=FILE[,FILE…] to the input. 0, 1 (the sample is
 * not valid: exit 1) or 2 (usage). */
static int add_sample(const sr_profile *p, sr_jq_input *in, const char *arg)
{
    char err[SR_ERR_LEN];
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg || !eq[1]) {
        fprintf(stderr, "extrace profile check: --sample \"%.200s\": give REQUEST=FILE[,FILE…]\n", arg);
        return 2;
    }
    char name[SR_NAME_MAX + 1];
    snprintf(name, sizeof name, "%.*s", (int)(eq - arg) > SR_NAME_MAX ? SR_NAME_MAX : (int)(eq - arg), arg);
    const sr_request *r = sr_profile_request(p, name);
    if (!r) {
        fprintf(stderr, "extrace profile check: --sample %s: %s has no request \"%s\"\n", arg, p->origin, name);
        return 2;
    }
    char *files = ex_strdup(eq + 1);
    int rc = files ? 0 : 2, n = 0;
    for (char *save = NULL, *f = files ? strtok_r(files, ",", &save) : NULL; f && rc == 0; f = strtok_r(NULL, ",", &save)) {
        size_t len;
        char *body = read_file(f, SR_JQ_INPUT_MAX, &len, err, sizeof err);
        if (!body) {
            fprintf(stderr, "extrace profile check: --sample %s: %s\n", name, err);
            rc = 2;
        } else if (++n > 1 && r->paginate == SR_PAGINATE_NONE) {
            fprintf(stderr, "extrace profile check: --sample %s: request %s is not paged: one file only\n", name, name);
            rc = 2;
        } else if (sr_jq_input_add(in, name, body, len, err, sizeof err) != SR_JQ_OK) {
            fprintf(stderr, "extrace profile check: %s: %s\n", f, err);
            rc = 1;
        }
        ex_free(body);
    }
    ex_free(files);
    return rc;
}

/* Every --sample value of argv, in order (ex_cfg keeps only the last). */
static size_t collect_samples(int argc, char **argv, const char *env_value, const char **out, size_t max)
{
    size_t n = 0;
    for (int i = 1; i < argc && n < max; i++) {
        if (strcmp(argv[i], "--") == 0) break;
        if (strcmp(argv[i], "--sample") == 0 && i + 1 < argc) out[n++] = argv[++i];
        else if (strncmp(argv[i], "--sample=", 9) == 0) out[n++] = argv[i] + 9;
    }
    if (n == 0 && env_value) out[n++] = env_value;
    return n;
}

/* Run the program on the samples and print what it makes. 0, 1 or 2. */
static int run_samples(const sr_profile *p, sr_jq *jq, const char *keytext, const char **samples, size_t nsamples)
{
    char err[SR_ERR_LEN];
    sr_key key;
    if (!keytext) {
        fprintf(stderr, "extrace profile check: --sample needs --key (the parts %s joined by '/')\n",
                sr_profile_key_format(p, err, sizeof err));
        return 2;
    }
    if (sr_key_parse(p, keytext, strlen(keytext), &key, err, sizeof err) != 0) {
        fprintf(stderr, "extrace profile check: --key: %s\n", err);
        return 2;
    }
    sr_jq_input *in = sr_jq_input_new(p, &key, 0);
    int rc = in ? 0 : 2;
    for (size_t i = 0; i < nsamples && rc == 0; i++) rc = add_sample(p, in, samples[i]);
    json_t *out = NULL;
    sr_jq_error e = SR_JQ_OK;
    if (rc == 0) {
        e = sr_jq_run(jq, in, &out, err, sizeof err);
        in = NULL;
        if (e != SR_JQ_OK) {
            fprintf(stderr, "extrace profile check: %s [%s]\n", err, sr_jq_error_name(e));
            rc = 1;
        }
    }
    sr_jq_input_free(in);
    if (out) {
        printf("jq output:\n");
        json_dumpf(out, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        printf("\n");
        mdl_snapshot s;
        mdl_snapshot_init(&s);
        if (mdl_snapshot_from_json(&s, out, err, sizeof err) != 0) {
            fprintf(stderr, "extrace profile check: %s: the output is not a canonical snapshot: %s\n", p->origin, err);
            rc = 1;
        } else {
            printf("snapshot (%zu node%s):\n", s.nnodes, s.nnodes == 1 ? "" : "s");
            sr_print_tree(stdout, &s, p->root_name);
        }
        mdl_snapshot_clear(&s);
        ex_free(s.nodes); /* mdl_snapshot_clear keeps the node array for reuse */
        json_decref(out);
    }
    sr_key_free(&key);
    return rc;
}

static int check_main(int argc, char **argv, char *const *envp)
{
    check_cfg cfg = {0};
    ex_cfg_result res;
    int status = 0;
    int rc = ex_cfg_parse(&spec, &cfg, argc, argv, envp, stdout, &res);
    if (rc == EX_CFG_ERROR) {
        fprintf(stderr, "extrace profile check: %s\n", res.error);
        status = 2;
    } else if (rc == EX_CFG_OK) {
        sr_profile *p = NULL;
        sr_jq *jq = NULL;
        char err[SR_ERR_LEN];
        const char *samples[64];
        size_t nsamples = collect_samples(argc, argv, cfg.sample, samples, 64);
        if (sr_profile_load_any(res.args[0], &p, err, sizeof err) != 0 || sr_jq_compile(p, &jq, err, sizeof err) != 0) {
            fprintf(stderr, "extrace profile check: %s\n", err);
            status = 2;
        } else {
            sr_print_profile(stdout, p);
            if (nsamples) status = run_samples(p, jq, cfg.key, samples, nsamples);
            else if (cfg.key) fprintf(stderr, "extrace profile check: --key without --sample: nothing to run\n");
        }
        sr_jq_free(jq);
        sr_profile_free(p);
    }
    ex_cfg_result_free(&res);
    ex_cfg_free(&spec, &cfg);
    return status;
}

int profile_main(int argc, char **argv, char *const *envp)
{
    if (argc >= 2 && strcmp(argv[1], "check") == 0) return check_main(argc - 1, argv + 1, envp);
    if (argc >= 2 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0)) {
        printf("extrace %s\n", EXTRACE_VERSION);
        return 0;
    }
    int help = argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0);
    FILE *out = help ? stdout : stderr;
    int width = ex_wrap_width(out);
    fprintf(out, "Usage: extrace profile check [OPTIONS] FILE|NAME\n\nCommands:\n");
    int n = fprintf(out, "  check    ");
    ex_wrap(out, spec.summary, n, n, width);
    fprintf(out, "\n");
    ex_wrap(out, "Run 'extrace profile check --help' for its options; docs/sources.md describes profiles.", 0, 0, width);
    if (!help) fprintf(stderr, "\nextrace profile: %s%.100s%s\n", argc >= 2 ? "unknown command \"" : "which command? (check)",
                       argc >= 2 ? argv[1] : "", argc >= 2 ? "\"" : "");
    return help ? 0 : 2;
}
