/* generate_cmd.c — `extrace generate`: the seed's workflow generator.
 *
 * Sends --count WorkflowStarted events to Redis, paced by gen/schedule,
 * shows progress on a terminal and a summary at the end. With --rate every
 * event due goes out in one pipelined batch per tick (one write and one
 * round trip for the batch, not per event). SIGINT/SIGTERM stop it after
 * the current event or batch (exit 130/143); waits are slept in 100 ms
 * slices so a signal is seen at once. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sim/persona.h"
#include "commands.h"
#include "core/clock.h"
#include "core/duration.h"
#include "core/log.h"
#include "gen/event.h"
#include "gen/gen_config.h"
#include "gen/progress.h"
#include "gen/publisher.h"
#include "gen/schedule.h"

#define COMPONENT "generate"
#define SLICE_NS (100 * EX_NS_PER_MS)         /* longest sleep between signal checks */
#define RATE_LOG_NS (10 * EX_NS_PER_SEC)      /* progress log interval without a terminal */
#define TICK_NS EX_NS_PER_MS                 /* --rate: at most one wake-up (one round trip) per tick */
#define BATCH_MAX 1024                        /* --rate: events in one pipelined batch */
#define WAIT_SEED_MIX UINT64_C(0x5851f42d4c957f2d) /* separates the wait stream from the ids */

static volatile sig_atomic_t stop_signal; /* set by on_stop_cb; 0 while running */

static void on_stop_cb(int sig) { stop_signal = sig; }

/* Everything one run touches. */
typedef struct gen_run {
    const gen_settings *set; /* resolved options; not owned */
    ex_rng ids;              /* draws workflow and correlation ids */
    ex_rng waits;            /* draws the random waits */
    uint64_t seed;           /* the seed in use (given or drawn) */
    gen_publisher pub;       /* the Redis connection */
    FILE *ids_file;          /* owned; NULL without --ids-out */
    gen_progress bar;        /* terminal progress */
    gen_outcome outcome;     /* counts for the summary */
    char target[320];        /* "channel event.workflow.started" / "stream NAME" */
    int64_t last_log_ns;     /* monotonic time of the last periodic log */
    char (*names)[GEN_KEY_MAX]; /* the current batch's workflow ids (or keys); owned */
    int64_t batch_cap;       /* entries in names */
    int ids_errno;           /* first failed write to ids_file, 0 if none */
} gen_run;

/* Log without tearing the progress bar. */
static void say(gen_run *r, ex_log_level level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(gen_run *r, ex_log_level level, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    if (!ex_log_enabled(level)) return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    gen_progress_clear(&r->bar);
    ex_log_write(level, COMPONENT, "%s", msg);
}

static void install_signals(struct sigaction old[2])
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_cb;
    sigemptyset(&sa.sa_mask);
    /* A second Ctrl-C gets the default action: a stuck run can be killed. */
    sa.sa_flags = SA_RESETHAND | SA_RESTART;
    stop_signal = 0;
    sigaction(SIGINT, &sa, &old[0]);
    sigaction(SIGTERM, &sa, &old[1]);
    /* A dropped connection must be an error message, not a silent death. */
    signal(SIGPIPE, SIG_IGN);
}

static void restore_signals(const struct sigaction old[2])
{
    sigaction(SIGINT, &old[0], NULL);
    sigaction(SIGTERM, &old[1], NULL);
}

/* Sleep until the monotonic deadline in short slices, keeping the bar
 * fresh. `label` names what comes next for the bar. 0, or -1 on a stop
 * signal. */
static int wait_until(gen_run *r, int64_t deadline, const char *label)
{
    char note[64], left[32];
    for (;;) {
        if (stop_signal) return -1;
        int64_t now = ex_mono_ns();
        if (now >= deadline) return 0;
        if (label) snprintf(note, sizeof note, "%s in %s", label, gen_format_secs(deadline - now, left));
        gen_progress_update(&r->bar, r->outcome.done, now, label ? note : NULL, 0);
        int64_t until = deadline - now > SLICE_NS ? now + SLICE_NS : deadline;
        struct timespec ts = {(time_t)(until / EX_NS_PER_SEC), (long)(until % EX_NS_PER_SEC)};
        /* EINTR is expected: the loop re-checks stop_signal. */
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
    }
}

