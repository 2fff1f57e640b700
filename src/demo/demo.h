/* demo.h — `extrace demo`: the whole system on one machine.
 *
 * Starts redis-server (unless --redis names one that answers), extrace
 * store, api, worker and generate as supervised children on one libuv
 * loop, waits for each to be ready before the next, prints the web UI's
 * address and a live status line, and stops them all (in reverse order)
 * on Ctrl-C, SIGTERM or SIGHUP — or, with --exit-when-done, once every
 * published workflow has finished and its spans are exported. */
#ifndef EXTRACE_DEMO_DEMO_H
#define EXTRACE_DEMO_DEMO_H
#include <stdint.h>

/* The demo's options (filled by demo_cmd.c's option table). */
typedef struct dm_options {
    int64_t workflows;  /* --workflows: how many the generator publishes */
    double time_scale;  /* --time-scale: simulated seconds per real second */
    char *redis;        /* --redis URL of a running Redis, or NULL: start one */
    char *ui_listen;    /* --ui-listen HOST:PORT, or NULL: 127.0.0.1:3200 if free, else a free port */
    char *data_dir;     /* --data-dir of the store, or NULL: in the temp dir */
    int keep;           /* --keep: leave the temp dir behind */
    int exit_when_done; /* --exit-when-done */
    int verbose;        /* --verbose: children's output on stderr, prefixed */
    char *source;       /* --source: the system the simulator plays and the worker watches */
} dm_options;

/* Run the demo to the end. Returns the exit status: 0 after a stop signal
 * or when done, 1 when a child failed or could not start (the temp dir is
 * then kept for its logs), 2 on a bad --redis or --ui-listen. */
int dm_run(const dm_options *o, char *const *envp);

#endif
