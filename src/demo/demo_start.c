/* demo_start.c — starting the children one after the other: their
 * addresses, their command lines, and the checks that say they are ready. */
#include "demo/demo_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/clock.h"
#include "core/config.h"
#include "core/duration.h"
#include "core/log.h"
#include "core/secret.h"
#include "demo/sysutil.h"
#include "net/redis_ping.h"

#define UI_DEFAULT_HOST "127.0.0.1"
#define UI_DEFAULT_PORT 3200
#define MAX_ARGS 32

/* A command line under construction: argv pointers into its own text. */
typedef struct cmdline {
    char *argv[MAX_ARGS + 1];
    int argc;
    char text[4096];
    size_t used;
} cmdline;

/* Append one argument, formatted. The buffers are sized for the longest
 * command line the demo builds, so nothing is ever cut. */
static void vpush(cmdline *c, const char *fmt, va_list ap)
{
    char *p = c->text + c->used;
    int n = vsnprintf(p, sizeof c->text - c->used, fmt, ap);
    if (n < 0 || (size_t)n >= sizeof c->text - c->used || c->argc >= MAX_ARGS) return;
    c->used += (size_t)n + 1;
    c->argv[c->argc++] = p;
    c->argv[c->argc] = NULL;
}

static void word(cmdline *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void word(cmdline *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vpush(c, fmt, ap);
    va_end(ap);
}

/* "--name" and its value. */
static void flag(cmdline *c, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void flag(cmdline *c, const char *name, const char *fmt, ...)
{
    word(c, "%s", name);
    va_list ap;
    va_start(ap, fmt);
    vpush(c, fmt, ap);
    va_end(ap);
}

/* "host:port", with brackets around an IPv6 host. */
static void hostport(char *buf, size_t len, const char *host, int port)
{
    if (strchr(host, ':')) snprintf(buf, len, "[%s]:%d", host, port);
    else snprintf(buf, len, "%s:%d", host, port);
}

/* Where a client reaches the UI: a wildcard listen address means this machine. */
static void ui_connect_base(const demo *d, char *buf, size_t len)
{
    const char *h = d->ui_host;
    if (strcmp(h, "0.0.0.0") == 0 || h[0] == '\0') h = "127.0.0.1";
    else if (strcmp(h, "::") == 0) h = "::1";
    char hp[300];
    hostport(hp, sizeof hp, h, d->ui_port);
    snprintf(buf, len, "http://%s", hp);
}

static int pick(demo *d, int *port)
{
    int taken[] = {d->redis_port, d->ui_port, d->grpc_port, d->otlp_http_port, d->api_port, d->admin_port};
    *port = dm_port_pick(taken, sizeof taken / sizeof taken[0]);
    if (*port > 0) return 0;
    fprintf(stderr, "extrace demo: cannot find a free TCP port on 127.0.0.1: %s\n", strerror(errno));
    return -1;
}

/* The UI address: --ui-listen as given (port 0: a free one), else 3200 when free. */
static int prepare_ui(demo *d)
{
    char why[300];
    if (d->opt->ui_listen) {
        int port;
        ex_hostport_split(d->opt->ui_listen, d->ui_host, sizeof d->ui_host, &port); /* checked by the option table */
        if (port == 0) return pick(d, &d->ui_port);
        int free_now = dm_port_available(d->ui_host, port, why, sizeof why);
        if (free_now != 1) {
            fprintf(stderr, "extrace demo: --ui-listen=\"%s\": %s\n", d->opt->ui_listen,
                    free_now == 0 ? "the port is in use (port 0 picks a free one)" : why);
            return -1;
        }
        d->ui_port = port;
        d->ui_port_fixed = 1;
        return 0;
    }
    snprintf(d->ui_host, sizeof d->ui_host, UI_DEFAULT_HOST);
    if (dm_port_available(UI_DEFAULT_HOST, UI_DEFAULT_PORT, why, sizeof why) == 1) {
        d->ui_port = UI_DEFAULT_PORT;
        d->ui_port_fixed = 1;
        return 0;
    }
    return pick(d, &d->ui_port);
}

int dm_prepare_addresses(demo *d)
{
    char why[600], msg[900];
    if (d->opt->redis) {
        if (ex_redis_ping(d->opt->redis, why, sizeof why) != 0) {
            ex_secret_format(msg, sizeof msg, "--redis=\"%s\": %s", d->opt->redis, why);
            fprintf(stderr, "extrace demo: %s\n", msg);
            return 1;
        }
        snprintf(d->redis_url, sizeof d->redis_url, "%s", d->opt->redis);
    } else {
        if (!dm_in_path("redis-server")) {
            fprintf(stderr, "extrace demo: redis-server is not in PATH: install it (scripts/install-deps does) "
                            "or pass --redis URL of a running Redis\n");
            return 1;
        }
        d->own_redis = 1;
        if (pick(d, &d->redis_port) != 0) return 1;
        snprintf(d->redis_url, sizeof d->redis_url, "redis://127.0.0.1:%d", d->redis_port);
    }
    if (prepare_ui(d) != 0 || pick(d, &d->grpc_port) != 0 || pick(d, &d->otlp_http_port) != 0 ||
        pick(d, &d->api_port) != 0 || pick(d, &d->admin_port) != 0)
        return 1;
    char base[400];
    ui_connect_base(d, base, sizeof base);
    snprintf(d->ui_url, sizeof d->ui_url, "%s/", base);
    return 0;
}

/* New ports for child i after one of its picked ports was taken meanwhile.
 * 0, or -1 when it has no port of ours to change. */
static int repick(demo *d, int i)
{
    switch (i) {
    case DM_REDIS:
        d->redis_port = 0;
        if (pick(d, &d->redis_port) != 0) return -1;
        snprintf(d->redis_url, sizeof d->redis_url, "redis://127.0.0.1:%d", d->redis_port);
        return 0;
    case DM_STORE: {
        /* A UI port the user gave (or 3200) stays: if it is the one taken,
         * the attempts run out and the store's log says so. */
        d->grpc_port = d->otlp_http_port = 0;
        if (!d->ui_port_fixed) d->ui_port = 0;
        if (pick(d, &d->grpc_port) || pick(d, &d->otlp_http_port) || (!d->ui_port_fixed && pick(d, &d->ui_port)))
            return -1;
        char base[400];
        ui_connect_base(d, base, sizeof base);
        snprintf(d->ui_url, sizeof d->ui_url, "%s/", base);
        return 0;
    }
    case DM_API: d->api_port = 0; return pick(d, &d->api_port);
    case DM_WORKER:
        d->admin_port = 0;
        if (pick(d, &d->admin_port) != 0) return -1;
        /* The store runs already with --live at the old address. */
        dm_say(d, EX_LOG_WARN, "the store's --live still names the worker's first admin port: the UI's Running view "
               "will show that worker as not answering");
        return 0;
    default: return -1;
    }
}

static const char *child_log_level(void) { return ex_log_enabled(EX_LOG_DEBUG) ? "debug" : "info"; }

/* Command line of child i; file is what to exec. */
static void command(demo *d, int i, cmdline *c, const char **file)
{
    char hp[300], a[EX_DURATION_STR_MAX], b[EX_DURATION_STR_MAX];
    const dm_plan *p = &d->plan;
    *file = i == DM_REDIS ? "redis-server" : d->self;
    switch (i) {
    case DM_REDIS: /* no persistence: --save "" and no append-only file */
        word(c, "redis-server");
        flag(c, "--port", "%d", d->redis_port);
        flag(c, "--bind", "127.0.0.1");
        flag(c, "--dir", "%s", d->dir);
        flag(c, "--save", "%s", "");
        flag(c, "--appendonly", "no");
        flag(c, "--daemonize", "no");
        return;
    case DM_STORE:
        hostport(hp, sizeof hp, d->ui_host, d->ui_port);
        word(c, "extrace");
        word(c, "store");
        flag(c, "--otlp-grpc-listen", "127.0.0.1:%d", d->grpc_port);
        flag(c, "--otlp-http-listen", "127.0.0.1:%d", d->otlp_http_port);
        flag(c, "--http-listen", "%s", hp);
        flag(c, "--data-dir", "%s", d->data_dir);
        /* The UI's Running view: the worker's live API on its admin address. */
        flag(c, "--live", "http://127.0.0.1:%d", d->admin_port);
        break;
    case DM_API:
        word(c, "extrace");
        word(c, "api");
        flag(c, "--listen", "127.0.0.1:%d", d->api_port);
        flag(c, "--time-scale", "%.17g", d->opt->time_scale);
        flag(c, "--source", "%s", d->opt->source);
        /* A real system moves when it is due, not when it is asked. */
        word(c, "--advance");
        word(c, "on-time");
        break;
    case DM_WORKER:
        word(c, "extrace");
        word(c, "worker");
        flag(c, "--redis", "%s", d->redis_url);
        flag(c, "--api-url", "http://127.0.0.1:%d", d->api_port);
        flag(c, "--initial-delay", "%s", ex_duration_format(p->initial_delay_ns, a));
        flag(c, "--interval", "%s", ex_duration_format(p->interval_ns, a));
        flag(c, "--timeout", "%s", ex_duration_format(p->timeout_ns, a));
        flag(c, "--admin-listen", "127.0.0.1:%d", d->admin_port);
        flag(c, "--source", "%s", d->opt->source);
        word(c, "--processing-times");
        break;
    case DM_GEN:
        word(c, "extrace");
        word(c, "generate");
        flag(c, "--redis", "%s", d->redis_url);
        flag(c, "--count", "%lld", (long long)d->opt->workflows);
        flag(c, "--batch-size", "%d", p->batch_size);
        flag(c, "--batch-wait", "%s", ex_duration_format(p->batch_wait_ns, a));
        flag(c, "--event-wait", "%s-%s", ex_duration_format(p->event_wait_lo_ns, a),
             ex_duration_format(p->event_wait_hi_ns, b));
        flag(c, "--ids-out", "%s", d->ids_path);
        flag(c, "--source", "%s", d->opt->source);
        break;
    }
    flag(c, "--log-level", "%s", child_log_level());
}

/* The worker exports to the store over OTLP/gRPC, as the seed's worker does to Tempo. */
static char **worker_env(demo *d)
{
    char endpoint[64], delay[48];
    snprintf(endpoint, sizeof endpoint, "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:%d", d->grpc_port);
    snprintf(delay, sizeof delay, "OTEL_BSP_SCHEDULE_DELAY=%lld", (long long)(d->plan.bsp_delay_ns / EX_NS_PER_MS));
    /* The built-in profiles read credentials the simulator does not check: demo ones. */
    static const char *const creds[][3] = {{"github-actions", "GITHUB_TOKEN=extrace-demo", NULL},
                                           {"argo-workflows", "ARGO_TOKEN=extrace-demo", NULL},
                                           {"airflow", "AIRFLOW_USERNAME=demo", "AIRFLOW_PASSWORD=extrace-demo"}};
    const char *extra[8] = {"OTEL_TRACES_EXPORTER=otlp", "OTEL_EXPORTER_OTLP_PROTOCOL=grpc", endpoint, delay,
                            "OTEL_BSP_EXPORT_TIMEOUT=5000"};
    size_t n = 5;
    for (size_t i = 0; i < sizeof creds / sizeof *creds; i++)
        if (strcmp(d->opt->source, creds[i][0]) == 0)
            for (size_t k = 1; k < 3 && creds[i][k]; k++) extra[n++] = creds[i][k];
    extra[n] = NULL;
    return dm_env_make(d->envp, extra);
}

static void probe_cb(dm_probe *p, int ok, const char *why, void *arg);

/* Start check number d->probe_step of the stage; 0 when there is none left. */
static int next_probe(demo *d)
{
    char url[sizeof d->ui_url + 8];
    int step = d->probe_step++;
    switch (d->stage) {
    case DM_REDIS:
        if (step > 0) return 0;
        dm_probe_start_tcp(&d->probe, d->redis_port, DM_READY_TIMEOUT_NS, probe_cb, d);
        return 1;
    case DM_STORE:
        if (step == 0) {
            dm_probe_start_tcp(&d->probe, d->grpc_port, DM_READY_TIMEOUT_NS, probe_cb, d);
            return 1;
        }
        if (step > 1) return 0;
        snprintf(url, sizeof url, "%sready", d->ui_url);
        break;
    case DM_API:
        if (step > 0) return 0;
        snprintf(url, sizeof url, "http://127.0.0.1:%d/healthz", d->api_port);
        break;
    case DM_WORKER:
        if (step > 0) return 0;
        snprintf(url, sizeof url, "http://127.0.0.1:%d/readyz", d->admin_port);
        break;
    default: return 0;
    }
    dm_probe_start_http(&d->probe, url, DM_READY_TIMEOUT_NS, probe_cb, d);
    return 1;
}

static void log_ready(demo *d)
{
    char a[EX_DURATION_STR_MAX], b[EX_DURATION_STR_MAX], c[EX_DURATION_STR_MAX];
    const dm_plan *p = &d->plan;
    switch (d->stage) {
    case DM_REDIS: dm_say(d, EX_LOG_INFO, "redis-server is ready on %s", d->redis_url); break;
    case DM_STORE:
        dm_say(d, EX_LOG_INFO, "extrace store is ready: UI and query API %s, OTLP/gRPC 127.0.0.1:%d, OTLP/HTTP 127.0.0.1:%d",
               d->ui_url, d->grpc_port, d->otlp_http_port);
        break;
    case DM_API:
        dm_say(d, EX_LOG_INFO, "extrace api is ready on http://127.0.0.1:%d, %gx faster than real time", d->api_port,
               d->opt->time_scale);
        break;
    case DM_WORKER:
        dm_say(d, EX_LOG_INFO, "extrace worker is ready: first poll after %s, then every %s, gives up after %s; "
               "metrics on http://127.0.0.1:%d/metrics", ex_duration_format(p->initial_delay_ns, a),
               ex_duration_format(p->interval_ns, b), ex_duration_format(p->timeout_ns, c), d->admin_port);
        break;
    }
}

static void probe_cb(dm_probe *p, int ok, const char *why, void *arg)
{
    demo *d = arg;
    if (d->stopping) return;
    if (!ok) {
        dm_fail(d, d->stage, "%s (pid %d) did not become ready within %lld s: %s", dm_child_title(d->stage),
                d->child[d->stage].pid, (long long)(DM_READY_TIMEOUT_NS / EX_NS_PER_SEC), why);
        return;
    }
    if (next_probe(d)) return;
    log_ready(d);
    d->stage++;
    dm_start_stage(d);
}

static void spawn_generator_done(demo *d)
{
    char a[EX_DURATION_STR_MAX], b[EX_DURATION_STR_MAX], c[EX_DURATION_STR_MAX];
    const dm_plan *p = &d->plan;
    dm_say(d, EX_LOG_INFO, "extrace generate publishes %lld workflows in batches of %d, %s-%s apart, batches %s apart "
           "at most", (long long)d->opt->workflows, p->batch_size, ex_duration_format(p->event_wait_lo_ns, a),
           ex_duration_format(p->event_wait_hi_ns, b), ex_duration_format(p->batch_wait_ns, c));
    d->stage = DM_NCHILD;
    dm_status_banner(d);
    dm_status_start(d);
}

void dm_start_stage(demo *d)
{
    if (d->stopping) return;
    if (d->stage == DM_REDIS && !d->own_redis) {
        dm_say(d, EX_LOG_INFO, "using the Redis at %s (it answered PING)", d->redis_url);
        d->stage++;
    }
    int i = d->stage;
    cmdline c = {.argc = 0};
    const char *file;
    command(d, i, &c, &file);
    char **env = i == DM_WORKER ? worker_env(d) : d->env;
    char err[600];
    if (!env) {
        dm_fail(d, -1, "cannot start %s: out of memory", dm_child_title(i));
        return;
    }
    d->attempts[i]++;
    int rc = dm_child_spawn(&d->child[i], &d->loop, d->self, file, c.argv, env, err, sizeof err);
    if (env != d->env) dm_env_free(env);
    if (rc != 0) {
        dm_fail(d, -1, "%s: %s", dm_child_title(i), err);
        return;
    }
    dm_say(d, EX_LOG_INFO, "started %s (pid %d), log %s", dm_child_title(i), d->child[i].pid, d->child[i].log_path);
    if (i == DM_GEN) {
        spawn_generator_done(d);
        return;
    }
    d->probe_step = 0;
    next_probe(d);
}

static void retry_cb(uv_timer_t *t)
{
    demo *d = t->data;
    if (d->stopping) return;
    if (!dm_child_closed(&d->child[d->stage])) {
        uv_timer_start(&d->retry_timer, retry_cb, 20, 0);
        return;
    }
    dm_start_stage(d);
}

/* Did the child's log say that its address was taken? */
static int address_in_use(const dm_child *c)
{
    char tail[4096];
    dm_child_log_tail(c, 12, "", tail, sizeof tail);
    /* strerror / uv_strerror say "already in use"; net/httpd_uv "address in use". */
    return strcasestr(tail, "already in use") != NULL || strcasestr(tail, "address in use") != NULL;
}

void dm_start_child_finished(demo *d, int i)
{
    dm_child *c = &d->child[i];
    char how[64];
    dm_child_describe_exit(c, how, sizeof how);
    dm_probe_cancel(&d->probe);
    if (address_in_use(c) && d->attempts[i] < DM_START_ATTEMPTS && repick(d, i) == 0) {
        dm_say(d, EX_LOG_WARN, "%s (pid %d) %s: an address it was given is in use; trying again with new ports "
               "(attempt %d of %d)", dm_child_title(i), c->pid, how, d->attempts[i] + 1, DM_START_ATTEMPTS);
        uv_timer_start(&d->retry_timer, retry_cb, 0, 0);
        return;
    }
    dm_fail(d, i, "%s (pid %d) %s before it was ready", dm_child_title(i), c->pid, how);
}
