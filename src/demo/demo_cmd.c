/* demo_cmd.c — `extrace demo`: option table and entry point.
 *
 * `extrace demo --exec-child PPID FILE ARGV…` is the demo's own way of
 * starting a child (see demo/child.h); it is not meant to be typed. */
#include <curl/curl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "core/config.h"
#include "core/redis_url.h"
#include "demo/child.h"
#include "demo/demo.h"

static int check_source(const char *text, char *why, size_t whylen)
{
    static const char *const known[] = {"seed", "github-actions", "argo-workflows", "airflow"};
    for (size_t i = 0; i < sizeof known / sizeof *known; i++)
        if (strcmp(text, known[i]) == 0) return 0;
    snprintf(why, whylen, "not one of seed, github-actions, argo-workflows, airflow");
    return -1;
}

static const ex_opt opts[] = {
    {"workflows", EX_OPT_INT, offsetof(dm_options, workflows), "30", 1, 100000, "N",
     "Workflows to publish, in the seed's batches of 5.", NULL, NULL, NULL},
    {"time-scale", EX_OPT_DOUBLE, offsetof(dm_options, time_scale), "60", 1, 100000, "X",
     "Simulated seconds per real second: at 60 a 21-minute workflow takes 21 s. The worker's poll schedule and "
     "the generator's waits are divided by X too.",
     NULL, NULL, NULL},
    {"redis", EX_OPT_STRING, offsetof(dm_options, redis), NULL, EX_NO_BOUNDS, "URL",
     "Use this running Redis (it must answer PING) instead of starting redis-server.", NULL, ex_redis_url_check,
     NULL},
    {"ui-listen", EX_OPT_STRING, offsetof(dm_options, ui_listen), NULL, EX_NO_BOUNDS, "HOST:PORT",
     "Address of the store's web UI and query API (default 127.0.0.1:3200, or a free port when 3200 is taken; "
     "port 0 picks a free one).",
     NULL, ex_check_hostport, NULL},
    {"data-dir", EX_OPT_STRING, offsetof(dm_options, data_dir), NULL, EX_NO_BOUNDS, "DIR",
     "Keep the store's database here (default: in the demo's temp dir, removed at exit).", NULL, NULL, NULL},
    {"keep", EX_OPT_BOOL, offsetof(dm_options, keep), "false", EX_NO_BOUNDS, NULL,
     "Leave the temp dir (the children's logs, the store's data) behind at exit.", NULL, NULL, NULL},
    {"exit-when-done", EX_OPT_BOOL, offsetof(dm_options, exit_when_done), "false", EX_NO_BOUNDS, NULL,
     "Stop and exit 0 once every published workflow has finished and its spans are exported (tests, CI).", NULL,
     NULL, NULL},
    {"source", EX_OPT_STRING, offsetof(dm_options, source), "seed", EX_NO_BOUNDS, "NAME",
     "The system the simulator plays, the generator announces and the worker watches through its built-in "
     "profile: seed, github-actions, argo-workflows or airflow (docs/sources.md).", NULL, check_source, NULL},
    {"verbose", EX_OPT_BOOL, offsetof(dm_options, verbose), "false", EX_NO_BOUNDS, NULL,
     "Also print the children's output on stderr, each line prefixed with [child].", NULL, NULL, NULL},
};

static const ex_cmd_spec spec = {
    "demo",
    "Run the whole system locally: Redis, store + web UI, API simulator, worker, generator",
    "Starts redis-server (unless --redis names a running one), extrace store, extrace api, extrace worker and\n"
    "extrace generate as children, each once the one before is ready, all faster than real time\n"
    "(--time-scale). Prints the web UI's address and a status line: workflows published, in flight, ok,\n"
    "failed, timed out, spans exported. Keeps running after the generator is done, so the traces can be\n"
    "browsed, until Ctrl-C (or SIGTERM, SIGHUP): then every child is stopped, last started first, the temp\n"
    "dir with their logs is removed (unless --keep) and the exit status is 0. Should a child fail, the demo\n"
    "names it and its log, stops the others, keeps the temp dir and exits 1. Children get SIGTERM if the\n"
    "demo itself is killed.",
    NULL, 0, 0, opts, sizeof opts / sizeof opts[0],
};

/* The option table, for `extrace config-doc` (declared next to the other commands' in commands.h). */
const ex_cmd_spec *const demo_cmd_spec = &spec;

int demo_main(int argc, char **argv, char *const *envp)
{
    if (argc >= 2 && strcmp(argv[1], "--exec-child") == 0) return dm_child_exec(argc, argv);
    dm_options cfg = {0};
    ex_cfg_result res;
    int rc = ex_cfg_parse(&spec, &cfg, argc, argv, envp, stdout, &res);
    if (rc == EX_CFG_HELP || rc == EX_CFG_ERROR) {
        if (rc == EX_CFG_ERROR) fprintf(stderr, "extrace demo: %s\n", res.error);
        ex_cfg_result_free(&res);
        ex_cfg_free(&spec, &cfg);
        return rc == EX_CFG_HELP ? 0 : 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = dm_run(&cfg, envp);
    curl_global_cleanup();
    ex_cfg_result_free(&res);
    ex_cfg_free(&spec, &cfg);
    return rc;
}