static void log_config(gen_run *r)
{
    const gen_settings *s = r->set;
    char addr[EX_REDIS_ADDR_STR_MAX], pace[160], ew[GEN_RANGE_STR_MAX];
    char bw[EX_DURATION_STR_MAX], bwlo[EX_DURATION_STR_MAX];
    if (s->plan.rate > 0)
        snprintf(pace, sizeof pace, "paced at %g events/s", s->plan.rate);
    else
        snprintf(pace, sizeof pace, "event wait %s, batch wait %s (random in [%s, %s))",
                 gen_range_format(&s->plan.event_wait, ew), ex_duration_format(s->plan.batch_wait, bw),
                 ex_duration_format(s->plan.batch_wait / 2, bwlo), bw);
    say(r, EX_LOG_INFO, "sending %lld events in batches of %lld to %s on Redis at %s; %s; seed %llu%s",
        (long long)s->plan.count, (long long)s->plan.batch_size, r->target,
        ex_redis_addr_format(&s->redis, addr, sizeof addr), pace, (unsigned long long)r->seed,
        s->has_seed ? "" : " (pass --seed to repeat this run)");
}

/* Build the next event and queue it on the publisher; its name (workflow
 * id, or key with --source) goes into name. 0, or -1 with the reason printed. */
static int queue_one(gen_run *r, char *name)
{
    gen_event ev;
    char json[GEN_EVENT_JSON_MAX];
    gen_event_new(&ev, &r->ids, ex_clock_real());
    if (r->set->persona) {
        ev.source = r->set->persona->name;
        r->set->persona->new_key(&r->ids, ev.submitted_at, ev.key, sizeof ev.key);
    }
    if (r->set->random_traceparent) gen_event_random_traceparent(&r->ids, ev.traceparent);
    else if (r->set->traceparent) snprintf(ev.traceparent, sizeof ev.traceparent, "%s", r->set->traceparent);
    int len = gen_event_json(&ev, json, sizeof json);
    if (len < 0) {
        gen_progress_clear(&r->bar);
        fprintf(stderr, "extrace generate: cannot encode the event for workflow %s\n", ev.workflow_id);
        return -1;
    }
    if (gen_publisher_queue(&r->pub, json, (size_t)len)) {
        gen_progress_clear(&r->bar);
        fprintf(stderr, "extrace generate: %s\n", r->pub.errstr);
        return -1;
    }
    snprintf(name, GEN_KEY_MAX, "%s", r->set->persona ? ev.key : ev.workflow_id);
    return 0;
}

/* Redis accepted the event called `name`: count it, warn if nobody heard
 * it, record its id (flushed per batch). */
static void accepted(gen_run *r, const char *name)
{
    r->outcome.done++;
    if (!r->set->stream && r->pub.receivers == 0 && r->outcome.unheard++ == 0)
        say(r, EX_LOG_WARN, "no subscriber on channel %s heard workflow %s: pub/sub events are lost "
            "when nobody listens (the summary counts them)", GEN_EVENT_TYPE, name);
    say(r, EX_LOG_DEBUG, "sent workflow %s (%lld/%lld)", name, (long long)r->outcome.done,
        (long long)r->outcome.total);
    if (r->ids_file && !r->ids_errno && fprintf(r->ids_file, "%s\n", name) < 0) r->ids_errno = errno ? errno : EIO;
}

/* Flush the ids of a batch. 0, or -1 with the reason printed. */
static int flush_ids(gen_run *r)
{
    if (!r->ids_file) return 0;
    if (!r->ids_errno && fflush(r->ids_file) != 0) r->ids_errno = errno ? errno : EIO;
    if (!r->ids_errno) return 0;
    gen_progress_clear(&r->bar);
    fprintf(stderr, "extrace generate: cannot write to --ids-out file %s: %s\n", r->set->ids_out,
            strerror(r->ids_errno));
    return -1;
}

