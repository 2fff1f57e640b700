/* traceid_cmd.c — `extrace traceid <workflow-id>`: the trace id the worker
 * gives a workflow, so a user can look its trace up in any backend. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "core/config.h"
#include "model/spans.h"
#include "otel/ids.h"
#include "source/builtin.h"
#include "source/template.h"
#include "otel/resource.h"
#include "worker/event.h"

typedef struct traceid_cfg {
    char *ns;     /* service.namespace the trace id is derived under */
    char *source; /* the source the key belongs to */
} traceid_cfg;

static int check_not_empty(const char *text, char *why, size_t whylen)
{
    if (*text) return 0;
    snprintf(why, whylen, "must not be empty");
    return -1;
}

static const ex_opt opts[] = {
    {"namespace", EX_OPT_STRING, offsetof(traceid_cfg, ns), EXO_DEFAULT_SERVICE_NAMESPACE, EX_NO_BOUNDS, "NS",
     "service.namespace of the worker that traced the workflow. Given here explicitly: "
     "OTEL_RESOURCE_ATTRIBUTES is not consulted.",
     NULL, check_not_empty, NULL},
    {"source", EX_OPT_STRING, offsetof(traceid_cfg, source), "seed", EX_NO_BOUNDS, "SOURCE",
     "The source the workflow belongs to, as the worker's --source: the key is then checked against its "
     "profile (e.g. github-actions: OWNER/REPO/RUN_ID).", NULL, check_not_empty, NULL},
};

static const ex_cmd_spec spec = {
    "traceid",
    "Print the trace id of a workflow (32 hex digits)",
    "Trace ids are derived, not random: XXH3-128 of the namespace, the source (except the seed's)\n"
    "and the workflow's key. This prints the id under which `extrace worker` exports the workflow's\n"
    "trace, to look it up in Tempo, Jaeger or `extrace store` (e.g. GET /api/traces/<id>).",
    "<workflow-id|key>", 1, 1, opts, sizeof opts / sizeof opts[0],
};
const ex_cmd_spec *const traceid_cmd_spec = &spec;

/* The trace id of `key` of the profile source cfg->source; the exit status. */
static int print_source_key(const traceid_cfg *cfg, const char *key)
{
    sr_profile *p = NULL;
    sr_key k;
    char err[SR_ERR_LEN];
    if (sr_profile_load_any(cfg->source, &p, err, sizeof err) != 0 ||
        sr_key_parse(p, key, strlen(key), &k, err, sizeof err) != 0) {
        fprintf(stderr, "extrace traceid: %s\n", err);
        sr_profile_free(p);
        return 2;
    }
    sr_key_free(&k);
    uint8_t tid[16];
    char hex[33];
    mdl_trace_id(cfg->ns, p->name, key, tid);
    printf("%s\n", exo_hex(tid, 16, hex));
    sr_profile_free(p);
    return 0;
}

int traceid_main(int argc, char **argv, char *const *envp)
{
    traceid_cfg cfg = {0};
    ex_cfg_result res;
    int status = 0;
    int rc = ex_cfg_parse(&spec, &cfg, argc, argv, envp, stdout, &res);
    if (rc == EX_CFG_ERROR) {
        fprintf(stderr, "extrace traceid: %s\n", res.error);
        status = 2;
    } else if (rc == EX_CFG_OK) {
        const char *id = res.args[0];
        char why[160];
        if (!*id) {
            fprintf(stderr, "extrace traceid: the workflow id is empty\n");
            status = 2;
        } else if (strcmp(cfg.source, MDL_SEED_SOURCE) != 0) {
            status = print_source_key(&cfg, id);
        } else if (wk_event_check_id(id, strlen(id), why, sizeof why) != 0) {
            /* The worker never watches such an id: say so rather than print an unused id. */
            char q[600];
            fprintf(stderr, "extrace traceid: workflow id %s: %s\n", wk_quote(id, strlen(id), 128, q, sizeof q), why);
            status = 2;
        } else {
            uint8_t tid[16];
            char hex[33];
            exo_trace_id(cfg.ns, id, tid);
            printf("%s\n", exo_hex(tid, 16, hex));
        }
    }
    ex_cfg_result_free(&res);
    ex_cfg_free(&spec, &cfg);
    return status;
}
