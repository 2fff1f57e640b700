/* target_env.c — fuzz runs for configuration: command-line flags and
 * EXTRACE_* variables (core/config.h), the OTEL_* exporter variables
 * (otel/otel_env.h) and the resource (otel/resource.h).
 *
 * Inputs are NUL-separated entries. For config, the entries up to the
 * first empty one are argv[1..] and the rest is the environment; for
 * otel_env every entry is an environment entry. */
#include <math.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "core/config.h"
#include "core/mem.h"
#include "core/redis_url.h"
#include "core/rng.h"
#include "otel/otel_env.h"
#include "otel/resource.h"
#include "targets.h"
#include "targets_int.h"

#define ENV_MAX_ENTRIES 64 /* argv + environment entries taken from one input */

/* ---- config -------------------------------------------------------------- */

/* A command with one option of each kind, bounds, seed-style aliases with
 * units, and the project's own checks. */
typedef struct fuzz_cfg {
    char *listen;      /* HOST:PORT, checked by ex_check_hostport */
    char *redis;       /* Redis address, checked by ex_redis_url_check; env REDIS_URL */
    char *name;        /* no default */
    int64_t count;     /* 1 … 1000000 */
    double scale;      /* 0.001 … 1000 */
    int64_t interval;  /* 1 ms … 1 h; alias PollIntervalSeconds in seconds */
    int64_t timeout;   /* no bounds; alias MonitorTimeoutMinutes in minutes */
    int verbose;       /* boolean */
} fuzz_cfg;

static const ex_env_alias interval_aliases[] = {{"PollIntervalSeconds", "s"}, {NULL, NULL}};
static const ex_env_alias timeout_aliases[] = {{"MonitorTimeoutMinutes", "m"}, {"TIMEOUT", NULL}, {NULL, NULL}};

static const ex_opt fuzz_opts[] = {
    {"listen", EX_OPT_STRING, offsetof(fuzz_cfg, listen), "127.0.0.1:5146", EX_NO_BOUNDS, "HOST:PORT",
     "Address.", NULL, ex_check_hostport, NULL},
    {"redis", EX_OPT_STRING, offsetof(fuzz_cfg, redis), "localhost:6379", EX_NO_BOUNDS, "URL", "Redis.", NULL,
     ex_redis_url_check, "REDIS_URL"},
    {"name", EX_OPT_STRING, offsetof(fuzz_cfg, name), NULL, EX_NO_BOUNDS, NULL, "Name.", NULL, NULL, NULL},
    {"count", EX_OPT_INT, offsetof(fuzz_cfg, count), "10", 1, 1e6, "N", "Count.", NULL, NULL, NULL},
    {"time-scale", EX_OPT_DOUBLE, offsetof(fuzz_cfg, scale), "1", 0.001, 1000, "X", "Scale.", NULL, NULL, NULL},
    {"interval", EX_OPT_DURATION, offsetof(fuzz_cfg, interval), "10s", 1e6, 3600e9, "DURATION", "Interval.",
     interval_aliases, NULL, NULL},
    {"timeout", EX_OPT_DURATION, offsetof(fuzz_cfg, timeout), "10m", EX_NO_BOUNDS, "DURATION", "Timeout.",
     timeout_aliases, NULL, NULL},
    {"verbose", EX_OPT_BOOL, offsetof(fuzz_cfg, verbose), "false", EX_NO_BOUNDS, NULL, "Verbose.", NULL, NULL,
     NULL},
};
static const ex_cmd_spec fuzz_spec = {"fuzz", "Fuzzed command.", "Options of every kind.", "[FILE…]", 0, 2,
                                      fuzz_opts, sizeof fuzz_opts / sizeof fuzz_opts[0]};

static void config_check_ok(const fuzz_cfg *c, const ex_cfg_result *res, char **argv, int argc)
{
    char host[256], why[256];
    int port;
    ex_redis_addr addr;
    if (c->count < 1 || c->count > 1000000) fuzz__fail("config", "count %lld", (long long)c->count);
    if (!isfinite(c->scale) || c->scale < 0.001 || c->scale > 1000) fuzz__fail("config", "time-scale %g", c->scale);
    if (c->interval < 1000000 || c->interval > INT64_C(3600000000000))
        fuzz__fail("config", "interval %lld ns", (long long)c->interval);
    if (c->timeout < 0) fuzz__fail("config", "timeout %lld ns", (long long)c->timeout);
    if (c->verbose != 0 && c->verbose != 1) fuzz__fail("config", "verbose %d", c->verbose);
    if (!c->listen || ex_hostport_split(c->listen, host, sizeof host, &port))
        fuzz__fail("config", "accepted listen \"%s\"", c->listen ? c->listen : "(null)");
    if (!c->redis || ex_redis_url_parse(c->redis, &addr, why, sizeof why))
        fuzz__fail("config", "accepted redis \"%s\"", c->redis ? c->redis : "(null)");
    if (res->nargs < fuzz_spec.min_args || res->nargs > fuzz_spec.max_args)
        fuzz__fail("config", "%d positional arguments", res->nargs);
    for (int i = 0; i < res->nargs; i++) {
        int found = 0;
        for (int j = 1; j < argc; j++) found |= res->args[i] == argv[j];
        if (!found) fuzz__fail("config", "positional argument %d does not point into argv", i);
    }
}

