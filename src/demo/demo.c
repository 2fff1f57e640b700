/* demo.c — the demo's lifecycle: set up, run the loop, stop the children
 * in reverse start order, clean up. Starting the children is demo_start.c,
 * the status line demo_status.c. */
#include "demo/demo_int.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/secret.h"
#include "demo/sysutil.h"

static const char *const titles[DM_NCHILD] = {"redis-server", "extrace store", "extrace api", "extrace worker",
                                              "extrace generate"};
static const char *const names[DM_NCHILD] = {"redis-server", "store", "api", "worker", "generate"};
static const int stop_signals[3] = {SIGINT, SIGTERM, SIGHUP};

const char *dm_child_title(int i) { return titles[i]; }

static const char *signal_name(int sig) { return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "SIGHUP"; }

void dm_say(demo *d, int level, const char *fmt, ...)
{
    if (!ex_log_enabled((ex_log_level)level)) return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    ex_secret_vformat(msg, sizeof msg, fmt, ap); /* masked before it is cut */
    va_end(ap);
    dm_console_clear(&d->con);
    ex_log_write((ex_log_level)level, DM_COMPONENT, "%s", msg);
    dm_console_redraw(&d->con);
}

void dm_fail(demo *d, int i, const char *fmt, ...)
{
    char msg[1024], tail[4096] = "";
    va_list ap;
    va_start(ap, fmt);
    ex_secret_vformat(msg, sizeof msg, fmt, ap); /* masked before it is cut */
    va_end(ap);
    dm_console_clear(&d->con);
    ex_error(DM_COMPONENT, "%s", msg);
    if (i >= 0) {
        dm_child_log_tail(&d->child[i], 12, "    ", tail, sizeof tail);
        if (tail[0]) fprintf(stderr, "  the end of its log %s:\n%s", d->child[i].log_path, tail);
        else fprintf(stderr, "  its log %s is empty\n", d->child[i].log_path);
    }
    fflush(stderr);
    dm_console_redraw(&d->con);
    dm_begin_stop(d, 1);
}

static void close_if_open(uv_handle_t *h)
{
    if (!uv_is_closing(h)) uv_close(h, NULL);
}

/* Nothing left to stop: close our own handles so the loop runs out. */
static void close_all(demo *d)
{
    close_if_open((uv_handle_t *)&d->tick);
    close_if_open((uv_handle_t *)&d->stop_timer);
    close_if_open((uv_handle_t *)&d->retry_timer);
    for (int k = 0; k < 3; k++) close_if_open((uv_handle_t *)&d->signals[k]);
    dm_probe_close(&d->probe);
    ex_curl_loop_destroy(d->curl); /* aborts a scrape or probe still running */
    d->curl = NULL;
}

static void stop_next(demo *d);

static void stop_timeout_cb(uv_timer_t *t)
{
    demo *d = t->data;
    dm_child *c = &d->child[d->stop_target];
    dm_say(d, EX_LOG_WARN, "%s (pid %d) did not stop within %d s: sending SIGKILL", titles[d->stop_target], c->pid,
           DM_STOP_TIMEOUT_MS / 1000);
    dm_child_signal(c, SIGKILL);
}

static void stop_next(demo *d)
{
    uv_timer_stop(&d->stop_timer);
    for (int i = DM_NCHILD - 1; i >= 0; i--) {
        dm_child *c = &d->child[i];
        if (!c->spawned || c->finished) continue;
        d->stop_target = i;
        int sig = d->signals_seen > 1 ? SIGKILL : SIGTERM;
        dm_say(d, EX_LOG_INFO, "stopping %s (pid %d) with %s", titles[i], c->pid, sig == SIGKILL ? "SIGKILL" : "SIGTERM");
        dm_child_signal(c, sig);
        uv_timer_start(&d->stop_timer, stop_timeout_cb, DM_STOP_TIMEOUT_MS, 0);
        return;
    }
    d->stop_target = -1;
    close_all(d);
}

void dm_begin_stop(demo *d, int exit_code)
{
    if (d->stopping) return;
    d->stopping = 1;
    d->exit_code = exit_code;
    dm_probe_cancel(&d->probe);
    uv_timer_stop(&d->retry_timer);
    dm_status_stop(d);
    stop_next(d);
}

static void signal_cb(uv_signal_t *h, int sig)
{
    demo *d = h->data;
    d->signals_seen++;
    if (!d->stopping) {
        dm_say(d, EX_LOG_INFO, "received %s: stopping every child", signal_name(sig));
        dm_begin_stop(d, 0);
        return;
    }
    dm_say(d, EX_LOG_WARN, "received %s again: killing the children that are left", signal_name(sig));
    for (int i = 0; i < DM_NCHILD; i++) dm_child_signal(&d->child[i], SIGKILL);
}

static void child_finished_cb(dm_child *c)
{
    demo *d = c->data;
    int i = (int)(c - d->child);
    char how[64];
    dm_child_describe_exit(c, how, sizeof how);
    if (d->stopping) {
        dm_say(d, EX_LOG_INFO, "%s (pid %d) %s", titles[i], c->pid, how);
        if (i == d->stop_target) stop_next(d);
        return;
    }
    if (i == d->stage) {
        dm_start_child_finished(d, i);
    } else if (i == DM_GEN && c->exit_status == 0 && !c->term_signal) {
        dm_status_generator_done(d);
    } else {
        dm_fail(d, i, "%s (pid %d) %s unexpectedly", titles[i], c->pid, how);
    }
}

