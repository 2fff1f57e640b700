/* demo_status.c — what the user sees while the demo runs: the UI address,
 * the status line (from the worker's /metrics and the generator's ids
 * file), and the moment every published workflow is finished. */
#include "demo/demo_int.h"

#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"

#define SCRAPE_TIMEOUT_MS 2000

/* Count the lines the generator added to its ids file since last time. */
static void count_ids(demo *d)
{
    FILE *f = fopen(d->ids_path, "rb");
    if (!f) return; /* not created yet */
    char buf[8192];
    size_t n;
    if (fseek(f, d->ids_offset, SEEK_SET) == 0) {
        while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
            /* Count only up to the last newline: a line being written is not published yet. */
            size_t upto = n;
            while (upto > 0 && buf[upto - 1] != '\n') upto--;
            for (size_t k = 0; k < upto; k++) d->prog.published += buf[k] == '\n';
            d->ids_offset += (long)upto;
            if (upto < n) break;
        }
    }
    fclose(f);
}

static void show(demo *d, int force)
{
    char line[512];
    dm_progress_format(&d->prog, line, sizeof line);
    dm_console_status(&d->con, line, force);
}

static void announce_done(demo *d)
{
    const dm_worker_stats *s = &d->prog.stats;
    char msg[1024];
    int n = snprintf(msg, sizeof msg,
                     "all %lld workflows finished: %llu ok, %llu failed, %llu timed out; %llu spans exported%s",
                     (long long)d->prog.published, (unsigned long long)s->ok, (unsigned long long)s->failed,
                     (unsigned long long)s->timed_out, (unsigned long long)s->spans_exported,
                     d->opt->exit_when_done ? "" : ". Keep browsing the UI; Ctrl-C stops the demo.");
    dm_console_line(&d->con, stdout, msg, n > 0 && (size_t)n < sizeof msg ? (size_t)n : strlen(msg));
}

static void check_done(demo *d)
{
    if (d->stopping || !dm_progress_done(&d->prog)) return;
    if (!d->done_announced) {
        d->done_announced = 1;
        show(d, 1);
        announce_done(d);
    }
    if (!d->opt->exit_when_done) return;
    if (d->prog.stats.spans_dropped > 0) {
        dm_fail(d, DM_WORKER, "the worker could not deliver %llu spans to the store",
                (unsigned long long)d->prog.stats.spans_dropped);
        return;
    }
    dm_begin_stop(d, 0);
}

static void scrape_cb(dm_fetch *f, CURLcode result, long status, void *arg)
{
    demo *d = arg;
    if (d->stopping) return;
    dm_progress *p = &d->prog;
    char why[256];
    if (result != CURLE_OK) {
        snprintf(p->stats_error, sizeof p->stats_error, "%s", f->errbuf);
    } else if (status != 200) {
        snprintf(p->stats_error, sizeof p->stats_error, "HTTP status %ld", status);
    } else if (dm_metrics_parse(f->body ? f->body : "", f->len, &p->stats, why, sizeof why) != 0) {
        snprintf(p->stats_error, sizeof p->stats_error, "%s", why);
    } else {
        p->stats_error[0] = '\0';
        p->have_stats = 1;
    }
    show(d, 0);
    check_done(d);
}

static void tick_cb(uv_timer_t *t)
{
    demo *d = t->data;
    if (d->stopping) return;
    count_ids(d);
    if (d->child[DM_WORKER].running && !d->scrape.busy) {
        char url[128];
        snprintf(url, sizeof url, "http://127.0.0.1:%d/metrics", d->admin_port);
        if (dm_fetch_get(&d->scrape, d->curl, url, SCRAPE_TIMEOUT_MS, scrape_cb, d) != 0)
            snprintf(d->prog.stats_error, sizeof d->prog.stats_error, "cannot start GET %s", url);
    }
    show(d, 0);
}

void dm_status_start(demo *d)
{
    d->prog.total = d->opt->workflows;
    uv_timer_start(&d->tick, tick_cb, 0, DM_TICK_MS);
}

void dm_status_stop(demo *d)
{
    uv_timer_stop(&d->tick);
    if (d->stage >= DM_NCHILD) {
        count_ids(d);
        show(d, 1);
    }
    dm_console_finish(&d->con);
}

void dm_status_generator_done(demo *d)
{
    count_ids(d);
    d->prog.gen_done = 1;
    dm_say(d, EX_LOG_INFO, "extrace generate finished: %lld workflows published", (long long)d->prog.published);
    show(d, 0);
}

void dm_status_banner(demo *d)
{
    const char *bold = d->con.tty ? "\033[1m" : "", *plain = d->con.tty ? "\033[0m" : "";
    dm_console_clear(&d->con);
    printf("\n  The demo runs: %lld workflows, %gx faster than real time.\n\n"
           "  Open the web UI:  %s%s%s\n\n",
           (long long)d->opt->workflows, d->opt->time_scale, bold, d->ui_url, plain);
    if (!d->opt->ui_listen && d->ui_port != 3200)
        printf("  Port 3200 is in use, so the UI is on port %d (--ui-listen chooses).\n", d->ui_port);
    printf("  %s\n\n", d->opt->exit_when_done ? "The demo ends once every workflow is finished and exported."
                                              : "Ctrl-C stops everything.");
    fflush(stdout);
    dm_console_redraw(&d->con);
}