int fuzz_run_config(const uint8_t *data, size_t size)
{
    char *buf = fuzz__cstr(data, size);
    char *entries[ENV_MAX_ENTRIES], *argv[ENV_MAX_ENTRIES + 2], *envp[ENV_MAX_ENTRIES + 1];
    size_t n = fuzz__split(buf, size, entries, ENV_MAX_ENTRIES), i = 0;
    int argc = 0, nenv = 0;
    argv[argc++] = "fuzz";
    for (; i < n && entries[i][0]; i++) argv[argc++] = entries[i];
    for (i++; i < n; i++) envp[nenv++] = entries[i];
    argv[argc] = NULL;
    envp[nenv] = NULL;

    fuzz_cfg cfg = {0};
    ex_cfg_result res;
    int rc = ex_cfg_parse(&fuzz_spec, &cfg, argc, argv, envp, fuzz__devnull(), &res);
    if (rc == EX_CFG_OK) {
        config_check_ok(&cfg, &res, argv, argc);
    } else if (rc == EX_CFG_ERROR) {
        fuzz__check_terminated("config", "the error message", res.error, sizeof res.error);
        if (!res.error[0]) fuzz__fail("config", "error without a message");
    } else if (rc != EX_CFG_HELP) {
        fuzz__fail("config", "ex_cfg_parse returned %d", rc);
    }
    ex_cfg_result_free(&res);
    ex_cfg_free(&fuzz_spec, &cfg);
    fuzz__log_reset();
    ex_free(buf);
    return 0;
}

/* ---- OTEL_* variables and the resource ------------------------------------ */

static void otel_check_config(const exo_export_config *c)
{
    if (c->nexporters > EXO_MAX_EXPORTERS) fuzz__fail("otel_env", "%zu exporters", c->nexporters);
    if (c->nexporters == 2 && c->exporters[0] == c->exporters[1]) fuzz__fail("otel_env", "exporter named twice");
    if (c->sdk_disabled && c->nexporters) fuzz__fail("otel_env", "SDK disabled, yet %zu exporters", c->nexporters);
    if (exo_export_config_has(c, EXO_EXPORTER_OTLP)) {
        if (!c->endpoint || !c->url || !c->endpoint_from) fuzz__fail("otel_env", "otlp without an endpoint or url");
        int https = strncasecmp(c->url, "https://", 8) == 0; /* schemes are case-insensitive (RFC 3986) */
        if (!https && strncasecmp(c->url, "http://", 7) != 0) fuzz__fail("otel_env", "url \"%s\"", c->url);
        if (c->tls != https) fuzz__fail("otel_env", "tls=%d for url \"%s\"", c->tls, c->url);
    }
    if (c->timeout_ms < 0 || c->bsp_schedule_delay_ms < 0 || c->bsp_export_timeout_ms < 0)
        fuzz__fail("otel_env", "negative timeout or delay");
    if (c->bsp_max_export_batch_size < 1 || c->bsp_max_export_batch_size > c->bsp_max_queue_size)
        fuzz__fail("otel_env", "batch size %lld with queue size %lld", (long long)c->bsp_max_export_batch_size,
                   (long long)c->bsp_max_queue_size);
    for (size_t i = 0; i < c->headers.len; i++)
        if (!c->headers.items[i].key || !c->headers.items[i].key[0] || !c->headers.items[i].value)
            fuzz__fail("otel_env", "header %zu has an empty key or no value", i);
}

static void otel_check_resource(const exo_resource *r)
{
    for (size_t i = 0; i < r->attrs.len; i++)
        for (size_t j = i + 1; j < r->attrs.len; j++)
            if (strcmp(r->attrs.items[i].key, r->attrs.items[j].key) == 0)
                fuzz__fail("otel_env", "resource key \"%s\" appears twice", r->attrs.items[i].key);
    const char *name = exo_resource_get(r, "service.name");
    if (!name) fuzz__fail("otel_env", "resource without service.name"); /* "" when set so */
    if (!exo_resource_get(r, "service.instance.id")) fuzz__fail("otel_env", "resource without service.instance.id");
}

static void otel_check_kv(const char *entry)
{
    const char *eq = strchr(entry, '=');
    char why[256];
    exo_kv_list l;
    int rc = exo_kv_list_parse(eq ? eq + 1 : entry, &l, why, sizeof why);
    if (rc == 0) {
        for (size_t i = 0; i < l.len; i++)
            if (!l.items[i].key || !l.items[i].key[0] || !l.items[i].value)
                fuzz__fail("otel_env", "list member %zu has an empty key or no value", i);
    } else if (rc == -1) {
        if (l.len != 0) fuzz__fail("otel_env", "a list that failed to parse has %zu members", l.len);
        fuzz__check_terminated("otel_env", "the list error", why, sizeof why);
    } else {
        fuzz__fail("otel_env", "exo_kv_list_parse returned %d", rc);
    }
    exo_kv_list_free(&l);
}

int fuzz_run_otel_env(const uint8_t *data, size_t size)
{
    char *buf = fuzz__cstr(data, size);
    char *envp[ENV_MAX_ENTRIES + 1], err[256], warn[512];
    size_t n = fuzz__split(buf, size, envp, ENV_MAX_ENTRIES);
    envp[n] = NULL;

    exo_export_config cfg;
    int rc = exo_export_config_from_env(envp, &cfg, err, sizeof err, warn, sizeof warn);
    if (rc == 0) otel_check_config(&cfg);
    else if (rc == -1) fuzz__check_terminated("otel_env", "the error", err, sizeof err);
    else fuzz__fail("otel_env", "exo_export_config_from_env returned %d", rc);
    exo_export_config_free(&cfg);

    ex_rng rng;
    exo_resource res;
    ex_rng_seed(&rng, 1);
    if (exo_resource_from_env(envp, &rng, &res, warn, sizeof warn))
        fuzz__fail("otel_env", "exo_resource_from_env failed without running out of memory");
    otel_check_resource(&res);
    fuzz__check_terminated("otel_env", "the resource warning", warn, sizeof warn);
    exo_resource_free(&res);

    for (size_t i = 0; i < n; i++) otel_check_kv(envp[i]);
    ex_free(buf);
    return 0;
}
