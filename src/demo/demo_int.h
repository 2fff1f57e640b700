/* demo_int.h — the running demo, shared by demo.c (lifecycle and stop),
 * demo_start.c (starting the children) and demo_status.c (status line). */
#ifndef EXTRACE_DEMO_DEMO_INT_H
#define EXTRACE_DEMO_DEMO_INT_H
#include <limits.h>
#include <stdint.h>
#include <uv.h>

#include "demo/child.h"
#include "demo/console.h"
#include "demo/demo.h"
#include "demo/plan.h"
#include "demo/probe.h"
#include "demo/progress.h"
#include "net/curl_uv.h"

#define DM_COMPONENT "demo"
#define DM_READY_TIMEOUT_NS (20 * INT64_C(1000000000)) /* each service must be ready within this */
#define DM_STOP_TIMEOUT_MS 8000                         /* SIGTERM → SIGKILL after this */
#define DM_TICK_MS 500                                  /* status refresh */
#define DM_START_ATTEMPTS 3                             /* tries when a picked port was taken meanwhile */

/* The children, in start order; they are stopped in reverse. */
enum { DM_REDIS, DM_STORE, DM_API, DM_WORKER, DM_GEN, DM_NCHILD };

typedef struct demo {
    uv_loop_t loop;
    const dm_options *opt;          /* not owned */
    char self[PATH_MAX];            /* the extrace binary */
    char dir[PATH_MAX - 64];        /* the temp dir */
    char data_dir[PATH_MAX];        /* the store's data dir */
    char ids_path[PATH_MAX];        /* the generator's --ids-out file */
    char *const *envp;              /* the demo's environment; not owned */
    char **env;                     /* children's environment (owned) */
    dm_plan plan;                   /* scaled timings */

    /* Addresses. */
    char redis_url[512];            /* what the worker and generator use */
    int redis_port;                 /* ours, when own_redis */
    int own_redis;                  /* 1: we start redis-server */
    char ui_host[256];              /* the UI's listen host */
    int ui_port, ui_port_fixed;     /* its port; 1 when given or preferred (not re-picked) */
    int grpc_port, otlp_http_port, api_port, admin_port;
    char ui_url[600];               /* the address printed for the user */

    dm_child child[DM_NCHILD];
    int attempts[DM_NCHILD];        /* spawns so far, per child */
    int stage;                      /* child being started; DM_NCHILD once all run */
    int probe_step;                 /* which check of the stage runs */
    dm_probe probe;                 /* readiness checks */
    ex_curl_loop *curl;             /* libcurl on the loop (owned) */
    dm_fetch scrape;                /* the worker's /metrics */

    uv_timer_t tick;                /* status refresh */
    uv_timer_t stop_timer;          /* SIGKILL after DM_STOP_TIMEOUT_MS */
    uv_timer_t retry_timer;         /* respawn once the failed child's handles are closed */
    uv_signal_t signals[3];         /* SIGINT, SIGTERM, SIGHUP */
    dm_console con;                 /* status line on stdout */

    dm_progress prog;               /* what the status shows */
    long ids_offset;                /* bytes of the ids file counted so far */
    int64_t start_mono;             /* when the demo started (monotonic) */
    int done_announced;             /* "all finished" was printed */

    int stopping;                   /* stop sequence running */
    int stop_target;                /* child being stopped, -1: none */
    int signals_seen;               /* stop signals received */
    int exit_code;                  /* what dm_run returns */
} demo;

/* demo_start.c */
/* Check Redis, pick ports and build the addresses. 0, or the exit status
 * after printing why the demo cannot start. */
int dm_prepare_addresses(demo *d);
/* Start the child of d->stage (or go on to the next when it is skipped). */
void dm_start_stage(demo *d);
/* A child finished while d->stage was starting it: retry or fail. */
void dm_start_child_finished(demo *d, int i);

/* demo_status.c */
void dm_status_start(demo *d);
void dm_status_stop(demo *d);
/* The generator finished with status 0. */
void dm_status_generator_done(demo *d);
/* Print the UI address and what to do next. */
void dm_status_banner(demo *d);

/* demo.c */
/* Log a line without garbling the status line. */
void dm_say(demo *d, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Report why the demo cannot go on (with the log tail of child i, or -1),
 * then stop everything with exit status 1. */
void dm_fail(demo *d, int i, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Stop every child in reverse start order, then end the loop. */
void dm_begin_stop(demo *d, int exit_code);
/* Name of child i as the user knows it: "redis-server", "extrace store" … */
const char *dm_child_title(int i);

#endif