/* Send n (<= batch_cap) events as one pipelined batch and read every
 * reply, counting each event Redis accepted. 0, or -1 with the first
 * error printed (the batch's other replies are still read when the
 * connection stands, so the count is what Redis took). */
static int send_batch(gen_run *r, int64_t n)
{
    int64_t queued = 0;
    int failed = 0;
    while (queued < n && !failed) {
        if (queue_one(r, r->names[queued])) failed = 1;
        else queued++;
    }
    for (int64_t k = 0; k < queued; k++) {
        int rc = gen_publisher_reply(&r->pub);
        if (rc == 0) {
            accepted(r, r->names[k]);
            continue;
        }
        if (!failed) {
            gen_progress_clear(&r->bar);
            fprintf(stderr, "extrace generate: %s\n", r->pub.errstr);
        }
        failed = 1;
        if (rc < 0) break;
    }
    if (flush_ids(r) && !failed) failed = 1;
    return failed ? -1 : 0;
}

/* Log what the gap before event `next` is, in words. */
static void log_gap(gen_run *r, int64_t next, gen_gap_kind kind, int64_t wait_ns, int64_t now)
{
    char w[32];
    const gen_plan *p = &r->set->plan;
    if (kind == GEN_GAP_BATCH) {
        say(r, EX_LOG_INFO, "batch %lld/%lld sent (%lld/%lld events); next batch in %s",
            (long long)(next / p->batch_size), (long long)gen_plan_batches(p), (long long)r->outcome.done,
            (long long)p->count, gen_format_secs(wait_ns, w));
    } else if (kind == GEN_GAP_EVENT) {
        say(r, EX_LOG_DEBUG, "next event in %s", gen_format_secs(wait_ns, w));
    } else if (!r->bar.enabled && now - r->last_log_ns >= RATE_LOG_NS) {
        r->last_log_ns = now;
        say(r, EX_LOG_INFO, "sent %lld/%lld events", (long long)r->outcome.done, (long long)p->count);
    }
}

/* The seed's waits: one event at a time, each after its drawn wait.
 * 0 when every event went out or a signal stopped it, -1 on an error. */
static int send_waited(gen_run *r, int64_t start)
{
    gen_schedule sched;
    int64_t sent_at = start;
    gen_schedule_init(&sched, &r->set->plan, &r->waits, start);
    for (int64_t i = 0; i < r->set->plan.count && !stop_signal; i++) {
        if (i > 0) {
            gen_gap_kind kind;
            int64_t due = gen_schedule_due(&sched, i, sent_at, &kind);
            log_gap(r, i, kind, due - sent_at, sent_at);
            if (wait_until(r, due, kind == GEN_GAP_BATCH ? "next batch" : "next event")) break;
        }
        if (send_batch(r, 1)) return -1;
        sent_at = ex_mono_ns();
        gen_progress_update(&r->bar, r->outcome.done, sent_at, NULL, r->outcome.done == r->outcome.total);
    }
    return 0;
}

/* --rate: wake at most once a tick and send every event due by then as
 * one batch (gen_schedule_batch). 0 or -1 as send_waited. */
static int send_paced(gen_run *r, int64_t start)
{
    gen_schedule sched;
    int64_t sent = 0;
    gen_schedule_init(&sched, &r->set->plan, &r->waits, start);
    while (sent < r->set->plan.count && !stop_signal) {
        int64_t now = ex_mono_ns(), wake = now;
        int64_t n = gen_schedule_batch(&sched, sent, now, r->batch_cap, TICK_NS, &wake);
        if (n == 0) {
            if (wait_until(r, wake, NULL)) break;
            continue;
        }
        if (send_batch(r, n)) return -1;
        sent += n;
        now = ex_mono_ns();
        log_gap(r, sent, GEN_GAP_RATE, 0, now);
        gen_progress_update(&r->bar, r->outcome.done, now, NULL, r->outcome.done == r->outcome.total);
    }
    return 0;
}