static void child_line_cb(dm_child *c, const char *line, size_t len)
{
    demo *d = c->data;
    char buf[DM_LINE_MAX + 32];
    int n = snprintf(buf, sizeof buf, "[%s] %.*s", c->name, (int)len, line);
    if (n > 0) dm_console_line(&d->con, stderr, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

/* Handles first (so close_all is always valid), then the temp dir, the
 * children's descriptions and their environment. 0 or the exit status. */
static int setup(demo *d)
{
    d->curl = ex_curl_loop_new(&d->loop);
    dm_probe_init(&d->probe, &d->loop, d->curl);
    uv_timer_init(&d->loop, &d->tick);
    uv_timer_init(&d->loop, &d->stop_timer);
    uv_timer_init(&d->loop, &d->retry_timer);
    d->tick.data = d->stop_timer.data = d->retry_timer.data = d;
    for (int k = 0; k < 3; k++) {
        uv_signal_init(&d->loop, &d->signals[k]);
        d->signals[k].data = d;
        uv_signal_start(&d->signals[k], signal_cb, stop_signals[k]);
    }
    dm_console_init(&d->con, stdout);
    d->stop_target = -1;
    if (!d->curl || !(d->env = dm_env_make(d->envp, NULL))) {
        fprintf(stderr, "extrace demo: out of memory\n");
        return 1;
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(d->dir, sizeof d->dir, "%s/extrace-demo-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(d->dir)) {
        fprintf(stderr, "extrace demo: cannot create a temp dir %s: %s\n", d->dir, strerror(errno));
        d->dir[0] = '\0';
        return 1;
    }
    if (d->opt->data_dir) snprintf(d->data_dir, sizeof d->data_dir, "%s", d->opt->data_dir);
    else snprintf(d->data_dir, sizeof d->data_dir, "%s/store-data", d->dir);
    snprintf(d->ids_path, sizeof d->ids_path, "%s/workflow-ids.txt", d->dir);
    for (int i = 0; i < DM_NCHILD; i++) {
        char log[PATH_MAX + 32];
        snprintf(log, sizeof log, "%s/%s.log", d->dir, names[i]);
        dm_child_init(&d->child[i], names[i], log, child_finished_cb, d->opt->verbose ? child_line_cb : NULL, d);
    }
    return 0;
}

/* The summary, and the temp dir removed (or kept, and said so). */
static void finish(demo *d)
{
    const dm_progress *p = &d->prog;
    int spawned = 0;
    for (int i = 0; i < DM_NCHILD; i++) spawned |= d->child[i].pid != 0;
    if (d->stage >= DM_NCHILD)
        printf("demo stopped: %lld of %lld workflows published, %llu ok, %llu failed, %llu timed out, %llu spans "
               "exported\n",
               (long long)p->published, (long long)p->total, (unsigned long long)p->stats.ok,
               (unsigned long long)p->stats.failed, (unsigned long long)p->stats.timed_out,
               (unsigned long long)p->stats.spans_exported);
    if (!d->dir[0]) return;
    if (spawned && (d->exit_code != 0 || d->opt->keep))
        printf("kept %s (the children's logs%s)\n", d->dir, d->opt->data_dir ? "" : " and the store's data");
    else if (dm_remove_tree(d->dir) != 0)
        fprintf(stderr, "extrace demo: could not remove %s: %s\n", d->dir, strerror(errno));
    fflush(stdout);
}

int dm_run(const dm_options *o, char *const *envp)
{
    demo *d = ex_calloc(1, sizeof *d);
    if (!d || uv_loop_init(&d->loop) != 0) {
        fprintf(stderr, "extrace demo: cannot create the event loop\n");
        ex_free(d);
        return 1;
    }
    d->opt = o;
    d->envp = envp;
    d->start_mono = ex_mono_ns();
    signal(SIGPIPE, SIG_IGN);
    if (dm_self_path(d->self, sizeof d->self) != 0) snprintf(d->self, sizeof d->self, "/proc/self/exe");
    dm_plan_make(o->workflows, o->time_scale, &d->plan);
    int rc = setup(d);
    if (rc == 0) rc = dm_prepare_addresses(d);
    if (rc == 0) {
        printf("extrace demo: logs in %s (%s)\n", d->dir,
               o->keep ? "kept at exit: --keep" : "removed at exit unless --keep or a failure");
        fflush(stdout);
        dm_start_stage(d);
    } else {
        d->exit_code = rc;
        close_all(d);
    }
    uv_run(&d->loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&d->loop) != 0) ex_warn(DM_COMPONENT, "event loop closed with handles still open");
    dm_probe_free(&d->probe);
    dm_fetch_free(&d->scrape);
    dm_env_free(d->env);
    finish(d);
    int exit_code = d->exit_code;
    ex_free(d);
    return exit_code;
}
