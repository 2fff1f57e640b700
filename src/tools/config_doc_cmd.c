/* config_doc_cmd.c — `extrace config-doc`: print docs/configuration.md,
 * rendered from every command's option table (core/config_doc.h).
 * `make docs` runs it; tests/integration/test_config_doc.c fails when the
 * committed page differs from its output. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "core/config.h"
#include "core/config_doc.h"
#include "core/mem.h"
#include "gen/gen_config.h"

typedef struct config_doc_cfg {
    char *output; /* file to write, or NULL: stdout */
} config_doc_cfg;

static int check_not_empty(const char *text, char *why, size_t whylen)
{
    if (*text) return 0;
    snprintf(why, whylen, "must not be empty");
    return -1;
}

static const ex_opt opts[] = {
    {"output", EX_OPT_STRING, offsetof(config_doc_cfg, output), NULL, EX_NO_BOUNDS, "FILE",
     "Write the page to FILE (through FILE.tmp, renamed when complete) instead of stdout.", NULL, check_not_empty,
     NULL},
};

static const ex_cmd_spec spec = {
    "config-doc",
    "Print docs/configuration.md: every command's options, from their tables",
    "Renders the option table of every command (flags, EXTRACE_* variables, the seed's variables,\n"
    "defaults, bounds) and the OTEL_* variables of the worker as Markdown. `make docs` runs it.",
    NULL, 0, 0, opts, sizeof opts / sizeof opts[0],
};

/* Render the page to path via path.tmp and a rename, so a failed run never
 * leaves a half-written page. 0, or -1 with a message on stderr. */
static int write_file(const ex_cmd_spec *const *specs, size_t n, const char *path)
{
    size_t len = strlen(path) + sizeof ".tmp";
    char *tmp = ex_malloc(len);
    int rc = -1;
    if (!tmp) {
        fprintf(stderr, "extrace config-doc: out of memory\n");
        return -1;
    }
    snprintf(tmp, len, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        fprintf(stderr, "extrace config-doc: --output \"%s\": cannot create %s: %s\n", path, tmp, strerror(errno));
        goto out;
    }
    int wrote = ex_cfg_doc_page(specs, n, f);
    if (fclose(f) != 0 || wrote != 0) {
        fprintf(stderr, "extrace config-doc: --output \"%s\": writing %s failed: %s\n", path, tmp, strerror(errno));
        remove(tmp);
        goto out;
    }
    if (rename(tmp, path) != 0) {
        fprintf(stderr, "extrace config-doc: --output \"%s\": cannot rename %s: %s\n", path, tmp, strerror(errno));
        remove(tmp);
        goto out;
    }
    rc = 0;
out:
    ex_free(tmp);
    return rc;
}

int config_doc_main(int argc, char **argv, char *const *envp)
{
    /* The commands in the order `extrace --help` lists them. */
    const ex_cmd_spec *const specs[] = {api_cmd_spec, gen_spec(), worker_cmd_spec, traceid_cmd_spec,
                                        store_cmd_spec, demo_cmd_spec, sources_cmd_spec, profile_check_cmd_spec, &spec};
    const size_t n = sizeof specs / sizeof specs[0];
    config_doc_cfg cfg = {0};
    ex_cfg_result res;
    int status = 0;
    int rc = ex_cfg_parse(&spec, &cfg, argc, argv, envp, stdout, &res);
    if (rc == EX_CFG_ERROR) {
        fprintf(stderr, "extrace config-doc: %s\n", res.error);
        status = 2;
    } else if (rc == EX_CFG_OK && cfg.output) {
        status = write_file(specs, n, cfg.output) == 0 ? 0 : 1;
    } else if (rc == EX_CFG_OK) {
        if (ex_cfg_doc_page(specs, n, stdout) != 0 || fflush(stdout) != 0) {
            fprintf(stderr, "extrace config-doc: writing to stdout failed: %s\n", strerror(errno));
            status = 1;
        }
    }
    ex_cfg_result_free(&res);
    ex_cfg_free(&spec, &cfg);
    return status;
}