/* The send loop. Returns 0 when every event went out or a signal stopped
 * it, -1 on an error (already printed). */
static int send_all(gen_run *r)
{
    const gen_plan *p = &r->set->plan;
    int64_t start = ex_mono_ns();
    r->batch_cap = p->rate > 0 ? (p->count < BATCH_MAX ? p->count : BATCH_MAX) : 1;
    if (!(r->names = malloc((size_t)r->batch_cap * sizeof *r->names))) {
        fprintf(stderr, "extrace generate: out of memory for a batch of %lld events\n", (long long)r->batch_cap);
        return -1;
    }
    gen_progress_init(&r->bar, stderr, isatty(STDERR_FILENO), p->count, start);
    r->last_log_ns = start;
    int rc = p->rate > 0 ? send_paced(r, start) : send_waited(r, start);
    r->outcome.elapsed_ns = ex_mono_ns() - start;
    return rc;
}

/* Print the summary; return the exit status. */
static int finish(gen_run *r, int failed)
{
    char line[400];
    gen_progress_clear(&r->bar);
    r->outcome.failed = failed;
    r->outcome.signal = failed ? 0 : stop_signal;
    gen_summary_format(line, sizeof line, &r->outcome);
    fprintf(stderr, "%s\n", line);
    if (failed) return 1;
    return stop_signal ? 128 + stop_signal : 0;
}

static void seed_rngs(gen_run *r)
{
    if (r->set->has_seed) r->seed = r->set->seed;
    else r->seed = ex_rng_seed_random(&r->ids);
    ex_rng_seed(&r->ids, r->seed);
    ex_rng_seed(&r->waits, r->seed ^ WAIT_SEED_MIX);
}

/* One run with resolved settings; returns the exit status. */
static int run(const gen_settings *set)
{
    gen_run r;
    struct sigaction old[2];
    int status = 1;
    memset(&r, 0, sizeof r);
    r.set = set;
    r.outcome.total = set->plan.count;
    r.outcome.target = r.target;
    if (set->stream) snprintf(r.target, sizeof r.target, "stream %.300s", set->stream);
    else snprintf(r.target, sizeof r.target, "channel %s", GEN_EVENT_TYPE);
    seed_rngs(&r);
    install_signals(old);
    if (set->ids_out && !(r.ids_file = fopen(set->ids_out, "w"))) {
        fprintf(stderr, "extrace generate: cannot open --ids-out file %s: %s\n", set->ids_out, strerror(errno));
        goto out;
    }
    log_config(&r);
    if (gen_publisher_open(&r.pub, &set->redis, set->stream)) {
        /* A signal during the connect interrupts it: that is a stop, not a fault. */
        if (stop_signal) status = finish(&r, 0);
        else fprintf(stderr, "extrace generate: %s\n", r.pub.errstr);
        goto out;
    }
    ex_debug(COMPONENT, "connected to Redis at %s", r.pub.where);
    status = finish(&r, send_all(&r) != 0);
out:
    gen_publisher_close(&r.pub);
    free(r.names);
    if (r.ids_file && fclose(r.ids_file) != 0 && status == 0) {
        fprintf(stderr, "extrace generate: cannot write to --ids-out file %s: %s\n", set->ids_out, strerror(errno));
        status = 1;
    }
    restore_signals(old);
    return status;
}

int generate_main(int argc, char **argv, char *const *envp)
{
    gen_cfg cfg;
    gen_settings set;
    char err[600];
    memset(&cfg, 0, sizeof cfg);
    int rc = gen_config_load(&cfg, &set, argc, argv, envp, stdout, err, sizeof err);
    if (rc == EX_CFG_OK) rc = run(&set);
    else if (rc == EX_CFG_HELP) rc = 0;
    else {
        fprintf(stderr, "extrace generate: %s\n", err);
        rc = 2;
    }
    gen_config_free(&cfg);
    return rc;
}
