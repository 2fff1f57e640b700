/* progress.h — what `extrace generate` shows while it runs and at the end.
 *
 * On a terminal a one-line bar on stderr, redrawn in place at most every
 * 100 ms:   [#########---------------]   45/300   24.4 ev/s  ETA 10.5s
 * At the end a one-line summary:
 *   published 300 events to channel event.workflow.started in 12.3s (24.4/s)
 * The formatting functions are pure; gen_progress_* do the drawing. */
#ifndef EXTRACE_GEN_PROGRESS_H
#define EXTRACE_GEN_PROGRESS_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define GEN_PROGRESS_LINE_MAX 160

/* Write the bar line (no \r, no newline) for `done` of `total` events after
 * elapsed_ns, plus an optional note ("next batch in 1m58s"). */
void gen_progress_format(char *buf, size_t len, int64_t done, int64_t total, int64_t elapsed_ns,
                         const char *note);

/* How a run ended, for the summary. */
typedef struct gen_outcome {
    int64_t done;       /* events sent */
    int64_t total;      /* events planned */
    int64_t elapsed_ns; /* from the start of sending to the end */
    const char *target; /* "channel event.workflow.started" or "stream wf" */
    int64_t unheard;    /* PUBLISHes that reached no subscriber */
    int signal;         /* the signal that stopped the run, or 0 */
    int failed;         /* 1 if an error stopped the run */
} gen_outcome;

/* Write the one-line summary (no newline). */
void gen_summary_format(char *buf, size_t len, const gen_outcome *o);

/* "12.3s", "4m05s", "1h02m": a short human duration. buf holds 32 bytes. */
char *gen_format_secs(int64_t ns, char *buf);

typedef struct gen_progress {
    FILE *out;            /* where the bar goes (stderr); not owned */
    int enabled;          /* 1: draw (out is a terminal) */
    int64_t total;        /* events planned */
    int64_t start_ns;     /* monotonic start of sending */
    int64_t last_draw_ns; /* monotonic time of the last redraw */
    int shown;            /* 1 while a bar is on screen */
} gen_progress;

void gen_progress_init(gen_progress *p, FILE *out, int enabled, int64_t total, int64_t start_ns);
/* Redraw if enabled and at least 100 ms passed (or `force`). */
void gen_progress_update(gen_progress *p, int64_t done, int64_t now_ns, const char *note, int force);
/* Erase the bar (before a log line or the summary). */
void gen_progress_clear(gen_progress *p);

#endif
